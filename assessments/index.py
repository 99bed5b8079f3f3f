"""The assessment index (考核指标) as typed values: the metrics the app computes from records, the
scoring rules, indicators and dimensions, and the error of an invalid index file.

The files themselves (one TOML file per year, a county's adaptation) are read by
``assessments.index_files`` and validated into an ``Index`` by ``assessments.index_validation``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from types import MappingProxyType
from typing import ClassVar, Literal, TypeAlias

__all__ = [
    "CITY_DIMENSION_POINTS",
    "CITY_SCOPE",
    "DIMENSION_NAMES",
    "KNOWN_METRICS",
    "RULE_KINDS",
    "TOTAL_POINTS",
    "Band",
    "Bands",
    "Deduction",
    "Dimension",
    "Index",
    "IndexFileError",
    "Indicator",
    "Manual",
    "MeanScale",
    "Metric",
    "MetricKind",
    "RatioToTarget",
    "Rule",
    "sum_points",
]

CITY_SCOPE = "city"
TOTAL_POINTS = Decimal(100)
DIMENSION_NAMES: Mapping[str, str] = MappingProxyType(
    {"A": "团队管理", "B": "服务功能", "C": "服务效果"}
)
# Seed 5's split of the 100 points; a county index may move points between dimensions.
CITY_DIMENSION_POINTS: Mapping[str, Decimal] = MappingProxyType(
    {"A": Decimal(20), "B": Decimal(50), "C": Decimal(30)}
)

# ratio: a share, normally 0..1; rate: per 100 signed residents per month; count: events per
# month; mean: a 0..100 mean; events: counts per event kind (for deductions).
MetricKind = Literal["ratio", "rate", "count", "mean", "events"]


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric the app computes from records: Chinese name, value kind, event kinds."""

    name: str
    kind: MetricKind
    # (event kind, Chinese label) pairs, only for ``events`` metrics.
    events: tuple[tuple[str, str], ...] = ()


KNOWN_METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        "signing_coverage": Metric("签约覆盖率", "ratio"),
        "key_population_signing": Metric("重点人群签约率", "ratio"),
        "effective_contracts": Metric("有效签约率", "ratio"),
        "timely_entry": Metric("电子记录及时录入率", "ratio"),
        "basic_medical_volume": Metric("每百名签约居民每月诊疗与上门服务人次", "rate"),
        "chronic_standard_management": Metric("慢病规范管理率", "ratio"),
        "key_population_services": Metric("重点人群服务率", "ratio"),
        "health_education_sessions": Metric("每月健康教育次数", "count"),
        "vaccination_special_care": Metric("预防接种与特殊人群随访完成率", "ratio"),
        "referral_receipt": Metric("转诊回执确认率", "ratio"),
        "ethics_deductions": Metric(
            "医德医风扣分事项",
            "events",
            (("complaints", "经核实的投诉"), ("false_records", "经核查虚假的记录")),
        ),
        "awareness": Metric("居民知晓率", "ratio"),
        "satisfaction": Metric("满意度平均分", "mean"),
        "health_improvement": Metric("血压血糖控制率", "ratio"),
    }
)


# Sums of points are exact in 28 digits; a caller's narrower context must not round them.
_CONTEXT = Context(prec=28)


class IndexFileError(ValueError):
    """An index file (or a derivation) is invalid; the message is user-facing Chinese."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = f"考核指标文件 {source}：{self.problems[0]}"
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"考核指标文件 {source} 有 {len(self.problems)} 处错误：\n{lines}"
        super().__init__(message)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class RatioToTarget:
    """points = max × min(1, value ÷ target)."""

    kind: ClassVar[str] = "ratio_to_target"


@dataclass(frozen=True, slots=True)
class Band:
    """Reaching ``threshold`` (value ≥ threshold) earns ``fraction`` of the maximum."""

    threshold: Decimal
    fraction: Decimal


@dataclass(frozen=True, slots=True)
class Bands:
    """The fraction of the highest band reached; below the lowest band, ``floor``."""

    bands: tuple[Band, ...]
    floor: Decimal = Decimal(0)
    kind: ClassVar[str] = "bands"


@dataclass(frozen=True, slots=True)
class Deduction:
    """points = max − Σ points per event × count, floored at 0."""

    per_event: tuple[tuple[str, Decimal], ...]
    kind: ClassVar[str] = "deduction"


@dataclass(frozen=True, slots=True)
class MeanScale:
    """points = mean (0..100) ÷ 100 × max."""

    kind: ClassVar[str] = "mean_scale"


@dataclass(frozen=True, slots=True)
class Manual:
    """The assessor enters 0..max points (a reason is required below the maximum)."""

    kind: ClassVar[str] = "manual"


Rule: TypeAlias = RatioToTarget | Bands | Deduction | MeanScale | Manual
RULE_KINDS = ("ratio_to_target", "bands", "deduction", "mean_scale", "manual")


# --------------------------------------------------------------------------- index


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator (考核指标) of an index."""

    code: str
    name: str
    dimension: str
    max_points: Decimal
    metric: str | None
    rule: Rule
    target: Decimal | None = None
    when_empty: Decimal | None = None
    description: str = ""

    @property
    def is_manual(self) -> bool:
        return isinstance(self.rule, Manual)

    @property
    def label(self) -> str:
        """How messages name the indicator: ``指标 A1（签约覆盖率）``."""
        return f"指标 {self.code}（{self.name}）"


@dataclass(frozen=True, slots=True)
class Dimension:
    """A dimension (维度) and the sum of its indicators' maximum points."""

    code: str
    name: str
    max_points: Decimal


@dataclass(frozen=True, slots=True)
class Index:
    """A validated index: the city's (``scope == "city"``) or a county's (6-digit region code)."""

    code: str
    name: str
    year: int
    scope: str
    version: int
    based_on: str | None
    indicators: tuple[Indicator, ...]
    dimensions: tuple[Dimension, ...]

    @property
    def is_city(self) -> bool:
        return self.scope == CITY_SCOPE

    @property
    def total_points(self) -> Decimal:
        return sum_points(self.indicators)

    def get(self, code: str) -> Indicator | None:
        """The indicator with this code, or None."""
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        return None


def sum_points(indicators: Sequence[Indicator], dimension: str | None = None) -> Decimal:
    """Total maximum points, of one dimension or of all, whatever the caller's context."""
    with localcontext(_CONTEXT):
        return sum(
            (
                indicator.max_points
                for indicator in indicators
                if dimension is None or indicator.dimension == dimension
            ),
            Decimal(0),
        )
