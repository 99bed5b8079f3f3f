"""Referral receipts: the receiving institution's inbox and its confirmation (确认接收)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.core.scope import in_scope
from fdoctor.extensions import db
from fdoctor.records.errors import ServiceError
from fdoctor.records.models import REFERRAL_TYPES, ServiceRecord


def receiving_institution_id(user: Any) -> int | None:
    """The institution on whose behalf the user confirms referrals (centre admin, team leader)."""
    unit = getattr(user, "org_unit", None)
    if unit is None:
        return None
    if user.role == Role.CENTRE_ADMIN and unit.kind == "institution":
        return int(unit.id)
    if user.role == Role.TEAM_LEADER and unit.kind == "team":
        return unit.institution_id
    return None


def referral_inbox(user: Any, state: str = "pending") -> Select[tuple[ServiceRecord]]:
    """Referrals addressed to the user's institution (not those their own team sent).

    This is the one read of service records outside the scope tree: a referral is addressed to
    the receiving institution, so it sees the records sent to it by other institutions' teams.
    """
    institution_id = receiving_institution_id(user)
    stmt = select(ServiceRecord).where(
        ServiceRecord.type.in_(REFERRAL_TYPES),
        ServiceRecord.other_institution_id == institution_id,
        ServiceRecord.verification != "false",
    )
    if user.role == Role.TEAM_LEADER:
        stmt = stmt.where(ServiceRecord.team_id != user.org_unit_id)
    if state == "pending":
        stmt = stmt.where(ServiceRecord.referral_received_at.is_(None))
    elif state == "received":
        stmt = stmt.where(ServiceRecord.referral_received_at.is_not(None))
    return stmt.options(
        joinedload(ServiceRecord.resident),
        joinedload(ServiceRecord.team),
        joinedload(ServiceRecord.doctor),
        joinedload(ServiceRecord.referral_received_by),
    ).order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())


def confirm_referral(record_id: int, user: Any) -> ServiceRecord:
    """Confirm receipt (确认接收) of a referral addressed to the user's institution."""
    record = db.session.get(ServiceRecord, record_id)
    institution_id = receiving_institution_id(user)
    if record is None or not record.is_referral:
        raise ServiceError("转诊记录不存在", status=404)
    own_team = user.role == Role.TEAM_LEADER and record.team_id == user.org_unit_id
    if institution_id is None or record.other_institution_id != institution_id or own_team:
        if not in_scope(record, user):
            raise ServiceError("转诊记录不存在", status=404)  # no hint that it exists
        raise ServiceError("只有接收机构可以确认接收", status=403)
    if record.referral_received_at is not None:
        raise ServiceError("该转诊已确认接收", status=409)
    record.referral_received_at = clock.now()
    record.referral_received_by_id = user.id
    db.session.flush()
    return record
