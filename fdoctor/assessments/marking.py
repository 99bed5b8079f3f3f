"""The assessor's points (评分): manual entry on a draft, and how an entered value is read.

Every function checks, raises ``AssessmentError`` with a Chinese message, and flushes; the view
commits once.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.items import recompute_totals
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.assessments.transitions import check
from fdoctor.extensions import db


def parse_points(item: AssessmentItem, raw: object) -> Decimal | None:
    text = str(raw if raw is not None else "").strip()
    if text == "":
        return None
    try:
        points = Decimal(text)
    except InvalidOperation:
        raise AssessmentError(
            f"指标 {item.code}（{item.name}）的分数“{text}”不是数字", 422
        ) from None
    if not points.is_finite():
        raise AssessmentError(f"指标 {item.code}（{item.name}）的分数“{text}”不是数字", 422)
    if not Decimal(0) <= points <= item.max_points:
        raise AssessmentError(
            f"指标 {item.code}（{item.name}）的分数应在 0 到 {item.max_points.normalize():f} 分之间，收到 {text}",
            422,
        )
    if points != points.quantize(Decimal("0.01")):
        raise AssessmentError(
            f"指标 {item.code}（{item.name}）的分数最多保留两位小数，收到 {text}", 422
        )
    return points.quantize(Decimal("0.01"))


def score_manual(
    assessment: Assessment, user: Any, entries: Mapping[str, tuple[object, str | None]]
) -> None:
    """Enter points and reasons of the manual items (``code → (points, reason)``) → draft.

    Empty points leave an item unscored (a partial save); a reason is required below the maximum.
    Everything is checked before anything is written.
    """
    check(assessment, user, "score")
    items = {item.code: item for item in assessment.items}
    planned: list[tuple[AssessmentItem, Decimal | None, str | None]] = []
    for code, (raw_points, raw_reason) in entries.items():
        item = items.get(code)
        if item is None:
            raise AssessmentError(f"此考核没有指标 {code}", 422)
        if item.source != "manual":
            raise AssessmentError(
                f"指标 {item.code}（{item.name}）由记录计算得分，不能手工评分", 422
            )
        points = parse_points(item, raw_points)
        reason = (raw_reason or "").strip() or None
        if points is not None and points < item.max_points and reason is None:
            raise AssessmentError(
                f"指标 {item.code}（{item.name}）评分 {points} 分低于满分 {item.max_points.normalize():f} 分，须填写理由",
                422,
            )
        planned.append((item, points, reason))
    for item, points, reason in planned:
        item.points = points
        item.reason = reason
        item.score_detail = (
            f"考核人员评分 {points}（满分 {item.max_points.normalize():f}）"
            + (f"，理由：{reason}" if reason else "")
            if points is not None
            else item.score_detail
        )
    assessment.status = "draft"
    recompute_totals(assessment)
    db.session.flush()
