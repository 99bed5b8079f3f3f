"""Settlement arithmetic (结算): pools, pre-allocation, fixed splits and the team's second split.

SPEC section 7, after seed 2 (市级结算公式) and seed 4 (科室内二次分配):

* ``settle_pools`` — within a settlement pool (结算池) with fund F, unit c is entitled to
  ``P_c × S_c / Σ (P_j × S_j) × F`` (P signed population 签约人口, S assessment score 考核得分),
  and the sheet shows what was pre-allocated (预拨) and the balance to top up or recover.
  The same function serves county → institutions and institution → teams.
* ``preallocate`` — the pre-allocation for year Y (当年预拨，次年结算).
* ``split_by_ratio`` — a configured fixed split, e.g. centre/stations 60/40.
* ``distribute_team`` — the team's second distribution (二次分配): a reserve (部门基金) is kept
  and the rest goes by ``k × y × c × a``.

All amounts are ``int`` fen; every split is the largest-remainder method of
``assessments.money`` with its stated tie rule. Inputs are validated here, and every problem is a
``SettlementInputError`` whose Chinese message names the pool, unit or member and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from assessments.checks import (
    check_factor,
    check_name,
    check_number,
    check_rate,
    check_score,
    check_unique,
    check_whole,
)
from assessments.memo import Memo
from assessments.money import (
    SettlementInputError,
    exact_decimal,
    largest_remainder,
    round_half_up,
)
from assessments.values import value

__all__ = [
    "ATTAINMENT_PLACES",
    "DEFAULT_ATTAINMENT_CAP",
    "DEFAULT_PREALLOCATION_RATE",
    "DEFAULT_RESERVE_RATE",
    "SHARE_DISPLAY_PLACES",
    "MemberInput",
    "MemberShare",
    "PoolInput",
    "PoolResult",
    "Preallocation",
    "PreallocationBasis",
    "PreallocationLine",
    "PreallocationUnit",
    "SettlementInputError",
    "TeamDistribution",
    "TeamWeights",
    "UnitInput",
    "UnitResult",
    "distribute_team",
    "preallocate",
    "settle_pools",
    "share_for_display",
    "split_by_ratio",
    "team_amounts",
    "team_weights",
    "workload_attainment",
]

DEFAULT_PREALLOCATION_RATE = Decimal("0.70")
DEFAULT_RESERVE_RATE = Decimal("0.10")
DEFAULT_ATTAINMENT_CAP = Decimal("1.2")
# Places kept for a displayed share and for a computed workload attainment k.
SHARE_DISPLAY_PLACES = 8
ATTAINMENT_PLACES = 4
C_MIN, C_MAX = Fraction(8, 10), Fraction(12, 10)

Number = Decimal | int

# --------------------------------------------------------------------------- data


@value
class UnitInput:
    """One unit (county, institution or team) in a pool: P, S and what it was pre-allocated."""

    name: str
    signed_population: int
    score: Number
    preallocated_fen: int = 0


@value
class PoolInput:
    """A settlement pool (结算池): a fund in fen shared by its units by P × S."""

    name: str
    fund_fen: int
    units: Sequence[UnitInput]


@value
class UnitResult:
    """One line of the settlement sheet (结算表).

    ``share`` and ``exact_fen`` are exact fractions; ``share_display`` is ``share`` rounded
    half-up to ``SHARE_DISPLAY_PLACES``. ``rounding_adjustment`` = ``entitled_fen − exact_fen``
    (always strictly between −1 and 1). A negative ``balance_fen`` is to be recovered (追回).
    """

    name: str
    signed_population: int
    score: Decimal
    weight: Decimal
    share: Fraction
    share_display: Decimal
    exact_fen: Fraction
    entitled_fen: int
    rounding_adjustment: Fraction
    preallocated_fen: int
    balance_fen: int


@value
class PoolResult:
    """A settled pool: its lines in input order and its totals (``total_entitled_fen == fund_fen``)."""

    name: str
    fund_fen: int
    units: tuple[UnitResult, ...]
    total_signed_population: int
    total_weight: Decimal
    total_entitled_fen: int
    total_preallocated_fen: int
    total_balance_fen: int


PreallocationBasis = Literal["last_year", "population"]


@value
class PreallocationUnit:
    """A unit to pre-allocate to; ``last_year_entitled_fen=None`` means it has no history."""

    name: str
    signed_population: int
    last_year_entitled_fen: int | None = None


@value
class PreallocationLine:
    name: str
    signed_population: int
    last_year_entitled_fen: int | None
    basis: PreallocationBasis
    preallocated_fen: int


@value
class Preallocation:
    """Pre-allocation of one pool for year Y.

    ``budget_fen`` = rate × fund (half-up); ``by_last_year_fen`` + ``by_population_fen`` is what
    was pre-allocated; ``unallocated_fen`` = budget − pre-allocated, left for the settlement.
    """

    fund_fen: int
    rate: Decimal
    budget_fen: int
    by_last_year_fen: int
    by_population_fen: int
    unallocated_fen: int
    lines: tuple[PreallocationLine, ...]

    @property
    def preallocated_fen(self) -> int:
        return self.by_last_year_fen + self.by_population_fen


@value
class MemberInput:
    """A team member for the second distribution (二次分配).

    k workload attainment (工作量达标系数, capped by the caller, see ``workload_attainment``),
    y post coefficient (岗位系数), c individual performance coefficient (个人绩效考评系数,
    0.8–1.2), a attendance (出勤系数, 0–1). Members on probation (试用期) get nothing.
    """

    name: str
    k: Number
    y: Number
    c: Number
    a: Number
    probation: bool = False


@value
class MemberShare:
    name: str
    k: Decimal
    y: Decimal
    c: Decimal
    a: Decimal
    probation: bool
    weight: Decimal
    share: Fraction
    amount_fen: int


@value
class TeamDistribution:
    """A team's second distribution.

    ``configured_reserve_fen`` = reserve_rate × amount (half-up). ``reserve_fen`` is everything
    kept in the reserve (部门基金): the configured part, plus the whole distributable rest when no
    member carries weight. Always ``reserve_fen + distributed_fen == amount_fen``.
    """

    amount_fen: int
    reserve_rate: Decimal
    configured_reserve_fen: int
    reserve_fen: int
    distributed_fen: int
    members: tuple[MemberShare, ...]


def share_for_display(share: Fraction, places: int = SHARE_DISPLAY_PLACES) -> Decimal:
    """A share rounded half-up to ``places`` decimals, with exactly that many places."""
    numerator, denominator = share.numerator, share.denominator
    # As ``round_half_up`` rounds, in integers; the Decimal then has exactly ``places`` places.
    rounded = (2 * abs(numerator) * 10**places + denominator) // (2 * denominator)
    return Decimal(f"{-rounded if numerator < 0 else rounded}E-{places}")


# --------------------------------------------------------------------------- pools


def settle_pools(pools: Sequence[PoolInput]) -> list[PoolResult]:
    """Settle each pool: entitled = P × S / Σ(P × S) × fund, then the balance to pre-allocation.

    Pool names must be unique, and unit names unique within a pool (the same name may appear in
    two pools). Raises ``SettlementInputError`` on any invalid input.
    """
    seen: set[str] = set()
    results: list[PoolResult] = []
    for position, pool in enumerate(pools, start=1):
        name = check_name(pool.name, f"第 {position} 个结算池的名称")
        check_unique(name, seen, f"结算池名称重复：「{name}」")
        results.append(_settle_pool(name, pool))
    return results


def _settle_pool(name: str, pool: PoolInput) -> PoolResult:
    where = f"结算池「{name}」"
    fund = check_whole(pool.fund_fen, f"{where}的资金总额", "分")
    if not pool.units:
        raise SettlementInputError(f"{where}没有参与结算的单位")

    names: list[str] = []
    populations: list[int] = []
    scores: list[Fraction] = []
    preallocated: list[int] = []
    seen: set[str] = set()
    for position, unit in enumerate(pool.units, start=1):
        unit_name = check_name(unit.name, f"{where}第 {position} 个单位的名称")
        check_unique(unit_name, seen, f"{where}中单位名称重复：「{unit_name}」")
        label = f"{where}中单位「{unit_name}」的"
        names.append(unit_name)
        populations.append(check_whole(unit.signed_population, label + "签约人口", "人"))
        scores.append(check_score(unit.score, label + "考核得分"))
        preallocated.append(check_whole(unit.preallocated_fen, label + "预拨金额", "分"))

    weights = [population * score for population, score in zip(populations, scores, strict=True)]
    total_weight = sum(weights, Fraction(0))
    if total_weight == 0:
        raise SettlementInputError(
            f"{where}所有单位的“签约人口×考核得分”均为 0，无法按比例分配资金"
        )
    entitled = largest_remainder(fund, weights, names)

    lines: list[UnitResult] = []
    for i, unit_name in enumerate(names):
        share = weights[i] / total_weight
        exact = share * fund
        lines.append(
            UnitResult(
                name=unit_name,
                signed_population=populations[i],
                score=exact_decimal(scores[i]),
                weight=exact_decimal(weights[i]),
                share=share,
                share_display=share_for_display(share),
                exact_fen=exact,
                entitled_fen=entitled[i],
                rounding_adjustment=entitled[i] - exact,
                preallocated_fen=preallocated[i],
                balance_fen=entitled[i] - preallocated[i],
            )
        )
    return PoolResult(
        name=name,
        fund_fen=fund,
        units=tuple(lines),
        total_signed_population=sum(populations),
        total_weight=exact_decimal(total_weight),
        total_entitled_fen=sum(entitled),
        total_preallocated_fen=sum(preallocated),
        total_balance_fen=sum(entitled) - sum(preallocated),
    )


# --------------------------------------------------------------------------- pre-allocation


def preallocate(
    fund_fen: int,
    units: Sequence[PreallocationUnit],
    rate: Number = DEFAULT_PREALLOCATION_RATE,
    *,
    pool_name: str = "",
) -> Preallocation:
    """Pre-allocate year Y's fund of one pool (当年预拨).

    The budget is ``rate × fund_fen`` rounded half-up to the fen. Units with a last-year amount
    claim ``rate ×`` that amount; units without one (``None``) share by signed population what
    the claims leave of the budget. When the claims exceed the budget, the budget is shared by
    last-year amount alone and units without history get 0 now (they are paid in full at the
    settlement). With no history at all, the whole budget goes by signed population. Each group
    is split by the largest-remainder method, so nobody is more than one fen from the exact value.
    """
    where = f"结算池「{pool_name}」" if pool_name else "本结算池"
    fund = check_whole(fund_fen, f"{where}的资金总额", "分")
    exact_rate = check_rate(rate, f"{where}的预拨比例")
    if not units:
        raise SettlementInputError(f"{where}没有参与预拨的单位")

    names: list[str] = []
    populations: list[int] = []
    histories: list[int | None] = []
    seen: set[str] = set()
    for position, unit in enumerate(units, start=1):
        unit_name = check_name(unit.name, f"{where}第 {position} 个单位的名称")
        check_unique(unit_name, seen, f"{where}中单位名称重复：「{unit_name}」")
        label = f"{where}中单位「{unit_name}」的"
        names.append(unit_name)
        populations.append(check_whole(unit.signed_population, label + "签约人口", "人"))
        last = unit.last_year_entitled_fen
        histories.append(None if last is None else check_whole(last, label + "上年应得金额", "分"))

    budget = _to_int(round_half_up(exact_rate * fund))
    with_history = [i for i, last in enumerate(histories) if last is not None]
    without_history = [i for i, last in enumerate(histories) if last is None]

    claims = exact_rate * sum(histories[i] or 0 for i in with_history)
    by_last_year = min(budget, _to_int(round_half_up(claims)))
    amounts = [0] * len(names)
    _assign(amounts, with_history, by_last_year, [histories[i] or 0 for i in with_history], names)

    rest = budget - by_last_year
    rest_weights = [populations[i] for i in without_history]
    by_population = rest if without_history and sum(rest_weights) > 0 else 0
    _assign(amounts, without_history, by_population, rest_weights, names)

    lines = tuple(
        PreallocationLine(
            name=names[i],
            signed_population=populations[i],
            last_year_entitled_fen=histories[i],
            basis="last_year" if histories[i] is not None else "population",
            preallocated_fen=amounts[i],
        )
        for i in range(len(names))
    )
    return Preallocation(
        fund_fen=fund,
        rate=exact_decimal(exact_rate),
        budget_fen=budget,
        by_last_year_fen=by_last_year,
        by_population_fen=by_population,
        unallocated_fen=budget - by_last_year - by_population,
        lines=lines,
    )


def _assign(
    amounts: list[int], indexes: list[int], total: int, weights: list[int], names: list[str]
) -> None:
    """Split ``total`` over ``indexes`` by ``weights`` and write the parts into ``amounts``."""
    if not indexes:
        return
    parts = largest_remainder(total, weights, [names[i] for i in indexes])
    for i, part in zip(indexes, parts, strict=True):
        amounts[i] = part


def _to_int(value: Fraction) -> int:
    assert value.denominator == 1, value
    return value.numerator


# --------------------------------------------------------------------------- fixed splits


def split_by_ratio(total_fen: int, parts: Mapping[str, Number]) -> dict[str, int]:
    """Split ``total_fen`` by configured ratios, e.g. ``{"中心": 60, "站": 40}``.

    The ratios are proportions: 60/40, 0.6/0.4 and 3/2 give the same result. The result keeps the
    mapping's order and uses the largest-remainder method and its tie rule.
    """
    total = check_whole(total_fen, "待拆分金额", "分")
    if not parts:
        raise SettlementInputError("没有配置拆分比例")
    names: list[str] = []
    ratios: list[Fraction] = []
    for name, ratio in parts.items():
        checked = check_name(name, "拆分对象的名称")
        value = check_number(ratio, f"拆分对象「{checked}」的比例")
        if value < 0:
            raise SettlementInputError(f"拆分对象「{checked}」的比例不能为负数：{ratio}")
        names.append(checked)
        ratios.append(value)
    if sum(ratios) == 0 and total > 0:
        raise SettlementInputError("拆分比例全部为 0，无法拆分")
    return dict(zip(names, largest_remainder(total, ratios, names), strict=True))


# --------------------------------------------------------------------------- team distribution


def workload_attainment(
    done: Number, standard: Number, cap: Number = DEFAULT_ATTAINMENT_CAP
) -> Decimal:
    """Workload attainment k = done / standard, capped at ``cap`` (seed 4: 完成 100% → k = 1).

    Rounded half-up to ``ATTAINMENT_PLACES`` decimals (before the cap) and returned in its
    shortest form, e.g. 1, 1.2, 0.8333.

    A city's members share a few (done, standard, cap): a k worked out from ints and Decimals
    is remembered by their values (k depends on nothing else), so the next member with the same
    ones gets the same Decimal without the checks and fractions. Only a k is remembered, never
    a refusal: other inputs, or ones refused, go through the checks every time.
    """
    plain = type(done) in _PLAIN and type(standard) in _PLAIN and type(cap) in _PLAIN
    if plain:
        try:
            known = _ATTAINMENTS.get((done, standard, cap))
        except TypeError:  # a signalling NaN cannot be hashed: the checks refuse it below
            plain = False
        else:
            if known is not None:
                return known
    k = _workload_attainment(done, standard, cap)
    if plain:
        _ATTAINMENTS.keep((done, standard, cap), k)
    return k


# The types whose values alone decide k (a bool or a float is refused by the checks).
_PLAIN = (int, Decimal)
_ATTAINMENTS: Memo[tuple[Number, Number, Number], Decimal] = Memo()


def _workload_attainment(done: Number, standard: Number, cap: Number) -> Decimal:
    """``workload_attainment`` checked and worked out."""
    exact_done = check_number(done, "完成工作量")
    exact_standard = check_number(standard, "标准工作量")
    exact_cap = check_number(cap, "工作量达标系数上限")
    if exact_done < 0:
        raise SettlementInputError(f"完成工作量不能为负数：{done}")
    if exact_standard <= 0:
        raise SettlementInputError(f"标准工作量必须大于 0：{standard}")
    if exact_cap <= 0:
        raise SettlementInputError(f"工作量达标系数上限必须大于 0：{cap}")
    rounded = round_half_up(exact_done / exact_standard, ATTAINMENT_PLACES)
    return exact_decimal(min(rounded, exact_cap))


def distribute_team(
    amount_fen: int, reserve_rate: Number, members: Sequence[MemberInput]
) -> TeamDistribution:
    """Second distribution inside a team (二次分配, seed 4).

    The reserve (部门基金) is ``reserve_rate × amount_fen`` rounded half-up to the fen; the rest
    goes to members by ``k × y × c × a`` with the largest-remainder method. Members on probation
    get 0 and carry no weight. When no member carries weight (all on probation, or every k or a
    is 0) nothing is distributed and the whole amount stays in the reserve.
    """
    amount = check_whole(amount_fen, "团队待分配金额", "分")
    rate = check_rate(reserve_rate, "部门基金提取比例")
    names, factors, probations, weights = _team_members(members)
    configured_reserve, distributed, amounts = _split_team(amount, rate, names, weights)
    total_weight = sum(weights, Fraction(0))
    shares = tuple(
        MemberShare(
            name=names[i],
            k=exact_decimal(factors[i][0]),
            y=exact_decimal(factors[i][1]),
            c=exact_decimal(factors[i][2]),
            a=exact_decimal(factors[i][3]),
            probation=probations[i],
            weight=exact_decimal(weights[i]),
            share=weights[i] / total_weight if total_weight > 0 else Fraction(0),
            amount_fen=amounts[i],
        )
        for i in range(len(names))
    )
    return TeamDistribution(
        amount_fen=amount,
        reserve_rate=exact_decimal(rate),
        configured_reserve_fen=configured_reserve,
        reserve_fen=amount - distributed,
        distributed_fen=distributed,
        members=shares,
    )


def _team_members(
    members: Sequence[MemberInput],
) -> tuple[
    list[str], list[tuple[Fraction, Fraction, Fraction, Fraction]], list[bool], list[Fraction]
]:
    """The members checked: names, (k, y, c, a), probation flags and weights k × y × c × a
    (0 on probation)."""
    if not members:
        raise SettlementInputError("团队没有成员，无法分配")
    names: list[str] = []
    factors: list[tuple[Fraction, Fraction, Fraction, Fraction]] = []
    probations: list[bool] = []
    weights: list[Fraction] = []
    seen: set[str] = set()
    for position, member in enumerate(members, start=1):
        name = check_name(member.name, f"第 {position} 位成员的姓名")
        check_unique(name, seen, f"成员姓名重复：「{name}」")
        label = f"成员「{name}」的"
        k = check_factor(member.k, label, "工作量达标系数 k")
        y = check_factor(member.y, label, "岗位系数 y")
        c = check_factor(member.c, label, "个人绩效考评系数 c")
        a = check_factor(member.a, label, "出勤系数 a")
        if k < 0:
            raise SettlementInputError(f"{label}工作量达标系数 k 不能为负数：{member.k}")
        if y <= 0:
            raise SettlementInputError(f"{label}岗位系数 y 必须大于 0：{member.y}")
        if not C_MIN <= c <= C_MAX:
            raise SettlementInputError(
                f"{label}个人绩效考评系数 c 必须在 0.8 到 1.2 之间：{member.c}"
            )
        if not 0 <= a <= 1:
            raise SettlementInputError(f"{label}出勤系数 a 必须在 0 到 1 之间：{member.a}")
        if not isinstance(member.probation, bool):
            raise SettlementInputError(
                f"{label}试用期标记必须是 true 或 false：{member.probation!r}"
            )
        names.append(name)
        factors.append((k, y, c, a))
        probations.append(member.probation)
        weights.append(Fraction(0) if member.probation else k * y * c * a)
    return names, factors, probations, weights


def _split_team(
    amount: int, rate: Fraction, names: list[str], weights: list[Fraction]
) -> tuple[int, int, list[int]]:
    """The configured reserve, the amount distributed and each member's part."""
    configured_reserve = _to_int(round_half_up(rate * amount))
    distributable = amount - configured_reserve
    total_weight = sum(weights, Fraction(0))
    distributed = distributable if total_weight > 0 else 0
    return configured_reserve, distributed, largest_remainder(distributed, weights, names)


@value
class TeamWeights:
    """A team's members checked once (``team_weights``): names and weights k × y × c × a."""

    names: tuple[str, ...]
    weights: tuple[Fraction, ...]


def team_weights(members: Sequence[MemberInput]) -> TeamWeights:
    """The members' names and weights as ``distribute_team`` checks and computes them."""
    names, _factors, _probations, weights = _team_members(members)
    return TeamWeights(tuple(names), tuple(weights))


def team_amounts(amount_fen: int, reserve_rate: Number, team: TeamWeights) -> list[int]:
    """The members' amounts of ``distribute_team`` (same order), without the rest of its result:
    for recomputing a team whose members have not changed (a simulation)."""
    amount = check_whole(amount_fen, "团队待分配金额", "分")
    rate = check_rate(reserve_rate, "部门基金提取比例")
    return _split_team(amount, rate, list(team.names), list(team.weights))[2]
