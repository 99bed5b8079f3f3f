"""The institution's management share (行政统筹) for team leaders outside the team split.

Seed 4: "各部门负责人不参与部门内奖金的分配，而纳入行政统筹考核分配体系". When an institution keeps
its leaders out of the team split (``InstitutionInput.leaders_in_split`` False), the
``management_rate`` part of its amount is set aside before the centre/stations split and shared
over its team leaders by ``y × their team's result`` (``assessments.distribution.management_share``);
the teams share the rest. Lines: one ``management`` line under the institution, one ``leader``
line per leader under it (``user_id`` set, like a member line).
"""

from __future__ import annotations

from fractions import Fraction

from assessments.cascade.groups import Sheet, unique_keys
from assessments.cascade.inputs import CountyInput, InstitutionInput, MemberInput, TeamInput
from assessments.cascade.lines import Explanation, Line, whole_figure
from assessments.cascade.members import leaders_outside
from assessments.cascade.teams import sheet_team_mean
from assessments.cascade.text import approx, frac, num
from assessments.distribution import LeaderInput, LeaderShare, ManagementShare, management_share
from assessments.money import SettlementInputError, times_whole, whole_less, yuan
from assessments.settlement import share_for_display

__all__ = ["institution_management", "leader_steps"]


def institution_management(
    sheet: Sheet, county: CountyInput, inst: InstitutionInput, amount: int, parent: str
) -> int:
    """Write the management-share lines of ``inst`` (if any); returns what its teams share."""
    leaders: list[tuple[TeamInput, MemberInput]] = [
        (team, member)
        for team in inst.teams
        for member in team.members
        if leaders_outside(inst, member)
    ]
    if not leaders:
        return amount
    if inst.management_rate is None:
        if all(member.probation for _, member in leaders):
            return amount  # leaders on probation are paid nothing: no share to set aside
        raise SettlementInputError(
            f"医疗机构「{inst.name}」的团队负责人不参与团队分配，但未配置负责人统筹比例"
        )
    keys = unique_keys([m.name for _, m in leaders], [m.username for _, m in leaders])
    inputs = []
    for (team, member), name in zip(leaders, keys, strict=True):
        if member.y is None and not member.probation:
            raise SettlementInputError(
                f"团队「{team.name}」负责人「{member.name}」的岗位「{member.post or '未填写'}」"
                "未配置岗位系数"
            )
        mean = sheet_team_mean(sheet, team)
        inputs.append(
            LeaderInput(
                name=name,
                team=team.code,
                score=mean.shown if mean.shown is not None else 0,
                y=member.y if member.y is not None else 1,
                probation=member.probation,
            )
        )
    share = management_share(amount, inst.management_rate, inputs)
    key = f"management:{inst.unit_id}"
    sheet.lines.append(_management_line(county, inst, share, amount, parent, key))
    for (team, member), leader in zip(leaders, share.leaders, strict=True):
        sheet.lines.append(_leader_line(county, inst, team, member, leader, share, key))
    return share.teams_fen


def _management_line(
    county: CountyInput,
    inst: InstitutionInput,
    share: ManagementShare,
    amount: int,
    parent: str,
    key: str,
) -> Line:
    exact = Fraction(share.management_rate) * amount
    steps = [
        "本机构设置：团队负责人不参与部门内奖金的分配，纳入行政统筹（负责人统筹份额）",
        f"负责人统筹 = 比例 {share.management_rate} × 机构应得 {num(amount)} 分 = {approx(exact)} 分"
        f" → 四舍五入 {num(share.configured_management_fen)} 分",
    ]
    if share.management_fen != share.configured_management_fen:
        steps.append("没有负责人有权重（均在试用期）：不提取统筹份额")
    steps.append(
        f"各部分（团队）分配 = 机构应得 {yuan(amount)} − 负责人统筹 {yuan(share.management_fen)}"
        f" = {yuan(share.teams_fen)} 元"
    )
    return Line(
        key=key,
        parent=parent,
        level="management",
        name="负责人统筹",
        unit_id=inst.unit_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        weight=share.management_rate,
        exact_fen=exact,
        entitled_fen=share.management_fen,
        rounding_adjustment=share.configured_management_fen - exact,
        explanation=Explanation(
            formula="负责人统筹 = 统筹比例 × 机构应得（四舍五入到分），按 y × 团队考核得分分给各团队负责人",
            steps=tuple(steps),
            figures={
                "management_rate": str(share.management_rate),
                "configured_management_fen": share.configured_management_fen,
                "teams_fen": share.teams_fen,
            },
        ),
    )


def _leader_line(
    county: CountyInput,
    inst: InstitutionInput,
    team: TeamInput,
    member: MemberInput,
    leader: LeaderShare,
    share: ManagementShare,
    parent: str,
) -> Line:
    exact = times_whole(leader.share, share.management_fen)
    rounding = whole_less(leader.amount_fen, exact)
    return Line(
        key=f"leader:{team.unit_id}:{member.user_id}",
        parent=parent,
        level="leader",
        name=member.name,
        user_id=member.user_id,
        county_id=county.unit_id,
        institution_id=inst.unit_id,
        team_id=team.unit_id,
        score=leader.score,
        weight=leader.weight,
        share=leader.share,
        share_display=share_for_display(leader.share),
        exact_fen=exact,
        entitled_fen=leader.amount_fen,
        rounding_adjustment=rounding,
        explanation=Explanation(
            formula="负责人金额 = y × 团队考核得分 ÷ Σ(y × 团队考核得分) × 负责人统筹",
            steps=(),  # written when the line is shown: leader_steps
            sources=team.l2,
            figures={
                "team_id": team.unit_id,
                "team_name": team.name,
                "team_score": str(leader.score),
                "post": member.post or "",
                "y": str(leader.y),
                "probation": leader.probation,
                "total_weight": frac(share.total_weight),
                "management_fen": share.management_fen,
            },
        ),
    )


def leader_steps(line: Line) -> tuple[str, ...]:
    """How a leader's part of the management share came about (Chinese), from what the line
    keeps: the team's name and S̄, the post and y, probation, Σ权重 and the share's amount
    (``figures``) and the line's weight, share, exact amount and amount. Written when the line
    is shown (``line_steps``), not stored."""
    f = line.explanation.figures or {}
    score, y = f["team_score"], f["y"]
    steps = [
        f"团队「{f['team_name']}」考核结果 S̄ = {score}（本年度已公示季度得分的平均，两位小数）",
        f"y（岗位系数，岗位：{f['post'] or '未填写'}）= {y}",
    ]
    if f["probation"]:
        steps.append("试用期：权重为 0，不享受绩效奖金")
    else:
        steps.append(f"权重 = y × S̄ = {y} × {score} = {line.weight}")
    total_weight = Fraction(str(f["total_weight"]))
    management_fen = whole_figure(f, "management_fen")
    if total_weight and management_fen:
        amount = line.entitled_fen or 0
        steps += [
            f"份额 = {line.weight} ÷ Σ权重 {approx(total_weight)} = {frac(line.share or Fraction(0))}",
            f"精确金额 = 份额 × 负责人统筹 {num(management_fen)} 分 = "
            f"{approx(line.exact_fen or Fraction(0))} 分",
            f"按最大余额法取整：{num(amount)} 分（{yuan(amount)} 元）",
        ]
    return tuple(steps)
