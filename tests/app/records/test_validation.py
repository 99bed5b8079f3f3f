"""Every validation rule of a service record, on its own and against the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.services import add_unit
from fdoctor.records.drafts import parse_draft
from fdoctor.records.models import ServiceRecord
from fdoctor.records.sync import upload_batch
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.records import TERM, TODAY, World, bp_record, make_world, record
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def _payload(type_: str = "consultation", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client_uuid": str(uuid.uuid4()),
        "type": type_,
        "service_date": TODAY.isoformat(),
        "resident_id": 1,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _errors(payload: dict[str, Any]) -> dict[str, str]:
    draft, errors = parse_draft(payload, TODAY)
    assert (draft is None) == bool(errors)
    return errors


# --- rules that need no database -----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (_payload(type="x-ray"), "type", "请选择有效的服务类型"),
        (_payload(client_uuid="abc"), "client_uuid", "记录编号（client_uuid）缺失或格式不正确"),
        (_payload(service_date=""), "service_date", "请填写服务日期"),
        (_payload(service_date="2026/06/01"), "service_date", "服务日期格式应为 YYYY-MM-DD"),
        (_payload(service_date="2026-06-16"), "service_date",
         "服务日期 2026-06-16 晚于今天，不能记录未来的服务"),
        (_payload(resident_id=None), "resident_id", "请选择居民"),
        (_payload(resident_id="七"), "resident_id", "居民必须是整数"),
        (_payload(resident_id=10**30), "resident_id", "居民数值超出范围"),
        (_payload(notes="长" * 2001), "notes", "备注不能超过 2000 个字"),
        (_payload(entered_at="yesterday"), "entered_at", "录入时间格式应为 YYYY-MM-DDTHH:MM:SS"),
    ],
)  # fmt: skip
def test_common_fields_are_checked(payload: dict[str, Any], field: str, message: str) -> None:
    assert _errors(payload)[field] == message


@pytest.mark.parametrize(
    ("sbp", "dbp", "field", "message"),
    [
        (None, 80, "systolic_bp", "请填写收缩压"),
        (130, None, "diastolic_bp", "请填写舒张压"),
        (69, 50, "systolic_bp", "收缩压应在 70–260 mmHg 之间"),
        (261, 90, "systolic_bp", "收缩压应在 70–260 mmHg 之间"),
        (130, 39, "diastolic_bp", "舒张压应在 40–150 mmHg 之间"),
        (200, 151, "diastolic_bp", "舒张压应在 40–150 mmHg 之间"),
        (120, 120, "diastolic_bp", "舒张压应低于收缩压"),
        ("一百", 80, "systolic_bp", "收缩压必须是整数"),
        (True, 80, "systolic_bp", "收缩压必须是整数"),
    ],
)
def test_blood_pressure_bounds(sbp: Any, dbp: Any, field: str, message: str) -> None:
    errors = _errors(_payload("hypertension_followup", systolic_bp=sbp, diastolic_bp=dbp))
    assert errors == {field: message}


@pytest.mark.parametrize(("sbp", "dbp"), [(70, 40), (260, 150), ("135", "85"), (151.0, 95)])
def test_blood_pressure_within_bounds_is_accepted(sbp: Any, dbp: Any) -> None:
    draft, errors = parse_draft(
        _payload("hypertension_followup", systolic_bp=sbp, diastolic_bp=dbp), TODAY
    )
    assert errors == {} and draft is not None
    assert (draft.systolic_bp, draft.diastolic_bp) == (int(float(sbp)), int(float(dbp)))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "请填写空腹血糖"),
        (0.9, "空腹血糖应在 1.0–33.3 mmol/L 之间"),
        (33.4, "空腹血糖应在 1.0–33.3 mmol/L 之间"),
        ("NaN", "空腹血糖应在 1.0–33.3 mmol/L 之间"),
        ("高", "空腹血糖必须是数字"),
    ],
)
def test_fasting_glucose_bounds(value: Any, message: str) -> None:
    assert _errors(_payload("diabetes_followup", fasting_glucose=value)) == {
        "fasting_glucose": message
    }


@pytest.mark.parametrize(
    ("value", "stored"), [(1.0, "1.0"), (33.3, "33.3"), ("6.15", "6.2"), (7, "7.0")]
)
def test_fasting_glucose_is_kept_to_one_decimal(value: Any, stored: str) -> None:
    draft, _ = parse_draft(_payload("diabetes_followup", fasting_glucose=value), TODAY)
    assert draft is not None and draft.fasting_glucose == Decimal(stored)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"topic": "控烟"}, "attendance", "请填写参加人数"),
        ({"attendance": 0, "topic": "控烟"}, "attendance", "参加人数应在 1–10000 人之间"),
        ({"attendance": 30}, "topic", "请填写健康教育主题"),
        ({"attendance": 30, "topic": "  "}, "topic", "请填写健康教育主题"),
    ],
)
def test_health_education_needs_attendance_and_topic(
    fields: dict[str, Any], field: str, message: str
) -> None:
    assert _errors(_payload("health_education", resident_id=None, **fields)) == {field: message}


def test_health_education_event_needs_no_resident() -> None:
    draft, errors = parse_draft(
        _payload("health_education", resident_id=None, attendance=40, topic="合理膳食"), TODAY
    )
    assert errors == {} and draft is not None and draft.resident_id is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "other_institution", "请选择转诊接收机构，或填写系统外医院的名称"),
        ({"other_institution_id": "市一院"}, "other_institution", "转诊机构必须是整数"),
        (
            {"other_institution_id": 5, "referral_receipt_on": "2026-06-15"},
            "referral_receipt_on",
            "系统内机构的转诊由接收方在系统中确认接收，不填写回执日期",
        ),
        (
            {"other_institution_name": "市中心医院", "referral_receipt_on": "2026-06-14"},
            "referral_receipt_on",
            "回执日期不能早于服务日期",
        ),
        (
            {"other_institution_name": "市中心医院", "referral_receipt_on": "2026-06-16"},
            "referral_receipt_on",
            "回执日期不能晚于今天",
        ),
    ],
)
def test_referral_names_the_receiving_institution(
    fields: dict[str, Any], field: str, message: str
) -> None:
    assert _errors(_payload("referral_up", **fields)) == {field: message}


@pytest.mark.parametrize(
    ("type_", "fields", "field", "message"),
    [
        ("consultation", {"systolic_bp": 120, "diastolic_bp": 80}, "systolic_bp", "“门诊/咨询”不填写收缩压"),
        ("home_visit", {"fasting_glucose": 6.1}, "fasting_glucose", "“上门服务”不填写空腹血糖"),
        ("vaccination", {"attendance": 3}, "attendance", "“预防接种”不填写参加人数"),
        ("diabetes_followup", {"fasting_glucose": 6.1, "systolic_bp": 120}, "systolic_bp",
         "“糖尿病随访”不填写收缩压"),
        ("hypertension_followup", {"systolic_bp": 120, "diastolic_bp": 80, "topic": "x"}, "topic",
         "“高血压随访”不填写健康教育主题"),
        ("elderly_checkup", {"other_institution_name": "市医院"}, "other_institution",
         "“老年人健康体检”不填写转诊机构"),
    ],
)  # fmt: skip
def test_fields_of_other_types_are_refused(
    type_: str, fields: dict[str, Any], field: str, message: str
) -> None:
    assert _errors(_payload(type_, **fields))[field] == message


# --- rules against the database -------------------------------------------------------------


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _upload(user: Any, *payloads: dict[str, Any]) -> list[Any]:
    with clock.frozen(TODAY):
        return upload_batch(user, "tablet", list(payloads))


def test_service_date_before_the_contract_term_is_refused(world: World) -> None:
    [got] = _upload(world.doctor, record(world.resident, day=TERM[0] - timedelta(days=1)))
    assert got.errors == {
        "service_date": "服务日期 2025-12-31 不在签约期限内（2026-01-01 至 2026-12-31）"
    }


def test_service_date_inside_an_earlier_contract_is_accepted(world: World) -> None:
    with clock.frozen(TODAY):
        old = make_contract(
            world.home, None, date(2025, 1, 1), date(2025, 12, 31), status="renewed"
        )
    [got] = _upload(world.doctor, record(world.resident, day=date(2025, 11, 3)))
    assert got.status == "created"
    assert db.session.get(ServiceRecord, got.id).contract_id == old.id  # type: ignore[union-attr]


def test_service_after_a_termination_is_refused(world: World) -> None:
    with clock.frozen(TODAY):
        home = make_household(world.tree.team, members=2)
        contract = make_contract(home, None, *TERM, status="terminated")
        contract.terminated_on = date(2026, 3, 31)
        db.session.flush()
    ok, late = _upload(
        world.doctor,
        record(home.residents[0], day=date(2026, 3, 31)),
        record(home.residents[0], day=date(2026, 4, 1)),
    )
    assert ok.status == "created"
    assert late.errors == {"service_date": "服务日期 2026-04-01 不在该居民任何签约期限内"}


def test_resident_without_a_contract_is_refused(world: World) -> None:
    with clock.frozen(TODAY):
        home = make_household(world.tree.team, members=2)
    [got] = _upload(world.doctor, record(home.residents[0]))
    assert got.errors == {"resident_id": "该居民没有签约，不能记录签约服务"}


def test_public_health_for_an_unsigned_resident_is_kept_without_a_contract(world: World) -> None:
    """Basic public-health services are owed to every resident of the grid, signed or not."""
    with clock.frozen(TODAY):
        home = make_household(world.tree.team, members=2)
    followup, visit = _upload(
        world.doctor,
        bp_record(home.residents[0]),
        record(home.residents[0], "vaccination"),
    )
    assert followup.status == visit.status == "created"
    for got in (followup, visit):
        stored = db.session.get(ServiceRecord, got.id)
        assert stored is not None and stored.contract_id is None
        assert stored.team_id == world.tree.team.id


def test_public_health_outside_the_term_is_kept_and_medical_care_is_not(world: World) -> None:
    before = TERM[0] - timedelta(days=1)
    followup, consultation, inside = _upload(
        world.doctor,
        bp_record(world.resident, day=before),
        record(world.resident, day=before),
        bp_record(world.resident),
    )
    assert followup.status == "created"
    assert db.session.get(ServiceRecord, followup.id).contract_id is None  # type: ignore[union-attr]
    assert consultation.errors == {
        "service_date": "服务日期 2025-12-31 不在签约期限内（2026-01-01 至 2026-12-31）"
    }
    # Inside the term the record still belongs to the contract.
    assert db.session.get(ServiceRecord, inside.id).contract_id is not None  # type: ignore[union-attr]


def test_a_public_health_record_with_a_mistyped_year_is_refused(world: World) -> None:
    with clock.frozen(TODAY):
        home = make_household(world.tree.team, members=2)
    [got] = _upload(world.doctor, bp_record(home.residents[0], day=date(1026, 6, 1)))
    assert got.errors == {"service_date": "服务日期 1026-06-01 早于 2000-01-01，请检查年份"}


def test_event_is_placed_in_the_doctors_team(world: World) -> None:
    [got] = _upload(
        world.doctor, record(None, "health_education", attendance=25, topic="高血压防治")
    )
    stored = db.session.get(ServiceRecord, got.id)
    assert stored is not None and stored.resident_id is None and stored.contract_id is None
    assert (stored.team_id, stored.station_id) == (world.tree.team.id, world.tree.station.id)


def test_centre_event_needs_a_team_of_its_own(world: World) -> None:
    event = {"attendance": 25, "topic": "高血压防治"}
    missing, foreign, ok = _upload(
        world.centre,
        record(None, "health_education", **event),
        record(None, "health_education", team_id=world.tree.other_team.id, **event),
        record(None, "health_education", team_id=world.tree.team2.id, **event),
    )
    assert missing.errors == {"team_id": "请选择开展活动的团队"}
    assert foreign.errors == {"team_id": "团队不存在或不在您的管辖范围内"}
    assert ok.status == "created"


def test_referral_to_an_unknown_institution_is_refused(world: World) -> None:
    with clock.frozen(TODAY):
        station = world.tree.station.id
    unknown, not_institution = _upload(
        world.doctor,
        record(world.resident, "referral_up", other_institution_id=99_999),
        record(world.resident, "referral_up", other_institution_id=station),
    )
    assert (
        unknown.errors
        == not_institution.errors
        == {"other_institution": "转诊接收机构不存在，请重新选择"}
    )


def test_referral_to_an_institution_stores_its_name(world: World) -> None:
    target = world.tree.institution
    [got] = _upload(
        world.doctor, record(world.resident, "referral_up", other_institution_id=target.id)
    )
    stored = db.session.get(ServiceRecord, got.id)
    assert stored is not None and stored.other_institution_name == target.name
    assert stored.referral_received_at is None


def test_external_hospital_receipt_is_recorded_by_the_doctor(world: World) -> None:
    [got] = _upload(
        world.doctor,
        record(world.resident, "referral_up", other_institution_name="市中心医院", referral_receipt_on=TODAY.isoformat()),
    )  # fmt: skip
    stored = db.session.get(ServiceRecord, got.id)
    assert stored is not None
    assert stored.referral_received_at == datetime(2026, 6, 15)
    assert stored.referral_received_by_id == world.doctor.id


def test_entry_time_ahead_of_the_server_is_clamped_to_now(world: World) -> None:
    [got] = _upload(world.doctor, record(world.resident, entered_at="2026-06-20T08:00:00"))
    stored = db.session.get(ServiceRecord, got.id)
    assert stored is not None and stored.entered_at == datetime(2026, 6, 15, 9, 0)
    assert got.warnings == []


def test_entry_time_before_the_service_day_warns_and_uses_upload_time(world: World) -> None:
    [got] = _upload(world.doctor, record(world.resident, entered_at="2026-06-01T08:00:00"))
    stored = db.session.get(ServiceRecord, got.id)
    assert stored is not None and stored.entered_at == datetime(2026, 6, 15, 9, 0)
    assert got.warnings == ["录入时间早于服务日期（平板时间可能有误），已按上传时间记录"]


def test_entry_time_with_a_timezone_is_stored_as_local_time(world: World) -> None:
    [got] = _upload(world.doctor, record(world.resident, entered_at="2026-06-15T00:30:00Z"))
    stored = db.session.get(ServiceRecord, got.id)
    assert stored is not None and stored.entered_at == datetime(2026, 6, 15, 8, 30)


def test_centre_of_another_institution_cannot_record_for_our_resident(world: World) -> None:
    with clock.frozen(TODAY):
        inst = add_unit("410002-09", "乙县第九卫生院", "institution", world.tree.other_county)
        stranger = make_user("centre9", "centre_admin", inst)
    [got] = _upload(stranger, record(world.resident))
    assert got.errors == {"resident_id": "居民不存在或不在您的管辖范围内"}
