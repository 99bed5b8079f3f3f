"""The assessment sheet's data (考核评分表): what ``fdoctor.reports.assessment_sheet`` prints."""

from __future__ import annotations

from decimal import Decimal

from fdoctor.assessments.formatting import format_target, format_value
from fdoctor.assessments.levels import LEVEL_LABELS, invalid_period
from fdoctor.assessments.models import Assessment
from fdoctor.core import clock
from fdoctor.core.periods import parse_period
from fdoctor.reports.assessment_sheet import DIMENSIONS, SHEET_TITLES, SheetData, SheetRow


def sheet_data(assessment: Assessment) -> SheetData:
    """Read an ``Assessment`` into the sheet's plain data."""
    period = parse_period(assessment.period, assessment.level, error=invalid_period)
    rows = []
    dims: dict[str, list[Decimal]] = {}
    for item in assessment.items:
        parts = [p for p in (item.detail, item.score_detail) if p]
        if item.source == "manual" and item.reason and not any(item.reason in p for p in parts):
            parts.append(f"理由：{item.reason}")
        rows.append(
            SheetRow(
                code=item.code,
                name=item.name,
                dimension=item.dimension,
                max_points=Decimal(item.max_points),
                value=format_value(item),
                target=format_target(item),
                points=None if item.points is None else Decimal(item.points),
                basis="；".join(parts),
            )
        )
        pts, mx = dims.setdefault(item.dimension, [Decimal(0), Decimal(0)])
        dims[item.dimension] = [pts + (item.points or 0), mx + item.max_points]
    complete = bool(rows) and all(r.points is not None for r in rows)
    level_label = LEVEL_LABELS.get(assessment.level, assessment.level)
    return SheetData(
        title=f"{assessment.unit.name} {period.label} {SHEET_TITLES.get(assessment.level, level_label)}评分表",
        level_label=level_label,
        period_label=period.label,
        unit_name=assessment.unit.name,
        assessor_name=assessment.assessor_unit.name if assessment.assessor_unit else "",
        index_label=f"{assessment.index_code}（第 {assessment.index_version} 版，{assessment.index_file or ''}）",
        status_label=assessment.status_label,
        revision=assessment.revision,
        revision_reason=assessment.revision_reason,
        rows=tuple(rows),
        dimensions=tuple(
            (code, DIMENSIONS.get(code, code), pts, mx) for code, (pts, mx) in sorted(dims.items())
        ),
        item_sum=sum((r.points for r in rows if r.points is not None), Decimal("0.00"))
        if complete
        else None,
        total=assessment.total,
        reported=assessment.reported_score,
        spot=assessment.spot_check_score,
        flag_reason=assessment.flag_reason,
        due_on=assessment.due_on,
        published_on=assessment.published_at.date() if assessment.published_at else None,
        day=clock.today(),
    )
