"""The team's second distribution as the source documents run it (二次分配, seeds 4 and 6).

``assessments.settlement.distribute_team`` keeps a reserve and splits the rest by
``k × y × c × a``. This module adds what seeds 4 and 6 do around it:

* **Deductions into the fund (扣分进部门基金).** Seed 6: "每扣1分值扣1%奖金"; seed 4: "扣罚的奖金也
  留作部门基金". The team's internal check deducts points from a member; each point costs 1% of
  that member's amount (``deducted = gross × points / 100``, rounded half-up to the fen, at most
  the whole amount: 100 points or more take all of it). The deducted money goes to the team fund
  (部门基金), not to the other members.
* **The leader's share (部门负责人).** Seed 4: "各部门负责人不参与部门内奖金的分配，而纳入行政统筹
  考核分配体系". With ``leaders_in_split=False`` — the default, because the seed says so — a member
  marked ``leader`` takes no part in the team split (weight 0, amount 0) and is paid instead from
  the institution's management share (``management_share``), by the team's assessment result.
  With ``leaders_in_split=True`` the leader is an ordinary member of the split (the behaviour of
  ``distribute_team``).

The fund of a team is then ``reserve_fen = configured reserve + Σ deducted + undistributed`` (the
last is the whole distributable amount when no member carries weight, e.g. an all-probation team),
and always ``reserve_fen + Σ amount_fen == amount_fen``.

Factors from their sources: ``a`` from days (``assessments.attendance``), ``k`` from workload
points (``assessments.workload``); this module takes the factors themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from assessments.checks import (  # the settlement's checks, so messages read the same
    check_name,
    check_number,
    check_rate,
    check_score,
    check_whole,
)
from assessments.memo import Memo
from assessments.money import (
    SettlementInputError,
    exact_decimal,
    exact_fraction,
    fraction_sum,
    largest_remainder,
    round_half_up,
    split_scaled,
    to_fraction,
)
from assessments.settlement import (
    C_MAX,
    C_MIN,
    DEFAULT_RESERVE_RATE,
    MemberInput,
    Number,
    distribute_team,
)
from assessments.values import value

__all__ = [
    "DEFAULT_LEADERS_IN_SPLIT",
    "DistributionMember",
    "LeaderInput",
    "LeaderShare",
    "ManagementShare",
    "MemberPay",
    "TeamPay",
    "deduction_fen",
    "distribute_members",
    "management_share",
]

# Seed 4: 各部门负责人不参与部门内奖金的分配.
DEFAULT_LEADERS_IN_SPLIT = False
POINT_VALUE = Fraction(1, 100)  # each deduction point costs 1% of the member's amount

# --------------------------------------------------------------------------- team


@value
class DistributionMember:
    """A team member: the four factors (see ``MemberInput``), probation, leader, deductions.

    ``deduction_points`` are the points deducted by the team's internal check for the period
    (the reason and who decided are the app's to record).
    """

    name: str
    k: Number
    y: Number
    c: Number
    a: Number
    probation: bool = False
    leader: bool = False
    deduction_points: Number = 0


@value
class MemberPay:
    """A member's line of the team's distribution.

    ``in_split`` is False for probation members and for leaders outside the split
    (``paid_by_management``). ``gross_fen`` is the member's part of the split,
    ``deducted_fen`` what the deduction points took to the fund, ``amount_fen`` what is paid.
    """

    name: str
    k: Decimal
    y: Decimal
    c: Decimal
    a: Decimal
    probation: bool
    leader: bool
    in_split: bool
    paid_by_management: bool
    weight: Decimal
    share: Fraction
    gross_fen: int
    deduction_points: Decimal
    deducted_fen: int
    amount_fen: int


@value
class TeamPay:
    """A team's distribution with deductions and the leader rule.

    ``reserve_fen`` (the team fund 部门基金) = ``configured_reserve_fen`` (the reserve rate's
    part) + ``deducted_fen`` (every deduction) + ``undistributed_fen`` (all of the rest when no
    member carries weight). ``paid_fen`` = Σ members' ``amount_fen``;
    ``reserve_fen + paid_fen == amount_fen`` always. ``total_weight`` = Σ members' ``weight``
    (exact), what each ``share`` is of.
    """

    amount_fen: int
    reserve_rate: Decimal
    leaders_in_split: bool
    configured_reserve_fen: int
    deducted_fen: int
    undistributed_fen: int
    reserve_fen: int
    paid_fen: int
    members: tuple[MemberPay, ...]
    total_weight: Fraction = Fraction(0)


def deduction_fen(gross_fen: int, points: Number | Fraction, *, member: str = "") -> int:
    """What ``points`` deduction points take from ``gross_fen``: 1% a point, half-up, capped."""
    label = f"成员「{member}」的扣分" if member else "扣分"
    exact_points = to_fraction(points, label)
    if exact_points < 0:
        raise SettlementInputError(f"{label}不能为负数：{points}")
    deducted = round_half_up(gross_fen * exact_points * POINT_VALUE)
    return min(gross_fen, deducted.numerator)


def distribute_members(
    amount_fen: int,
    members: Sequence[DistributionMember],
    *,
    reserve_rate: Number = DEFAULT_RESERVE_RATE,
    leaders_in_split: bool = DEFAULT_LEADERS_IN_SPLIT,
) -> TeamPay:
    """The team's second distribution with deductions into the fund and the leader rule.

    1. The reserve is ``reserve_rate × amount_fen`` (half-up), as in ``distribute_team``.
    2. The rest is split by ``k × y × c × a`` (largest remainder, stated tie rule) over the
       members in the split: not on probation, and not a leader when ``leaders_in_split`` is
       False. If nobody carries weight, nothing is split and all stays in the fund.
    3. Each member's deduction points take 1% each of their part into the fund.
    """
    _check_leader_flags(members, leaders_in_split)
    fast = _distribute_decimal(amount_fen, members, reserve_rate, leaders_in_split)
    if fast is not None:
        return fast
    return _distribute_general(amount_fen, members, reserve_rate, leaders_in_split)


def _distribute_general(
    amount_fen: int,
    members: Sequence[DistributionMember],
    reserve_rate: Number,
    leaders_in_split: bool,
) -> TeamPay:
    """``distribute_members`` for any input: every check of ``distribute_team``, in order."""
    outside = [member.leader and not leaders_in_split for member in members]
    # A leader outside the split carries no weight, exactly like a member on probation; the
    # base function checks every factor and does the split.
    base = distribute_team(
        amount_fen,
        reserve_rate,
        [
            MemberInput(
                name=member.name,
                k=member.k,
                y=member.y,
                c=member.c,
                a=member.a,
                probation=member.probation or out,
            )
            for member, out in zip(members, outside, strict=True)
        ],
    )
    lines: list[MemberPay] = []
    for member, out, share in zip(members, outside, base.members, strict=True):
        if type(member.deduction_points) is Decimal and not member.deduction_points:
            points, deducted = Fraction(0), 0  # no deduction, the common case
        else:
            label = f"成员「{share.name}」的扣分"
            points = to_fraction(member.deduction_points, label)
            if points < 0:
                raise SettlementInputError(f"{label}不能为负数：{member.deduction_points}")
            deducted = deduction_fen(share.amount_fen, points, member=share.name)
        lines.append(
            MemberPay(
                name=share.name,
                k=share.k,
                y=share.y,
                c=share.c,
                a=share.a,
                probation=member.probation,
                leader=member.leader,
                in_split=not (member.probation or out),
                paid_by_management=out and not member.probation,
                weight=share.weight,
                share=share.share,
                gross_fen=share.amount_fen,
                deduction_points=exact_decimal(points),
                deducted_fen=deducted,
                amount_fen=share.amount_fen - deducted,
            )
        )
    deducted_total = sum(line.deducted_fen for line in lines)
    undistributed = base.reserve_fen - base.configured_reserve_fen
    return TeamPay(
        amount_fen=base.amount_fen,
        reserve_rate=base.reserve_rate,
        leaders_in_split=leaders_in_split,
        configured_reserve_fen=base.configured_reserve_fen,
        deducted_fen=deducted_total,
        undistributed_fen=undistributed,
        reserve_fen=base.reserve_fen + deducted_total,
        paid_fen=sum(line.amount_fen for line in lines),
        members=tuple(lines),
        total_weight=sum((Fraction(line.weight) for line in lines), Fraction(0)),
    )


def _check_leader_flags(members: Sequence[DistributionMember], leaders_in_split: object) -> None:
    """The leader rule's flags are booleans (the base function checks every other field)."""
    if not isinstance(leaders_in_split, bool):
        raise SettlementInputError(
            f"负责人是否参与团队分配（leaders_in_split）必须是 true 或 false：{leaders_in_split!r}"
        )
    for position, member in enumerate(members, start=1):
        if not isinstance(member.leader, bool):
            who = member.name if isinstance(member.name, str) else f"第 {position} 位成员"
            raise SettlementInputError(
                f"成员「{who}」的负责人标记必须是 true 或 false：{member.leader!r}"
            )


# --------------------------------------------------------------------------- the team in integers


class _Weighed(NamedTuple):
    """A member's factors checked as ``distribute_team`` checks them (k ≥ 0, y > 0,
    0.8 ≤ c ≤ 1.2, 0 ≤ a ≤ 1), in their shortest form, and the weight k × y × c × a: as a
    Decimal and as ``scaled`` ÷ 10 ** ``places`` (the fewest places)."""

    k: Decimal
    y: Decimal
    c: Decimal
    a: Decimal
    weight: Decimal
    scaled: int
    places: int


# The factors (k, y, c, a) already weighed: a city's members have few distinct ones.
_WEIGHED: Memo[tuple[Decimal, Decimal, Decimal, Decimal], _Weighed] = Memo()


def _weigh(k: Decimal, y: Decimal, c: Decimal, a: Decimal) -> _Weighed | None:
    """The factors checked and weighed, or None when one is out of range or not finite (then
    the general path names the problem)."""
    fk, fy, fc, fa = (exact_fraction(value) for value in (k, y, c, a))
    if fk is None or fy is None or fc is None or fa is None:
        return None
    if fk < 0 or fy <= 0 or not C_MIN <= fc <= C_MAX or not 0 <= fa <= 1:
        return None
    weight = fk * fy * fc * fa
    shown = exact_decimal(weight)
    places = max(0, -int(shown.as_tuple().exponent))
    scaled = weight.numerator * 10**places // weight.denominator
    weighed = _Weighed(
        exact_decimal(fk),
        exact_decimal(fy),
        exact_decimal(fc),
        exact_decimal(fa),
        shown,
        scaled,
        places,
    )
    return _WEIGHED.keep((k, y, c, a), weighed)


def _weighed(member: DistributionMember) -> _Weighed | None:
    """``_weigh`` of the member's factors when all four are Decimals, remembered."""
    k, y, c, a = member.k, member.y, member.c, member.a
    if type(k) is not Decimal or type(y) is not Decimal:
        return None
    if type(c) is not Decimal or type(a) is not Decimal:
        return None
    try:
        known = _WEIGHED.get((k, y, c, a))
    except TypeError:  # a signalling NaN cannot be hashed: the general path says what it says
        return None
    return known if known is not None else _weigh(k, y, c, a)


def _points(value: object) -> Fraction | None:
    """Deduction points the fast path takes (an int or a finite Decimal, ≥ 0), else None."""
    if type(value) is int:
        exact: Fraction | None = Fraction(value)
    elif type(value) is Decimal and value.is_finite():
        exact = exact_fraction(value)
    else:
        return None
    return exact if exact is not None and exact >= 0 else None


def _distribute_decimal(
    amount_fen: object,
    members: Sequence[DistributionMember],
    reserve_rate: object,
    leaders_in_split: bool,
) -> TeamPay | None:
    """``distribute_members`` of an ordinary team in integers; None for any other team.

    A city's settlement splits some two thousand teams whose factors are Decimals of a few
    distinct values. Here each distinct (k, y, c, a) is checked and weighed once (``_weighed``)
    and the team's weights are integers over one power of ten, so the split, the shares and the
    amounts need no ``Fraction`` arithmetic. The result is the general path's, field for field
    (``tests/core/test_distribution_fast.py``): the same checks, the same largest-remainder
    split (scaling the weights changes no part). Whatever the path does not take as ordinary —
    a factor that is not a Decimal or out of range, a blank or repeated name, a flag that is not
    a bool, an amount that is not an int ≥ 0 — goes to the general path, which accepts it or
    refuses it with its own message.
    """
    if type(amount_fen) is not int or amount_fen < 0 or not members:
        return None
    if type(reserve_rate) is not Decimal or not reserve_rate.is_finite():
        return None
    rate = exact_fraction(reserve_rate)
    if rate is None or not 0 <= rate <= 1:
        return None
    rows = _weighed_rows(members)
    if rows is None:
        return None
    outside = [member.leader and not leaders_in_split for member in members]
    top = max(row.places for row in rows)
    scaled = [
        0 if member.probation or out else row.scaled * 10 ** (top - row.places)
        for member, out, row in zip(members, outside, rows, strict=True)
    ]
    total = sum(scaled)
    configured = round_half_up(rate * amount_fen).numerator
    distributed = amount_fen - configured if total > 0 else 0
    gross = split_scaled(distributed, scaled, [member.name for member in members])
    lines = _pay_lines(members, outside, rows, scaled, gross)
    if lines is None:
        return None
    deducted_total = sum(line.deducted_fen for line in lines)
    return TeamPay(
        amount_fen=amount_fen,
        reserve_rate=exact_decimal(rate),
        leaders_in_split=leaders_in_split,
        configured_reserve_fen=configured,
        deducted_fen=deducted_total,
        undistributed_fen=amount_fen - distributed - configured,
        reserve_fen=amount_fen - distributed + deducted_total,
        paid_fen=sum(line.amount_fen for line in lines),
        members=tuple(lines),
        total_weight=Fraction(total, 10**top),
    )


def _weighed_rows(members: Sequence[DistributionMember]) -> list[_Weighed] | None:
    """Each member weighed, or None when a name is blank or repeated, a probation flag is not a
    bool or a factor is not taken (see ``_weighed``)."""
    rows: list[_Weighed] = []
    seen: set[str] = set()
    for member in members:
        name = member.name
        if type(name) is not str or name in seen or not name.strip():
            return None
        if type(member.probation) is not bool:
            return None
        weighed = _weighed(member)
        if weighed is None:
            return None
        seen.add(name)
        rows.append(weighed)
    return rows


_ZERO = Decimal(0)


def _pay_lines(
    members: Sequence[DistributionMember],
    outside: list[bool],
    rows: list[_Weighed],
    scaled: list[int],
    gross: list[int],
) -> list[MemberPay] | None:
    """The members' lines from their scaled weights and parts, with their deductions; None
    when a member's deduction points are not an int or a finite Decimal ≥ 0."""
    total = sum(scaled)
    lines: list[MemberPay] = []
    for member, out, row, weight, part in zip(members, outside, rows, scaled, gross, strict=True):
        points = member.deduction_points
        if type(points) is Decimal and not points:
            shown_points, deducted = _ZERO, 0  # no deduction, the common case
        else:
            exact = _points(points)
            if exact is None:
                return None
            deducted = deduction_fen(part, exact, member=member.name)
            shown_points = exact_decimal(exact)
        weighs = not (member.probation or out)
        lines.append(
            MemberPay(
                name=member.name,
                k=row.k,
                y=row.y,
                c=row.c,
                a=row.a,
                probation=member.probation,
                leader=member.leader,
                in_split=weighs,
                paid_by_management=out and not member.probation,
                weight=row.weight if weighs else _ZERO,
                share=Fraction(weight, total) if total > 0 else Fraction(0),
                gross_fen=part,
                deduction_points=shown_points,
                deducted_fen=deducted,
                amount_fen=part - deducted,
            )
        )
    return lines


# --------------------------------------------------------------------------- management share


@value
class LeaderInput:
    """A team leader outside the team split, paid from the institution's management share.

    ``score`` is the team's assessment result (the S of the team's line, 0–100, two decimals at
    most); ``y`` the leader's post coefficient (岗位系数, seed 4's 行政统筹 ``y × w × 考评系数``),
    1 unless configured. Leaders on probation get none.
    """

    name: str
    team: str
    score: Number
    y: Number = 1
    probation: bool = False


@value
class LeaderShare:
    name: str
    team: str
    score: Decimal
    y: Decimal
    probation: bool
    weight: Decimal
    share: Fraction
    amount_fen: int


@value
class ManagementShare:
    """The institution's management share (行政统筹) and what goes on to its teams.

    ``configured_management_fen`` = rate × institution amount (half-up). ``management_fen`` is
    what the leaders are paid: the configured part, or 0 when no leader carries weight (then
    nothing is set aside). ``teams_fen = institution_amount_fen − management_fen`` is what the
    institution's teams share as before. ``total_weight`` = Σ leaders' ``weight`` (exact).
    """

    institution_amount_fen: int
    management_rate: Decimal
    configured_management_fen: int
    management_fen: int
    teams_fen: int
    leaders: tuple[LeaderShare, ...]
    total_weight: Fraction = Fraction(0)


def management_share(
    institution_amount_fen: int, management_rate: Number, leaders: Sequence[LeaderInput]
) -> ManagementShare:
    """Set the management share aside and split it over the leaders by ``y × team score``.

    The rate is the institution's configuration (the seeds give no figure, so there is no
    default). Largest remainder with the stated tie rule; the tie key is ``team·name``.
    """
    amount = check_whole(institution_amount_fen, "机构金额", "分")
    rate = check_rate(management_rate, "负责人统筹比例")
    keys: list[str] = []
    rows: list[tuple[str, str, Fraction, Fraction, bool]] = []
    seen: set[str] = set()
    for position, leader in enumerate(leaders, start=1):
        name = check_name(leader.name, f"第 {position} 位负责人的姓名")
        team = check_name(leader.team, f"负责人「{name}」的团队")
        key = f"{team}·{name}"
        if key in seen:
            raise SettlementInputError(f"负责人重复：「{team}」的「{name}」")
        seen.add(key)
        label = f"负责人「{name}」（{team}）的"
        score = check_score(leader.score, label + "团队考核得分")
        y = check_number(leader.y, label + "岗位系数 y")
        if y <= 0:
            raise SettlementInputError(f"{label}岗位系数 y 必须大于 0：{leader.y}")
        if not isinstance(leader.probation, bool):
            raise SettlementInputError(f"{label}试用期标记必须是 true 或 false")
        keys.append(key)
        rows.append((name, team, score, y, leader.probation))

    weights = [Fraction(0) if probation else y * score for _, _, score, y, probation in rows]
    total_weight = fraction_sum(weights)
    configured = round_half_up(rate * amount).numerator
    paid = configured if total_weight > 0 else 0
    amounts = largest_remainder(paid, weights, keys)
    return ManagementShare(
        institution_amount_fen=amount,
        management_rate=exact_decimal(rate),
        configured_management_fen=configured,
        management_fen=paid,
        teams_fen=amount - paid,
        leaders=tuple(
            LeaderShare(
                name=name,
                team=team,
                score=exact_decimal(score),
                y=exact_decimal(y),
                probation=probation,
                weight=exact_decimal(weights[i]),
                share=weights[i] / total_weight if total_weight > 0 else Fraction(0),
                amount_fen=amounts[i],
            )
            for i, (name, team, score, y, probation) in enumerate(rows)
        ),
        total_weight=total_weight,
    )
