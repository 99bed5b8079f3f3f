"""A team's amount over its members (二次分配): the reserve (部门基金), then k × y × c × a, the
deductions into the fund and the leader rule (``assessments.distribution.distribute_members``).

Each factor is taken from its source when the member has one: ``k`` from workload points
(``assessments.workload``), ``a`` from monthly attendance records in days
(``assessments.attendance``). This module checks the members' factors and writes one line per
member and one for the reserve (the team fund: the reserve rate's part, every deduction, and
what could not be shared). Neither line carries steps: they are ``member_steps`` and
``reserve_steps`` of what the line keeps, written when it is shown (``steps.line_steps``).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from assessments.attendance import LEAVE_KINDS, Attendance, attendance, attendance_from_totals
from assessments.cascade.groups import Sheet, unique_keys
from assessments.cascade.inputs import CountyInput, InstitutionInput, MemberInput, TeamInput
from assessments.cascade.lines import Explanation, Line, MemberFactors, whole_figure
from assessments.cascade.text import approx, frac, num
from assessments.distribution import DistributionMember, MemberPay, TeamPay, distribute_members
from assessments.money import (
    SettlementInputError,
    exact_decimal,
    fraction_of,
    times_whole,
    whole_less,
    yuan,
)
from assessments.settlement import share_for_display, workload_attainment
from assessments.workload import attainment_from_points

__all__ = [
    "leaders_outside",
    "member_factors",
    "member_steps",
    "reserve_steps",
    "team_members",
]


def leaders_outside(inst: InstitutionInput, member: MemberInput) -> bool:
    """True when the member is a leader paid outside the team split (not on probation)."""
    return member.leader and not inst.leaders_in_split


class _Prepared(NamedTuple):
    """A member as prepared for the split: the core's member, notes, attendance (a tuple: one
    is made for every member and read once)."""

    core: DistributionMember
    notes: tuple[str, ...]
    attendance: Attendance | None


def team_members(
    sheet: Sheet,
    county: CountyInput,
    inst: InstitutionInput,
    team: TeamInput,
    amount: int,
    parent: str,
) -> None:
    """The member lines and the reserve line of one team's ``amount``."""
    members = team.members
    if not members:
        if amount > 0:
            raise SettlementInputError(f"团队「{team.name}」没有成员，无法分配 {yuan(amount)} 元")
        return
    keys = unique_keys([m.name for m in members], [m.username for m in members])
    prepared = [
        _factors(sheet, inst, team, member, name)
        for member, name in zip(members, keys, strict=True)
    ]
    pay = distribute_members(
        amount,
        [p.core for p in prepared],
        reserve_rate=sheet.reserve_rate,
        leaders_in_split=inst.leaders_in_split,
    )
    for member, share, prep in zip(members, pay.members, prepared, strict=True):
        sheet.lines.append(
            _member_line(sheet, county, inst, team, member, share, prep, pay, parent)
        )
    sheet.lines.append(_reserve_line(county, inst, team, pay, amount, parent))


def _attendance(member: MemberInput, name: str) -> Attendance | None:
    if member.attendance_totals is not None:
        return attendance_from_totals(member.attendance_totals, member=name)
    if member.attendance is None:
        return None
    return attendance(member.attendance, member=name)


def member_factors(
    sheet: Sheet, inst: InstitutionInput, team: TeamInput
) -> list[DistributionMember]:
    """The team's members as ``distribute_members`` takes them, the same as ``team_members``
    prepares them: with these, ``distribute_members(amount, …)`` gives the amounts of the team's
    member lines without writing the lines (the simulation reuses them for every step)."""
    members = team.members
    keys = unique_keys([m.name for m in members], [m.username for m in members])
    return [
        _factors(sheet, inst, team, member, name).core
        for member, name in zip(members, keys, strict=True)
    ]


def _factors(
    sheet: Sheet, inst: InstitutionInput, team: TeamInput, member: MemberInput, name: str
) -> _Prepared:
    """The member's k, y, c, a for the core, and notes on the factors that were filled in."""
    notes: list[str] = []
    # Members who carry no weight need none of the factors; their line shows placeholders.
    exempt = member.probation or leaders_outside(inst, member)
    why = "试用期成员不参与分配" if member.probation else "负责人不参与团队分配"
    if member.points is not None:
        if member.standard_points is None and not exempt:
            raise SettlementInputError(f"岗位「{member.post or '未填写'}」未配置标准工作量点数")
        if member.standard_points is None:
            k = Decimal(0)
            notes.append(f"未配置标准工作量点数，k 记为 0（{why}）")
        else:
            k = attainment_from_points(member.points, member.standard_points, sheet.cap)
    elif member.standard is None:
        if not exempt:
            raise SettlementInputError(f"岗位「{member.post or '未填写'}」未配置标准工作量")
        k = Decimal(0)
        notes.append(f"未配置标准工作量，k 记为 0（{why}）")
    else:
        k = workload_attainment(member.services, member.standard, sheet.cap)
    days = None
    months = member.attendance_months
    if months is not None and (months or not exempt):
        days = _attendance(member, name)
    a = days.a if days is not None else member.a
    y, c = member.y, member.c
    if not exempt and (y is None or c is None or a is None):
        raise SettlementInputError(
            f"团队「{team.name}」成员「{member.name}」缺少岗位系数、个人绩效考评系数或出勤记录"
        )
    if y is None:
        y = Decimal(1)
        notes.append(f"岗位未配置岗位系数，按 1 列示（{why}）")
    if c is None:
        c = Decimal(1)
        notes.append(f"未录入个人绩效考评系数，按 c = 1 列示（{why}）")
    if a is None:
        a = Decimal(1)
        notes.append(f"没有出勤记录，按 a = 1 列示（{why}）")
    return _Prepared(
        DistributionMember(
            name=name,
            k=k,
            y=y,
            c=c,
            a=a,
            probation=member.probation,
            leader=member.leader,
            deduction_points=member.deduction_points,
        ),
        tuple(notes),
        days,
    )


def _num(value: Decimal | int | None) -> str:
    return "—" if value is None else num(value)


def _k_step(f: MemberFactors) -> str:
    cap = "—" if f.cap is None else str(f.cap)
    if f.k_source == "points":
        table = f"，点数表：{f.point_table}" if f.point_table else ""
        return (
            f"k（工作量达标系数）= min(本年工作量 {_num(f.points)} 点 ÷ 标准 "
            f"{_num(f.standard_points)} 点, 上限 {cap}) = {f.k}（点数 = Σ 各类有效服务记录数 × "
            f"该类点数{table}；核实为虚假或有争议的记录不计）"
        )
    return (
        f"k（工作量达标系数）= min(本年服务 {num(f.services)} 次 ÷ 标准 "
        f"{_num(f.standard)} 次, 上限 {cap}) = {f.k}"
    )


def _a_step(f: MemberFactors) -> str:
    if f.days_due is None:
        if f.a_source == "days":
            return f"a（出勤系数）：本年没有出勤记录，按 {f.a} 列示"
        return f"a（出勤系数，团队长录入）= {f.a}"
    leave = "、".join(
        f"{LEAVE_KINDS.get(kind, kind)} {num(n)} 天"
        for kind, n in sorted((f.leave_days or {}).items())
        if n
    )
    text = (
        f"a（出勤系数）= 实际出勤 {_num(f.days_worked)} 天 ÷ 应出勤 {num(f.days_due)} 天"
        f"（{f.attendance_months} 个月的出勤记录）= {f.a}"
    )
    if leave:
        text += f"；请假（不享受奖金）：{leave}"
    return text


def _member_line(
    sheet: Sheet,
    county: CountyInput,
    inst: InstitutionInput,
    team: TeamInput,
    member: MemberInput,
    share: MemberPay,
    prep: _Prepared,
    pay: TeamPay,
    parent: str,
) -> Line:
    distributed = pay.amount_fen - pay.configured_reserve_fen - pay.undistributed_fen
    exact = times_whole(share.share, distributed)
    factors = _member_factors(sheet, member, share, prep.attendance, pay.total_weight, distributed)
    return Line(
        key=f"member:{team.unit_id}:{member.user_id}",
        parent=parent,
        level="member",
        name=member.name,
        user_id=member.user_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        team_id=team.unit_id,
        weight=share.weight,
        share=share.share,
        share_display=share_for_display(share.share),
        exact_fen=exact,
        entitled_fen=share.amount_fen,
        rounding_adjustment=whole_less(share.gross_fen, exact),
        explanation=Explanation(
            formula="成员金额 = k × y × c × a ÷ Σ(k × y × c × a) × （团队应得 − 部门基金）"
            "；实发 = 成员金额 − 扣分金额（每分 1%）",
            steps=(),  # written when the line is shown: line_steps, member_steps
            notes=prep.notes,
            factors=factors,
        ),
    )


def member_steps(factors: MemberFactors, weight: Decimal, share: Fraction) -> tuple[str, ...]:
    """How a member's amount came about, step by step (Chinese), from what the member line
    keeps: its ``factors`` and its ``weight`` and ``share``. A pure function of them, so the
    cascade does not write them: they are written when the line is shown (``line_steps``)."""
    f = factors
    distributed = f.distributed_fen
    exact = share * distributed
    rounding = f.gross_fen - exact
    steps = [
        _k_step(f),
        f"y（岗位系数，岗位：{f.post or '未填写'}）= {f.y}",
        f"c（个人绩效考评系数，团队长录入）= {f.c}",
        _a_step(f),
    ]
    if f.probation:
        steps.append("试用期成员：权重为 0，不参与分配（试用期内不享受绩效奖金）")
    elif f.paid_by_management:
        steps.append(
            "团队负责人：不参与部门内奖金的分配，由机构的负责人统筹份额按团队考核结果支付"
            "（见机构下的“负责人统筹”行）"
        )
    else:
        steps.append(f"权重 = k × y × c × a = {f.k} × {f.y} × {f.c} × {f.a} = {weight}")
    if distributed and f.total_weight and f.in_split:
        steps += [
            f"份额 = {weight} ÷ Σ权重 {exact_decimal(f.total_weight)} = {frac(share)}"
            f" ≈ {share_for_display(share)}",
            f"精确金额 = 份额 × 可分配 {num(distributed)} 分 = {approx(exact)} 分",
            f"按最大余额法取整：{num(f.gross_fen)} 分（{yuan(f.gross_fen)} 元）",
            f"舍入调整 = {approx(rounding, sign=True)} 分（精确值 {frac(rounding)} 分）",
        ]
    elif f.in_split:
        steps.append("本团队没有可分配金额或没有成员有权重：本人 0 元，全部留在部门基金")
    if f.deduction_points:
        steps.append(
            f"团队内部考核扣 {f.deduction_points} 分（{f.deduction_count} 条记录），"
            f"每分扣 1%：{num(f.gross_fen)} × {f.deduction_points}% = "
            f"{num(f.deducted_fen)} 分（四舍五入，最多扣完），扣款进入部门基金"
        )
        steps.append(
            f"实发 = {num(f.gross_fen)} − {num(f.deducted_fen)} = "
            f"{num(f.amount_fen)} 分（{yuan(f.amount_fen)} 元）"
        )
    return tuple(steps)


def reserve_steps(line: Line) -> tuple[str, ...]:
    """How a team's fund (部门基金) came about (Chinese), from what its line keeps: the team's
    amount, the rate, the rate's part as configured, deductions, what no member could share and
    what the members were paid (``figures``), the exact part and the fund. Written when the line
    is shown (``line_steps``), not stored."""
    f = line.explanation.figures or {}
    amount = whole_figure(f, "team_fen")
    undistributed = whole_figure(f, "undistributed_fen")
    deducted = whole_figure(f, "deducted_fen")
    steps = [
        f"部门基金 = 提取比例 {f['reserve_rate']} × 团队应得 {num(amount)} 分 = "
        f"{approx(line.exact_fen or Fraction(0))} 分"
        f" → 四舍五入 {num(whole_figure(f, 'configured_reserve_fen'))} 分",
    ]
    if undistributed:
        steps.append(f"没有成员有权重，可分配的 {yuan(undistributed)} 元也留在部门基金")
    if deducted:
        steps.append(f"成员扣分扣款合计 {yuan(deducted)} 元进入部门基金")
    steps.append(
        f"部门基金 {yuan(line.entitled_fen or 0)} 元 + 成员实发合计 "
        f"{yuan(whole_figure(f, 'distributed_fen'))} 元 = 团队应得 {yuan(amount)} 元"
    )
    return tuple(steps)


def _member_factors(
    sheet: Sheet,
    member: MemberInput,
    share: MemberPay,
    days: Attendance | None,
    total_weight: Fraction,
    distributed: int,
) -> MemberFactors:
    """The member's factors, their sources and pay, as the line's explanation keeps them."""
    return MemberFactors(
        k=share.k,
        y=share.y,
        c=share.c,
        a=share.a,
        post=member.post or "",
        services=member.services,
        standard=member.standard,
        probation=share.probation,
        rating_id=member.rating_id,
        k_source="points" if member.points is not None else "records",
        points=member.points,
        standard_points=member.standard_points,
        point_table=member.point_table,
        a_source="days" if member.attendance_months is not None else "typed",
        days_due=days.days_due if days else None,
        days_worked=days.days_worked if days else None,
        leave_days=dict(days.leave_days) if days else None,
        attendance_months=member.attendance_months or 0,
        leader=share.leader,
        in_split=share.in_split,
        paid_by_management=share.paid_by_management,
        gross_fen=share.gross_fen,
        deduction_points=share.deduction_points,
        deduction_count=member.deduction_count,
        deducted_fen=share.deducted_fen,
        amount_fen=share.amount_fen,
        cap=sheet.cap,
        total_weight=total_weight,
        distributed_fen=distributed,
    )


def _reserve_line(
    county: CountyInput,
    inst: InstitutionInput,
    team: TeamInput,
    pay: TeamPay,
    amount: int,
    parent: str,
) -> Line:
    exact_reserve = times_whole(fraction_of(pay.reserve_rate), amount)
    return Line(
        key=f"reserve:{team.unit_id}",
        parent=parent,
        level="reserve",
        name="部门基金",
        unit_id=team.unit_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        team_id=team.unit_id,
        weight=pay.reserve_rate,
        exact_fen=exact_reserve,
        entitled_fen=pay.reserve_fen,
        rounding_adjustment=whole_less(pay.configured_reserve_fen, exact_reserve),
        explanation=Explanation(
            formula="部门基金 = 提取比例 × 团队应得（四舍五入到分）+ 成员扣分扣款 + 无人分配的余额",
            steps=(),  # written when the line is shown: reserve_steps
            figures={
                "team_fen": amount,
                "reserve_rate": str(pay.reserve_rate),
                "configured_reserve_fen": pay.configured_reserve_fen,
                "deducted_fen": pay.deducted_fen,
                "undistributed_fen": pay.undistributed_fen,
                "distributed_fen": pay.paid_fen,
                "leaders_in_split": pay.leaders_in_split,
            },
        ),
    )
