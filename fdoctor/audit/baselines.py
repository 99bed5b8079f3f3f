"""Bulk-load baselines: rows written in bulk (COPY, one statement for many rows) are audited by a
per-row content digest the database computes (``audit_baseline``) and one keyed ``bulk_load``
entry holding their count and sums, so a later change to such a row is found and named.

The demo loader calls ``record_bulk_load`` per table; a service that writes many rows with one
statement calls ``record_bulk_rows``, and ``forget_bulk_rows`` before it deletes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text

from fdoctor.audit.chain import write_entries
from fdoctor.audit.events import record_event
from fdoctor.audit.snapshots import row_snapshot
from fdoctor.audit.tables import audited_model_tables
from fdoctor.core import dialect


def digest_expression(connection: Any, table: str, columns: list[str]) -> str:
    """SQL computing a row's content digest (32 hex) from ``columns`` of alias ``t``."""
    cols = ", ".join(f't."{c}"' for c in columns)
    if dialect.is_postgresql(connection):
        return f"md5(CAST(ROW({cols}) AS TEXT))"
    return f"fd_row_digest({cols})"


def _row_digest(*values: Any) -> str:
    """SQLite's ``fd_row_digest``: MD5 of the row's values as SQLite returns them."""
    return hashlib.md5(repr(values).encode("utf-8"), usedforsecurity=False).hexdigest()


def register_sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("fd_row_digest", -1, _row_digest, deterministic=True)


def _digest_sums(digests: Iterable[str]) -> tuple[int, int, int]:
    """Count and two 60-bit sums of the digests: order-free, additive over loads."""
    count = high = low = 0
    for digest in digests:
        count += 1
        high += int(digest[:15], 16)
        low += int(digest[15:30], 16)
    return count, high, low


# ``_digest_sums`` in SQL: the count and the two 60-bit sums of the ``digest`` column.
_PG_SUMS = (
    "count(*), "
    "COALESCE(sum(('x' || substr(digest, 1, 15))::bit(60)::bigint::numeric), 0), "
    "COALESCE(sum(('x' || substr(digest, 16, 15))::bit(60)::bigint::numeric), 0)"
)


def baseline_sums(
    connection: Any, table: str, where: str | None = None, params: dict[str, Any] | None = None
) -> tuple[int, int, int]:
    """Count and sums of the table's baselines; with ``where`` (SQL on the table as ``t``), of
    the baselines of the rows it selects only."""
    rows = f' AND row_id IN (SELECT t.id FROM "{table}" t WHERE {where})' if where else ""
    bound = {"t": table, **(params or {})}
    if dialect.is_postgresql(connection):
        row = connection.execute(
            text(f"SELECT {_PG_SUMS} FROM audit_baseline WHERE table_name = :t" + rows), bound
        ).one()
        return int(row[0]), int(row[1]), int(row[2])
    digests = connection.execute(
        text("SELECT digest FROM audit_baseline WHERE table_name = :t" + rows), bound
    ).scalars()
    return _digest_sums(digests)


def record_bulk_load(table: str, count: int, note: str, *, only_unlogged: bool = False) -> int:
    """Baseline the rows of ``table`` just written in bulk, and log one keyed ``bulk_load`` entry.

    The database computes each new row's digest in one ``INSERT … SELECT`` (rows already
    baselined are left alone, and with ``only_unlogged`` rows any entry covers); the entry holds
    the columns digested, the row count and the sums of the new digests, so ``verify`` can tell a
    changed row and an edited baseline apart. Returns the number of rows baselined.
    """
    from fdoctor.extensions import db

    connection = db.session.connection()
    columns = [c.name for c in db.metadata.tables[table].columns]
    before = baseline_sums(connection, table)
    # A table loaded for the first time (the demo loader) needs no check for earlier baselines.
    fresh = before[0] == 0 and not only_unlogged
    connection.execute(
        text(
            f"INSERT INTO audit_baseline (table_name, row_id, digest) "
            f"SELECT CAST(:t AS VARCHAR(64)), t.id, {digest_expression(connection, table, columns)} "
            f'FROM "{table}" t'
            + ("" if fresh else _NOT_BASELINED)
            + (_NO_ENTRY if only_unlogged else "")
        ),
        {"t": table},
    )
    after = baseline_sums(connection, table)
    added = [a - b for a, b in zip(after, before, strict=True)]
    if only_unlogged and not added[0]:
        return 0
    _record_baselines("bulk_load", table, "*", count, note, columns, added)
    return added[0]


def record_bulk_rows(
    table: str, where: str, params: dict[str, Any], subject: str, note: str
) -> int:
    """Audit rows a service just wrote with one statement (those ``where`` selects, SQL on the
    table as ``t``) as a bulk load: the database digests each row into ``audit_baseline`` and one
    keyed ``bulk_load`` entry holds their count and sums (``subject``, e.g. the sheet, is its row
    id). ``verify`` then checks each row against its digest, as for the demo loader's rows; no
    entry per row is written. Returns the number of rows."""
    from fdoctor.extensions import db

    connection = db.session.connection()
    columns = [c.name for c in db.metadata.tables[table].columns]
    # The rows are new (ids above every earlier row's): the digests written are all their
    # baselines, summed as ``baseline_sums`` would sum them, without reading them again.
    insert = (
        f"INSERT INTO audit_baseline (table_name, row_id, digest) "
        f"SELECT CAST(:t AS VARCHAR(64)), t.id, {digest_expression(connection, table, columns)} "
        f'FROM "{table}" t WHERE {where} RETURNING digest'
    )
    bound = {"t": table, **params}
    if dialect.is_postgresql(connection):  # summed where they are made, not sent back one by one
        row = connection.execute(
            text(f"WITH added AS ({insert}) SELECT {_PG_SUMS} FROM added"), bound
        ).one()
        sums = (int(row[0]), int(row[1]), int(row[2]))
    else:
        sums = _digest_sums(connection.execute(text(insert), bound).scalars())
    _record_baselines("bulk_load", table, subject, sums[0], note, columns, sums)
    return sums[0]


def forget_bulk_rows(
    table: str, where: str, params: dict[str, Any], subject: str, note: str
) -> int:
    """Audit the deletion, about to happen, of the rows ``where`` selects: the baselined ones
    leave their baselines with one keyed ``bulk_delete`` entry (their count and sums, which
    ``verify`` takes off the loads'); any other row gets a ``delete`` entry of its own. The caller
    then deletes the rows. Returns the number of rows."""
    from fdoctor.extensions import db

    connection = db.session.connection()
    columns = [c.name for c in db.metadata.tables[table].columns]
    own = connection.execute(
        text(
            f'SELECT t.* FROM "{table}" t WHERE {where}'
            + " AND"
            + _NOT_BASELINED.removeprefix(" WHERE")
        ),
        {"t": table, **params},
    ).mappings()
    pending = [("delete", table, str(r["id"]), row_snapshot(dict(r), table), None) for r in own]
    sums = baseline_sums(connection, table, where, params)
    count = sums[0]
    if count:
        connection.execute(
            text(
                f"DELETE FROM audit_baseline WHERE table_name = :t AND row_id IN "
                f'(SELECT t.id FROM "{table}" t WHERE {where})'
            ),
            {"t": table, **params},
        )
        _record_baselines("bulk_delete", table, subject, count, note, columns, sums)
    write_entries(connection, pending, bulk=True)
    return count + len(pending)


def _record_baselines(
    action: str,
    table: str,
    subject: str,
    rows: int,
    note: str,
    columns: list[str],
    sums: Sequence[int],
) -> None:
    """The keyed ``bulk_load`` or ``bulk_delete`` entry of baselines added or removed: the columns
    digested and the baselines' count and sums (``sums``, as ``baseline_sums`` gives them)."""
    baseline = {"count": sums[0], "high": str(sums[1]), "low": str(sums[2])}
    detail = {"rows": rows, "note": note, "columns": columns, "baseline": baseline}
    record_event(action, table, subject, detail)


_NOT_BASELINED = (
    " WHERE NOT EXISTS (SELECT 1 FROM audit_baseline b WHERE b.table_name = :t AND b.row_id = t.id)"
)
_NO_ENTRY = (
    " AND NOT EXISTS (SELECT 1 FROM audit_entry e WHERE e.table_name = :t "
    "AND e.row_id = CAST(t.id AS VARCHAR(64)))"
)


def adopt_unlogged_rows() -> dict[str, int]:
    """Baseline the rows of audited tables that no entry covers (once, after an upgrade that
    starts auditing more tables); each table gets a ``bulk_load`` entry. The caller commits."""
    adopted = {}
    for table in audited_model_tables():
        count = record_bulk_load(table.name, 0, "纳入审计前已有的记录", only_unlogged=True)
        if count:
            adopted[table.name] = count
    return adopted
