"""The reads behind the assessment pages: each page's queries, scoped to the signed-in user; and
the reads the workflow shares with them (an assessment's revisions, the rows behind an item, the
unit's leader).

The views (``fdoctor.assessments.views``) parse the request, authorise, call one of these and
render; none of them builds a statement of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from fdoctor.assessments.levels import ASSESSEE_KIND, LEVEL_LABELS, SPOT_LEVEL, invalid_period
from fdoctor.assessments.models import (
    ASSESSMENT_STATUSES,
    NOTIFICATION_KINDS,
    Appeal,
    Assessment,
    AssessmentItem,
    Notification,
    Rectification,
    SpotCheckDrawItem,
    WorkloadReport,
)
from fdoctor.core.periods import parse_period
from fdoctor.core.roles import Role
from fdoctor.core.scope import county_clause, scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

PER_PAGE = 50
# Notices shown above the assessment list.
LIST_NOTICE_KINDS = ("remind_l1", "assessment_overdue", "rectification_overdue")


def _page(stmt: Select[Any], page: int) -> Pagination:
    return db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)


# --------------------------------------------------------------------------- list


def assessment_page(
    page: int, user: Any, today: date, level: str, period: str, status: str, only: str
) -> Pagination:
    """Current assessments in the user's scope, filtered as the list page asks, newest due first."""
    stmt = (
        select(Assessment)
        .where(scope_clause(Assessment), Assessment.is_current.is_(True))
        .options(selectinload(Assessment.unit), selectinload(Assessment.assessor_unit))
    )
    if level in LEVEL_LABELS:
        stmt = stmt.where(Assessment.level == level)
    if period:
        stmt = stmt.where(Assessment.period == period)
    if status in ASSESSMENT_STATUSES:
        stmt = stmt.where(Assessment.status == status)
    if only == "overdue":
        stmt = stmt.where(Assessment.status.in_(("open", "draft")), Assessment.due_on < today)
    if only == "mine":
        stmt = stmt.where(
            or_(
                Assessment.assessor_unit_id == user.org_unit_id,
                Assessment.unit_id == user.org_unit_id,
            )
        )
    stmt = stmt.order_by(Assessment.due_on.desc(), Assessment.level, Assessment.unit_id)
    return _page(stmt, page)


def list_notices(limit: int = 10) -> list[Notification]:
    """The latest reminders and overdue notices in scope (the list page's notice box)."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(scope_clause(Notification), Notification.kind.in_(LIST_NOTICE_KINDS))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def open_rectification_count() -> int:
    """Rectifications in scope not yet verified."""
    count = db.session.scalar(
        select(func.count(Rectification.id)).where(
            scope_clause(Rectification), Rectification.status != "verified"
        )
    )
    return count or 0


def notification_page(page: int, kind: str) -> Pagination:
    """Notifications in scope (of one kind when ``kind`` is known), newest first."""
    stmt = (
        select(Notification)
        .where(scope_clause(Notification))
        .options(selectinload(Notification.unit))
    )
    if kind in NOTIFICATION_KINDS:
        stmt = stmt.where(Notification.kind == kind)
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    return _page(stmt, page)


# --------------------------------------------------------------------------- one assessment


def chain_rectifications(chain_ids: Sequence[int]) -> list[Rectification]:
    """Rectifications of every version of an assessment, by code."""
    return list(
        db.session.scalars(
            select(Rectification)
            .where(Rectification.assessment_id.in_(chain_ids))
            .options(selectinload(Rectification.owner_unit), selectinload(Rectification.owner_user))
            .order_by(Rectification.code)
        )
    )


def chain_appeals(chain_ids: Sequence[int]) -> list[Appeal]:
    """Appeals of every version of an assessment, with their items, oldest first."""
    return list(
        db.session.scalars(
            select(Appeal)
            .where(Appeal.assessment_id.in_(chain_ids))
            .options(selectinload(Appeal.items))
            .order_by(Appeal.id)
        )
    )


def get_appeal(appeal_id: int) -> Appeal | None:
    return db.session.get(Appeal, appeal_id)


def drill_rows(stmt: Select[Any], limit: int) -> tuple[int, list[Any]]:
    """The number of rows behind a numerator, and the first ``limit`` of them."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return total or 0, list(db.session.execute(stmt.limit(limit)))


def rectification_page(page: int, today: date, status: str, only: str) -> Pagination:
    """Rectifications in scope, by status then deadline; ``only="overdue"``: open and late."""
    stmt = (
        select(Rectification)
        .where(scope_clause(Rectification))
        .options(selectinload(Rectification.assessment), selectinload(Rectification.owner_unit))
    )
    if status in ("open", "rectified", "verified"):
        stmt = stmt.where(Rectification.status == status)
    if only == "overdue":
        stmt = stmt.where(Rectification.status == "open", Rectification.deadline < today)
    stmt = stmt.order_by(Rectification.status, Rectification.deadline, Rectification.id)
    return _page(stmt, page)


# --------------------------------------------------------------------------- L4


def draw_items(draw_id: int, user: Any) -> list[SpotCheckDrawItem]:
    """A spot-check draw's institutions, per county (a county auditor sees their county only)."""
    stmt = (
        select(SpotCheckDrawItem)
        .where(SpotCheckDrawItem.draw_id == draw_id)
        .options(
            selectinload(SpotCheckDrawItem.institution), selectinload(SpotCheckDrawItem.county)
        )
        .order_by(
            SpotCheckDrawItem.county_id,
            SpotCheckDrawItem.selected.desc(),
            SpotCheckDrawItem.draw_order,
            SpotCheckDrawItem.institution_id,
        )
    )
    return list(db.session.scalars(stmt.where(scope_clause(SpotCheckDrawItem, user))))


def l4_assessments(year: int) -> list[Assessment]:
    """The year's current L4 assessments in scope, by county."""
    return list(
        db.session.scalars(
            select(Assessment)
            .where(
                Assessment.level == "L4",
                Assessment.period == str(year),
                Assessment.is_current.is_(True),
                scope_clause(Assessment),
            )
            .options(selectinload(Assessment.unit))
            .order_by(Assessment.unit_id)
        )
    )


def spot_checks_by_unit(year: int) -> dict[int, Assessment]:
    """The year's current spot-check scoring sheets (L4S), by assessed unit."""
    return {
        a.unit_id: a
        for a in db.session.scalars(
            select(Assessment).where(
                Assessment.level == SPOT_LEVEL,
                Assessment.period == str(year),
                Assessment.is_current.is_(True),
            )
        )
    }


# --------------------------------------------------------------------------- dashboards


def first_city() -> OrgUnit | None:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.kind == "city").order_by(OrgUnit.id))


def units_below(unit: OrgUnit, kind: str, whole_city: bool) -> list[OrgUnit]:
    """Units of ``kind`` in scope, under ``unit`` unless ``whole_city``, by code."""
    stmt = select(OrgUnit).where(OrgUnit.kind == kind, scope_clause(OrgUnit))
    if not whole_city:
        stmt = stmt.where(OrgUnit.path.startswith(unit.path))
    return list(db.session.scalars(stmt.order_by(OrgUnit.code)))


# --------------------------------------------------------------------------- workload reports


def workload_reports(user: Any, limit: int = 200) -> list[WorkloadReport]:
    """Workload reports the user may see (a county auditor: their county's), newest first."""
    return list(
        db.session.scalars(
            select(WorkloadReport)
            .where(county_clause(WorkloadReport, user))
            .options(selectinload(WorkloadReport.county))
            .order_by(WorkloadReport.period.desc(), WorkloadReport.county_id)
            .limit(limit)
        )
    )


def workload_report(report_id: int, user: Any) -> WorkloadReport | None:
    """One workload report, or None when it does not exist or is out of the user's scope."""
    return db.session.scalar(
        select(WorkloadReport).where(
            WorkloadReport.id == report_id, county_clause(WorkloadReport, user)
        )
    )


def item_records_query(assessment: Assessment, item: AssessmentItem) -> Any:
    """The rows behind an item's numerator (a ``Select``), or None for manual indicators."""
    if not item.metric:
        return None
    from fdoctor.assessments.metrics import metric_records_query

    period = parse_period(assessment.period, assessment.level, error=invalid_period)
    start, end = period.covers
    return metric_records_query(
        item.metric, ASSESSEE_KIND[assessment.level], assessment.unit_id, start, end
    )


def assessment_chain(assessment: Assessment) -> list[Assessment]:
    """Every revision of the same (level, period, assessee), oldest first."""
    return list(
        db.session.scalars(
            select(Assessment)
            .where(
                Assessment.level == assessment.level,
                Assessment.period == assessment.period,
                Assessment.unit_id == assessment.unit_id,
            )
            .order_by(Assessment.revision)
        )
    )


def unit_leader(unit_id: int, role: Role) -> Any:
    """The first active user of ``role`` attached to the unit (the owner of its rectifications)."""
    from fdoctor.auth.models import User

    return db.session.scalar(
        select(User)
        .where(User.org_unit_id == unit_id, User.role == role.value, User.active.is_(True))
        .order_by(User.id)
    )
