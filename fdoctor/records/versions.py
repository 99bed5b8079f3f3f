"""A record's versions: the editable fields a version holds (of a record, of a draft), written
back onto the record, the compare-and-set move to the next version, and the previous state kept."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.drafts import Draft
from fdoctor.records.models import ServiceRecord, ServiceRecordVersion
from fdoctor.records.placing import Placement


def receipt_at(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min) if day is not None else None


def record_data(record: ServiceRecord) -> dict[str, Any]:
    """The editable fields of a record, JSON-safe (what versions store)."""
    return {
        "service_date": record.service_date.isoformat(),
        "contract_id": record.contract_id,
        "systolic_bp": record.systolic_bp,
        "diastolic_bp": record.diastolic_bp,
        "fasting_glucose": str(record.fasting_glucose)
        if record.fasting_glucose is not None
        else None,
        "attendance": record.attendance,
        "topic": record.topic,
        "other_institution_id": record.other_institution_id,
        "other_institution_name": record.other_institution_name,
        "referral_received_at": (
            record.referral_received_at.isoformat(sep=" ")
            if record.referral_received_at is not None and record.other_institution_id is None
            else None
        ),
        "notes": record.notes,
    }


def draft_data(d: Draft, p: Placement) -> dict[str, Any]:
    return {
        "service_date": d.service_date.isoformat(),
        "contract_id": p.contract_id,
        "systolic_bp": d.systolic_bp,
        "diastolic_bp": d.diastolic_bp,
        "fasting_glucose": str(d.fasting_glucose) if d.fasting_glucose is not None else None,
        "attendance": d.attendance,
        "topic": d.topic,
        "other_institution_id": d.other_institution_id,
        "other_institution_name": p.other_institution_name,
        "referral_received_at": (
            receipt_at(d.referral_receipt_on).isoformat(sep=" ")  # type: ignore[union-attr]
            if d.referral_receipt_on is not None
            else None
        ),
        "notes": d.notes,
    }


def apply_data(record: ServiceRecord, data: Mapping[str, Any], author_id: int | None) -> None:
    """Write a version's fields onto the record (through the ORM, so the change is audited)."""
    record.service_date = date.fromisoformat(data["service_date"])
    record.contract_id = data.get("contract_id")
    record.systolic_bp = data.get("systolic_bp")
    record.diastolic_bp = data.get("diastolic_bp")
    glucose = data.get("fasting_glucose")
    record.fasting_glucose = Decimal(glucose) if glucose is not None else None
    record.attendance = data.get("attendance")
    record.topic = data.get("topic")
    record.notes = data.get("notes")
    if record.is_referral:
        before = record.other_institution_id
        record.other_institution_id = data.get("other_institution_id")
        record.other_institution_name = data.get("other_institution_name")
        if record.other_institution_id is None:
            # A hospital outside the system: the doctor records its paper receipt.
            received = data.get("referral_received_at")
            record.referral_received_at = datetime.fromisoformat(received) if received else None
            record.referral_received_by_id = author_id if received else None
        elif record.other_institution_id != before:
            # Sent somewhere else now: only the new receiver may confirm it.
            record.referral_received_at = None
            record.referral_received_by_id = None
    record.updated_by_id = author_id


def claim_version(record_id: int, base: int, user_id: int) -> bool:
    """Compare-and-set: move the record from ``base`` to ``base + 1`` if nobody did first."""
    result = db.session.execute(
        update(ServiceRecord)
        .where(ServiceRecord.id == record_id, ServiceRecord.version == base)
        .values(version=base + 1, updated_by_id=user_id, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def keep_previous(record: ServiceRecord, **extra: Any) -> None:
    db.session.add(
        ServiceRecordVersion(
            record_id=record.id,
            kind="previous",
            status="superseded",
            county_id=record.county_id,
            institution_id=record.institution_id,
            team_id=record.team_id,
            data=record_data(record),
            created_at=clock.now(),
            **extra,
        )
    )
