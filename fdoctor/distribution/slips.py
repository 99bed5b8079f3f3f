"""A member's own pay slip (个人绩效工资条): their member line of each locked settlement sheet, each
factor with a Chinese explanation, and their team's list once the team's distribution is
published (公示). A member sees only lines whose ``user_id`` is theirs; the team's list only of
the team that paid them, only once published.

The factors are read from the line's stored explanation (``factors``) generically: a key with a
label in ``FACTOR_LABELS`` shows with it, any other key shows under its own name, so factors
added to the member lines later appear without a change here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from assessments.money import yuan
from fdoctor.distribution.models import TeamDistribution
from fdoctor.distribution.services import distribution_for, is_published, team_lines
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.reports.payslip import Factor, ListRow, Slip
from fdoctor.settlement.models import Settlement, SettlementLine
from fdoctor.settlement.queries import explanation_of

# key → (label, what it means). Order here is the order on the slip.
FACTOR_LABELS: dict[str, tuple[str, str]] = {
    "amount_fen": ("实发金额", "扣款后本人应得的金额"),
    "k": (
        "工作量达标系数 k",
        "本年计入的工作量 ÷ 标准工作量，超过上限按上限计；核实为虚假或有争议的服务记录不计入",
    ),
    "k_source": ("k 的计算依据", "按工作量点数，或（早期结算表）按服务次数"),
    "points": ("工作量点数", "各类服务按点数表折算后的合计（入户随访点数高于电话随访）"),
    "point_table": ("工作量点数表", "计算点数所用的点数表（县区可调整）"),
    "standard_points": ("标准工作量点数", "本岗位本年应完成的工作量点数"),
    "services": ("本年计入的服务次数", "本人本年在本团队录入、未被核实为虚假或有争议的服务记录数"),
    "standard": ("标准工作量（次）", "本岗位本年应完成的服务次数"),
    "y": ("岗位系数 y", "按本人岗位配置的系数，体现岗位职责与风险"),
    "post": ("岗位", "计算岗位系数所用的岗位"),
    "c": ("个人绩效考评系数 c", "团队内部考核结果，范围 0.8–1.2，1 为合格"),
    "a": (
        "出勤系数 a",
        "实际出勤天数 ÷ 应出勤天数；病假、事假、产假、工休假、婚假的天数不计奖金",
    ),
    "a_source": ("a 的计算依据", "按每月出勤记录的天数，或（早期结算表）直接填写"),
    "attendance_months": ("出勤记录月数", "计入的月度出勤记录数"),
    "days_due": ("应出勤天数", "本年各月应出勤天数之和"),
    "days_worked": ("实际出勤天数", "本年各月实际出勤天数之和"),
    "leave_days": ("请假天数", "按假别列示；这些天数不计奖金"),
    "deduction_points": (
        "扣分",
        "团队内部考核扣分：每扣 1 分扣本人金额的 1%，扣下的金额进入部门基金，不分给其他成员",
    ),
    "gross_fen": ("扣款前金额", "按权重分得的金额（扣分之前）"),
    "deducted_fen": ("扣款", "因扣分扣下并转入部门基金的金额"),
    "deduction_count": ("扣分记录数", "本年团队内部考核的扣分记录条数"),
    "leader": ("团队长", "团队长是否参与团队内部分配"),
    "in_split": ("参与团队分配", "试用期成员和不参与团队分配的团队长为“否”"),
    "paid_by_management": (
        "由机构管理份额支付",
        "团队长不参与团队分配时，按团队考核结果由机构管理份额支付",
    ),
    "leaders_in_split": (
        "团队长参与团队分配",
        "按机构配置：团队长参与团队分配，或由机构管理份额支付",
    ),
    "management_fen": ("管理份额", "团队长由机构管理份额按团队考核结果支付的金额"),
    "probation": ("试用期", "试用期成员权重为 0，不参与分配"),
}
# The row holding c, and the team's figures the member's steps are written from (shown there).
HIDDEN_FACTORS = frozenset({"rating_id", "cap", "total_weight", "distributed_fen"})
SOURCE_LABELS = {
    "points": "工作量点数",
    "records": "服务次数",
    "days": "出勤天数",
    "typed": "直接填写",
}
LEAVE_LABELS = {
    "sick": "病假",
    "personal": "事假",
    "maternity": "产假",
    "annual": "工休假",
    "marriage": "婚假",
}


def _value_text(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in ("k_source", "a_source"):
        return SOURCE_LABELS.get(str(value), str(value))
    if key.endswith("_fen") and isinstance(value, int):
        return f"{yuan(value)} 元"
    if isinstance(value, dict):
        parts = [f"{LEAVE_LABELS.get(str(k), str(k))} {v}" for k, v in value.items()]
        return "、".join(parts) or "—"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        return format(number.normalize(), "f") if number == number.to_integral() else value
    return str(value)


def factor_rows(factors: dict[str, Any]) -> list[Factor]:
    """The factors of a member line, labelled; unknown keys keep their name."""
    known = [key for key in FACTOR_LABELS if key in factors]
    others = [key for key in factors if key not in FACTOR_LABELS and key not in HIDDEN_FACTORS]
    rows = []
    for key in known + others:
        label, meaning = FACTOR_LABELS.get(key, (key, ""))
        rows.append(Factor(key, label, _value_text(key, factors[key]), meaning))
    return rows


def my_lines(user: Any) -> list[tuple[SettlementLine, Settlement]]:
    """The user's own member lines in locked settlement sheets, latest year first."""
    return [
        (line, sheet)
        for line, sheet in db.session.execute(
            select(SettlementLine, Settlement)
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .where(
                SettlementLine.user_id == user.id,
                SettlementLine.level == "member",
                Settlement.kind == "settlement",
                Settlement.status == "locked",
            )
            .order_by(Settlement.year.desc(), SettlementLine.position)
        )
    ]


def _status_text(distribution: TeamDistribution | None) -> str:
    if distribution is None:
        return "团队长尚未提交本年度的二次分配方案"
    if distribution.status == "proposed":
        return "团队长已提交方案，待二次分配工作小组代表确认"
    if distribution.status == "published":
        ends = distribution.publicity_ends_on
        return f"公示中，公示期至 {ends:%Y-%m-%d}；对分配有异议请在公示期内提出"
    approved = distribution.approved_at
    return f"公示期满，机构已于 {approved:%Y-%m-%d} 批准" if approved else "机构已批准"


def slip_for(user: Any, line_id: int) -> Slip | None:
    """The slip of one of the user's own member lines; None for anyone else's (the view 404s)."""
    found = next(((ln, s) for ln, s in my_lines(user) if ln.id == line_id), None)
    if found is None:
        return None
    line, sheet = found
    explanation = explanation_of(line)  # a member line's steps are written from its factors
    factors = factor_rows(explanation.get("factors") or {})
    if line.weight is not None:
        factors.append(Factor("weight", "权重", _value_text("weight", line.weight),
                              "本人各系数的乘积，按权重占团队权重之和的比例分配"))  # fmt: skip
    if line.share_display is not None:
        factors.append(Factor("share", "分配比例", str(line.share_display),
                              "本人权重 ÷ 团队全体成员权重之和"))  # fmt: skip
    team = db.session.get(OrgUnit, line.team_id) if line.team_id else None
    institution = db.session.get(OrgUnit, line.institution_id) if line.institution_id else None
    distribution = distribution_for(sheet.id, line.team_id) if line.team_id else None
    lines = team_lines(sheet.id, line.team_id) if line.team_id else []
    team_line = next((ln for ln in lines if ln.level == "team"), None)
    published = is_published(distribution)
    team_list = (
        [
            ListRow(ln.name, ln.level, ln.entitled_fen or 0, ln.id == line.id)
            for ln in lines
            if ln.level in ("member", "reserve")
        ]
        if published
        else []
    )
    return Slip(
        title=f"{sheet.year}年度家庭医生签约服务绩效工资条",
        member=line.name,
        team=team.name if team else "—",
        institution=institution.name if institution else "—",
        year=sheet.year,
        amount_fen=line.entitled_fen or 0,
        team_fen=team_line.entitled_fen if team_line else None,
        sha256=sheet.sha256,
        formula=str(explanation.get("formula", "")),
        factors=factors,
        steps=[str(s) for s in explanation.get("steps", [])],
        notes=[str(n) for n in explanation.get("notes", [])],
        status_text=_status_text(distribution),
        published=published,
        team_list=team_list,
    )
