"""The plain steps of an assessment: refresh, submit, reopen, publish (公示), acknowledge.

Acknowledgement turns every indicator under 60% of its maximum into a rectification item
(``rectification``). Every function checks (``transitions``), raises ``AssessmentError`` with a
Chinese message, and flushes; the view commits once.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date
from typing import Any

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.items import recompute_totals, refresh_metrics
from fdoctor.assessments.l4 import compute_l4
from fdoctor.assessments.models import Assessment, Rectification
from fdoctor.assessments.rectification import create_rectifications
from fdoctor.assessments.transitions import appeal_deadline, check
from fdoctor.core import clock
from fdoctor.extensions import db


def refresh(assessment: Assessment, user: Any) -> None:
    """Fill the metric items again from the records, keeping the manual points."""
    check(assessment, user, "refresh")
    refresh_metrics(assessment)
    if assessment.level == "L4":
        # Not ready yet (L3 results or spot checks missing): the page shows why, submit refuses.
        with suppress(AssessmentError):
            compute_l4(assessment)
    db.session.flush()


def submit(assessment: Assessment, user: Any) -> None:
    check(assessment, user, "submit")
    missing = [f"{i.code}（{i.name}）" for i in assessment.items if i.points is None]
    if missing:
        raise AssessmentError(f"以下指标尚未评分，不能提交：{'、'.join(missing)}", 409)
    no_reason = [
        f"{i.code}（{i.name}）"
        for i in assessment.items
        if i.source == "manual"
        and i.points is not None
        and i.points < i.max_points
        and not i.reason
    ]
    if no_reason:
        raise AssessmentError(f"以下指标低于满分但未填写理由：{'、'.join(no_reason)}", 409)
    if assessment.level == "L4":
        compute_l4(assessment)
    recompute_totals(assessment)
    assessment.status = "submitted"
    assessment.submitted_at = clock.now()
    assessment.submitted_by_id = user.id
    db.session.flush()


def reopen(assessment: Assessment, user: Any) -> None:
    check(assessment, user, "reopen")
    assessment.status = "draft"
    assessment.submitted_at = None
    assessment.submitted_by_id = None
    db.session.flush()


def publish(assessment: Assessment, user: Any, today: date | None = None) -> None:
    """Publish (公示) the result; the appeal window opens (none for the L1 self-check)."""
    check(assessment, user, "publish")
    today = today or clock.today()
    assessment.status = "published"
    assessment.published_at = clock.now()
    assessment.published_by_id = user.id
    assessment.appeal_deadline = appeal_deadline(assessment, today)
    db.session.flush()


def acknowledge(
    assessment: Assessment, user: Any, today: date | None = None
) -> list[Rectification]:
    """The assessee confirms the result; indicators under 60% become rectification items."""
    check(assessment, user, "acknowledge")
    assessment.status = "acknowledged"
    assessment.acknowledged_at = clock.now()
    assessment.acknowledged_by_id = user.id
    created = create_rectifications(assessment, today or clock.today())
    db.session.flush()
    return created
