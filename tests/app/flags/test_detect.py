"""Suspicion flags: each of the five rules on a hand-built world, and idempotent re-detection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.flags.models import SuspicionFlag
from fdoctor.flags.services import detect_flags
from fdoctor.households.models import Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_record, add_resident, make_world

pytestmark = pytest.mark.db

Q3_START, Q3_END = date(2026, 7, 1), date(2026, 9, 30)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(date(2026, 10, 10)):
        yield make_world()


def _residents(team: OrgUnit, n: int, doctor: User | None = None) -> list[Resident]:
    household = make_household(team, doctor=doctor)
    return [add_resident(household) for _ in range(n)]


def _flagged(kind: str) -> set[int | None]:
    return set(
        db.session.scalars(
            select(SuspicionFlag.service_record_id).where(SuspicionFlag.kind == kind)
        )
    )


def _entered(
    residents: list[Resident],
    user: User,
    service_type: str,
    service_day: date,
    first: datetime,
    gap: timedelta,
) -> list[ServiceRecord]:
    return [
        add_record(resident, service_type, service_day, user, entered_at=first + gap * i)
        for i, resident in enumerate(residents)
    ]


# ------------------------------------------------------------------ back-dating


def test_a_batch_of_five_late_entries_within_an_hour_is_flagged(world: World) -> None:
    team = world.tree.team
    batch = _entered(
        _residents(team, 5), world.users["doctor"], "consultation",
        date(2026, 8, 1), datetime(2026, 8, 20, 14, 0), timedelta(minutes=15),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("backdated") == {r.id for r in batch}
    detail = db.session.scalar(
        select(SuspicionFlag.detail).where(SuspicionFlag.kind == "backdated")
    )
    assert detail is not None and "晚 19 天" in detail and "集中补录 5 条" in detail


def test_four_late_entries_in_an_hour_are_not_a_batch(world: World) -> None:
    _entered(
        _residents(world.tree.team, 4), world.users["leader"], "consultation",
        date(2026, 8, 1), datetime(2026, 8, 20, 14, 0), timedelta(minutes=10),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("backdated") == set()


def test_late_entries_spread_over_more_than_an_hour_are_not_a_batch(world: World) -> None:
    _entered(
        _residents(world.tree.team, 5), world.users["doctor"], "consultation",
        date(2026, 8, 1), datetime(2026, 8, 20, 14, 0), timedelta(minutes=30),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("backdated") == set()


def test_entries_within_seven_days_are_not_late(world: World) -> None:
    _entered(
        _residents(world.tree.team, 5), world.users["doctor"], "consultation",
        date(2026, 8, 1), datetime(2026, 8, 8, 23, 0), timedelta(minutes=1),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("backdated") == set()


def test_an_entry_on_the_eighth_day_is_late(world: World) -> None:
    batch = _entered(
        _residents(world.tree.team, 5), world.users["doctor"], "consultation",
        date(2026, 8, 1), datetime(2026, 8, 9, 0, 0), timedelta(minutes=1),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("backdated") == {r.id for r in batch}


def test_only_the_late_entries_of_a_mixed_batch_are_flagged(world: World) -> None:
    doctor = world.users["doctor"]
    late = _entered(
        _residents(world.tree.team, 5), doctor, "consultation",
        date(2026, 8, 1), datetime(2026, 8, 20, 14, 0), timedelta(minutes=5),
    )  # fmt: skip
    timely = add_record(_residents(world.tree.team, 1)[0], "consultation", date(2026, 8, 19), doctor, entered_at=datetime(2026, 8, 20, 14, 7))  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("backdated") == {r.id for r in late}
    assert timely.id not in _flagged("backdated")


# ------------------------------------------------------------------ duplicates


def test_the_second_record_of_a_resident_type_and_day_is_flagged(world: World) -> None:
    (resident,) = _residents(world.tree.team, 1)
    doctor = world.users["doctor"]
    first = add_record(resident, "hypertension_followup", date(2026, 8, 5), doctor)
    second = add_record(resident, "hypertension_followup", date(2026, 8, 5), doctor)
    add_record(resident, "hypertension_followup", date(2026, 8, 6), doctor)
    add_record(resident, "consultation", date(2026, 8, 5), doctor)
    detect_flags(Q3_START, Q3_END)
    assert _flagged("duplicate") == {second.id}
    detail = db.session.scalar(
        select(SuspicionFlag.detail).where(SuspicionFlag.kind == "duplicate")
    )
    assert detail is not None and f"#{first.id}" in detail


def test_a_false_record_is_not_counted_as_a_duplicate(world: World) -> None:
    (resident,) = _residents(world.tree.team, 1)
    doctor = world.users["doctor"]
    add_record(resident, "home_visit", date(2026, 8, 5), doctor, verification="false")
    add_record(resident, "home_visit", date(2026, 8, 5), doctor)
    detect_flags(Q3_START, Q3_END)
    assert _flagged("duplicate") == set()


# ------------------------------------------------------------------ velocity


def test_five_visits_entered_two_minutes_apart_are_flagged(world: World) -> None:
    run = _entered(
        _residents(world.tree.team, 5), world.users["doctor"], "home_visit",
        date(2026, 8, 3), datetime(2026, 8, 3, 10, 0), timedelta(minutes=2),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("velocity") == {r.id for r in run}


def test_visits_three_minutes_apart_are_not_too_fast(world: World) -> None:
    _entered(
        _residents(world.tree.team, 5), world.users["doctor"], "elderly_checkup",
        date(2026, 8, 3), datetime(2026, 8, 3, 10, 0), timedelta(minutes=3),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("velocity") == set()


def test_four_fast_visits_or_fast_consultations_are_not_flagged(world: World) -> None:
    team = world.tree.team
    _entered(
        _residents(team, 4), world.users["doctor"], "home_visit",
        date(2026, 8, 3), datetime(2026, 8, 3, 10, 0), timedelta(minutes=1),
    )  # fmt: skip
    _entered(
        _residents(team, 6), world.users["leader"], "consultation",
        date(2026, 8, 3), datetime(2026, 8, 3, 10, 0), timedelta(minutes=1),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("velocity") == set()


def test_a_run_is_cut_by_a_long_gap(world: World) -> None:
    residents = _residents(world.tree.team, 8)
    doctor = world.users["doctor"]
    first = _entered(
        residents[:3], doctor, "home_visit", date(2026, 8, 3), datetime(2026, 8, 3, 9, 0),
        timedelta(minutes=1),
    )  # fmt: skip
    second = _entered(
        residents[3:], doctor, "home_visit", date(2026, 8, 3), datetime(2026, 8, 3, 11, 0),
        timedelta(minutes=2),
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("velocity") == {r.id for r in second}
    assert not {r.id for r in first} & _flagged("velocity")


# ------------------------------------------------------------------ outside the grid


def test_a_doctor_of_another_team_serving_the_household_is_flagged(world: World) -> None:
    tree, users = world.tree, world.users
    (resident,) = _residents(tree.team, 1, users["doctor"])
    add_record(resident, "consultation", date(2026, 8, 3), users["doctor"])
    add_record(resident, "home_visit", date(2026, 8, 4), users["leader"])  # same team
    outsider = add_record(resident, "home_visit", date(2026, 8, 5), users["doctor2"])
    (unassigned,) = _residents(tree.team, 1)  # no responsible doctor
    also_outside = add_record(unassigned, "consultation", date(2026, 8, 6), users["doctor2"])
    add_record(unassigned, "home_visit", date(2026, 8, 7), users["doctor"])
    detect_flags(Q3_START, Q3_END)
    assert _flagged("outside_grid") == {outsider.id, also_outside.id}


def test_the_responsible_doctor_from_another_team_is_not_flagged(world: World) -> None:
    (resident,) = _residents(world.tree.team, 1, world.users["doctor2"])
    add_record(resident, "home_visit", date(2026, 8, 5), world.users["doctor2"])
    detect_flags(Q3_START, Q3_END)
    assert _flagged("outside_grid") == set()


# ------------------------------------------------------------------ signed but not served


def _contract_flags() -> set[int | None]:
    return set(
        db.session.scalars(
            select(SuspicionFlag.contract_id).where(SuspicionFlag.kind == "signed_not_served")
        )
    )


def _signed(world: World, start: date, status: str = "active") -> tuple[Resident, int]:
    household = make_household(world.tree.team)
    resident = add_resident(household)
    contract = make_contract(
        household,
        [resident],
        start,
        date(2027, 12, 31),
        status=status,
        doctor=world.users["doctor"],
    )
    return resident, contract.id


def test_a_year_old_contract_without_services_is_flagged(world: World) -> None:
    doctor = world.users["doctor"]
    _, idle = _signed(world, date(2025, 1, 1))
    served, busy = _signed(world, date(2025, 1, 1))
    add_record(served, "consultation", date(2026, 5, 1), doctor)
    _, young = _signed(world, date(2026, 3, 1))
    _, expired = _signed(world, date(2025, 1, 1), status="expired")
    detect_flags(Q3_START, Q3_END)
    assert _contract_flags() == {idle}
    flag = db.session.scalar(select(SuspicionFlag).where(SuspicionFlag.kind == "signed_not_served"))
    assert flag is not None and (flag.subject_key, flag.user_id) == (
        f"contract:{idle}:2026",
        doctor.id,
    )
    assert {busy, young, expired}.isdisjoint(_contract_flags())


def test_false_or_disputed_services_do_not_count_as_served(world: World) -> None:
    doctor = world.users["doctor"]
    faked, faked_id = _signed(world, date(2025, 1, 1))
    add_record(faked, "home_visit", date(2026, 6, 1), doctor, verification="false")
    doubted, doubted_id = _signed(world, date(2025, 1, 1))
    add_record(doubted, "home_visit", date(2026, 6, 1), doctor, verification="disputed")
    detect_flags(Q3_START, Q3_END)
    assert _contract_flags() == {faked_id, doubted_id}


def test_a_service_older_than_twelve_months_does_not_count(world: World) -> None:
    resident, contract_id = _signed(world, date(2024, 6, 1))
    add_record(resident, "consultation", date(2025, 9, 30), world.users["doctor"])
    detect_flags(Q3_START, Q3_END)
    assert _contract_flags() == {contract_id}


# ------------------------------------------------------------------ idempotence and scope


def _busy_world(world: World) -> None:
    users = world.users
    (resident,) = _residents(world.tree.team, 1, users["doctor"])
    add_record(resident, "home_visit", date(2026, 8, 5), users["doctor2"])
    add_record(resident, "home_visit", date(2026, 8, 5), users["doctor"])
    _signed(world, date(2025, 1, 1))


def test_detecting_twice_creates_nothing_new(world: World) -> None:
    _busy_world(world)
    created = detect_flags(Q3_START, Q3_END)
    db.session.commit()
    assert created == 3  # outside the grid, the duplicate, the idle contract
    assert detect_flags(Q3_START, Q3_END) == 0
    assert db.session.scalar(select(func.count(SuspicionFlag.id))) == 3


def test_a_dismissed_flag_is_neither_raised_again_nor_deleted(world: World) -> None:
    _busy_world(world)
    detect_flags(Q3_START, Q3_END)
    flag = db.session.scalar(select(SuspicionFlag).where(SuspicionFlag.kind == "duplicate"))
    assert flag is not None
    flag.status = "dismissed"
    db.session.commit()
    assert detect_flags(Q3_START, Q3_END) == 0
    assert db.session.scalars(
        select(SuspicionFlag.status).where(SuspicionFlag.kind == "duplicate")
    ).all() == ["dismissed"]


def test_detection_can_be_limited_to_one_county(world: World) -> None:
    _busy_world(world)
    assert detect_flags(Q3_START, Q3_END, world.tree.other_county.id) == 0
    assert detect_flags(Q3_START, Q3_END, world.tree.county.id) == 3


def test_flags_carry_the_scope_of_their_record(world: World) -> None:
    _busy_world(world)
    detect_flags(Q3_START, Q3_END)
    scopes = set(
        db.session.execute(
            select(SuspicionFlag.county_id, SuspicionFlag.institution_id, SuspicionFlag.team_id)
        ).all()
    )
    tree = world.tree
    assert scopes == {(tree.county.id, tree.institution.id, tree.team.id)}


def test_records_outside_the_period_are_not_examined(world: World) -> None:
    (resident,) = _residents(world.tree.team, 1)
    add_record(resident, "home_visit", date(2026, 6, 30), world.users["doctor2"])
    detect_flags(Q3_START, Q3_END)
    assert _flagged("outside_grid") == set()
