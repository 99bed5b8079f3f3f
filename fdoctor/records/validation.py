"""Validation of service records (服务记录校验), shared by the tablet page and the JSON API.

Two steps, so a batch of 200 records costs a handful of queries, never one per record:

1. :func:`parse_draft` checks one payload on its own (types, required and allowed fields per
   service type, physiological bounds, the date not in the future) — no database.
2. :func:`load_context` reads everything a batch needs in bulk (residents in the user's scope,
   their contracts, the named institutions, same-day records), then :func:`place` checks each
   draft against it (scope, contract term, receiving institution, duplicates).

Messages are Chinese and name the field; they are keyed by the payload's field name.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import aliased

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock, dialect
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.evidence import Evidence, parse_evidence
from fdoctor.records.models import REFERRAL_TYPES, SERVICE_TYPES, ServiceRecord

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
CONTRACT_OK_STATUSES = frozenset({"active", "renewed", "expired", "terminated"})
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


@dataclass
class Placement:
    """Where a valid draft lands: its contract and the org columns of the record."""

    contract_id: int | None
    county_id: int
    institution_id: int
    team_id: int | None
    station_id: int | None
    other_institution_name: str | None
    entered_at: datetime


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


# --- the bulk context ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentInfo:
    id: int
    name: str
    county_id: int
    institution_id: int
    team_id: int | None
    station_id: int | None


@dataclass(frozen=True)
class ContractTerm:
    id: int
    start: date
    end: date
    status: str
    terminated_on: date | None

    def covers(self, day: date) -> bool:
        if self.status not in CONTRACT_OK_STATUSES or not self.start <= day <= self.end:
            return False
        return self.status != "terminated" or (
            self.terminated_on is not None and day <= self.terminated_on
        )


@dataclass(frozen=True)
class TeamInfo:
    """A team that holds an event without a single resident (health education)."""

    id: int
    county_id: int
    institution_id: int
    station_id: int | None  # the team's parent when that is a station


@dataclass
class Context:
    """What a batch's drafts need from the database, read in bulk."""

    residents: dict[int, ResidentInfo] = field(default_factory=dict)
    contracts: dict[int, list[ContractTerm]] = field(default_factory=dict)
    institutions: dict[int, str] = field(default_factory=dict)
    teams: dict[int, TeamInfo] = field(default_factory=dict)
    # (resident, type, day) -> ids of stored records, for the duplicate warning.
    same_day: dict[tuple[int, str, date], set[int]] = field(default_factory=dict)
    user_team_id: int | None = None


_residents_statements: dict[str, Any] = {}


def _residents_statement() -> Any:
    """Residents by id with their station and contract terms, built once per dialect.

    Each request only adds the user's scope to it; the ids are one parameter (an array on
    PostgreSQL, an expanding IN list on SQLite).
    """
    engine = dialect.name()
    stmt = _residents_statements.get(engine)
    if stmt is None:
        if engine == dialect.POSTGRESQL:
            wanted = Resident.id == any_(bindparam("resident_ids", type_=ARRAY(BigInteger)))
        else:
            wanted = Resident.id.in_(bindparam("resident_ids", expanding=True))
        stmt = (
            select(
                Resident.id,
                Resident.name,
                Resident.county_id,
                Resident.institution_id,
                Resident.team_id,
                Household.station_id,
                Contract.id,
                Contract.start_date,
                Contract.end_date,
                Contract.status,
                Contract.terminated_on,
            )
            .join(Household, Household.id == Resident.household_id)
            .outerjoin(ContractMember, ContractMember.resident_id == Resident.id)
            .outerjoin(Contract, Contract.id == ContractMember.contract_id)
            .where(wanted)
        )
        _residents_statements[engine] = stmt
    return stmt


def load_context(drafts: Iterable[Draft], user: Any) -> Context:
    """Read residents (in the user's scope), contracts, institutions and same-day records."""
    drafts = list(drafts)
    ctx = Context()
    unit = getattr(user, "org_unit", None)
    if unit is not None and unit.kind == "team":
        ctx.user_team_id = unit.id
    resident_ids = {d.resident_id for d in drafts if d.resident_id is not None}
    if resident_ids:
        # The residents in scope and their contract terms, one query (a row per contract).
        rows = db.session.execute(
            _residents_statement().where(scope_clause(Resident, user)),
            {"resident_ids": list(resident_ids)},
        ).all()
        for row in rows:
            resident_id = row[0]
            if resident_id not in ctx.residents:
                ctx.residents[resident_id] = ResidentInfo(*row[:6])
            if row[6] is not None:
                ctx.contracts.setdefault(resident_id, []).append(ContractTerm(*row[6:]))
    if ctx.residents:
        keys = {(d.resident_id, d.type, d.service_date) for d in drafts
                if d.resident_id in ctx.residents}  # fmt: skip
        ctx.same_day = _same_day(keys)
    institution_ids = {d.other_institution_id for d in drafts if d.other_institution_id}
    if institution_ids:
        ctx.institutions = dict(
            db.session.execute(
                select(OrgUnit.id, OrgUnit.name).where(
                    OrgUnit.id.in_(institution_ids),
                    OrgUnit.kind == "institution",
                    OrgUnit.active,
                )
            ).all()
        )
    team_ids = {
        d.team_id or ctx.user_team_id
        for d in drafts
        if d.resident_id is None and (d.team_id or ctx.user_team_id)
    }
    if team_ids:
        # The parent's kind comes in the same query (a team under a station records the station).
        parent = aliased(OrgUnit)
        teams = db.session.execute(
            select(OrgUnit.id, OrgUnit.county_id, OrgUnit.institution_id, parent.id, parent.kind)
            .outerjoin(parent, parent.id == OrgUnit.parent_id)
            .where(
                OrgUnit.id.in_(team_ids),
                OrgUnit.kind == "team",
                scope_clause(OrgUnit, user),
            )
        ).all()
        ctx.teams = {
            team_id: TeamInfo(
                team_id, county_id, institution_id, parent_id if parent_kind == "station" else None
            )
            for team_id, county_id, institution_id, parent_id, parent_kind in teams
            if county_id is not None and institution_id is not None  # always, for a team
        }
    return ctx


def _same_day(keys: set[tuple[Any, str, date]]) -> dict[tuple[int, str, date], set[int]]:
    """Ids of stored records with exactly these (resident, type, day), one query.

    Only the keys asked for are read (the resident/type/date index answers each), so the cost does
    not grow with how many records the residents already have around those days. On PostgreSQL
    the keys travel as one JSON parameter; SQLite gets a row-value IN list.
    """
    if not keys:
        return {}
    columns = (ServiceRecord.resident_id, ServiceRecord.type, ServiceRecord.service_date)
    if dialect.is_postgresql():
        payload = _KEYS_ENCODER.encode([{"r": r, "t": t, "d": d.isoformat()} for r, t, d in keys])
        stmt, params = _same_day_pg(), {"keys": payload}
    else:
        stmt = select(ServiceRecord.id, *columns).where(tuple_(*columns).in_(sorted(keys)))
        params = {}
    grouped: dict[tuple[int, str, date], set[int]] = defaultdict(set)
    for record_id, resident_id, stype, day in db.session.execute(stmt, params):
        grouped[(resident_id, stype, day)].add(record_id)
    return dict(grouped)


_KEYS_ENCODER = json.JSONEncoder(separators=(",", ":"))
_same_day_statement: Any = None


def _same_day_pg() -> Any:
    """The PostgreSQL look-up of _same_day, built once: the keys are one JSON parameter."""
    global _same_day_statement
    if _same_day_statement is None:
        columns = (ServiceRecord.resident_id, ServiceRecord.type, ServiceRecord.service_date)
        wanted = (
            func.jsonb_to_recordset(cast(bindparam("keys", type_=Text), JSONB))
            .table_valued(column("r", BigInteger), column("t", String), column("d", Date))
            .render_derived(name="k", with_types=True)
        )
        _same_day_statement = select(ServiceRecord.id, *columns).where(
            tuple_(*columns).in_(select(wanted.c.r, wanted.c.t, wanted.c.d))
        )
    return _same_day_statement


def same_day_ids(draft: Draft, ctx: Context) -> set[int]:
    """Stored records of the same resident, type and day (the duplicate warning)."""
    if draft.resident_id is None:
        return set()
    return ctx.same_day.get((draft.resident_id, draft.type, draft.service_date), set())


def place(
    draft: Draft,
    ctx: Context,
    now: datetime | None = None,
    exclude_record_id: int | None = None,
) -> tuple[Placement | None, dict[str, str], list[str]]:
    """Check a parsed draft against the context: (placement or None, errors, warnings)."""
    now = now or clock.now()
    errors: dict[str, str] = {}
    warnings: list[str] = []
    contract_id = station_id = None
    if draft.resident_id is not None:
        info = ctx.residents.get(draft.resident_id)
        if info is None:
            # The same words whether the resident does not exist or is another team's.
            errors["resident_id"] = "居民不存在或不在您的管辖范围内"
            return None, errors, warnings
        county_id, institution_id, team_id = info.county_id, info.institution_id, info.team_id
        station_id = info.station_id
        contract_id = _contract_for(draft, ctx.contracts.get(info.id, []), errors)
        if same_day_ids(draft, ctx) - {exclude_record_id}:
            warnings.append(
                f"{info.name} 在 {draft.service_date.isoformat()} 已有一条“{draft.type_label}”记录，"
                "请确认不是重复录入"
            )
    else:
        team = ctx.teams.get(draft.team_id or ctx.user_team_id or 0)
        if team is None:
            errors["team_id"] = (
                "团队不存在或不在您的管辖范围内" if draft.team_id else "请选择开展活动的团队"
            )
            return None, errors, warnings
        county_id, institution_id, team_id = team.county_id, team.institution_id, team.id
        station_id = team.station_id
    other_name = draft.other_institution_name
    if draft.other_institution_id is not None:
        other_name = ctx.institutions.get(draft.other_institution_id)
        if other_name is None:
            errors["other_institution"] = "转诊接收机构不存在，请重新选择"
    entered_at = draft.entered_at or now
    if entered_at > now:
        entered_at = now  # a device clock ahead of the server: never record a future entry
    if entered_at < datetime.combine(draft.service_date, time.min):
        warnings.append("录入时间早于服务日期（平板时间可能有误），已按上传时间记录")
        entered_at = now
    if errors:
        return None, errors, warnings
    return (
        Placement(
            contract_id=contract_id,
            county_id=county_id,
            institution_id=institution_id,
            team_id=team_id,
            station_id=station_id,
            other_institution_name=other_name,
            entered_at=entered_at,
        ),
        errors,
        warnings,
    )


def _contract_for(draft: Draft, terms: list[ContractTerm], errors: dict[str, str]) -> int | None:
    """The contract whose term holds the service date, the active one first.

    Basic public-health services (基本公共卫生服务) are owed to every resident of the grid, signed
    or not: such a record outside any contract's term is kept with no contract. Basic medical
    services and referrals are contract services and need a contract covering the day.
    """
    covering = [t for t in terms if t.covers(draft.service_date)]
    if covering:
        covering.sort(key=lambda t: (t.status != "active", -t.start.toordinal()))
        return covering[0].id
    if SERVICE_TYPES[draft.type][0] == "public_health":
        return None
    if not terms:
        errors["resident_id"] = "该居民没有签约，不能记录签约服务"
        return None
    current = next((t for t in terms if t.status == "active"), None)
    if current is not None:
        errors["service_date"] = (
            f"服务日期 {draft.service_date.isoformat()} 不在签约期限内"
            f"（{current.start.isoformat()} 至 {current.end.isoformat()}）"
        )
    else:
        errors["service_date"] = (
            f"服务日期 {draft.service_date.isoformat()} 不在该居民任何签约期限内"
        )
    return None
