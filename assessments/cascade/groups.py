"""The split shared by every level of the cascade: a fund over units by P × S.

A group's units get ``entitled = P × S ÷ Σ(P × S) × fund`` by the largest-remainder method
(``assessments.settlement.settle_pools``); ``share_steps`` writes how one unit's part came about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, TypedDict

from assessments.cascade.inputs import PublishedScore, TeamInput
from assessments.cascade.lines import Line
from assessments.cascade.text import approx, frac, num
from assessments.money import (
    SettlementInputError,
    exact_decimal,
    fraction_sum,
    largest_remainder,
    times_whole,
    whole_less,
    yuan,
)
from assessments.settlement import PoolInput as CorePool
from assessments.settlement import UnitInput, settle_pools, share_for_display
from assessments.values import value

if TYPE_CHECKING:
    from assessments.cascade.teams import TeamMean

__all__ = [
    "POPULATION_RULE",
    "GroupPart",
    "Sheet",
    "figure",
    "score_value",
    "settle_exact",
    "settle_group",
    "share_steps",
    "shown_share",
    "unique_keys",
]

POPULATION_RULE = (
    "签约人口 P：{as_of} 当日有效签约的居民人数（协议期限包含该日，且协议履行中而该居民仍在协议内、"
    "已续签或已到期，或在该日之后才解约；同一居民只计一次；与考核指标 A1 的口径相同）"
)


@dataclass
class Sheet:
    """The lines written so far and what every line of the sheet shares."""

    year: int
    reserve_rate: Decimal
    cap: Decimal
    population_note: str
    lines: list[Line] = field(default_factory=list)
    # False: stop at the teams (no member or reserve lines), e.g. for a simulation's first pass.
    members: bool = True
    # Each team's S̄ once worked out (``teams.sheet_team_mean``), by the team's id().
    team_means: dict[int, tuple[TeamInput, TeamMean]] = field(default_factory=dict)


@value
class GroupPart:
    """One unit's result within a group, from the core (or all zero for an empty group).

    ``weight`` is a ``Decimal`` when P × S is a published score times P, a ``Fraction`` when S is
    an exact mean of published scores (``settle_exact``)."""

    weight: Decimal | Fraction
    share: Fraction | None
    exact: Fraction
    entitled: int
    rounding: Fraction


def unique_keys(names: Sequence[str], codes: Sequence[str]) -> list[str]:
    """Names for the core's tie rule; a repeated name gets its code appended."""
    if len(set(names)) == len(names) == len(codes):
        return list(names)  # no name repeated, the common case
    repeated = {n for n in names if names.count(n) > 1}
    return [f"{n}（{c}）" if n in repeated else n for n, c in zip(names, codes, strict=True)]


def score_value(score: PublishedScore | None, name: str, population: int, what: str) -> Decimal:
    """The published score of a unit; none is allowed only when its P is 0 (it then weighs 0)."""
    if score is None:
        if population > 0:
            raise SettlementInputError(f"{what}「{name}」缺少考核得分")
        return Decimal(0)
    return score.value


def settle_group(
    where: str, fund: int, names: list[str], populations: list[int], scores: list[Decimal]
) -> list[GroupPart]:
    """``settle_pools`` on one group; a group of zero weights and zero fund gets zeros."""
    weights = [p * s for p, s in zip(populations, scores, strict=True)]
    if sum(weights, Decimal(0)) == 0:
        if fund > 0:
            raise SettlementInputError(
                f"{where}所有单位的“签约人口×得分”均为 0，无法分配 {yuan(fund)} 元"
            )
        return [GroupPart(w, None, Fraction(0), 0, Fraction(0)) for w in weights]
    units = [
        UnitInput(name=n, signed_population=p, score=s)
        for n, p, s in zip(names, populations, scores, strict=True)
    ]
    result = settle_pools([CorePool(name=where, fund_fen=fund, units=units)])[0]
    return [
        GroupPart(u.weight, u.share, u.exact_fen, u.entitled_fen, u.rounding_adjustment)
        for u in result.units
    ]


def settle_exact(
    where: str, fund: int, names: list[str], weights: list[Fraction]
) -> list[GroupPart]:
    """``fund`` over exact weights (P × an exact mean) by the largest-remainder method.

    The same split as ``settle_group`` with nothing rounded before it: a group of zero weights
    and zero fund gets zeros, a positive fund over zero weights is refused.
    """
    total = fraction_sum(weights)
    if total == 0:
        if fund > 0:
            raise SettlementInputError(
                f"{where}所有单位的“签约人口×得分”均为 0，无法分配 {yuan(fund)} 元"
            )
        return [GroupPart(w, None, Fraction(0), 0, Fraction(0)) for w in weights]
    entitled = largest_remainder(fund, weights, names)
    parts = []
    for weight, amount in zip(weights, entitled, strict=True):
        share = weight / total
        exact = times_whole(share, fund)
        parts.append(GroupPart(weight, share, exact, amount, whole_less(amount, exact)))
    return parts


def figure(value: Decimal | Fraction) -> str:
    """An exact figure for reading: ``12,345.5``; a fraction without a finite decimal is written
    exactly with its value to six places beside it, ``262000/3（≈87,333.333333）``."""
    if isinstance(value, Decimal):
        return num(value)
    try:
        return num(exact_decimal(value))
    except ValueError:
        return f"{frac(value)}（{approx(value)}）"


def share_steps(
    part: GroupPart,
    weight_text: str,
    total_text: str,
    fund: int,
    fund_label: str,
) -> list[str]:
    """How a unit's part of ``fund`` came about, step by step (Chinese); ``total_text`` is the
    group's Σ(P × S) as ``figure`` writes it (once for the whole group)."""
    weight = figure(part.weight)
    steps = [f"P × S = {weight_text} = {weight}"]
    if part.share is None:
        steps.append(f"所在组 Σ(P × S) = 0，{fund_label} 0 分，本行 0 分")
        return steps
    exact = approx(part.exact)
    steps += [
        f"份额 = {weight} ÷ Σ(P × S) {total_text} = {frac(part.share)}"
        f" ≈ {share_for_display(part.share)}",
        f"精确金额 = 份额 × {fund_label} {num(fund)} 分 = {exact} 分",
        f"按最大余额法取整：{num(part.entitled)} 分（{yuan(part.entitled)} 元）",
        f"舍入调整 = {num(part.entitled)} − {exact} = "
        f"{approx(part.rounding, sign=True)} 分（精确值 {frac(part.rounding)} 分）",
    ]
    return steps


def shown_share(part: GroupPart) -> Decimal | None:
    """The share rounded for reading, or None for an empty group."""
    return share_for_display(part.share) if part.share is not None else None


class PartColumns(TypedDict):
    """The columns of a line that come from its unit's part of a group split."""

    weight: Decimal | Fraction
    share: Fraction | None
    share_display: Decimal | None
    exact_fen: Fraction
    entitled_fen: int
    rounding_adjustment: Fraction


def part_columns(part: GroupPart) -> PartColumns:
    """A unit's part of a split as the line's columns (``Line(..., **part_columns(part))``)."""
    return PartColumns(
        weight=part.weight,
        share=part.share,
        share_display=shown_share(part),
        exact_fen=part.exact,
        entitled_fen=part.entitled,
        rounding_adjustment=part.rounding,
    )


def line_part(line: Line) -> GroupPart:
    """A line's part of its group split, read back from the columns ``part_columns`` wrote."""
    zero = Fraction(0)
    return GroupPart(
        weight=line.weight if line.weight is not None else zero,
        share=line.share,
        exact=line.exact_fen if line.exact_fen is not None else zero,
        entitled=line.entitled_fen or 0,
        rounding=line.rounding_adjustment if line.rounding_adjustment is not None else zero,
    )
