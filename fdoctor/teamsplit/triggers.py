"""What the database itself refuses once a year's settlement is locked: the attendance records
of its months and the deductions decided in it cannot be added, changed or removed (the app
already stops them once the sheet leaves draft). Installed by ``fdoctor.core.triggers`` on
SQLite and PostgreSQL, like the member ratings' guard of ``fdoctor.settlement.triggers``.
"""

from __future__ import annotations

from fdoctor.core.triggers import Guard, Rule, register

ATTENDANCE_MESSAGE = "settlement is locked - 该年度结算已锁定，出勤记录不能修改"
DEDUCTION_MESSAGE = "settlement is locked - 该年度结算已锁定，扣分记录不能修改"

# The year of a month "YYYY-MM" and of a date, as text on both dialects.
_LOCKED = (
    "EXISTS (SELECT 1 FROM settlement s WHERE s.kind = 'settlement' AND s.status = 'locked' "
    "AND CAST(s.year AS TEXT) = substr(CAST({value} AS TEXT), 1, 4))"
)


def _rules(column: str, message: str) -> tuple[Rule, ...]:
    new, old = _LOCKED.format(value=f"NEW.{column}"), _LOCKED.format(value=f"OLD.{column}")
    return (
        Rule(("INSERT",), new, message),
        Rule(("UPDATE",), f"{old} OR {new}", message),
        Rule(("DELETE",), old, message),
    )


ATTENDANCE_GUARD = Guard(
    "trg_attendance_record_locked", "attendance_record", _rules("month", ATTENDANCE_MESSAGE)
)
DEDUCTION_GUARD = Guard(
    "trg_member_deduction_locked", "member_deduction", _rules("decided_on", DEDUCTION_MESSAGE)
)

GUARDS = (ATTENDANCE_GUARD, DEDUCTION_GUARD)
register(*GUARDS)
