"""The floor of a heavy path: the exact SQL the app ran, replayed bare through the DBAPI driver.

Three pieces, used by ``bench/city.py``:

* ``Capture`` listens to SQLAlchemy's ``before_cursor_execute`` and keeps every statement with its
  parameters, exactly as the driver received them (IN lists already expanded, dates already bound).
* ``recording_connect_args`` makes the app's own DBAPI cursors fold every row they hand back to
  SQLAlchemy into an order-insensitive digest (count + sum of 64-bit row hashes), so a check run
  of the app tells which rows each statement returned.
* ``replay`` opens a plain ``psycopg`` / ``sqlite3`` connection (no SQLAlchemy, no app code), sets
  the session settings the app's connection had, executes every statement and fetches every row;
  it times the whole and each statement, and digests the rows outside the timing.

Comparing the check run's digests with the replay's proves the floor fetched the same rows as the
app, so a fast floor is not a floor that fetched nothing. This module imports neither Flask nor
the app.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MASK = (1 << 64) - 1
# Session settings that change plans or speed: copied from the app's connection to the floor's.
PG_SETTINGS = (
    "work_mem",
    "jit",
    "max_parallel_workers_per_gather",
    "random_page_cost",
    "effective_cache_size",
    "temp_buffers",
)
SQLITE_PRAGMAS = ("cache_size", "mmap_size", "temp_store", "foreign_keys")


def row_hash(row: Sequence[Any]) -> int:
    digest = hashlib.blake2b(repr(tuple(row)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass
class RowDigest:
    """An order-insensitive digest of a multiset of rows."""

    rows: int = 0
    hash: int = 0

    def absorb(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.rows += 1
            self.hash = (self.hash + row_hash(row)) & MASK

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "hash": f"{self.hash:016x}"}


# --------------------------------------------------------------------------- capturing


@dataclass
class Statement:
    sql: str
    parameters: Any
    executemany: bool
    digest: RowDigest | None = None


@dataclass
class Capture:
    """Statements executed while ``active`` is true (``before_cursor_execute`` listener)."""

    record_rows: bool = False
    active: bool = False
    statements: list[Statement] = field(default_factory=list)

    def listen(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self._before)

    def remove(self, engine: Any) -> None:
        from sqlalchemy import event

        event.remove(engine, "before_cursor_execute", self._before)

    def _before(
        self,
        _conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if not self.active:
            return
        stmt = Statement(statement, parameters, executemany)
        if self.record_rows:
            stmt.digest = RowDigest()
            # Only the recording cursors below take the attribute (plain C cursors refuse it).
            if hasattr(cursor, "_bench_digest"):
                cursor._bench_digest = stmt.digest
            else:
                stmt.digest = None
        self.statements.append(stmt)


# --------------------------------------------------------------------------- recording cursors


class _RecordingFetches:
    """Fetch methods that feed every fetched row to the statement's digest (a mixin before the
    driver's cursor class; sqlite3 and psycopg differ only in ``fetchmany``'s default size)."""

    _bench_digest: RowDigest | None = None

    def _absorb(self, rows: Any) -> None:
        if self._bench_digest is not None:
            self._bench_digest.absorb(rows)

    def fetchone(self) -> Any:
        row = super().fetchone()  # type: ignore[misc]
        if row is not None:
            self._absorb((row,))
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            size = getattr(self, "arraysize", 1)
        rows: list[Any] = super().fetchmany(size)  # type: ignore[misc]
        self._absorb(rows)
        return rows

    def fetchall(self) -> list[Any]:
        rows: list[Any] = super().fetchall()  # type: ignore[misc]
        self._absorb(rows)
        return rows


class _RecordingSqliteCursor(_RecordingFetches, sqlite3.Cursor):
    pass


class _RecordingSqliteConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _RecordingSqliteCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


def _recording_psycopg_cursor() -> type:
    import psycopg

    class _RecordingPsycopgCursor(_RecordingFetches, psycopg.Cursor):  # type: ignore[type-arg]
        pass

    return _RecordingPsycopgCursor


def recording_connect_args(dialect: str) -> dict[str, Any]:
    """``connect_args`` for SQLAlchemy that give the app cursors recording their rows."""
    if dialect == "sqlite":
        return {"factory": _RecordingSqliteConnection}
    return {"cursor_factory": _recording_psycopg_cursor()}


# --------------------------------------------------------------------------- session settings


def session_settings(dbapi_connection: Any, dialect: str) -> dict[str, str]:
    """The settings of the app's connection that the floor's must share."""
    cursor = dbapi_connection.cursor()
    found: dict[str, str] = {}
    try:
        if dialect == "sqlite":
            for name in SQLITE_PRAGMAS:
                cursor.execute(f"PRAGMA {name}")
                row = cursor.fetchone()
                if row is not None:
                    found[name] = str(row[0])
        else:
            for name in PG_SETTINGS:
                cursor.execute(f"SHOW {name}")
                row = cursor.fetchone()
                if row is not None:
                    found[name] = str(row[0])
    finally:
        cursor.close()
    return found


# --------------------------------------------------------------------------- replaying


def connect_bare(dialect: str, target: str, settings: dict[str, str]) -> Any:
    """A plain driver connection: ``target`` is a libpq URI or an SQLite file path."""
    if dialect == "sqlite":
        conn = sqlite3.connect(target)
        for name, value in settings.items():
            if name in SQLITE_PRAGMAS and value.lstrip("-").isdigit():
                conn.execute(f"PRAGMA {name}={int(value)}")
        return conn
    import psycopg

    conn = psycopg.connect(target)
    with conn.cursor() as cur:
        for name, value in settings.items():
            if name in PG_SETTINGS:
                cur.execute("SELECT set_config(%s, %s, false)", (name, value))
    conn.commit()
    return conn


@dataclass
class Replay:
    seconds: float
    per_statement: list[float]
    digests: list[RowDigest]

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.digests)


def replay(conn: Any, statements: Sequence[Statement], digest: bool = True) -> Replay:
    """Execute every statement on ``conn``, fetch all rows; time it; digest outside the timing."""
    per_statement: list[float] = []
    digests: list[RowDigest] = []
    total = 0.0
    cursor = conn.cursor()
    try:
        for stmt in statements:
            started = time.perf_counter()
            if stmt.executemany:
                cursor.executemany(stmt.sql, stmt.parameters)
                rows: list[Any] = []
            else:
                cursor.execute(stmt.sql, stmt.parameters)
                rows = cursor.fetchall() if cursor.description is not None else []
            elapsed = time.perf_counter() - started
            total += elapsed
            per_statement.append(elapsed)
            found = RowDigest()
            if digest:
                found.absorb(rows)
            else:
                found.rows = len(rows)
            digests.append(found)
            del rows
    finally:
        cursor.close()
        conn.rollback()
    return Replay(seconds=total, per_statement=per_statement, digests=digests)
