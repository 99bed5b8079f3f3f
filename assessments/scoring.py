"""Scoring (计分): an index and the metric values of one assessee give points per indicator.

``values`` maps each indicator code to its value:

* a number for ``ratio_to_target``, ``bands`` and ``mean_scale`` (a ratio, a per-100 rate, a
  count per month or a 0–100 mean), or ``None`` when the metric had no events — scored by the
  indicator's ``when_empty`` fraction, an error if it has none;
* a mapping of event counts for ``deduction``, e.g. ``{"complaints": 1, "false_records": 0}``;
* the points given for ``manual``: a number or ``{"points": 3, "reason": "…"}``.

All arithmetic is ``Decimal`` (floats are taken by their ``str``). Each indicator's points are
rounded half up (四舍五入) to 2 places; a dimension's subtotal and the total are sums of the
rounded points, so the printed parts always add up to the printed total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from types import MappingProxyType
from typing import Literal, TypeAlias

from assessments.index import (
    KNOWN_METRICS,
    Bands,
    Deduction,
    Index,
    Indicator,
    Manual,
    MeanScale,
    RatioToTarget,
)

__all__ = [
    "DEFAULT_RECTIFICATION_THRESHOLD",
    "DimensionScore",
    "IndicatorScore",
    "MetricValue",
    "PointTotals",
    "ScoreResult",
    "ScoringError",
    "Unscorable",
    "UnscorableKind",
    "point_totals",
    "score",
    "score_indicator",
    "score_metric_indicators",
]

# Under 60% of an indicator's maximum it becomes a rectification item (整改, SPEC 5).
DEFAULT_RECTIFICATION_THRESHOLD = Decimal("0.6")
_CENT = Decimal("0.01")
_FRACTION_PLACES = Decimal("0.0001")
_HUNDRED = Decimal(100)
_PLAIN_DIGITS = 20
# Far beyond any real count, and small enough that Decimal arithmetic never overflows.
_MAX_COUNT = 10**9
_MAX_INT_BITS = 64
# Independent of whatever context the caller set; the only inexact step is value ÷ target,
# and 28 digits leave no doubt about which way its 2-place rounding goes.
_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_MANUAL_KEYS = {"points", "reason"}

# What an indicator was scored from: a number, None (no events), or event counts.
MetricValue: TypeAlias = Decimal | None | Mapping[str, int]


class ScoringError(ValueError):
    """The values cannot be scored; the message names the indicator in Chinese."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    """Points of one indicator, with a Chinese ``detail`` showing the arithmetic."""

    code: str
    name: str
    points: Decimal
    max_points: Decimal
    value: MetricValue
    # points ÷ max_points, rounded half up to 4 places (for display and sorting).
    fraction: Decimal
    detail: str
    dimension: str
    # The rule's kind: ratio_to_target, bands, deduction, mean_scale or manual.
    rule: str
    # The assessor's reason, for manual indicators only.
    reason: str | None = None

    @property
    def needs_reason(self) -> bool:
        """A manual score below the maximum without a reason (the app refuses to submit it)."""
        return self.rule == Manual.kind and self.points < self.max_points and self.reason is None


# Why one indicator has no points: a metric without events and no ``when_empty``; a value the
# rule cannot score; a manual indicator without points.
UnscorableKind = Literal["no_data", "invalid", "no_points"]


@dataclass(frozen=True, slots=True)
class Unscorable:
    """One indicator that cannot be scored from the value given, and why (Chinese)."""

    code: str
    kind: UnscorableKind
    message: str


@dataclass(frozen=True, slots=True)
class DimensionScore:
    """A dimension's subtotal: the sum of its indicators' rounded points."""

    code: str
    name: str
    points: Decimal
    max_points: Decimal


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The scored index: per indicator, per dimension and in total, with warnings."""

    index_code: str
    index_version: int
    indicators: tuple[IndicatorScore, ...]
    dimensions: tuple[DimensionScore, ...]
    total: Decimal
    max_total: Decimal
    # Chinese notes that do not stop scoring, e.g. a manual score below the maximum without a
    # reason (the app refuses to submit such an assessment).
    warnings: tuple[str, ...] = ()

    def below_threshold(
        self, fraction: Decimal = DEFAULT_RECTIFICATION_THRESHOLD
    ) -> tuple[str, ...]:
        """Codes of indicators whose rounded points are under ``fraction`` of their maximum."""
        with localcontext(_CONTEXT):
            return tuple(
                item.code for item in self.indicators if item.points < item.max_points * fraction
            )

    def get(self, code: str) -> IndicatorScore | None:
        """The score of the indicator with this code, or None."""
        for item in self.indicators:
            if item.code == code:
                return item
        return None

    @property
    def missing_reasons(self) -> tuple[str, ...]:
        """Codes of manual indicators scored below the maximum without a reason."""
        return tuple(item.code for item in self.indicators if item.needs_reason)


def score(index: Index, values: Mapping[str, object]) -> ScoreResult:
    """Score every indicator of ``index`` from ``values`` (indicator code → value).

    Raises ``ScoringError`` for a missing or unknown code, a value of the wrong type, a negative
    or non-finite number, a mean above 100, or manual points outside 0..max.
    """
    if not isinstance(values, Mapping):
        raise ScoringError(f"数值必须是以指标代码为键的映射，收到 {type(values).__name__}")
    known = {indicator.code for indicator in index.indicators}
    for code in values:
        if code not in known:
            raise ScoringError(
                f"未知的指标代码 {code!r}：考核指标 {index.code} 中没有该指标", code=str(code)
            )

    scores: list[IndicatorScore] = []
    warnings: list[str] = []
    with localcontext(_CONTEXT):
        for indicator in index.indicators:
            if indicator.code not in values:
                raise ScoringError(f"{indicator.label}缺少数值", code=indicator.code)
            item = _score_indicator(indicator, values[indicator.code])
            if item.needs_reason:
                warnings.append(
                    f"{indicator.label}手工评分 {item.points} 分低于满分 "
                    f"{_fmt(item.max_points)} 分，但未填写理由"
                )
            scores.append(item)

        dimensions = tuple(
            DimensionScore(
                code=dimension.code,
                name=dimension.name,
                points=_sum(item.points for item in scores if item.dimension == dimension.code),
                max_points=dimension.max_points,
            )
            for dimension in index.dimensions
        )
        return ScoreResult(
            index_code=index.code,
            index_version=index.version,
            indicators=tuple(scores),
            dimensions=dimensions,
            total=_sum(item.points for item in scores),
            max_total=index.total_points,
            warnings=tuple(warnings),
        )


def score_indicator(indicator: Indicator, value: object) -> IndicatorScore | Unscorable:
    """Score one indicator from its value (or, for a manual one, the points given).

    The same points as ``score`` gives the indicator. Where ``score`` would refuse the whole
    index because of this value, the indicator comes back ``Unscorable``: ``no_data`` for a
    metric without events (``None``) on an indicator without ``when_empty``, ``no_points`` for a
    manual indicator without points, ``invalid`` for any other value its rule cannot score.
    """
    if value is None and not indicator.is_manual and indicator.when_empty is None:
        return Unscorable(
            indicator.code,
            "no_data",
            f"{indicator.label}的数值为空（无统计对象），且该指标未规定无数据时的得分",
        )
    if value is None and indicator.is_manual:
        return Unscorable(indicator.code, "no_points", f"{indicator.label}缺少手工评分")
    try:
        with localcontext(_CONTEXT):
            return _score_indicator(indicator, value)
    except ScoringError as exc:
        return Unscorable(indicator.code, "invalid", str(exc))


def score_metric_indicators(
    index: Index, values: Mapping[str, object]
) -> tuple[dict[str, IndicatorScore], dict[str, str]]:
    """Score the metric indicators of ``index``, each once; the codes that cannot be scored come
    back with the reason (Chinese, for the assessor, who must then give the points by hand).
    ``values`` maps metric indicator codes to values; manual indicators are left out."""
    scored: dict[str, IndicatorScore] = {}
    unscorable: dict[str, str] = {}
    for indicator in index.indicators:
        if indicator.is_manual:
            continue
        result = score_indicator(indicator, values.get(indicator.code))
        if isinstance(result, Unscorable):
            unscorable[indicator.code] = _unscorable_reason(result)
        else:
            scored[indicator.code] = result
    return scored, unscorable


def _unscorable_reason(result: Unscorable) -> str:
    if result.kind == "no_data":
        return "无统计对象，且该指标未规定无数据时的得分，须由考核人员评分"
    return f"指标数值无法计分（{result.message}），须由考核人员评分"


@dataclass(frozen=True, slots=True)
class PointTotals:
    """Dimension subtotals (by dimension code) and the total of an assessee's indicators."""

    dimensions: Mapping[str, Decimal]
    total: Decimal

    def dimension(self, code: str) -> Decimal:
        """The subtotal of one dimension (0.00 when it has no indicator)."""
        return self.dimensions.get(code, Decimal("0.00"))


def point_totals(points: Iterable[tuple[str, Decimal | None]]) -> PointTotals | None:
    """The subtotals and total of (dimension, points) pairs: sums of the rounded points, once
    every indicator has its points; None while any has none, or when there are none."""
    pairs = list(points)
    if not pairs or any(given is None for _, given in pairs):
        return None
    dimensions: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for dimension, given in pairs:
        if given is not None:
            dimensions[dimension] += given
    return PointTotals(dict(dimensions), sum(dimensions.values(), Decimal("0.00")))


# --------------------------------------------------------------------------- per rule


def _score_indicator(indicator: Indicator, raw: object) -> IndicatorScore:
    rule = indicator.rule
    if isinstance(rule, Manual):
        return _score_manual(indicator, raw)
    if isinstance(rule, Deduction):
        return _score_deduction(indicator, rule, raw)

    value = _number(indicator, raw)
    maximum = indicator.max_points
    if value is None:
        if indicator.when_empty is None:
            raise ScoringError(
                f"{indicator.label}的数值为空（无统计对象），且该指标未规定无数据时的得分",
                code=indicator.code,
            )
        points = _round(maximum * indicator.when_empty)
        detail = (
            f"无统计对象，按满分的 {_fmt(indicator.when_empty)} 计："
            f"{_fmt(maximum)} × {_fmt(indicator.when_empty)} = {points}"
        )
        return _result(indicator, points, None, detail)

    if isinstance(rule, RatioToTarget):
        target = indicator.target
        assert target is not None  # guaranteed by index validation
        # Capping before dividing keeps a huge value from overflowing the product.
        exact = maximum if value >= target else maximum * value / target
        points = _round(exact)
        detail = f"{_fmt(maximum)} × min(1, {_fmt(value)} ÷ {_fmt(target)}) = {points}"
    elif isinstance(rule, Bands):
        reached = [band for band in rule.bands if value >= band.threshold]
        if reached:
            band = reached[-1]
            points = _round(maximum * band.fraction)
            detail = (
                f"{_fmt(value)} 达到 {_fmt(band.threshold)} 档，得满分的 {_fmt(band.fraction)}："
                f"{_fmt(maximum)} × {_fmt(band.fraction)} = {points}"
            )
        else:
            points = _round(maximum * rule.floor)
            detail = (
                f"{_fmt(value)} 未达到最低档 {_fmt(rule.bands[0].threshold)}，"
                f"得满分的 {_fmt(rule.floor)}：{_fmt(maximum)} × {_fmt(rule.floor)} = {points}"
            )
    else:
        assert isinstance(rule, MeanScale)
        if value > _HUNDRED:
            raise ScoringError(
                f"{indicator.label}是 0–100 分的平均分，不能大于 100，收到 {_fmt(value)}",
                code=indicator.code,
            )
        points = _round(value / _HUNDRED * maximum)
        detail = f"{_fmt(value)} ÷ 100 × {_fmt(maximum)} = {points}"
    return _result(indicator, points, value, detail)


def _score_deduction(indicator: Indicator, rule: Deduction, raw: object) -> IndicatorScore:
    if not isinstance(raw, Mapping):
        raise ScoringError(
            f"{indicator.label}的数值必须是各类事件的次数，例如 "
            f'{{"complaints": 0, "false_records": 0}}，收到 {raw!r}',
            code=indicator.code,
        )
    metric = KNOWN_METRICS.get(indicator.metric or "")
    labels = dict(metric.events) if metric is not None else {}
    allowed = set(labels) | {event for event, _ in rule.per_event}
    for event in raw:
        if event not in allowed:
            raise ScoringError(
                f"{indicator.label}中未知的事件 {event!r}，可选：{'、'.join(sorted(allowed))}",
                code=indicator.code,
            )

    counts: dict[str, int] = {}
    terms: list[str] = []
    deducted = Decimal(0)
    for event, per_event in rule.per_event:
        label = labels.get(event, event)
        if event not in raw:
            raise ScoringError(
                f"{indicator.label}缺少“{label}”（{event}）的次数", code=indicator.code
            )
        count = raw[event]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ScoringError(
                f"{indicator.label}中“{label}”的次数必须是非负整数，收到 {count!r}",
                code=indicator.code,
            )
        if count > _MAX_COUNT:
            raise ScoringError(
                f"{indicator.label}中“{label}”的次数过大：{count}", code=indicator.code
            )
        counts[event] = count
        deducted += per_event * count
        terms.append(f" − {_fmt(per_event)} × {count}（{label}）")

    maximum = indicator.max_points
    remaining = maximum - deducted
    points = _round(max(remaining, Decimal(0)))
    detail = f"{_fmt(maximum)}{''.join(terms)} = "
    if remaining < 0:
        detail += f"−{_fmt(-remaining)}，扣完为止 → {points}"
    else:
        detail += f"{points}"
    return _result(indicator, points, MappingProxyType(counts), detail)


def _score_manual(indicator: Indicator, raw: object) -> IndicatorScore:
    reason: object = None
    if isinstance(raw, Mapping):
        unknown = sorted(str(key) for key in raw if key not in _MANUAL_KEYS)
        if unknown:
            raise ScoringError(
                f"{indicator.label}的手工评分只能包含 points 和 reason，多了：{'、'.join(unknown)}",
                code=indicator.code,
            )
        if "points" not in raw:
            raise ScoringError(f"{indicator.label}的手工评分缺少分数 points", code=indicator.code)
        raw_points, reason = raw["points"], raw.get("reason")
    else:
        raw_points = raw
    if reason is not None and not isinstance(reason, str):
        raise ScoringError(f"{indicator.label}的评分理由必须是文字", code=indicator.code)
    given = _finite(indicator, raw_points)
    if given is None:
        raise ScoringError(f"{indicator.label}缺少手工评分", code=indicator.code)
    maximum = indicator.max_points
    if not 0 <= given <= maximum:
        raise ScoringError(
            f"{indicator.label}的手工评分应在 0 到 {_fmt(maximum)} 分之间，收到 {_fmt(given)}",
            code=indicator.code,
        )
    points = _round(given)
    text = reason.strip() if isinstance(reason, str) else ""
    detail = f"考核人员评分 {points}（满分 {_fmt(maximum)}）"
    if text:
        detail += f"，理由：{text}"
    return _result(indicator, points, given, detail, reason=text or None)


# --------------------------------------------------------------------------- helpers


def _number(indicator: Indicator, raw: object) -> Decimal | None:
    """A finite, non-negative Decimal (floats by their ``str``), or None for None."""
    value = _finite(indicator, raw)
    if value is not None and value < 0:
        raise ScoringError(
            f"{indicator.label}的数值不能为负数，收到 {_fmt(value)}", code=indicator.code
        )
    return value


def _finite(indicator: Indicator, raw: object) -> Decimal | None:
    """A finite Decimal (floats by their ``str``), or None for None."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise ScoringError(f"{indicator.label}的数值必须是数字，收到 {raw!r}", code=indicator.code)
    if isinstance(raw, int) and raw.bit_length() > _MAX_INT_BITS:
        # Converting a huge int to Decimal is slow and no metric gets anywhere near it.
        raise ScoringError(f"{indicator.label}的数值过大", code=indicator.code)
    value = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
    if not value.is_finite():
        raise ScoringError(
            f"{indicator.label}的数值必须是有限的数字，收到 {raw!r}", code=indicator.code
        )
    return value


def _result(
    indicator: Indicator,
    points: Decimal,
    value: MetricValue,
    detail: str,
    *,
    reason: str | None = None,
) -> IndicatorScore:
    return IndicatorScore(
        code=indicator.code,
        name=indicator.name,
        points=points,
        max_points=indicator.max_points,
        value=value,
        fraction=(points / indicator.max_points).quantize(_FRACTION_PLACES, ROUND_HALF_UP),
        detail=detail,
        dimension=indicator.dimension,
        rule=indicator.rule.kind,
        reason=reason,
    )


def _sum(points: Iterable[Decimal]) -> Decimal:
    return sum(points, Decimal("0.00"))


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _fmt(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: ``Decimal("5.0")`` → ``5``."""
    if not -_PLAIN_DIGITS <= value.adjusted() <= _PLAIN_DIGITS:
        # Absurd magnitudes keep their exponent rather than print a million digits.
        return str(value)
    return format(value.normalize(), "f")
