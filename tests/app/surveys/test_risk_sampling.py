"""Risk-based verification (issue 16 item 3): each doctor's risk weights their residents' chance of
a call, is stored with the sample and replays; a dispute widens the next sample; calls ask about
the riskiest doctor's records; the sample page says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from assessments.periods import Period
from assessments.risk import DoctorRisk, resident_weights
from assessments.sampling import draw
from assessments.tiers import Level
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.flags.models import SuspicionFlag
from fdoctor.households.models import Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.calls import records_to_check
from fdoctor.surveys.models import VerificationSampleDoctor, VerificationSampleItem
from fdoctor.surveys.samples import draw_sample, replay_sample, stored_draw
from tests.conftest import AuthActions
from tests.factories.surveys import World, add_record, bulk_signed, make_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)
Q3 = Period.parse("2026-Q3")
START, END = date(2026, 1, 1), date(2027, 12, 31)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _flag(doctor_id: int, record: ServiceRecord) -> None:
    resident = record.resident
    db.session.add(
        SuspicionFlag(
            kind="burst",
            subject_key=f"record:{record.id}",
            service_record_id=record.id,
            user_id=doctor_id,
            subject_date=date(2026, 8, 1),
            detail="测试",
            status="open",
            detected_at=datetime(2026, 8, 2, 8),
            county_id=resident.county_id,
            institution_id=resident.institution_id,
            team_id=resident.team_id,
        )
    )


def _risky_team(world: World) -> tuple[list[Resident], object, object]:
    """100 residents; the risky doctor served the first 10 in Q3, the honest one the next 10.

    Risky: 2 open flags, 3 of 10 records checked in the last year (in Q1) found false, 1 disputed
    in Q2 → 1 + 0.5 + 10 × 3 / 20 + 1 = 4 (the cap). Honest: 10 confirmed → 1. The team's two
    open flags per 100 residents give it the team weight 3 (as before this change).
    """
    residents = bulk_signed(world.tree.team, 100, START, END)
    risky = world.users["doctor"]
    honest = make_user("doc_honest", "doctor", world.tree.team)
    flagged = [add_record(r, "home_visit", date(2026, 8, 3), risky) for r in residents[:10]]
    for r in residents[10:20]:
        add_record(r, "home_visit", date(2026, 8, 3), honest)
    for i, r in enumerate(residents[20:30]):
        add_record(r, "health_education", date(2026, 2, 4), risky, verification="false" if i < 3 else "confirmed")  # fmt: skip
        add_record(r, "health_education", date(2026, 2, 4), honest, verification="confirmed")
    add_record(residents[30], "health_education", date(2026, 6, 1), risky, verification="disputed")
    _flag(risky.id, flagged[0])
    _flag(risky.id, flagged[1])
    db.session.flush()
    return residents, risky, honest


def test_each_doctors_risk_is_stored_with_the_hand_computed_weight(world: World) -> None:
    residents, risky, honest = _risky_team(world)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    rows = {
        row.doctor_id: row
        for row in db.session.scalars(
            select(VerificationSampleDoctor).where(VerificationSampleDoctor.sample_id == sample.id)
        )
    }
    assert set(rows) == {risky.id, honest.id}  # the doctors who served the team in Q3
    r = rows[risky.id]
    assert (r.open_flags, r.checked, r.found_false, r.disputed_before) == (2, 10, 3, 1)
    assert Decimal(r.weight) == Decimal(4)
    h = rows[honest.id]
    assert (h.open_flags, h.checked, h.found_false, h.disputed_before) == (0, 10, 0, 0)
    assert Decimal(h.weight) == Decimal(1)


def test_a_dispute_in_the_previous_period_widens_the_team_sample_by_five(world: World) -> None:
    _risky_team(world)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    part = next(p for p in sample.teams if p.team_id == world.tree.team.id)
    # 20 (5% of 100, at least 20) × the team weight 3, + 5 for the disputed doctor
    assert (part.size, part.widened) == (65, 5)


def test_the_draw_is_the_cores_weighted_draw_and_replays(world: World) -> None:
    residents, risky, _ = _risky_team(world)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    drawn = stored_draw(sample)[world.tree.team.id]
    weights = resident_weights({r.id: [risky.id] for r in residents[:10]}, {risky.id: Decimal(4)})
    assert drawn == draw([r.id for r in residents], 65, sample.seed, weights)
    assert replay_sample(sample) == stored_draw(sample)


def test_the_call_asks_about_records_weighted_by_their_doctors_risk(world: World) -> None:
    residents, risky, honest = _risky_team(world)
    resident = residents[0]
    for day in (5, 6, 7):
        add_record(resident, "health_education", date(2026, 9, day), honest)
    for day in (8, 9):
        add_record(resident, "health_education", date(2026, 9, day), risky)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    item = db.session.scalar(
        select(VerificationSampleItem).where(
            VerificationSampleItem.sample_id == sample.id,
            VerificationSampleItem.resident_id == resident.id,
        )
    )
    if item is None:  # not drawn: ask about them as if they were
        item = VerificationSampleItem(
            sample_id=sample.id, team_id=world.tree.team.id, resident_id=resident.id, draw_order=999
        )
        db.session.add(item)
        db.session.flush()
    picked = records_to_check(item)
    assert len(picked) == 3
    records = {r.id: r for r in resident_records(resident)}
    weights = {i: Decimal(4) if r.doctor_id == risky.id else Decimal(1) for i, r in records.items()}
    expected = draw(list(records), 3, f"{sample.seed}:{resident.id}", weights)
    assert sorted(r.id for r in picked) == sorted(expected)


def resident_records(resident: Resident) -> list[ServiceRecord]:
    return list(
        db.session.scalars(
            select(ServiceRecord).where(
                ServiceRecord.resident_id == resident.id,
                ServiceRecord.service_date >= Q3.start,
                ServiceRecord.service_date <= Q3.end,
            )
        )
    )


def test_the_sample_page_says_why_a_doctor_weighs_more(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    _, risky, _ = _risky_team(world)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    db.session.commit()
    with clock.frozen(TODAY):
        auth.login_as(world.users["centre"])
        page = client.get(f"/surveys/samples/{sample.id}").get_data(as_text=True)
        replayed = client.get(f"/surveys/samples/{sample.id}?replay=1").get_data(as_text=True)
    expected = DoctorRisk(open_flags=2, checked=10, found_false=3, disputed_before=1).explain()
    assert expected in page and risky.display_name in page
    assert "团队本期扩大抽样" in page
    assert "抽取结果与名单完全一致" in replayed
