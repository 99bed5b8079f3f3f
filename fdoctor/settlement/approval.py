"""Approving a sheet: the ``draft → reviewed → approved → locked`` state machine, who may press
which button, and the checks made before each step. Flushes; the view commits once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fdoctor.audit.checkpoints import write_checkpoint
from fdoctor.core import clock
from fdoctor.core.roles import ROLE_LABELS, Role
from fdoctor.extensions import db
from fdoctor.settlement.build import preview
from fdoctor.settlement.errors import SettlementIncomplete, SettlementStateError
from fdoctor.settlement.models import Settlement
from fdoctor.settlement.queries import integrity_ok


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    style: str = "primary"


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "review",
            "审核通过",
            frozenset({"draft"}),
            "reviewed",
            frozenset({Role.CITY_ADMIN.value}),
        ),
        Action(
            "approve", "批准", frozenset({"reviewed"}), "approved", frozenset({Role.FINANCE.value})
        ),
        Action(
            "lock",
            "锁定",
            frozenset({"approved"}),
            "locked",
            frozenset({Role.FINANCE.value}),
            "danger",
        ),
        Action(
            "return",
            "退回草稿",
            frozenset({"reviewed", "approved"}),
            "draft",
            frozenset({Role.CITY_ADMIN.value, Role.FINANCE.value}),
            "outline-secondary",
        ),
    )
}
_NEEDS = {
    "reviewed": "须先由市卫健委审核",
    "approved": "须先经市卫健委审核、市财政局批准",
}


def allowed_actions(settlement: Settlement, user: Any) -> list[Action]:
    """The buttons this user may press on this sheet now."""
    role = getattr(user, "role", None)
    result = []
    for action in ACTIONS.values():
        if settlement.status not in action.sources or role not in action.roles:
            continue
        if (
            action.name == "return"
            and settlement.status == "approved"
            and role != Role.FINANCE.value
        ):
            continue
        result.append(action)
    return result


def transition(settlement: Settlement, action_name: str, user: Any) -> Settlement:
    """Move the sheet one step; forbidden moves raise ``SettlementStateError`` (Chinese)."""
    if settlement.status == "locked":
        raise SettlementStateError("结算表已锁定，不能再做任何变更")
    action = ACTIONS.get(action_name)
    if action is None:
        raise SettlementStateError(f"未知操作：{action_name}")
    if settlement.status not in action.sources:
        need = _NEEDS.get(next(iter(action.sources)), "")
        raise SettlementStateError(
            f"结算表当前状态为「{settlement.status_label}」，不能{action.label}"
            + (f"（{need}）" if need else "")
        )
    role = getattr(user, "role", None)
    allowed = set(action.roles)
    if action.name == "return" and settlement.status == "approved":
        allowed = {Role.FINANCE.value}
    if role not in allowed:
        who = "或".join(ROLE_LABELS[Role(r)] for r in sorted(allowed))
        raise SettlementStateError(f"只有{who}可以{action.label}")
    if not integrity_ok(settlement):
        raise SettlementStateError("结算表数据校验失败（SHA-256 与内容不符），请联系系统管理员")
    if action.name == "review":
        try:
            _inputs, _outputs, digest = preview(settlement.year, settlement.kind)
        except SettlementIncomplete as exc:
            raise SettlementStateError(
                "输入数据已不完整，不能审核：" + "；".join(exc.missing[:5])
            ) from None
        if digest != settlement.sha256:
            raise SettlementStateError(
                "草稿计算后输入数据已有变化（得分、人口或配置），请先重新计算草稿再审核"
            )
    now, user_id = clock.now(), getattr(user, "id", None)
    if action.name == "review":
        settlement.reviewed_at, settlement.reviewed_by_id = now, user_id
    elif action.name == "approve":
        settlement.approved_at, settlement.approved_by_id = now, user_id
    elif action.name == "lock":
        settlement.locked_at, settlement.locked_by_id = now, user_id
    else:
        settlement.reviewed_at = settlement.reviewed_by_id = None
        settlement.approved_at = settlement.approved_by_id = None
    settlement.status = action.target
    db.session.flush()
    if action.name == "lock":
        write_checkpoint(db.session)  # the trail's end as of the lock, printed on the sheet
    return settlement
