"""Reads behind the JSON API: the residents snapshot for offline search and the records refresh.

Both page by keyset (``after_id`` / a ``cursor``), never by OFFSET, and each page is one query.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import citizen_id, clock
from fdoctor.core.access import sees_full_id
from fdoctor.core.errors import UserFacingError
from fdoctor.core.roles import ROLE_LABELS, Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord

RESIDENTS_PAGE = 1000
RECORDS_PAGE = 500
DEFAULT_WINDOW = timedelta(days=30)  # a device's first refresh: the last month


class ApiError(UserFacingError):
    """Bad query parameters; the message is Chinese."""


def me(user: Any) -> dict[str, Any]:
    unit = user.org_unit
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_label": ROLE_LABELS[Role(user.role)],
        "unit": {"id": unit.id, "name": unit.name, "kind": unit.kind} if unit else None,
        "team_id": unit.id if unit is not None and unit.kind == "team" else None,
        "full_ids": sees_full_id(user),
    }


def _int_arg(args: Any, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        if not re.fullmatch(r"[+-]?[0-9]{1,30}", raw.strip()):
            raise ValueError(raw)
        value = int(raw)
    except ValueError:
        raise ApiError(f"参数 {name} 应为整数") from None
    return max(low, min(high, value))


def residents_page(user: Any, args: Any) -> dict[str, Any]:
    """One page of the residents the user may see, for the tablet's offline search."""
    after_id = _int_arg(args, "after_id", 0, 0, 2**62)
    limit = _int_arg(args, "limit", RESIDENTS_PAGE, 1, RESIDENTS_PAGE)
    team = _int_arg(args, "team", 0, 0, 2**31 - 1)  # org unit ids are 32-bit integers
    stmt = (
        select(Resident, Household.code, Household.address, Contract.start_date, Contract.end_date)
        .join(Household, Household.id == Resident.household_id)
        .outerjoin(
            ContractMember,
            and_(ContractMember.resident_id == Resident.id, ContractMember.is_active),
        )
        .outerjoin(Contract, Contract.id == ContractMember.contract_id)
        .where(scope_clause(Resident, user), Resident.status == "active", Resident.id > after_id)
        .order_by(Resident.id)
        .limit(limit + 1)
    )
    if team:
        stmt = stmt.where(Resident.team_id == team)
    rows = db.session.execute(stmt).all()
    full = sees_full_id(user)
    today = clock.today()
    out = []
    for person, code, address, start, end in rows[:limit]:
        out.append(
            {
                "id": person.id,
                "name": person.name,
                "sex": person.sex,
                "age": person.age_on(today),
                "citizen_id": _full_id(person.citizen_id)
                if full
                else citizen_id.mask(person.citizen_id),
                "id_tail": person.id_tail if full else None,
                "team_id": person.team_id,
                "household_id": person.household_id,
                "household_code": code,
                "address": address,
                "tags": person.tags_on(today),
                "contract": {"start": start.isoformat(), "end": end.isoformat()} if start else None,
            }
        )
    more = len(rows) > limit
    return {
        "residents": out,
        "count": len(out),
        "next_after_id": out[-1]["id"] if more else None,
        "full_ids": full,
    }


def record_json(record: ServiceRecord, resident_name: str | None = None) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    glucose = record.fasting_glucose
    return {
        "id": record.id,
        "client_uuid": record.client_uuid,
        "version": record.version,
        "type": record.type,
        "type_label": SERVICE_TYPES.get(record.type, ("", record.type))[1],
        "category": record.category,
        "service_date": record.service_date.isoformat(),
        "resident_id": record.resident_id,
        "resident_name": resident_name,
        "team_id": record.team_id,
        "doctor_id": record.doctor_id,
        "systolic_bp": record.systolic_bp,
        "diastolic_bp": record.diastolic_bp,
        "fasting_glucose": float(glucose) if glucose is not None else None,
        "attendance": record.attendance,
        "topic": record.topic,
        "other_institution_id": record.other_institution_id,
        "other_institution_name": record.other_institution_name,
        "referral_received_at": stamp(record.referral_received_at),
        "notes": record.notes,
        "entered_at": stamp(record.entered_at),
        "updated_at": stamp(record.updated_at),
        "device_id": record.device_id,
        "verification": record.verification,
        "possible_duplicate": record.possible_duplicate,
        # Evidence at capture; the signature itself stays on the server (has_signature).
        "uploaded_at": stamp(record.uploaded_at),
        "clock_skew_seconds": record.clock_skew_seconds,
        "form_opened_at": stamp(record.form_opened_at),
        "form_seconds": record.form_seconds,
        "has_location": record.latitude is not None,
        "has_signature": record.resident_signature is not None,
    }


def _since(args: Any) -> tuple[datetime, int]:
    cursor = args.get("cursor")
    raw, after_id = (cursor.split("|", 1) + ["0"])[:2] if cursor else (args.get("since"), "0")
    if not raw:
        return clock.now().replace(hour=0, minute=0, second=0) - DEFAULT_WINDOW, 0
    try:
        since = datetime.fromisoformat(raw)
        if since.tzinfo is not None:
            since = since.astimezone(clock.CHINA_TZ).replace(tzinfo=None)
        after = int(after_id)
        if not 0 <= after < 2**62:
            raise ValueError(after_id)
        return since, after
    except (ValueError, OverflowError):  # OverflowError: year 0001/9999 moved by its offset
        raise ApiError("since 应为 ISO 时间（如 2026-06-01T00:00:00），cursor 应原样传回") from None


def records_page(user: Any, args: Any) -> dict[str, Any]:
    """Records in scope changed since a moment, oldest change first, for the device's refresh."""
    since, after_id = _since(args)
    limit = _int_arg(args, "limit", RECORDS_PAGE, 1, RECORDS_PAGE)
    changed = ServiceRecord.updated_at
    stmt = (
        select(ServiceRecord, Resident.name)
        .outerjoin(Resident, Resident.id == ServiceRecord.resident_id)
        .where(
            scope_clause(ServiceRecord, user),
            or_(changed > since, and_(changed == since, ServiceRecord.id > after_id)),
        )
        .order_by(changed, ServiceRecord.id)
        .limit(limit + 1)
    )
    rows = db.session.execute(stmt).all()
    page = rows[:limit]
    last = page[-1][0] if page else None
    more = len(rows) > limit and last is not None
    return {
        "records": [record_json(r, name) for r, name in page],
        "next_cursor": f"{last.updated_at.isoformat()}|{last.id}" if more and last else None,
        "server_time": clock.now().isoformat(),
    }


def _full_id(number: str) -> str:
    """A full citizen ID leaving the server is logged (once per request, with the others)."""
    from fdoctor.audit.requests import note_full_id_view

    note_full_id_view(number)
    return number
