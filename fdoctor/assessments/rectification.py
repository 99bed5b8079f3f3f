"""Rectification (整改): indicators under 60% of their maximum, made good by the assessee.

On acknowledgement every such indicator becomes a ``Rectification`` owned by the assessee (its
unit, and the unit's first user of the assessee role), with a deadline
``ASSESSMENT_RECTIFICATION_DAYS`` (default 30) days later: ``open → rectified`` (the owner, with
evidence) ``→ verified`` (the assessor), or back to ``open`` when the assessor returns it.
Every function checks, raises ``AssessmentError`` with a Chinese message, and flushes; the view
commits once.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from assessments.scoring import DEFAULT_RECTIFICATION_THRESHOLD
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.levels import ASSESSEE_ROLE, ASSESSOR_ROLE
from fdoctor.assessments.models import Assessment, Rectification
from fdoctor.assessments.reads import assessment_chain, unit_leader
from fdoctor.assessments.settings import setting
from fdoctor.core import clock
from fdoctor.extensions import db


def create_rectifications(assessment: Assessment, today: date) -> list[Rectification]:
    """Indicators under 60% of their maximum → rectification items (once per indicator and chain)."""
    chain_ids = [a.id for a in assessment_chain(assessment)]
    already = set(
        db.session.scalars(
            select(Rectification.code).where(Rectification.assessment_id.in_(chain_ids))
        )
    )
    owner = unit_leader(assessment.unit_id, ASSESSEE_ROLE[assessment.level])
    deadline = today + timedelta(days=int(setting("ASSESSMENT_RECTIFICATION_DAYS")))
    created = []
    for item in assessment.items:
        if item.points is None or item.code in already:
            continue
        if item.points < item.max_points * DEFAULT_RECTIFICATION_THRESHOLD:
            rect = Rectification(
                assessment_id=assessment.id,
                item_id=item.id,
                code=item.code,
                name=item.name,
                points=item.points,
                max_points=item.max_points,
                county_id=assessment.county_id,
                institution_id=assessment.institution_id,
                team_id=assessment.team_id,
                owner_unit_id=assessment.unit_id,
                owner_user_id=owner.id if owner is not None else None,
                deadline=deadline,
                status="open",
                created_at=clock.now(),
            )
            db.session.add(rect)
            created.append(rect)
    db.session.flush()
    return created


def _is_owner(rect: Rectification, user: Any) -> bool:
    level = rect.assessment.level
    return user.role == ASSESSEE_ROLE[level].value and user.org_unit_id == rect.owner_unit_id


def _is_verifier(rect: Rectification, user: Any) -> bool:
    assessment = rect.assessment
    return (
        user.role == ASSESSOR_ROLE[assessment.level].value
        and user.org_unit_id == assessment.assessor_unit_id
    )


def rectify(rect: Rectification, user: Any, evidence: str | None) -> None:
    """The owner reports the item rectified, with evidence."""
    if not _is_owner(rect, user):
        raise AssessmentError(f"只有整改责任单位（{rect.owner_unit.name}）可以提交整改情况", 403)
    if rect.status != "open":
        raise AssessmentError(f"整改项当前为“{rect.status_label}”，不能再提交整改情况", 409)
    text = (evidence or "").strip()
    if not text:
        raise AssessmentError("请填写整改措施与佐证材料说明", 422)
    rect.status = "rectified"
    rect.evidence = text
    rect.rectified_at = clock.now()
    rect.rectified_by_id = user.id
    db.session.flush()


def verify_rectification(
    rect: Rectification, user: Any, note: str | None, accept: bool = True
) -> None:
    """The assessor verifies a rectified item, or returns it to the owner with a note."""
    if not _is_verifier(rect, user):
        raise AssessmentError("只有考核单位可以核验整改", 403)
    if rect.status != "rectified":
        raise AssessmentError(f"整改项当前为“{rect.status_label}”，须先由责任单位提交整改情况", 409)
    text = (note or "").strip() or None
    if not accept and text is None:
        raise AssessmentError("退回整改须写明理由", 422)
    rect.verify_note = text
    if accept:
        rect.status = "verified"
        rect.verified_at = clock.now()
        rect.verified_by_id = user.id
    else:
        rect.status = "open"
    db.session.flush()
