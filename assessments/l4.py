"""The county's municipal score (市级考核, L4): its institutions' reported year-end results
combined with the city's spot check (市级抽查).

SPEC 5: the county's L4 total is ``0.4 × reported + 0.6 × spot check`` (weights configurable),
where *reported* is the signed-population-weighted mean of its institutions' current year-end
(H2) L3 totals and *spot check* the mean of the sampled institutions' spot-check (L4S) totals.
Both means and the total are rounded half up (四舍五入) to two places. When every institution's
signed population is 0, *reported* is the plain mean of their totals. A sampled institution is
flagged when its own L3 total exceeds its spot-check total by more than ``flag_points`` (10).

``combine_l4`` is pure: the app reads the assessments and stores what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from assessments.money import exact_decimal, round_half_up

__all__ = [
    "DEFAULT_FLAG_POINTS",
    "DEFAULT_REPORTED_WEIGHT",
    "DEFAULT_SPOT_WEIGHT",
    "L4Combination",
    "L4Rules",
    "ReportedResult",
    "SampleCheck",
    "SampleResult",
    "combine_l4",
]

DEFAULT_REPORTED_WEIGHT = Decimal("0.4")
DEFAULT_SPOT_WEIGHT = Decimal("0.6")
DEFAULT_FLAG_POINTS = Decimal("10")
_PLACES = 2


@dataclass(frozen=True, slots=True)
class L4Rules:
    """The weights of the two parts and the gap (points) above which a sample is flagged."""

    reported_weight: Decimal = DEFAULT_REPORTED_WEIGHT
    spot_weight: Decimal = DEFAULT_SPOT_WEIGHT
    flag_points: Decimal = DEFAULT_FLAG_POINTS


@dataclass(frozen=True, slots=True)
class ReportedResult:
    """An institution's reported year-end (H2) L3 total and its signed population."""

    signed_population: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class SampleCheck:
    """A sampled institution: the city's spot-check total and its own L3 total (if reported)."""

    name: str
    spot_total: Decimal
    reported_total: Decimal | None


@dataclass(frozen=True, slots=True)
class SampleResult:
    """A sampled institution after the comparison; ``message`` is set when it is flagged."""

    name: str
    spot_total: Decimal
    reported_total: Decimal | None
    flagged: bool
    message: str | None


@dataclass(frozen=True, slots=True)
class L4Combination:
    """The county's reported and spot-check scores, its total, the samples and the arithmetic."""

    reported: Decimal
    spot: Decimal
    total: Decimal
    samples: tuple[SampleResult, ...]
    lines: tuple[str, ...]

    @property
    def flagged(self) -> tuple[str, ...]:
        """The messages of the flagged samples, in sample order."""
        return tuple(s.message for s in self.samples if s.message is not None)

    def flag_reason(self, rules: L4Rules) -> str | None:
        """Why the county is flagged (Chinese), or None."""
        if not self.flagged:
            return None
        return f"上报得分高于市级抽查 {rules.flag_points} 分以上：" + "；".join(self.flagged)


def _two_places(value: Fraction) -> Decimal:
    return exact_decimal(round_half_up(value, _PLACES)).quantize(Decimal(1).scaleb(-_PLACES))


def _reported(results: Sequence[ReportedResult]) -> tuple[Decimal, str]:
    population = sum((r.signed_population for r in results), Decimal(0))
    if population > 0:
        weighted = sum((Fraction(r.signed_population * r.total) for r in results), Fraction(0))
        line = (
            "上报得分 = Σ(签约人数 × 年终三级考核得分) ÷ Σ签约人数 = "
            + " + ".join(f"{r.signed_population:.0f}×{r.total}" for r in results)
            + f" ÷ {population:.0f}"
        )
        return _two_places(weighted / Fraction(population)), line
    plain = sum((Fraction(r.total) for r in results), Fraction(0)) / len(results)
    return _two_places(plain), "各机构签约人数均为 0，上报得分取年终三级考核得分的算术平均"


def _sample(sample: SampleCheck, rules: L4Rules) -> SampleResult:
    reported, spot = sample.reported_total, sample.spot_total
    flagged = reported is not None and reported - spot > rules.flag_points
    message = None
    if flagged and reported is not None:
        message = f"{sample.name}：上报 {reported} 分，抽查 {spot} 分，高出 {reported - spot} 分"
    return SampleResult(sample.name, spot, reported, flagged, message)


def combine_l4(
    reported: Sequence[ReportedResult], samples: Sequence[SampleCheck], rules: L4Rules
) -> L4Combination:
    """Combine the reported results and the spot checks of one county (both non-empty)."""
    if not reported or not samples:
        raise ValueError("combine_l4 needs at least one reported result and one sample")
    reported_score, reported_line = _reported(reported)
    spot_totals = [s.spot_total for s in samples]
    spot = _two_places(sum((Fraction(t) for t in spot_totals), Fraction(0)) / len(spot_totals))
    spot_line = (
        "抽查得分 = 抽查机构市级评分的平均 = "
        + " + ".join(str(t) for t in spot_totals)
        + f" ÷ {len(spot_totals)}"
    )
    exact_total = Fraction(rules.reported_weight) * Fraction(reported_score) + Fraction(
        rules.spot_weight
    ) * Fraction(spot)
    total = _two_places(exact_total)
    total_line = (
        f"市级得分 = {rules.reported_weight} × {reported_score} + "
        f"{rules.spot_weight} × {spot} = {total}"
    )
    return L4Combination(
        reported=reported_score,
        spot=spot,
        total=total,
        samples=tuple(_sample(s, rules) for s in samples),
        lines=(reported_line, spot_line, total_line),
    )
