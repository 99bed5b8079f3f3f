"""Database triggers that make a locked settlement immutable (SPEC 7: 锁定后不可更改).

The page hides the buttons, the service refuses, and the database has the last word: on both
SQLite and PostgreSQL a trigger aborts any UPDATE or DELETE of a ``settlement`` row whose status
is ``locked``, and any INSERT, UPDATE or DELETE of a ``settlement_line`` of a locked settlement.
The lock itself (approved → locked) is an UPDATE of a row that is not yet locked, so it passes.

``install_settlement_triggers(connection)`` installs them (idempotently) on an existing schema;
the Alembic migration calls it. ``register_lock_triggers`` hooks the same statements to the
tables' ``after_create`` events, so ``db.create_all()`` installs them too.

PostgreSQL's ``TRUNCATE`` fires no row trigger; only the test fixtures truncate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event

# Kept free of "%" and ":" so that no driver mistakes it for a placeholder.
LOCKED_MESSAGE = "settlement is locked - 已锁定的结算不能修改或删除"
LINE_LOCKED_MESSAGE = "settlement is locked - 已锁定结算的明细不能修改或删除"

TRIGGER_NAMES = (
    "settlement_locked_no_update",
    "settlement_locked_no_delete",
    "settlement_line_locked_no_insert",
    "settlement_line_locked_no_update",
    "settlement_line_locked_no_delete",
)

_LINE_LOCKED_SQLITE = "(SELECT status FROM settlement WHERE id = {row}.settlement_id) = 'locked'"


def _sqlite_settlement() -> list[str]:
    return [
        f"""CREATE TRIGGER IF NOT EXISTS settlement_locked_no_update
            BEFORE UPDATE ON settlement FOR EACH ROW WHEN OLD.status = 'locked'
            BEGIN SELECT RAISE(ABORT, '{LOCKED_MESSAGE}'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS settlement_locked_no_delete
            BEFORE DELETE ON settlement FOR EACH ROW WHEN OLD.status = 'locked'
            BEGIN SELECT RAISE(ABORT, '{LOCKED_MESSAGE}'); END""",
    ]


def _sqlite_line() -> list[str]:
    old, new = _LINE_LOCKED_SQLITE.format(row="OLD"), _LINE_LOCKED_SQLITE.format(row="NEW")
    return [
        f"""CREATE TRIGGER IF NOT EXISTS settlement_line_locked_no_insert
            BEFORE INSERT ON settlement_line FOR EACH ROW WHEN {new}
            BEGIN SELECT RAISE(ABORT, '{LINE_LOCKED_MESSAGE}'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS settlement_line_locked_no_update
            BEFORE UPDATE ON settlement_line FOR EACH ROW WHEN {old} OR {new}
            BEGIN SELECT RAISE(ABORT, '{LINE_LOCKED_MESSAGE}'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS settlement_line_locked_no_delete
            BEFORE DELETE ON settlement_line FOR EACH ROW WHEN {old}
            BEGIN SELECT RAISE(ABORT, '{LINE_LOCKED_MESSAGE}'); END""",
    ]


def _postgresql_settlement() -> list[str]:
    return [
        f"""CREATE OR REPLACE FUNCTION settlement_refuse_locked() RETURNS trigger
            LANGUAGE plpgsql AS $body$
            BEGIN
                IF OLD.status = 'locked' THEN
                    RAISE EXCEPTION '{LOCKED_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN
                    RETURN OLD;
                END IF;
                RETURN NEW;
            END
            $body$""",
        "DROP TRIGGER IF EXISTS settlement_locked_no_change ON settlement",
        """CREATE TRIGGER settlement_locked_no_change
            BEFORE UPDATE OR DELETE ON settlement
            FOR EACH ROW EXECUTE FUNCTION settlement_refuse_locked()""",
    ]


def _postgresql_line() -> list[str]:
    return [
        f"""CREATE OR REPLACE FUNCTION settlement_line_refuse_locked() RETURNS trigger
            LANGUAGE plpgsql AS $body$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
                    SELECT 1 FROM settlement WHERE id = OLD.settlement_id AND status = 'locked'
                ) THEN
                    RAISE EXCEPTION '{LINE_LOCKED_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
                IF TG_OP IN ('UPDATE', 'INSERT') AND EXISTS (
                    SELECT 1 FROM settlement WHERE id = NEW.settlement_id AND status = 'locked'
                ) THEN
                    RAISE EXCEPTION '{LINE_LOCKED_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN
                    RETURN OLD;
                END IF;
                RETURN NEW;
            END
            $body$""",
        "DROP TRIGGER IF EXISTS settlement_line_locked_no_change ON settlement_line",
        """CREATE TRIGGER settlement_line_locked_no_change
            BEFORE INSERT OR UPDATE OR DELETE ON settlement_line
            FOR EACH ROW EXECUTE FUNCTION settlement_line_refuse_locked()""",
    ]


_STATEMENTS = {
    "sqlite": (_sqlite_settlement, _sqlite_line),
    "postgresql": (_postgresql_settlement, _postgresql_line),
}


def _statements(dialect: str, table: str) -> list[str]:
    if dialect not in _STATEMENTS:
        raise NotImplementedError(f"no settlement lock triggers for the {dialect} database")
    settlement, line = _STATEMENTS[dialect]
    return settlement() if table == "settlement" else line()


def _execute(connection: Any, statements: list[str]) -> None:
    for statement in statements:
        connection.exec_driver_sql(statement)


def install_settlement_triggers(connection: Any) -> None:
    """Install (or replace) the lock triggers on both tables; safe to run more than once.

    ``connection`` is a SQLAlchemy ``Connection`` (in a migration: ``op.get_bind()``).
    """
    dialect = connection.dialect.name
    _execute(connection, _statements(dialect, "settlement"))
    _execute(connection, _statements(dialect, "settlement_line"))


def drop_settlement_triggers(connection: Any) -> None:
    """Remove the triggers (the migration's downgrade)."""
    if connection.dialect.name == "postgresql":
        for statement in (
            "DROP TRIGGER IF EXISTS settlement_line_locked_no_change ON settlement_line",
            "DROP TRIGGER IF EXISTS settlement_locked_no_change ON settlement",
            "DROP FUNCTION IF EXISTS settlement_line_refuse_locked()",
            "DROP FUNCTION IF EXISTS settlement_refuse_locked()",
        ):
            connection.exec_driver_sql(statement)
    else:
        for name in TRIGGER_NAMES:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def register_lock_triggers(settlement: Table, line: Table) -> None:
    """Install each table's triggers right after ``CREATE TABLE`` (``metadata.create_all``)."""

    def after_create(target: Table, connection: Any, **_kw: Any) -> None:
        _execute(connection, _statements(connection.dialect.name, target.name))

    for table in (settlement, line):
        event.listen(table, "after_create", after_create)
