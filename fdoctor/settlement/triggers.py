"""What the database itself refuses on a locked settlement (SPEC 7: 锁定后不可更改).

The page hides the buttons, the service refuses, and the database has the last word (installed
by ``fdoctor.core.triggers`` on SQLite and PostgreSQL):

* a ``settlement`` row whose status is ``locked`` cannot be updated or deleted — its figures,
  inputs (``inputs_json``: every score, population, fund and parameter it was computed from),
  outputs and SHA-256 included;
* a sheet becomes ``locked`` only from ``approved``, with its review, approval and lock each
  recorded (who and when), as ``fdoctor.settlement.approval.transition`` does it;
* no ``settlement_line`` of a locked sheet can be added, changed, moved or removed;
* the member ratings (成员系数) of a year whose settlement is locked cannot change (the app
  already stops them once the sheet leaves draft).
"""

from __future__ import annotations

from fdoctor.core.triggers import Guard, Rule, register

# Kept free of "%" and ":" so that no driver mistakes it for a placeholder.
LOCKED_MESSAGE = "settlement is locked - 已锁定的结算不能修改或删除"
LINE_LOCKED_MESSAGE = "settlement is locked - 已锁定结算的明细不能修改或删除"
LOCK_MESSAGE = "结算表须经审核、批准后才能锁定，并记录审核、批准、锁定的人员和时间"
RATING_MESSAGE = "settlement is locked - 该年度结算已锁定，成员系数不能修改"

_LOCKED_PROPERLY = """(OLD.status = 'approved'
    AND NEW.reviewed_at IS NOT NULL AND NEW.reviewed_by_id IS NOT NULL
    AND NEW.approved_at IS NOT NULL AND NEW.approved_by_id IS NOT NULL
    AND NEW.locked_at IS NOT NULL AND NEW.locked_by_id IS NOT NULL)"""

SETTLEMENT_GUARD = Guard(
    "trg_settlement_locked",
    "settlement",
    (
        Rule(("UPDATE", "DELETE"), "OLD.status = 'locked'", LOCKED_MESSAGE),
        Rule(
            ("UPDATE",),
            f"OLD.status <> 'locked' AND NEW.status = 'locked' AND NOT {_LOCKED_PROPERLY}",
            LOCK_MESSAGE,
        ),
    ),
)

_SHEET_LOCKED = (
    "EXISTS (SELECT 1 FROM settlement s WHERE s.id = {row}.settlement_id AND s.status = 'locked')"
)
# PostgreSQL: once per statement, over the rows it wrote or removed (a sheet's lines are written
# with one COPY of some 13,000 rows at city scale).
_ROWS_LOCKED = (
    "EXISTS (SELECT 1 FROM {rows} r JOIN settlement s ON s.id = r.settlement_id "
    "WHERE s.status = 'locked')"
)
LINE_GUARD = Guard(
    "trg_settlement_line_locked",
    "settlement_line",
    (
        Rule(
            ("INSERT",),
            _SHEET_LOCKED.format(row="NEW"),
            LINE_LOCKED_MESSAGE,
            postgresql=_ROWS_LOCKED.format(rows="{new_rows}"),
        ),
        Rule(
            ("UPDATE",),
            f"{_SHEET_LOCKED.format(row='OLD')} OR {_SHEET_LOCKED.format(row='NEW')}",
            LINE_LOCKED_MESSAGE,
            postgresql=_ROWS_LOCKED.format(rows="{old_rows}")
            + " OR "
            + _ROWS_LOCKED.format(rows="{new_rows}"),
        ),
        Rule(
            ("DELETE",),
            _SHEET_LOCKED.format(row="OLD"),
            LINE_LOCKED_MESSAGE,
            postgresql=_ROWS_LOCKED.format(rows="{old_rows}"),
        ),
    ),
    per_statement=True,
)

_YEAR_LOCKED = (
    "EXISTS (SELECT 1 FROM settlement s WHERE s.year = {row}.year AND s.kind = 'settlement' "
    "AND s.status = 'locked')"
)
RATING_GUARD = Guard(
    "trg_member_rating_locked",
    "member_rating",
    (
        Rule(("INSERT",), _YEAR_LOCKED.format(row="NEW"), RATING_MESSAGE),
        Rule(
            ("UPDATE",),
            f"{_YEAR_LOCKED.format(row='OLD')} OR {_YEAR_LOCKED.format(row='NEW')}",
            RATING_MESSAGE,
        ),
        Rule(("DELETE",), _YEAR_LOCKED.format(row="OLD"), RATING_MESSAGE),
    ),
)

GUARDS = (SETTLEMENT_GUARD, LINE_GUARD, RATING_GUARD)
register(*GUARDS)
