"""Complaints (投诉) against a team or one of its doctors: recording and resolving them, and the
teams and doctors a user may name in one."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.surveys.errors import MAX_TEXT, SurveyError
from fdoctor.surveys.models import COMPLAINT_STATUSES, Complaint


def teams_in_scope(user: Any | None = None) -> list[OrgUnit]:
    return list(
        db.session.scalars(
            select(OrgUnit)
            .where(OrgUnit.kind == "team", scope_clause(OrgUnit, user))
            .order_by(OrgUnit.code)
        )
    )


def doctors_in_scope(user: Any | None = None) -> list[User]:
    teams = select(OrgUnit.id).where(OrgUnit.kind == "team", scope_clause(OrgUnit, user))
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.org_unit_id.in_(teams),
                User.role.in_((Role.DOCTOR.value, Role.TEAM_LEADER.value)),
            )
            .order_by(User.org_unit_id, User.display_name, User.id)
        )
    )


def record_complaint(
    user: Any,
    *,
    team: OrgUnit,
    received_on: date,
    channel: str,
    content: str,
    complainant: str | None = None,
    doctor: User | None = None,
) -> Complaint:
    """Record a complaint against a team (and optionally one of its doctors). Flushes."""
    if team.kind != "team":
        raise SurveyError("请选择被投诉的家庭医生团队")
    if received_on > clock.today():
        raise SurveyError("受理日期不能晚于今天")
    content = (content or "").strip()
    if not content:
        raise SurveyError("请填写投诉内容")
    if len(content) > MAX_TEXT:
        raise SurveyError(f"投诉内容不能超过 {MAX_TEXT} 字")
    channel = (channel or "").strip()
    if not channel or len(channel) > 32:
        raise SurveyError("请选择投诉渠道")
    if doctor is not None and doctor.org_unit_id != team.id:
        raise SurveyError("所选医生不属于被投诉的团队")
    assert team.county_id is not None and team.institution_id is not None
    complaint = Complaint(
        doctor_id=doctor.id if doctor is not None else None,
        received_on=received_on,
        channel=channel,
        complainant=(complainant or "").strip()[:50] or None,
        content=content,
        status="open",
        recorded_by_id=user.id,
        created_at=clock.now(),
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(complaint)
    db.session.flush()
    return complaint


def resolve_complaint(complaint: Complaint, decision: str, resolution: str, user: Any) -> Complaint:
    """Verify (属实, counts for C1) or reject an open complaint, with the resolution text."""
    if decision not in ("verified", "rejected"):
        raise SurveyError("请选择核实结论：属实或不属实")
    resolution = (resolution or "").strip()
    if not resolution:
        raise SurveyError("请填写处理结果")
    if len(resolution) > MAX_TEXT:
        raise SurveyError(f"处理结果不能超过 {MAX_TEXT} 字")
    if complaint.status != "open":
        label = COMPLAINT_STATUSES.get(complaint.status, complaint.status)
        raise SurveyError(f"该投诉已处理（{label}），不能重复处理", status=409)
    complaint.status = decision
    complaint.resolution = resolution
    complaint.resolved_by_id = user.id
    complaint.resolved_at = clock.now()
    db.session.flush()
    return complaint
