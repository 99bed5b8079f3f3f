"""What the database refuses on corrections after lock: their difference lines are written once
and never changed or removed; a correction keeps its sheet, cause, fact and reason, is never
removed, and once the sheet it was carried into is locked it cannot move to another.
"""

from __future__ import annotations

from fdoctor.core.triggers import Guard, Rule, changed, register

LINE_MESSAGE = "correction lines are final - 更正差额明细写入后不能修改或删除"
CORRECTION_MESSAGE = "correction is final - 更正记录的结算表、原因、数据和理由不能修改，也不能删除"
CARRIED_MESSAGE = "correction is carried - 已结转至锁定结算表的更正不能再改动"

_FIXED = changed(
    (
        "settlement_id",
        "year",
        "pool_id",
        "cause_kind",
        "cause_id",
        "change_json",
        "reason",
        "created_at",
        "created_by_id",
        "moved_fen",
    )
)
_CARRIED_LOCKED = (
    "EXISTS (SELECT 1 FROM settlement s WHERE s.id = OLD.carried_into_id AND s.status = 'locked')"
)

CORRECTION_GUARD = Guard(
    "trg_settlement_correction_final",
    "settlement_correction",
    (
        Rule(("UPDATE",), _FIXED, CORRECTION_MESSAGE),
        Rule(("UPDATE",), _CARRIED_LOCKED, CARRIED_MESSAGE),
        Rule(("DELETE",), "1 = 1", CORRECTION_MESSAGE),
    ),
)
LINE_GUARD = Guard(
    "trg_settlement_correction_line_final",
    "settlement_correction_line",
    (Rule(("UPDATE", "DELETE"), "1 = 1", LINE_MESSAGE),),
)

GUARDS = (CORRECTION_GUARD, LINE_GUARD)
register(*GUARDS)
