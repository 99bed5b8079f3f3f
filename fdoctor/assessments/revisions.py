"""Revisions: a published result is never edited, the assessor corrects it with a new revision.

``correct`` changes points with a reason; an accepted appeal (``appeals``) does the same. The old
revision is kept as ``superseded``; ``score_revised`` tells the areas that depend on the points.
Every function checks, raises ``AssessmentError`` with a Chinese message, and flushes; the view
commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.items import recompute_totals
from fdoctor.assessments.marking import parse_points
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.assessments.transitions import appeal_deadline, check
from fdoctor.core import clock
from fdoctor.core.signals import score_revised
from fdoctor.extensions import db


def correct(
    assessment: Assessment,
    user: Any,
    entries: Mapping[str, tuple[object, str | None]],
    reason: str | None,
    today: date | None = None,
) -> Assessment:
    """Correct a published result: a new published revision with the changed points and a reason."""
    check(assessment, user, "correct")
    revision_reason = (reason or "").strip()
    if not revision_reason:
        raise AssessmentError("修订已公示的考核结果须写明修订理由", 422)
    items = {item.code: item for item in assessment.items}
    changes: dict[str, tuple[Decimal, str]] = {}
    for code, (raw_points, raw_item_reason) in entries.items():
        item = items.get(code)
        if item is None:
            raise AssessmentError(f"此考核没有指标 {code}", 422)
        points = parse_points(item, raw_points)
        if points is None or points == item.points:
            continue
        item_reason = (raw_item_reason or "").strip() or revision_reason
        changes[code] = (points, item_reason)
    if not changes:
        raise AssessmentError("没有需要修订的分数：请至少修改一项指标的分数", 422)
    today = today or clock.today()
    return new_revision(
        assessment,
        user,
        changes,
        revision_reason,
        appeal_deadline=appeal_deadline(assessment, today),
    )


_COPIED = (
    "level",
    "period",
    "unit_id",
    "assessor_unit_id",
    "county_id",
    "institution_id",
    "team_id",
    "index_code",
    "index_version",
    "index_file",
    "index_sha256",
    "reported_score",
    "spot_check_score",
    "flagged",
    "flag_reason",
    "opened_at",
    "due_on",
    "overdue_since",
    "submitted_at",
    "submitted_by_id",
    "total",
)
_ITEM_COPIED = (
    "code",
    "name",
    "dimension",
    "max_points",
    "rule",
    "metric",
    "numerator",
    "denominator",
    "value",
    "points",
    "reason",
    "detail",
    "source",
    "target",
    "description",
    "score_detail",
    "drill",
)


def new_revision(
    old: Assessment,
    user: Any,
    changes: Mapping[str, tuple[Decimal, str]],
    reason: str,
    appeal_deadline: date | None,
) -> Assessment:
    """Copy ``old`` into a published revision with ``changes``; ``old`` becomes superseded.

    The order is the one the database's locks accept (``fdoctor.assessments.triggers``): the
    copy is written as ``submitted`` and not yet current, with its items (no item may be added to
    a published assessment); then ``old`` is superseded, which the database allows only once a
    newer revision exists, and which releases the one-current-revision index; then the copy
    becomes current and is published.
    """
    new = Assessment(**{name: getattr(old, name) for name in _COPIED})
    new.revision = old.revision + 1
    new.is_current = False
    new.supersedes_id = old.id
    new.revision_reason = reason
    new.status = "submitted"
    db.session.add(new)
    db.session.flush()
    for item in old.items:
        copy = AssessmentItem(
            assessment=new, **{name: getattr(item, name) for name in _ITEM_COPIED}
        )
        if item.code in changes:
            points, item_reason = changes[item.code]
            copy.score_detail = (
                f"第 {new.revision} 版更正：原 {item.points} 分 → {points} 分，理由：{item_reason}"
            )
            copy.points = points
            copy.reason = item_reason
            copy.source = "override"
        db.session.add(copy)
    db.session.flush()
    old.is_current = False
    old.status = "superseded"
    db.session.flush()  # the one-current-revision index must see the old row released first
    recompute_totals(new)
    new.is_current = True
    new.status = "published"
    new.published_at = clock.now()
    new.published_by_id = user.id
    new.appeal_deadline = appeal_deadline
    db.session.flush()
    score_revised.send(new, user=user)
    return new
