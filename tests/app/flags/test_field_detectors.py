"""The field detectors on a hand-built world: each catches its case and leaves the honest look-alike.

One test per rule (and per honest look-alike), on SQLite and PostgreSQL alike. The honest doctor
who types up a week of paper forms in one sitting is raised by none of the record rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.flags.models import SuspicionFlag
from fdoctor.flags.services import detect_flags
from fdoctor.households.models import Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord
from fdoctor.surveys.models import SurveyResponse, VerificationSample, VerificationSampleItem
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_resident, make_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db

Q3_START, Q3_END = date(2026, 7, 1), date(2026, 9, 30)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(date(2026, 10, 10)):
        yield make_world()


def _residents(team: OrgUnit, n: int) -> list[Resident]:
    household = make_household(team)
    return [add_resident(household) for _ in range(n)]


def _records(rows: list[dict]) -> list[ServiceRecord]:
    """Records in one flush: ``rows`` give resident, doctor, type, day and any other column."""
    records = []
    for row in rows:
        resident: Resident = row.pop("resident")
        doctor: User = row.pop("doctor")
        day: date = row.pop("day")
        stype: str = row.pop("type")
        entered = row.pop("entered_at", datetime.combine(day, time(10, 0)))
        records.append(
            ServiceRecord(
                client_uuid=str(uuid.uuid4()),
                resident_id=resident.id,
                doctor_id=doctor.id,
                service_date=day,
                category=SERVICE_TYPES[stype][0],
                type=stype,
                entered_at=entered,
                entered_by_id=doctor.id,
                uploaded_at=entered,
                county_id=resident.county_id,
                institution_id=resident.institution_id,
                team_id=resident.team_id,
                **row,
            )
        )
    db.session.add_all(records)
    db.session.flush()
    return records


def _flags(kind: str) -> list[SuspicionFlag]:
    return list(
        db.session.scalars(
            select(SuspicionFlag).where(SuspicionFlag.kind == kind).order_by(SuspicionFlag.id)
        )
    )


def _flagged(kind: str) -> set[int | None]:
    return {f.service_record_id for f in _flags(kind)}


def _flagged_contracts(kind: str) -> set[int | None]:
    return {f.contract_id for f in _flags(kind)}


def _daily(doctor: User, residents: list[Resident], first: date, days: int, per_day: int) -> None:
    """``per_day`` home visits a day for ``days`` days, entered through the day: a doctor's usual."""
    _records(
        [
            {"resident": residents[(d * per_day + i) % len(residents)], "doctor": doctor,
             "type": "home_visit", "day": first + timedelta(days=d),
             "entered_at": datetime.combine(first + timedelta(days=d), time(9)) + timedelta(minutes=50 * i)}
            for d in range(days) for i in range(per_day)
        ]
    )  # fmt: skip


# ------------------------------------------------------------------ volume and the paper typist


def test_a_day_far_beyond_the_doctors_and_teams_usual_is_flagged(world: World) -> None:
    team = world.tree.team
    residents = _residents(team, 30)
    doctor, leader = world.users["doctor"], world.users["leader"]
    _daily(doctor, residents, date(2026, 7, 1), 30, 4)
    _daily(leader, residents, date(2026, 7, 1), 30, 4)
    spike = _records(
        [{"resident": residents[i], "doctor": doctor, "type": "hypertension_followup",
          "day": date(2026, 8, 20), "systolic_bp": 120 + i, "diastolic_bp": 80,
          "entered_at": datetime(2026, 8, 20, 8, 0) + timedelta(minutes=25 * i)}
         for i in range(20)]
    )  # fmt: skip
    _records([{"resident": residents[i], "doctor": leader, "type": "home_visit",
               "day": date(2026, 8, 20)} for i in range(9)])  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    [flag] = _flags("volume")
    assert flag.service_record_id == max(r.id for r in spike)
    assert flag.user_id == doctor.id
    assert flag.detail.startswith(
        "2026-08-20 服务日期记有上门/随访类服务 20 次"
    )  # the day, not one record
    assert "本人近 90 天日中位数 4 次" in flag.detail and "团队其他医生日中位数 4 次" in flag.detail


def _typist_world(world: World, live: bool) -> list[ServiceRecord]:
    """35 visits entered in one sitting two minutes apart; past service days, or all 'today'."""
    team = world.tree.team
    residents = _residents(team, 35)
    doctor = world.users["doctor"]
    _daily(doctor, residents, date(2026, 7, 1), 40, 5)
    sitting = datetime(2026, 8, 28, 17, 0)
    return _records(
        [
            {"resident": residents[i], "doctor": doctor,
             "type": "hypertension_followup" if i % 2 else "home_visit",
             "day": date(2026, 8, 28) if live else date(2026, 8, 21) + timedelta(days=i // 5),
             "entered_at": sitting + timedelta(minutes=2 * i),
             **({"systolic_bp": 118 + i, "diastolic_bp": 70 + i % 9} if i % 2 else {})}
            for i in range(35)
        ]
    )  # fmt: skip


RECORD_KINDS = (
    "volume", "velocity", "backdated", "near_duplicate", "copied_reading", "implausible_reading",
    "threshold_cluster", "digit_preference", "clock_skew", "duplicate",
)  # fmt: skip


def test_a_week_of_paper_forms_typed_in_one_sitting_raises_no_flag(world: World) -> None:
    typed = _typist_world(world, live=False)
    detect_flags(Q3_START, Q3_END)
    ids = {r.id for r in typed}
    for kind in RECORD_KINDS:
        assert not (_flagged(kind) & ids), kind


def test_the_same_sitting_claiming_every_visit_today_is_flagged(world: World) -> None:
    typed = _typist_world(world, live=True)
    detect_flags(Q3_START, Q3_END)
    ids = {r.id for r in typed}
    assert _flagged("velocity") == ids
    [volume] = _flags("volume")
    assert volume.service_record_id in ids and "35 次" in volume.detail


# ------------------------------------------------------------------ near-duplicates


def test_the_same_follow_up_two_days_later_is_flagged_two_weeks_later_is_not(
    world: World,
) -> None:
    a, b = _residents(world.tree.team, 2)
    doctor = world.users["doctor"]
    first, repeat, other, later = _records(
        [
            {"resident": a, "doctor": doctor, "type": "diabetes_followup",
             "day": date(2026, 8, 1), "fasting_glucose": Decimal("7.4")},
            {"resident": a, "doctor": doctor, "type": "diabetes_followup",
             "day": date(2026, 8, 3), "fasting_glucose": Decimal("8.1")},
            {"resident": b, "doctor": doctor, "type": "diabetes_followup",
             "day": date(2026, 8, 1), "fasting_glucose": Decimal("6.2")},
            {"resident": b, "doctor": doctor, "type": "diabetes_followup",
             "day": date(2026, 8, 15), "fasting_glucose": Decimal("6.6")},
        ]
    )  # fmt: skip
    _records([{"resident": b, "doctor": doctor, "type": "consultation", "day": date(2026, 8, 16)},
              {"resident": b, "doctor": doctor, "type": "consultation", "day": date(2026, 8, 17)}])  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("near_duplicate") == {repeat.id}
    [flag] = _flags("near_duplicate")
    assert f"记录 #{first.id}" in flag.detail and "仅隔 2 天" in flag.detail


def test_the_window_of_days_comes_from_the_configuration(app: Flask, world: World) -> None:
    (a,) = _residents(world.tree.team, 1)
    doctor = world.users["doctor"]
    _, later = _records(
        [{"resident": a, "doctor": doctor, "type": "elderly_checkup", "day": date(2026, 8, 1)},
         {"resident": a, "doctor": doctor, "type": "elderly_checkup", "day": date(2026, 8, 15)}]
    )  # fmt: skip
    app.config["FLAG_RULES"] = {**app.config["FLAG_RULES"], "near_duplicate_days": 20}
    detect_flags(Q3_START, Q3_END)
    assert _flagged("near_duplicate") == {later.id}
    assert "20 天内" in _flags("near_duplicate")[0].detail


# ------------------------------------------------------------------ readings


def _bp(resident: Resident, doctor: User, day: date, sbp: int, dbp: int) -> dict:
    return {"resident": resident, "doctor": doctor, "type": "hypertension_followup", "day": day,
            "systolic_bp": sbp, "diastolic_bp": dbp}  # fmt: skip


def test_a_reading_copied_from_the_last_visit_is_flagged_a_varying_one_is_not(
    world: World,
) -> None:
    a, b = _residents(world.tree.team, 2)
    doctor = world.users["doctor"]
    records = _records(
        [_bp(a, doctor, date(2026, 5, 10), 146, 92), _bp(a, doctor, date(2026, 8, 10), 146, 92),
         _bp(b, doctor, date(2026, 5, 10), 146, 92), _bp(b, doctor, date(2026, 8, 10), 144, 90)]
    )  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("copied_reading") == {records[1].id}
    assert "146/92 mmHg 与上次随访（2026-05-10" in _flags("copied_reading")[0].detail


def test_an_implausible_pair_is_flagged_a_high_real_one_is_not(world: World) -> None:
    a, b = _residents(world.tree.team, 2)
    doctor = world.users["doctor"]
    odd, high = _records(
        [_bp(a, doctor, date(2026, 8, 10), 128, 120), _bp(b, doctor, date(2026, 8, 10), 186, 98)]
    )
    detect_flags(Q3_START, Q3_END)
    assert _flagged("implausible_reading") == {odd.id}
    assert "脉压仅 8 mmHg" in _flags("implausible_reading")[0].detail


def test_readings_bunched_under_the_control_line_are_flagged_a_natural_spread_is_not(
    world: World,
) -> None:
    team = world.tree.team
    residents = _residents(team, 25)
    bunching, honest = world.users["doctor"], world.users["leader"]
    bunched = [136, 138, 139, 137, 135, 139, 138, 136, 137, 139, 138, 136, 135, 137, 139,
               124, 151, 128, 145, 131]  # fmt: skip
    spread = [118, 124, 128, 131, 136, 142, 147, 152, 160, 138, 121, 133, 149, 127, 155,
              139, 126, 144, 130, 158]  # fmt: skip
    made = _records([_bp(residents[i], bunching, date(2026, 7, 1) + timedelta(days=3 * i), v, 84)
                     for i, v in enumerate(bunched)])  # fmt: skip
    _records([_bp(residents[i], honest, date(2026, 7, 2) + timedelta(days=3 * i), v, 83)
              for i, v in enumerate(spread)])  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged("threshold_cluster") == {r.id for r in made if 135 <= r.systolic_bp < 140}
    assert "20 次血压中 15 次（75%）" in _flags("threshold_cluster")[0].detail


def test_terminal_digit_preference_flags_the_doctor_once_not_an_honest_reader(
    world: World,
) -> None:
    residents = _residents(world.tree.team, 30)
    rounding, honest = world.users["doctor"], world.users["leader"]
    _records([_bp(residents[i], rounding, date(2026, 7, 1) + timedelta(days=2 * i),
                  130 + 10 * (i % 3), 80 + 10 * (i % 2)) for i in range(30)])  # fmt: skip
    _records([_bp(residents[i], honest, date(2026, 7, 2) + timedelta(days=2 * i),
                  122 + 2 * (i % 11), 72 + 2 * (i % 7)) for i in range(30)])  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    [flag] = _flags("digit_preference")
    assert flag.user_id == rounding.id
    assert flag.subject_key == f"doctor:{rounding.id}:2026-07-01"
    assert "30 次血压的 60 个数值中 60 个（100%）尾数为 0" in flag.detail
    assert "其他医生中位数的倍数 30%" in flag.detail  # the honest reader's 7%, doubled, floored
    assert detect_flags(Q3_START, Q3_END) == 0


# ------------------------------------------------------------------ residents


def _signed_household(team: OrgUnit, start: date, phone: str | None = None) -> tuple[Resident, int]:
    household = make_household(team)
    household.phone = phone
    resident = add_resident(household)
    contract = make_contract(household, [resident], start, date(2027, 6, 30))
    return resident, contract.id


def test_a_phone_shared_by_three_households_flags_their_contracts_two_do_not(
    world: World,
) -> None:
    team = world.tree.team
    shared = [_signed_household(team, date(2026, 1, 1), "13911112222")[1] for _ in range(3)]
    pair = [_signed_household(team, date(2026, 1, 1), "13933334444")[1] for _ in range(2)]
    detect_flags(Q3_START, Q3_END)
    assert _flagged_contracts("shared_phone") == set(shared)
    assert not _flagged_contracts("shared_phone") & set(pair)
    assert "139****2222 登记在 3 个不同的家庭户" in _flags("shared_phone")[0].detail


def _survey(resident: Resident, knows: bool, day: date) -> None:
    db.session.add(
        SurveyResponse(
            resident_id=resident.id, period="2026-Q3", surveyed_on=day, channel="phone",
            knows_doctor=knows, satisfaction=80, created_at=datetime.combine(day, time(9)),
            county_id=resident.county_id, institution_id=resident.institution_id,
            team_id=resident.team_id,
        )
    )  # fmt: skip
    db.session.flush()


def test_a_signed_resident_who_does_not_know_a_family_doctor_is_flagged(world: World) -> None:
    team = world.tree.team
    unaware, unaware_contract = _signed_household(team, date(2026, 1, 1))
    aware, _ = _signed_household(team, date(2026, 1, 1))
    forgetful, _ = _signed_household(team, date(2026, 1, 1))
    _records([{"resident": forgetful, "doctor": world.users["doctor"], "type": "consultation",
               "day": date(2026, 6, 20)}])  # fmt: skip
    _survey(unaware, False, date(2026, 8, 3))
    _survey(aware, True, date(2026, 8, 3))
    _survey(forgetful, False, date(2026, 8, 3))  # served six weeks before: a matter for the team
    detect_flags(Q3_START, Q3_END)
    assert _flagged_contracts("unaware_resident") == {unaware_contract}
    detail = _flags("unaware_resident")[0].detail
    assert "不知道自己的家庭医生" in detail and "此前 180 天内没有任何服务记录" in detail


def _unreached(misses: dict[Resident, int]) -> None:
    """Verification calls that found nobody: ``misses[resident]`` of the quarterly samples."""
    anyone = next(iter(misses))
    for n in range(max(misses.values())):
        sample = VerificationSample(
            org_unit_id=anyone.institution_id, county_id=anyone.county_id, level="L2",
            period=f"2026-Q{n + 1}", seed=n, drawn_at=datetime(2026, 4 + 3 * n, 2, 9),
        )  # fmt: skip
        db.session.add(sample)
        db.session.flush()
        for resident, times in misses.items():
            if n < times:
                db.session.add(
                    VerificationSampleItem(
                        sample_id=sample.id, team_id=resident.team_id, resident_id=resident.id,
                        draw_order=1, status="unreachable",
                    )
                )  # fmt: skip
    db.session.flush()


def test_a_resident_never_reached_is_flagged_one_missed_call_is_not(world: World) -> None:
    team = world.tree.team
    ghost, ghost_contract = _signed_household(team, date(2026, 1, 1))
    busy, _ = _signed_household(team, date(2026, 1, 1))
    _unreached({ghost: 2, busy: 1})
    detect_flags(Q3_START, Q3_END)
    assert _flagged_contracts("unreachable") == {ghost_contract}
    assert "2 次核查回访中均无法联系" in _flags("unreachable")[0].detail


def test_a_call_is_due_ninety_days_after_signing_without_service(world: World) -> None:
    team = world.tree.team
    doctor = world.users["doctor"]
    _, unserved = _signed_household(team, date(2026, 6, 1))
    _, recent = _signed_household(team, date(2026, 8, 1))  # 60 days: not yet
    served_resident, served = _signed_household(team, date(2026, 6, 1))
    _records([{"resident": served_resident, "doctor": doctor, "type": "consultation",
               "day": date(2026, 7, 20)}])  # fmt: skip
    detect_flags(Q3_START, Q3_END)
    assert _flagged_contracts("no_first_service") == {unserved}
    detail = _flags("no_first_service")[0].detail
    assert "已 121 天，尚无任何服务记录" in detail and "不扣分" in detail


# ------------------------------------------------------------------ clocks


def test_a_tablet_clock_set_back_is_flagged_a_late_offline_upload_is_not(world: World) -> None:
    a, b = _residents(world.tree.team, 2)
    doctor = world.users["doctor"]
    backdated, offline = _records(
        [{"resident": a, "doctor": doctor, "type": "home_visit", "day": date(2026, 8, 1),
          "entered_at": datetime(2026, 8, 1, 15), "clock_skew_seconds": -9 * 86_400},
         {"resident": b, "doctor": doctor, "type": "home_visit", "day": date(2026, 8, 1),
          "entered_at": datetime(2026, 8, 1, 15), "clock_skew_seconds": 40}]
    )  # fmt: skip
    offline.uploaded_at = datetime(2026, 8, 4, 9)  # three days without signal: no skew
    detect_flags(Q3_START, Q3_END)
    assert _flagged("clock_skew") == {backdated.id}
    assert "平板时钟比服务器慢 9 天 0 小时 0 分" in _flags("clock_skew")[0].detail


def test_every_field_rule_together_is_idempotent(world: World) -> None:
    team = world.tree.team
    doctor = world.users["doctor"]
    residents = _residents(team, 3)
    _records(
        [_bp(residents[0], doctor, date(2026, 5, 10), 146, 92),
         _bp(residents[0], doctor, date(2026, 8, 10), 146, 92),
         _bp(residents[0], doctor, date(2026, 8, 12), 128, 120)]
    )  # fmt: skip
    _signed_household(team, date(2026, 6, 1))
    first = detect_flags(Q3_START, Q3_END)
    db.session.commit()
    assert first >= 4
    assert detect_flags(Q3_START, Q3_END) == 0
    make_user("doc9", "doctor", team)  # an unrelated change does not matter either
    assert detect_flags(Q3_START, Q3_END) == 0


# ------------------------------------------------------------------ the scheduled jobs


def test_the_daily_job_looks_at_the_quarter_so_far_and_the_quarter_job_at_all_of_it(
    world: World,
) -> None:
    from fdoctor.scheduler.jobs import run_job

    a, b = _residents(world.tree.team, 2)
    doctor = world.users["doctor"]
    august, september = _records(
        [_bp(a, doctor, date(2026, 8, 10), 128, 120), _bp(b, doctor, date(2026, 9, 20), 130, 122)]
    )
    daily = run_job("detect_flags_daily", day=date(2026, 8, 15))
    assert _flagged("implausible_reading") == {august.id}
    assert "2026-07-01 至 2026-08-14" in daily.note
    assert run_job("detect_flags_daily", day=date(2026, 8, 15)).created == 0
    quarter = run_job("detect_flags_quarter", period="2026-Q3")
    assert _flagged("implausible_reading") == {august.id, september.id}
    assert quarter.created == 1
    assert run_job("detect_flags_quarter", period="2026-Q3").created == 0
