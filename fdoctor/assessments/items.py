"""An assessment's items: filled from the records' metrics, scored, and summed into its totals.

Items are filled from ``fdoctor.assessments.metrics.compute_metrics`` at the assessee's grain over
``Period.covers`` and scored with the index file in force (``fdoctor.assessments.indexes``). A
metric whose value is ``None`` (no events) on an indicator without ``when_empty`` cannot be scored
from the records: the item is marked ``manual`` and the assessor must enter its points (with a
reason below the maximum) before submitting, like the index's own manual indicators. The scoring
and the sums are the core's (``assessments.scoring``); this module reads and writes the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from assessments.index import Index
from assessments.scoring import point_totals, score_metric_indicators
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.indexes import stored_index
from fdoctor.assessments.levels import ASSESSEE_KIND, invalid_period
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.core.periods import parse_period
from fdoctor.extensions import db


def _json_value(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return json.dumps({str(k): v for k, v in value.items()}, ensure_ascii=False, sort_keys=True)
    return json.dumps(str(value))


def load_value(item: AssessmentItem) -> object:
    """The stored metric value back in the form ``scoring.score`` takes."""
    if item.value is None:
        return None
    raw = json.loads(item.value)
    if isinstance(raw, dict):
        return {k: int(v) for k, v in raw.items()}
    return Decimal(raw)


def item_rows(
    index: Index,
    metric_values: Mapping[str, Any],
    kept: Mapping[str, tuple[Decimal | None, str | None]] | None = None,
) -> list[dict[str, Any]]:
    """The items of one assessment as column values (every column but ``id`` and
    ``assessment_id``), in index order.

    ``metric_values`` maps metric names to ``MetricValue``; ``kept`` maps the codes of items an
    assessor already scored by hand to their (points, reason), kept when the indicator still
    cannot be scored from the records. Pure: used by ``fill_items`` (refreshing existing items
    through the ORM) and by ``open_assessments`` (inserting new ones in bulk).
    """
    kept = kept or {}
    values: dict[str, object] = {}
    for indicator in index.indicators:
        if indicator.metric:
            mv = metric_values.get(indicator.metric)
            values[indicator.code] = None if mv is None else mv.value
    scored, unscorable = score_metric_indicators(index, values)
    rows = []
    for indicator in index.indicators:
        mv = metric_values.get(indicator.metric) if indicator.metric else None
        row: dict[str, Any] = {
            "code": indicator.code,
            "name": indicator.name,
            "dimension": indicator.dimension,
            "max_points": indicator.max_points,
            "rule": indicator.rule.kind,
            "metric": indicator.metric,
            "target": indicator.target,
            "description": indicator.description,
            "numerator": None if mv is None else mv.numerator,
            "denominator": None if mv is None else mv.denominator,
            "value": None if mv is None else _json_value(mv.value),
            "drill": None if mv is None else json.dumps(dict(mv.drill or {}), ensure_ascii=False),
        }
        if indicator.metric:
            row["detail"] = mv.detail if mv is not None else "未取得该指标的统计结果"
        else:
            row["detail"] = None
        if indicator.code in scored:
            result = scored[indicator.code]
            row["source"] = "metric"
            row["points"] = result.points
            row["reason"] = None
            row["score_detail"] = result.detail
        else:
            row["source"] = "manual"
            row["points"], row["reason"] = kept.get(indicator.code, (None, None))
            row["score_detail"] = unscorable.get(indicator.code)
        rows.append(row)
    return rows


def fill_items(
    assessment: Assessment, index: Index, metric_values: Mapping[str, Any], keep_manual: bool
) -> None:
    """Create or update the items from the metric values (``metric name → MetricValue``), and the
    totals, through the ORM (``refresh_metrics``). Does not flush. With ``keep_manual``, points an
    assessor gave by hand stay when the indicator still cannot be scored from the records."""
    existing = {item.code: item for item in assessment.items}
    kept = (
        {
            code: (item.points, item.reason)
            for code, item in existing.items()
            if item.source == "manual" and item.points is not None
        }
        if keep_manual
        else None
    )
    for row in item_rows(index, metric_values, kept):
        item = existing.get(row["code"])
        if item is None:
            item = AssessmentItem(assessment=assessment, code=row["code"])
            db.session.add(item)
        for name, value in row.items():
            setattr(item, name, value)
    recompute_totals(assessment)


def item_totals(level: str, items: Iterable[tuple[str, Decimal | None]]) -> dict[str, Any]:
    """Dimension subtotals and the total (not for L4, whose total is combined otherwise) of
    (dimension, points) pairs, as columns: sums of the rounded points, once all are in, else None."""
    totals = point_totals(items)
    columns: dict[str, Any] = {
        "dimension_a": None if totals is None else totals.dimension("A"),
        "dimension_b": None if totals is None else totals.dimension("B"),
        "dimension_c": None if totals is None else totals.dimension("C"),
    }
    if level != "L4":
        columns["total"] = None if totals is None else totals.total
    return columns


def recompute_totals(assessment: Assessment) -> None:
    """Dimension subtotals and the total: sums of the items' rounded points, once all are in."""
    totals = item_totals(assessment.level, ((i.dimension, i.points) for i in assessment.items))
    for name, value in totals.items():
        setattr(assessment, name, value)


def assessee_metrics(grain: str, start: date, end: date, unit_ids: list[int]) -> dict[int, Any]:
    """The metric values (``metric name → MetricValue``) of each assessee over ``start..end``."""
    from fdoctor.assessments.metrics import compute_metrics

    try:
        result: dict[int, Any] = compute_metrics(grain, start, end, unit_ids=unit_ids)
    except ValueError as exc:
        raise AssessmentError(f"指标计算失败：{exc}", 422) from None
    return result


def refresh_metrics(assessment: Assessment) -> None:
    """Fill the metric items again from the records (late entries); manual points are kept."""
    index = stored_index(assessment)
    period = parse_period(assessment.period, assessment.level, error=invalid_period)
    start, end = period.covers
    values = assessee_metrics(ASSESSEE_KIND[assessment.level], start, end, [assessment.unit_id])
    fill_items(assessment, index, values.get(assessment.unit_id, {}), keep_manual=True)
    db.session.flush()
