"""Appeals (申诉): the assessee appeals indicators of a published result, the assessor answers.

Within ``ASSESSMENT_APPEAL_DAYS`` (default 7) days of publication, once per assessment, per
indicator with a reason (the window: ``transitions.check_appeal_window``). The assessor answers
each indicator: accepted indicators make a new revision (``revisions``; the old one is kept as
``superseded``), if none is accepted the assessment returns to ``published``. Every function
checks, raises ``AssessmentError`` with a Chinese message, and flushes; the view commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.marking import parse_points
from fdoctor.assessments.models import Appeal, AppealItem, Assessment
from fdoctor.assessments.revisions import new_revision
from fdoctor.assessments.transitions import check, check_appeal_window
from fdoctor.core import clock
from fdoctor.extensions import db


def appeal(
    assessment: Assessment,
    user: Any,
    entries: Mapping[str, tuple[str | None, object]],
    today: date | None = None,
) -> Appeal:
    """Appeal indicators (``code → (reason, requested points or None)``) within the window."""
    check(assessment, user, "appeal")
    today = today or clock.today()
    check_appeal_window(assessment, today)
    items = {item.code: item for item in assessment.items}
    planned: list[tuple[str, str, Decimal | None]] = []
    for code, (raw_reason, raw_points) in entries.items():
        item = items.get(code)
        if item is None:
            raise AssessmentError(f"此考核没有指标 {code}", 422)
        reason = (raw_reason or "").strip()
        if not reason:
            raise AssessmentError(f"申诉指标 {item.code}（{item.name}）须写明理由", 422)
        planned.append((code, reason, parse_points(item, raw_points)))
    if not planned:
        raise AssessmentError("请至少选择一项指标并写明申诉理由", 422)
    record = Appeal(
        assessment_id=assessment.id,
        status="pending",
        submitted_at=clock.now(),
        submitted_by_id=user.id,
    )
    db.session.add(record)
    db.session.flush()
    for code, reason, points in planned:
        db.session.add(
            AppealItem(appeal_id=record.id, code=code, reason=reason, requested_points=points)
        )
    assessment.status = "appealed"
    db.session.flush()
    return record


def answer_appeal(
    record: Appeal,
    user: Any,
    decisions: Mapping[str, tuple[str, object, str | None]],
) -> Assessment:
    """Answer every appealed indicator (``code → (accepted|rejected, corrected points, answer)``).

    Accepted indicators make a new published revision with the corrected points; if all are
    rejected the assessment is published again unchanged. Returns the current assessment.
    """
    assessment = record.assessment
    check(assessment, user, "answer")
    if record.status != "pending":
        raise AssessmentError("该申诉已答复", 409)
    items = {item.code: item for item in assessment.items}
    changes: dict[str, tuple[Decimal, str]] = {}
    planned: list[tuple[AppealItem, str, Decimal | None, str]] = []
    for appealed in record.items:
        decision, raw_points, raw_answer = decisions.get(appealed.code, ("", None, None))
        answer = (raw_answer or "").strip()
        item = items[appealed.code]
        if decision not in {"accepted", "rejected"}:
            raise AssessmentError(f"请对申诉指标 {item.code}（{item.name}）选择采纳或驳回", 422)
        if not answer:
            raise AssessmentError(f"申诉指标 {item.code}（{item.name}）的答复须写明理由", 422)
        points = None
        if decision == "accepted":
            points = parse_points(item, raw_points)
            if points is None:
                raise AssessmentError(
                    f"采纳申诉指标 {item.code}（{item.name}）须填写更正后的分数", 422
                )
            changes[item.code] = (points, f"申诉采纳：{answer}")
        planned.append((appealed, decision, points, answer))
    for appealed, decision, points, answer in planned:
        appealed.decision = decision
        appealed.corrected_points = points
        appealed.answer = answer
    record.status = "answered"
    record.answered_at = clock.now()
    record.answered_by_id = user.id
    db.session.flush()  # the database lets the assessment leave "appealed" once this is answered
    if not changes:
        assessment.status = "published"
        db.session.flush()
        return assessment
    reason = "申诉采纳：" + "；".join(
        f"{code} 更正为 {points} 分" for code, (points, _) in sorted(changes.items())
    )
    revision = new_revision(
        assessment, user, changes, reason, appeal_deadline=assessment.appeal_deadline
    )
    record.revision_id = revision.id
    db.session.flush()
    return revision
