"""A team's amount over its members (二次分配): the reserve (部门基金), then k × y × c × a.

``distribute_team`` of ``assessments.settlement`` does the arithmetic; this module checks the
members' factors, and writes one line per member and one for the reserve.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from assessments.cascade.groups import Sheet, unique_keys
from assessments.cascade.inputs import CountyInput, InstitutionInput, MemberInput, TeamInput
from assessments.cascade.lines import Explanation, Line, MemberFactors
from assessments.cascade.text import approx, frac, num
from assessments.money import SettlementInputError, exact_decimal, yuan
from assessments.settlement import MemberInput as CoreMember
from assessments.settlement import (
    MemberShare,
    TeamDistribution,
    distribute_team,
    share_for_display,
    workload_attainment,
)

__all__ = ["member_factors", "team_members"]


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
        _factors(sheet, team, member, name) for member, name in zip(members, keys, strict=True)
    ]
    dist = distribute_team(amount, sheet.reserve_rate, [core for core, _ in prepared])
    total_weight = sum((Fraction(s.weight) for s in dist.members), Fraction(0))
    for member, share, (_, notes) in zip(members, dist.members, prepared, strict=True):
        sheet.lines.append(
            _member_line(
                sheet, county, inst, team, member, share, notes, dist, total_weight, parent
            )
        )
    sheet.lines.append(_reserve_line(county, inst, team, dist, amount, parent))


def member_factors(sheet: Sheet, team: TeamInput) -> list[CoreMember]:
    """The team's members as ``distribute_team`` takes them (k, y, c, a), the same as
    ``team_members`` computes them: with these, ``distribute_team(amount, reserve_rate, …)``
    gives the amounts of the team's member lines without writing the lines."""
    members = team.members
    keys = unique_keys([m.name for m in members], [m.username for m in members])
    return [
        _factors(sheet, team, member, name)[0] for member, name in zip(members, keys, strict=True)
    ]


def _factors(
    sheet: Sheet, team: TeamInput, member: MemberInput, name: str
) -> tuple[CoreMember, tuple[str, ...]]:
    """The member's k, y, c, a for the core, and notes on the factors that were filled in."""
    notes: list[str] = []
    probation = member.probation
    if member.standard is None and not probation:
        raise SettlementInputError(f"岗位「{member.post or '未填写'}」未配置标准工作量")
    if member.standard is None:
        k = Decimal(0)
        notes.append("未配置标准工作量，k 记为 0（试用期成员不参与分配）")
    else:
        k = workload_attainment(member.services, member.standard, sheet.cap)
    y, c, a = member.y, member.c, member.a
    if not probation and (y is None or c is None or a is None):
        raise SettlementInputError(
            f"团队「{team.name}」成员「{member.name}」缺少岗位系数或个人系数"
        )
    if y is None:
        y = Decimal(1)
        notes.append("岗位未配置岗位系数，按 1 列示（试用期成员不参与分配）")
    if c is None or a is None:
        c, a = Decimal(1), Decimal(1)
        notes.append("未录入个人系数，按 c = 1、a = 1 列示（试用期成员不参与分配）")
    return CoreMember(name=name, k=k, y=y, c=c, a=a, probation=probation), tuple(notes)


def _member_line(
    sheet: Sheet,
    county: CountyInput,
    inst: InstitutionInput,
    team: TeamInput,
    member: MemberInput,
    share: MemberShare,
    notes: tuple[str, ...],
    dist: TeamDistribution,
    total_weight: Fraction,
    parent: str,
) -> Line:
    exact = share.share * dist.distributed_fen
    rounding = share.amount_fen - exact
    standard = num(member.standard) if member.standard is not None else "—"
    steps = [
        f"k（工作量达标系数）= min(本年服务 {num(member.services)} 次 ÷ 标准 "
        f"{standard} 次, 上限 {sheet.cap}) = {share.k}",
        f"y（岗位系数，岗位：{member.post or '未填写'}）= {share.y}",
        f"c（个人绩效考评系数，团队长录入）= {share.c}；a（出勤系数，团队长录入）= {share.a}",
    ]
    if share.probation:
        steps.append("试用期成员：权重为 0，不参与分配")
    else:
        steps.append(
            f"权重 = k × y × c × a = {share.k} × {share.y} × {share.c} × {share.a} = {share.weight}"
        )
    if dist.distributed_fen and total_weight:
        steps += [
            f"份额 = {share.weight} ÷ Σ权重 {exact_decimal(total_weight)} = {frac(share.share)}"
            f" ≈ {share_for_display(share.share)}",
            f"精确金额 = 份额 × 可分配 {num(dist.distributed_fen)} 分 = {approx(exact)} 分",
            f"按最大余额法取整：{num(share.amount_fen)} 分（{yuan(share.amount_fen)} 元）",
            f"舍入调整 = {approx(rounding, sign=True)} 分（精确值 {frac(rounding)} 分）",
        ]
    else:
        steps.append("本团队没有可分配金额或没有成员有权重：本人 0 元，全部留在部门基金")
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
        rounding_adjustment=rounding,
        explanation=Explanation(
            formula="成员金额 = k × y × c × a ÷ Σ(k × y × c × a) × （团队应得 − 部门基金）",
            steps=tuple(steps),
            notes=notes,
            factors=MemberFactors(
                k=share.k,
                y=share.y,
                c=share.c,
                a=share.a,
                post=member.post or "",
                services=member.services,
                standard=member.standard,
                probation=share.probation,
                rating_id=member.rating_id,
            ),
        ),
    )


def _reserve_line(
    county: CountyInput,
    inst: InstitutionInput,
    team: TeamInput,
    dist: TeamDistribution,
    amount: int,
    parent: str,
) -> Line:
    exact_reserve = Fraction(dist.reserve_rate) * amount
    steps = [
        f"部门基金 = 提取比例 {dist.reserve_rate} × 团队应得 {num(amount)} 分 = {approx(exact_reserve)} 分"
        f" → 四舍五入 {num(dist.configured_reserve_fen)} 分",
    ]
    if dist.reserve_fen != dist.configured_reserve_fen:
        steps.append(
            f"没有成员有权重，可分配的 {yuan(dist.reserve_fen - dist.configured_reserve_fen)} 元也留在部门基金"
        )
    steps.append(
        f"部门基金 {yuan(dist.reserve_fen)} 元 + 成员合计 {yuan(dist.distributed_fen)} 元 = 团队应得 {yuan(amount)} 元"
    )
    return Line(
        key=f"reserve:{team.unit_id}",
        parent=parent,
        level="reserve",
        name="部门基金",
        unit_id=team.unit_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        team_id=team.unit_id,
        weight=dist.reserve_rate,
        exact_fen=exact_reserve,
        entitled_fen=dist.reserve_fen,
        rounding_adjustment=dist.configured_reserve_fen - exact_reserve,
        explanation=Explanation(
            formula="部门基金 = 提取比例 × 团队应得（四舍五入到分）",
            steps=tuple(steps),
            figures={
                "reserve_rate": str(dist.reserve_rate),
                "configured_reserve_fen": dist.configured_reserve_fen,
                "distributed_fen": dist.distributed_fen,
            },
        ),
    )
