"""Where SQLite and PostgreSQL differ: the one module that asks which database this is.

fdoctor runs on the embedded SQLite database and on PostgreSQL in production; most SQL is the
same on both. The few places that differ (an upsert, a month as text, seconds since the epoch, an
array parameter, an exclusive table lock) call a function here instead of branching on the
dialect's name themselves, so a third engine or a change of approach has one place to go.

Every function takes an optional ``bind`` (a connection or an engine); without one it asks the
session's bind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, BigInteger, ColumnElement, any_, bindparam, cast, extract, func, text

from fdoctor.extensions import db

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def name(bind: Any | None = None) -> str:
    """``"postgresql"`` or ``"sqlite"``: the dialect of ``bind`` or of the session."""
    return str((bind if bind is not None else db.session.get_bind()).dialect.name)


def is_postgresql(bind: Any | None = None) -> bool:
    return name(bind) == POSTGRESQL


def insert_for(table: Any, bind: Any | None = None) -> Any:
    """The dialect's ``INSERT`` for ``table`` (a model or a table), which offers
    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on both engines."""
    dialect = name(bind)
    if dialect == POSTGRESQL:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if dialect == SQLITE:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def month_text(column: Any, bind: Any | None = None) -> ColumnElement[str]:
    """``YYYY-MM`` of a date column."""
    if is_postgresql(bind):
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def epoch_seconds(expr: Any, bind: Any | None = None) -> ColumnElement[int]:
    """Whole seconds since 1970-01-01 of a naive date or datetime column."""
    if is_postgresql(bind):
        return cast(func.floor(extract("epoch", expr)), BigInteger)
    return cast(func.strftime("%s", expr), BigInteger)


def any_of(column: Any, values: Iterable[Any], bind: Any | None = None) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter.

    As one array the statement is the same whatever the count, so SQLAlchemy renders it once and
    the driver's parse is cached too.
    """
    values = list(values)
    if is_postgresql(bind):
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def lock_table_exclusive(connection: Any, table: str) -> None:
    """Hold ``table`` against other writers until the transaction ends.

    PostgreSQL: ``LOCK TABLE … IN EXCLUSIVE MODE`` (readers go on). SQLite has one writer at a
    time already: the transaction's first write takes the database's write lock.
    """
    if is_postgresql(connection):
        connection.execute(text(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE'))


def advisory_xact_lock(connection: Any, key: int) -> None:
    """A transaction-scoped lock on ``key`` (PostgreSQL); nothing on SQLite (one writer)."""
    if is_postgresql(connection):
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def has_lz4(connection: Any) -> bool:
    """Whether the PostgreSQL server can compress with lz4 (False on SQLite)."""
    if not is_postgresql(connection):
        return False
    query = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    return bool(connection.execute(text(query)).scalar())


def compress_with_lz4(connection: Any, table: str, columns: Iterable[str]) -> bool:
    """Have PostgreSQL compress large text ``columns`` of ``table`` with lz4 (several times
    faster to write than its default, pglz, at about the same size); True when it was set.

    Nothing on SQLite, nor on a PostgreSQL server built without lz4 (the default stays).
    """
    if not has_lz4(connection):
        return False
    for column in columns:
        connection.execute(
            text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION lz4')
        )
    return True
