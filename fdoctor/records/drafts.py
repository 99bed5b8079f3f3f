"""A service record's payload checked on its own (服务记录校验), for the tablet page and the JSON API.

Validation takes two steps, so a batch of 200 records costs a handful of queries, never one per
record:

1. :func:`parse_draft` (here) checks one payload on its own (types, required and allowed fields per
   service type, physiological bounds, the date not in the future) — no database.
2. :func:`~fdoctor.records.context.load_context` reads everything a batch needs in bulk (residents
   in the user's scope, their contracts, the named institutions, same-day records), then
   :func:`~fdoctor.records.placing.place` checks each draft against it (scope, contract term,
   receiving institution, duplicates).

Messages are Chinese and name the field; they are keyed by the payload's field name. The limits
below are also the tablet form's (its template reads them from this module).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fdoctor.core import clock
from fdoctor.records.evidence import Evidence, parse_evidence
from fdoctor.records.models import REFERRAL_TYPES, SERVICE_TYPES

# Physiological bounds (mmHg, mmol/L); the database's CHECK constraints are wider on purpose.
SYSTOLIC_RANGE = (70, 260)
DIASTOLIC_RANGE = (40, 150)
GLUCOSE_RANGE = (Decimal("1.0"), Decimal("33.3"))
MAX_ATTENDANCE = 10_000
MAX_TOPIC = 200
MAX_NOTES = 2000
MAX_INSTITUTION_NAME = 100
MAX_INT = 2**53  # ids and counts beyond this are typos (and would overflow BIGINT columns)
# ASCII digits with at most one sign: "--1", "²" and "١" pass str.isdigit() but are no integers.
_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")

FIELD_LABELS = {
    "client_uuid": "记录编号",
    "type": "服务类型",
    "service_date": "服务日期",
    "resident_id": "居民",
    "team_id": "团队",
    "systolic_bp": "收缩压",
    "diastolic_bp": "舒张压",
    "fasting_glucose": "空腹血糖",
    "attendance": "参加人数",
    "topic": "健康教育主题",
    "other_institution": "转诊机构",
    "other_institution_id": "转诊机构",
    "other_institution_name": "系统外医院名称",
    "referral_receipt_on": "回执日期",
    "notes": "备注",
    "entered_at": "录入时间",
    "form_opened_at": "表单打开时间",
    "location": "位置",
    "resident_signature": "居民签名",
}
# The type-specific fields each service type takes; every other type takes none of them.
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "hypertension_followup": ("systolic_bp", "diastolic_bp"),
    "diabetes_followup": ("fasting_glucose",),
    "health_education": ("attendance", "topic"),
    "referral_up": ("other_institution", "referral_receipt_on"),
    "referral_down": ("other_institution", "referral_receipt_on"),
}
SPECIFIC_FIELDS = ("systolic_bp", "diastolic_bp", "fasting_glucose", "attendance", "topic",
                   "other_institution", "referral_receipt_on")  # fmt: skip
# Health-education events (讲座、义诊) have attendance but no single resident.
RESIDENT_OPTIONAL = frozenset({"health_education"})
EARLIEST_SERVICE_DATE = date(2000, 1, 1)  # no record of the programme is older


@dataclass
class Draft:
    """One service record's payload after parsing, before it is placed in the org tree."""

    client_uuid: str
    type: str
    service_date: date
    resident_id: int | None = None
    team_id: int | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    fasting_glucose: Decimal | None = None
    attendance: int | None = None
    topic: str | None = None
    other_institution_id: int | None = None
    other_institution_name: str | None = None
    referral_receipt_on: date | None = None
    notes: str | None = None
    entered_at: datetime | None = None
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def type_label(self) -> str:
        return SERVICE_TYPES[self.type][1]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _int(raw: Mapping[str, Any], key: str, errors: dict[str, str]) -> int | None:
    value = raw.get(key)
    if _blank(value):
        return None
    if isinstance(value, bool):
        errors[key] = f"{FIELD_LABELS[key]}必须是整数"
        return None
    number: int | None = None
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None:
        errors[key] = f"{FIELD_LABELS[key]}必须是整数"
    elif not -MAX_INT <= number <= MAX_INT:
        errors[key] = f"{FIELD_LABELS[key]}数值超出范围"
        number = None
    return number


def _date(raw: Mapping[str, Any], key: str, errors: dict[str, str]) -> date | None:
    value = raw.get(key)
    if _blank(value):
        return None
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[key] = f"{FIELD_LABELS[key]}格式应为 YYYY-MM-DD"
        return None


def _text(raw: Mapping[str, Any], key: str, limit: int, errors: dict[str, str]) -> str | None:
    value = raw.get(key)
    if _blank(value):
        return None
    if not isinstance(value, str):
        errors[key] = f"{FIELD_LABELS.get(key, key)}应为文字"
        return None
    value = value.strip()
    if len(value) > limit:
        errors[key] = f"{FIELD_LABELS.get(key, key)}不能超过 {limit} 个字"
        return None
    return value


def _entered_at(raw: Mapping[str, Any], errors: dict[str, str]) -> datetime | None:
    value = raw.get("entered_at")
    if _blank(value):
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(clock.CHINA_TZ).replace(tzinfo=None)
    except ValueError:
        errors["entered_at"] = "录入时间格式应为 YYYY-MM-DDTHH:MM:SS"
        return None
    except OverflowError:  # year 0001 or 9999 shifted past the calendar by its offset
        errors["entered_at"] = "录入时间超出有效范围"
        return None
    return moment.replace(microsecond=0)


_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    if _CANONICAL_UUID.fullmatch(value):
        return True  # the usual form, without building a UUID; other spellings are checked below
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_draft(
    raw: Mapping[str, Any], today: date | None = None
) -> tuple[Draft | None, dict[str, str]]:
    """Check one payload on its own; return the draft or ``None`` with messages by field."""
    today = today or clock.today()
    errors: dict[str, str] = {}
    client_uuid = raw.get("client_uuid")
    if not is_uuid(client_uuid):
        errors["client_uuid"] = "记录编号（client_uuid）缺失或格式不正确"
    stype = raw.get("type")
    if not isinstance(stype, str) or stype not in SERVICE_TYPES:
        errors["type"] = "请选择有效的服务类型"
        return None, errors
    label = SERVICE_TYPES[stype][1]

    service_date = _date(raw, "service_date", errors)
    if service_date is None and "service_date" not in errors:
        errors["service_date"] = "请填写服务日期"
    elif service_date is not None and service_date > today:
        errors["service_date"] = f"服务日期 {service_date.isoformat()} 晚于今天，不能记录未来的服务"
    elif service_date is not None and service_date < EARLIEST_SERVICE_DATE:
        # Contracts began long after; a public-health record needs no contract, so the date alone
        # must keep a mistyped year (0001, 1026) out.
        errors["service_date"] = (
            f"服务日期 {service_date.isoformat()} 早于 {EARLIEST_SERVICE_DATE.isoformat()}，请检查年份"
        )

    resident_id = _int(raw, "resident_id", errors)
    if resident_id is None and "resident_id" not in errors and stype not in RESIDENT_OPTIONAL:
        errors["resident_id"] = "请选择居民"
    team_id = _int(raw, "team_id", errors)

    draft = Draft(
        client_uuid=client_uuid if isinstance(client_uuid, str) else "",
        type=stype,
        service_date=service_date or today,
        resident_id=resident_id,
        team_id=team_id,
        notes=_text(raw, "notes", MAX_NOTES, errors),
        entered_at=_entered_at(raw, errors),
    )
    draft.evidence = parse_evidence(raw, draft.entered_at, errors)
    allowed = TYPE_FIELDS.get(stype, ())
    given = {
        name
        for name in SPECIFIC_FIELDS
        if name != "other_institution" and not _blank(raw.get(name))
    }
    if not _blank(raw.get("other_institution_id")) or not _blank(raw.get("other_institution_name")):
        given.add("other_institution")
    for name in sorted(given - set(allowed)):
        errors[name] = f"“{label}”不填写{FIELD_LABELS[name]}"

    if stype == "hypertension_followup":
        _blood_pressure(raw, draft, errors)
    elif stype == "diabetes_followup":
        _glucose(raw, draft, errors)
    elif stype == "health_education":
        draft.attendance = _int(raw, "attendance", errors)
        if draft.attendance is None and "attendance" not in errors:
            errors["attendance"] = "请填写参加人数"
        elif draft.attendance is not None and not 1 <= draft.attendance <= MAX_ATTENDANCE:
            errors["attendance"] = f"参加人数应在 1–{MAX_ATTENDANCE} 人之间"
        draft.topic = _text(raw, "topic", MAX_TOPIC, errors)
        if draft.topic is None and "topic" not in errors:
            errors["topic"] = "请填写健康教育主题"
    elif stype in REFERRAL_TYPES:
        _referral(raw, draft, today, errors)
    return (None, errors) if errors else (draft, errors)


def _blood_pressure(raw: Mapping[str, Any], draft: Draft, errors: dict[str, str]) -> None:
    for key, (low, high) in (("systolic_bp", SYSTOLIC_RANGE), ("diastolic_bp", DIASTOLIC_RANGE)):
        value = _int(raw, key, errors)
        if value is None and key not in errors:
            errors[key] = f"请填写{FIELD_LABELS[key]}"
        elif value is not None and not low <= value <= high:
            errors[key] = f"{FIELD_LABELS[key]}应在 {low}–{high} mmHg 之间"
        else:
            setattr(draft, key, value)
    sbp, dbp = draft.systolic_bp, draft.diastolic_bp
    if sbp is not None and dbp is not None and dbp >= sbp:
        errors["diastolic_bp"] = "舒张压应低于收缩压"


def _glucose(raw: Mapping[str, Any], draft: Draft, errors: dict[str, str]) -> None:
    value = raw.get("fasting_glucose")
    if _blank(value):
        errors["fasting_glucose"] = "请填写空腹血糖"
        return
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value).strip()).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        errors["fasting_glucose"] = "空腹血糖必须是数字"
        return
    low, high = GLUCOSE_RANGE
    if not number.is_finite() or not low <= number <= high:
        errors["fasting_glucose"] = f"空腹血糖应在 {low}–{high} mmol/L 之间"
        return
    draft.fasting_glucose = number


def _referral(raw: Mapping[str, Any], draft: Draft, today: date, errors: dict[str, str]) -> None:
    draft.other_institution_id = _int(raw, "other_institution_id", errors)
    if "other_institution_id" in errors:
        errors["other_institution"] = errors.pop("other_institution_id")
    draft.other_institution_name = _text(
        raw, "other_institution_name", MAX_INSTITUTION_NAME, errors
    )
    if "other_institution_name" in errors:
        errors["other_institution"] = errors.pop("other_institution_name")
    if (
        draft.other_institution_id is None
        and draft.other_institution_name is None
        and "other_institution" not in errors
    ):
        errors["other_institution"] = "请选择转诊接收机构，或填写系统外医院的名称"
    receipt = _date(raw, "referral_receipt_on", errors)
    if receipt is None:
        return
    if draft.other_institution_id is not None:
        errors["referral_receipt_on"] = "系统内机构的转诊由接收方在系统中确认接收，不填写回执日期"
    elif receipt > today:
        errors["referral_receipt_on"] = "回执日期不能晚于今天"
    elif receipt < draft.service_date:
        errors["referral_receipt_on"] = "回执日期不能早于服务日期"
    else:
        draft.referral_receipt_on = receipt
