"""Rules the database enforces itself, as triggers on SQLite and PostgreSQL: one way to declare,
install and remove them.

An area declares its rules in its own ``triggers.py`` (``fdoctor.assessments.triggers``: published
assessments and the records a published L3 locks; ``fdoctor.settlement.triggers``: locked sheets)
as :class:`Guard` objects — a table and the :class:`Rule` s that refuse a row change — and hands
them to :func:`register`.
``fdoctor.models`` imports every area's ``triggers.py`` right after its models, so the registry is
complete wherever the metadata is.

* ``db.create_all()`` installs every registered guard (the metadata's ``after_create`` event).
* A migration calls :func:`install_triggers` (it replaces each trigger, so it also updates one
  whose definition changed) and :func:`uninstall_triggers` on downgrade.

A rule's condition is plain SQL over ``OLD`` and ``NEW`` that is true when the change must be
refused; ``{ne}`` stands for the dialect's null-safe "differs" (``IS NOT`` on SQLite, ``IS
DISTINCT FROM`` on PostgreSQL). A condition that is NULL refuses nothing, so conditions are
written to be true or false. On SQLite each guard becomes one trigger per event
(``<name>_insert``/``_update``/``_delete``); on PostgreSQL one function and one trigger named
``<name>``. Messages are kept free of ``%``, ``:`` and quotes, so no driver or ``RAISE`` format
mistakes them for placeholders.

Conditions are built from the tables' columns when the area module is imported: a migration that
adds a column to a guarded table (or, on SQLite, rebuilds the table in batch mode, which drops its
triggers) must call :func:`install_triggers` again.

A guard may be ``per_statement`` on PostgreSQL: one ``AFTER … FOR EACH STATEMENT`` trigger per
event (``<name>_insert``/``_update``/``_delete``) over the statement's transition tables, whose
rules give a ``postgresql`` condition over ``{old_rows}`` and ``{new_rows}`` (the rows the
statement removed and wrote). It checks a ``COPY`` of thousands of rows once instead of once a row
(a city's settlement sheet); refusing still undoes the whole statement. SQLite has row triggers
only and keeps the row conditions.

Out of reach by design: PostgreSQL's ``TRUNCATE`` fires no row trigger, and whoever may drop a
trigger (the database owner or a superuser, ``session_replication_role = replica``) can bypass it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect

from fdoctor.core import dialect as db_dialect
from fdoctor.extensions import db

EVENTS = ("INSERT", "UPDATE", "DELETE")
_NE = {"sqlite": "IS NOT", "postgresql": "IS DISTINCT FROM"}


@dataclass(frozen=True)
class Rule:
    """Refuse ``events`` on a row when ``condition`` holds, with ``message``.

    ``condition`` serves both dialects; ``postgresql`` replaces it there when the SQL differs
    (for a ``per_statement`` guard: the condition over the transition tables ``{old_rows}`` and
    ``{new_rows}``).
    """

    events: tuple[str, ...]
    condition: str
    message: str
    postgresql: str | None = None

    def sql(self, dialect: str) -> str:
        text = self.postgresql if dialect == "postgresql" and self.postgresql else self.condition
        return (
            text.replace("{ne}", _NE[dialect])
            .replace("{old_rows}", "old_rows")
            .replace("{new_rows}", "new_rows")
        )


@dataclass(frozen=True)
class Guard:
    """The rules of one table, installed as one trigger (per event on SQLite)."""

    name: str
    table: str
    rules: tuple[Rule, ...]
    # PostgreSQL: one check per statement over its transition tables (see the module docstring).
    per_statement: bool = False

    @property
    def events(self) -> list[str]:
        return [e for e in EVENTS if any(e in rule.events for rule in self.rules)]

    def sqlite_names(self) -> list[str]:
        return [f"{self.name}_{e.lower()}" for e in EVENTS]


_REGISTRY: dict[str, Guard] = {}


def register(*guards: Guard) -> None:
    """Add guards to the set that ``create_all`` and :func:`install_triggers` install."""
    for guard in guards:
        for rule in guard.rules:
            unknown = set(rule.events) - set(EVENTS)
            if unknown or "%" in rule.message or "'" in rule.message or ":" in rule.message:
                raise ValueError(f"bad rule in guard {guard.name}: {rule}")
            if guard.per_statement and not rule.postgresql:
                raise ValueError(f"guard {guard.name} checks statements: {rule} needs postgresql")
        _REGISTRY[guard.name] = guard


def registered() -> list[Guard]:
    return list(_REGISTRY.values())


def changed(columns: Iterable[str], row: str = "NEW", other: str = "OLD") -> str:
    """SQL that is true when any of ``columns`` differs between the two row images."""
    return "(" + " OR ".join(f"{row}.{c} {{ne}} {other}.{c}" for c in columns) + ")"


def columns_of(table: Any, *, except_: Iterable[str] = ()) -> list[str]:
    """Every column of a SQLAlchemy table but ``except_`` (new columns are guarded by default)."""
    skip = set(except_)
    return [c.name for c in table.columns if c.name not in skip]


def _dialect(connection: Any) -> str:
    name = db_dialect.name(connection)
    if name not in _NE:
        raise NotImplementedError(f"no triggers for the {name} database")
    return name


def _sqlite_create(guard: Guard) -> list[str]:
    statements = []
    for ev in guard.events:
        body = "\n".join(
            f"  SELECT RAISE(ABORT, '{rule.message}') WHERE {rule.sql('sqlite')};"
            for rule in guard.rules
            if ev in rule.events
        )
        statements.append(
            f"CREATE TRIGGER {guard.name}_{ev.lower()} BEFORE {ev} ON {guard.table} "
            f"FOR EACH ROW\nBEGIN\n{body}\nEND"
        )
    return statements


_TRANSITION = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def _postgresql_function(guard: Guard, returns: str) -> str:
    """The guard's plpgsql function: each event's rules, then ``returns``."""
    blocks = []
    for ev in guard.events:
        checks = "\n".join(
            f"    IF {rule.sql('postgresql')} THEN RAISE EXCEPTION '{rule.message}'; END IF;"
            for rule in guard.rules
            if ev in rule.events
        )
        blocks.append(f"  IF TG_OP = '{ev}' THEN\n{checks}\n  END IF;")
    body = "\n".join(blocks)
    return f"""CREATE OR REPLACE FUNCTION {guard.name}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
{body}
{returns}
END
$body$"""


def _postgresql_create(guard: Guard) -> list[str]:
    if guard.per_statement:
        # One statement trigger per event over its transition tables; the result is ignored.
        return [
            _postgresql_function(guard, "  RETURN NULL;"),
            *(
                f"CREATE TRIGGER {guard.name}_{ev.lower()} AFTER {ev} ON {guard.table} "
                f"{_TRANSITION[ev]} FOR EACH STATEMENT EXECUTE FUNCTION {guard.name}()"
                for ev in guard.events
            ),
        ]
    return [
        _postgresql_function(
            guard, "  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n  RETURN NEW;"
        ),
        f"CREATE TRIGGER {guard.name} BEFORE {' OR '.join(guard.events)} ON {guard.table} "
        f"FOR EACH ROW EXECUTE FUNCTION {guard.name}()",
    ]


def _drop(guard: Guard, dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in guard.sqlite_names()]
    # Both forms' triggers: a migration may turn a row guard into a statement guard or back.
    return [
        f"DROP TRIGGER IF EXISTS {guard.name} ON {guard.table}",
        *(f"DROP TRIGGER IF EXISTS {name} ON {guard.table}" for name in guard.sqlite_names()),
        f"DROP FUNCTION IF EXISTS {guard.name}()",
    ]


def create_statements(guard: Guard, dialect: str) -> list[str]:
    return _sqlite_create(guard) if dialect == "sqlite" else _postgresql_create(guard)


def _existing(connection: Any) -> list[Guard]:
    """The registered guards whose table exists: a migration older than a table installs all
    guards but that table's (the migration creating the table installs its guards)."""
    tables = set(inspect(connection).get_table_names())
    return [guard for guard in registered() if guard.table in tables]


def install_triggers(connection: Any, guards: Sequence[Guard] | None = None) -> None:
    """(Re)install ``guards`` (default: all registered whose table exists) on ``connection``;
    safe to repeat.

    ``connection`` is a SQLAlchemy ``Connection`` (in a migration: ``op.get_bind()``). A migration
    older than a guarded table installs the guards of the tables it knows; the migration that
    creates the table installs its guard.
    """
    dialect = _dialect(connection)
    for guard in _existing(connection) if guards is None else guards:
        for statement in _drop(guard, dialect) + create_statements(guard, dialect):
            connection.exec_driver_sql(statement)


def uninstall_triggers(connection: Any, guards: Sequence[Guard] | None = None) -> None:
    """Remove ``guards`` (default: all registered); missing ones are skipped."""
    dialect = _dialect(connection)
    for guard in _existing(connection) if guards is None else guards:
        for statement in _drop(guard, dialect):
            connection.exec_driver_sql(statement)


def _after_create_all(_metadata: Any, connection: Any, **kw: Any) -> None:
    # ``tables``: the tables this create_all has just created (existing ones keep their triggers).
    created = {t.name for t in kw.get("tables") or ()}
    install_triggers(connection, [g for g in registered() if g.table in created])


event.listen(db.metadata, "after_create", _after_create_all)
