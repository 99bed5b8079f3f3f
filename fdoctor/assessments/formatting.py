"""How an item's value, its target and points are shown: 35.2%, 4.1 人次/百人·月, 投诉 1 起 …"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from fdoctor.assessments.items import load_value
from fdoctor.assessments.models import AssessmentItem


def _plain(value: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quantum, rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(item: AssessmentItem) -> str:
    """The metric value as people read it: 35.2%, 4.1 人次/百人·月, 投诉 1 起 …"""
    if not item.metric:
        return "—"
    return format_metric_value(item.metric, load_value(item))


def format_metric_value(metric_name: str, value: object) -> str:
    from assessments.index import KNOWN_METRICS

    if value is None:
        return "无统计对象"
    metric = KNOWN_METRICS.get(metric_name)
    kind = metric.kind if metric else "ratio"
    if isinstance(value, Mapping):
        labels = dict(metric.events) if metric else {}
        return "，".join(f"{labels.get(k, k)} {v}" for k, v in value.items())
    number = Decimal(str(value))
    if kind == "ratio":
        return f"{_plain(number * 100, 1)}%"
    if kind == "rate":
        return f"{_plain(number)} 人次/百人·月"
    if kind == "count":
        return f"{_plain(number)} 次/月"
    return f"{_plain(number, 1)} 分"


def format_target(item: AssessmentItem) -> str:
    return format_metric_target(item.metric, item.target)


def format_metric_target(metric_name: str | None, target: Decimal | None) -> str:
    from assessments.index import KNOWN_METRICS

    if target is None:
        return "—"
    metric = KNOWN_METRICS.get(metric_name or "")
    if metric is not None and metric.kind == "ratio":
        return f"{_plain(Decimal(target) * 100, 1)}%"
    return _plain(Decimal(target))


def format_number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return _plain(Decimal(value))
