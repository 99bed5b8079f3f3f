"""The ``distribute`` document of ``python -m assessments distribute FILE.json``.

Per member either the factors (``k``, ``y``, ``c``, ``a``, as before) or their sources:
``points`` (with ``standard_points`` and ``k_cap``) instead of ``k``; ``days_due`` and
``days_worked`` instead of ``a``; plus ``deduction_points`` and ``leader``. Reading the file,
the JSON rules and the exit codes are ``assessments.settlement_cli``'s.
"""

from __future__ import annotations

from typing import Any

from assessments.attendance import LEAVE_KINDS, AttendanceMonth, attendance, attendance_from_days
from assessments.distribution import (
    DEFAULT_LEADERS_IN_SPLIT,
    DistributionMember,
    TeamPay,
    distribute_members,
)
from assessments.money import SettlementInputError
from assessments.settlement import DEFAULT_ATTAINMENT_CAP, DEFAULT_RESERVE_RATE
from assessments.workload import attainment_from_points

JsonValue = Any

TEAM_FILE_KEYS = {
    "amount_fen",
    "reserve_rate",
    "members",
    "standard_points",
    "k_cap",
    "leaders_in_split",
}
MEMBER_KEYS = {
    "name",
    "k",
    "y",
    "c",
    "a",
    "probation",
    "points",
    "standard_points",
    "days_due",
    "days_worked",
    "leave_days",
    "deduction_points",
    "leader",
}

DISTRIBUTE_HELP = """用法: python -m assessments distribute FILE.json   （FILE.json 为 - 时从标准输入读取）
团队内二次分配：先按比例提取部门基金，其余按 k×y×c×a 分给成员；扣分扣下的奖金进入部门基金。

团队字段:
  amount_fen        团队待分配金额（整数分，必填）
  reserve_rate      部门基金提取比例，0–1，默认 0.10
  standard_points   标准工作量点数（成员用 points 时必填）
  k_cap             工作量达标系数 k 的上限，默认 1.2
  leaders_in_split  负责人是否参与团队内分配，默认 false（部门负责人不参与部门内奖金的分配，
                    由机构负责人统筹份额按团队考核结果发放）
  members           成员列表（非空数组）

成员字段:
  name              姓名（必填，团队内唯一）
  y                 岗位系数（> 0，必填）
  c                 个人绩效考评系数（0.8–1.2，必填）
  k                 工作量达标系数（≥ 0）；或改填 points
  points            标化工作量点数，k = min(points ÷ standard_points, k_cap)，保留 4 位小数
  standard_points   该成员的标准工作量点数（不填则用团队的 standard_points）
  a                 出勤系数（0–1）；或改填 days_due 和 days_worked
  days_due          应出勤天数（整数天）
  days_worked       实际出勤天数（整数天），a = days_worked ÷ days_due，保留 4 位小数
  leave_days        请假天数，如 {"maternity": 22}；病假 sick、事假 personal、产假 maternity、
                    工休假 annual、婚假 marriage 均不享受奖金，只用于核对天数
  deduction_points  扣分，每扣 1 分扣该成员奖金的 1%，扣下的钱进入部门基金，默认 0
  probation         是否试用期（试用期不享受绩效奖金），默认 false
  leader            是否团队负责人，默认 false

输出: reserve_fen（部门基金 = 提取部分 + 全部扣款 + 未分配部分）、distributed_fen，以及每位成员的
weight、gross_fen（扣分前）、deducted_fen（扣款）、amount_fen（实发）；各部分之和恰好等于 amount_fen。"""


def _get(obj: dict[str, JsonValue], key: str, default: JsonValue = None) -> JsonValue:
    """A field of a JSON object; a missing field is ``None`` and reported by the core."""
    return obj.get(key, default)


def _exclusive(member: dict[str, JsonValue], factor: str, sources: tuple[str, ...]) -> None:
    present = [key for key in sources if key in member]
    if factor in member and present:
        raise SettlementInputError(
            f"成员「{_get(member, 'name')}」的 {factor} 与 {'、'.join(present)} 只能填一种"
        )


def _k(member: dict[str, JsonValue], top: dict[str, JsonValue]) -> JsonValue:
    _exclusive(member, "k", ("points", "standard_points"))
    if "points" not in member:
        return _get(member, "k")
    standard = _get(member, "standard_points", _get(top, "standard_points"))
    if standard is None:
        raise SettlementInputError(
            f"成员「{_get(member, 'name')}」按 points 计算 k，需要填写 standard_points（标准工作量点数）"
        )
    return attainment_from_points(
        member["points"], standard, _get(top, "k_cap", DEFAULT_ATTAINMENT_CAP)
    )


def _a(member: dict[str, JsonValue]) -> JsonValue:
    _exclusive(member, "a", ("days_due", "days_worked", "leave_days"))
    if not {"days_due", "days_worked", "leave_days"} & set(member):
        return _get(member, "a")
    name = member["name"] if isinstance(_get(member, "name"), str) else ""
    leave = _get(member, "leave_days", {})
    if not isinstance(leave, dict):
        known = "、".join(LEAVE_KINDS)
        raise SettlementInputError(f"成员「{name}」的 leave_days 必须是对象，键为 {known}")
    if "days_due" not in member or "days_worked" not in member:
        raise SettlementInputError(f"成员「{name}」需要同时填写 days_due 和 days_worked")
    if leave:
        # The period as one record: checks worked + leave ≤ due and the kinds of leave.
        record = AttendanceMonth("本期", member["days_due"], member["days_worked"], leave)
        return attendance([record], member=name).a
    return attendance_from_days(member["days_worked"], member["days_due"], member=name)


def team_pay(top: dict[str, JsonValue], members: list[dict[str, JsonValue]]) -> TeamPay:
    """Resolve every member's sources into factors and distribute."""
    resolved = [
        DistributionMember(
            name=_get(member, "name"),
            k=_k(member, top),
            y=_get(member, "y"),
            c=_get(member, "c"),
            a=_a(member),
            probation=_get(member, "probation", False),
            leader=_get(member, "leader", False),
            deduction_points=_get(member, "deduction_points", 0),
        )
        for member in members
    ]
    return distribute_members(
        _get(top, "amount_fen"),
        resolved,
        reserve_rate=_get(top, "reserve_rate", DEFAULT_RESERVE_RATE),
        leaders_in_split=_get(top, "leaders_in_split", DEFAULT_LEADERS_IN_SPLIT),
    )


def team_output(team: TeamPay) -> dict[str, JsonValue]:
    return {
        "amount_fen": team.amount_fen,
        "reserve_rate": team.reserve_rate,
        "leaders_in_split": team.leaders_in_split,
        "configured_reserve_fen": team.configured_reserve_fen,
        "deducted_fen": team.deducted_fen,
        "undistributed_fen": team.undistributed_fen,
        "reserve_fen": team.reserve_fen,
        "members": [
            {
                "name": member.name,
                "probation": member.probation,
                "leader": member.leader,
                "in_split": member.in_split,
                "paid_by_management": member.paid_by_management,
                "k": member.k,
                "y": member.y,
                "c": member.c,
                "a": member.a,
                "weight": member.weight,
                "gross_fen": member.gross_fen,
                "deduction_points": member.deduction_points,
                "deducted_fen": member.deducted_fen,
                "amount_fen": member.amount_fen,
            }
            for member in team.members
        ],
        "distributed_fen": team.paid_fen,
    }
