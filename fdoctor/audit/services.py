"""Writing and verifying the hash-chained audit trail.

Every ORM insert, update and delete of an audited table is captured at flush time (one listener
for the whole app, so no view can forget it) and written in the same transaction as the change.
Entries are chained: each stores the previous entry's hash. On PostgreSQL a transaction-scoped
advisory lock serialises writers so two transactions never chain off the same entry; on SQLite the
database's single writer does the same.

Limits, stated honestly: bulk Core statements (``insert(Model)`` with lists of rows, ``update()``,
COPY) bypass the ORM and are not captured row by row; the demo loader and imports record one
``bulk_load`` entry per table instead. A service that inserts rows with one Core statement can
give each row the entry the ORM would have with ``write_created_rows`` (the settlement lines do).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Integer, Numeric, event, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from fdoctor.audit.models import AuditEntry
from fdoctor.core import clock
from fdoctor.core.bulk import insert_rows

AUDITED_TABLES = frozenset(
    {
        "resident",
        "household",
        "contract",
        "contract_member",
        "service_record",
        "survey_response",
        "survey_record_check",
        "assessment",
        "assessment_item",
        "settlement",
        "settlement_line",
        "complaint",
        "record_review",
    }
)
GENESIS = "0" * 64
_ADVISORY_KEY = 7_245_001  # arbitrary constant naming the audit chain lock


_PLAIN = frozenset({str, int, bool, float, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # most columns: as they are (isinstance below is 4× slower)
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of a mapped object, JSON-safe and stable."""
    mapper = inspect(obj).mapper
    return {col.key: _jsonable(getattr(obj, col.key)) for col in mapper.column_attrs}


def row_snapshot(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in row.items()}


# One encoder for every entry: json.dumps with options builds a new encoder on each call.
_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
)


def canonical(data: Any) -> str:
    """The stable text of a value (keys sorted, no spaces): what the chain hashes."""
    return _CANONICAL.encode(data)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "|" + canonical(fields)).encode("utf-8")).hexdigest()


def _actor() -> tuple[int | None, str | None, str | None]:
    if not has_request_context():
        return None, getattr(g, "audit_actor", None) if _has_g() else None, None
    from flask_login import current_user

    user_id = username = None
    if getattr(current_user, "is_authenticated", False):
        user_id, username = current_user.id, current_user.username
    return user_id, username, request.remote_addr


def _has_g() -> bool:
    from flask import has_app_context

    return has_app_context()


def _pk(obj: Any) -> str:
    # After a flush the identity key is not yet assigned; read the primary key columns instead.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ":".join(str(x) for x in key)


def write_entries(
    connection: Any, pending: list[tuple[str, str, str, Any, Any]], *, bulk: bool = False
) -> None:
    """Append entries (action, table, row id, before, after) to the chain on ``connection``.

    Everything that does not depend on the previous entry (the canonical text of each entry) is
    computed before the chain lock is taken; under the lock only the last entry is read, the hashes
    are chained and the rows are inserted. The lock is then held until the transaction ends.
    ``bulk`` (the tablet upload's created records): on PostgreSQL the entries go in as one JSON
    parameter rather than one parameter set per entry.
    """
    if not pending:
        return
    user_id, username, ip = _actor()
    at = clock.now()
    stamp = _jsonable(at)
    prepared = []
    for action, table, row_id, before, after in pending:
        fields = {
            "at": stamp,
            "user_id": user_id,
            "username": username,
            "ip": ip,
            "action": action,
            "table_name": table,
            "row_id": row_id,
            "before": canonical(before) if before is not None else None,
            "after": canonical(after) if after is not None else None,
        }
        # The same bytes entry_hash() hashes after the previous hash and "|".
        prepared.append((fields, ("|" + canonical(fields)).encode("utf-8")))

    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    last = connection.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    # Ids are assigned here, under the chain lock, so the chain order is the id order and a batch
    # of entries is one multi-row insert.
    next_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    rows = []
    sha256 = hashlib.sha256
    for fields, tail in prepared:
        digest = sha256(prev.encode("ascii") + tail).hexdigest()
        rows.append({**fields, "id": next_id, "at": at, "prev_hash": prev, "hash": digest})
        prev = digest
        next_id += 1
    if postgres and bulk and len(rows) > 1:
        _insert_entries_pg(connection, rows)
    else:
        connection.execute(insert(AuditEntry), rows)


def write_created_rows(connection: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """Audit rows a service inserted itself with one Core statement, as the ORM would have.

    Each row (every column, ``id`` included, with the values as written) gets the same
    ``create`` entry that the flush listener writes for an ORM insert; the entries are chained
    and inserted together (``bulk``).
    """
    write_entries(
        connection,
        [("create", table, str(row["id"]), None, row_snapshot(row)) for row in rows],
        bulk=True,
    )


_ENTRY_COLUMNS = ("id", "at", "user_id", "username", "ip", "action", "table_name", "row_id",
                  "before", "after", "prev_hash", "hash")  # fmt: skip


def _insert_entries_pg(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Many entries as one statement with one parameter (``fdoctor.core.bulk``)."""
    insert_rows(connection, AuditEntry.__table__, rows, _ENTRY_COLUMNS)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    changes = session.info.setdefault("audit_pending", [])
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        if table not in AUDITED_TABLES or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        before = {}
        for attr in state.mapper.column_attrs:
            hist = state.attrs[attr.key].history
            before[attr.key] = _jsonable(
                hist.deleted[0] if hist.deleted else getattr(obj, attr.key)
            )
        changes.append(("update", obj, before))
    for obj in session.deleted:
        if getattr(obj, "__tablename__", None) in AUDITED_TABLES:
            changes.append(("delete", obj, snapshot(obj)))
    for obj in session.new:
        if getattr(obj, "__tablename__", None) in AUDITED_TABLES:
            changes.append(("create", obj, None))


def _after_flush(session: Session, _context: Any) -> None:
    changes = session.info.pop("audit_pending", [])
    pending = []
    for action, obj, before in changes:
        table = obj.__tablename__
        after = None if action == "delete" else snapshot(obj)
        pending.append((action, table, _pk(obj), before, after))
    if pending:
        write_entries(session.connection(), pending)


def record_event(
    action: str, table: str, row_id: str, detail: dict[str, Any] | None = None
) -> None:
    """Log a non-change event (e.g. a full citizen ID viewed) in the current transaction."""
    from fdoctor.extensions import db

    write_entries(db.session.connection(), [(action, table, row_id, None, detail)])


def record_bulk_load(table: str, count: int, note: str) -> None:
    record_event("bulk_load", table, "*", {"rows": count, "note": note})


def install(session_class: Any) -> None:
    event.listen(session_class, "before_flush", _before_flush)
    event.listen(session_class, "after_flush", _after_flush)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problems: list[str]


def verify(session: Session, check_records: bool = True) -> VerifyResult:
    """Walk the chain; name the first entry that was changed or removed; compare live records.

    A record whose current values differ from its last audited ``after`` was changed outside the
    app (e.g. raw SQL) and is reported too.
    """
    problems: list[str] = []
    prev = GENESIS
    last_id = 0
    count = 0
    latest: dict[tuple[str, str], str | None] = {}
    result = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    for entry in result:
        count += 1
        fields = {
            "at": _jsonable(entry.at),
            "user_id": entry.user_id,
            "username": entry.username,
            "ip": entry.ip,
            "action": entry.action,
            "table_name": entry.table_name,
            "row_id": entry.row_id,
            "before": entry.before,
            "after": entry.after,
        }
        if entry.prev_hash != prev:
            problems.append(
                f"审计日志第 {entry.id} 条之前的记录被删除或篡改（链断裂：前序哈希不符）"
            )
            break
        if entry_hash(prev, fields) != entry.hash:
            problems.append(f"审计日志第 {entry.id} 条内容被修改（哈希不符）")
            break
        prev = entry.hash
        last_id = entry.id
        if entry.action in {"create", "update", "delete"}:
            latest[(entry.table_name, entry.row_id)] = entry.after
    if not problems and check_records:
        problems.extend(_compare_records(session, latest))
    del last_id
    return VerifyResult(ok=not problems, entries=count, problems=problems)


def _compare_records(session: Session, latest: dict[tuple[str, str], str | None]) -> list[str]:
    from fdoctor.extensions import db

    problems = []
    by_table: dict[str, dict[str, str | None]] = {}
    for (table, row_id), after in latest.items():
        by_table.setdefault(table, {})[row_id] = after
    for table_name, rows in sorted(by_table.items()):
        table = db.metadata.tables.get(table_name)
        if table is None:
            continue
        pk = list(table.primary_key.columns)[0]
        decimals = _decimal_columns(table)
        ids = [int(r) if r.isdigit() else r for r in rows]
        current = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for row in session.execute(select(table).where(pk.in_(chunk))).mappings():
                current[str(row[pk.name])] = canonical(row_snapshot(dict(row)))
        for row_id, after in sorted(rows.items()):
            live = current.get(row_id)
            if after is None and live is not None:
                problems.append(
                    f"{table_name} 第 {row_id} 行已被删除的记录又出现了（未经系统写入）"
                )
            elif after is not None and live is None:
                problems.append(f"{table_name} 第 {row_id} 行被绕过系统删除")
            elif after is not None and live != after and not _same_row(after, live, decimals):
                problems.append(f"{table_name} 第 {row_id} 行被绕过系统修改（与审计记录不符）")
    return problems


def _decimal_columns(table: Any) -> set[str]:
    """Columns holding fixed-point numbers (``Numeric`` but not integers)."""
    return {
        column.name
        for column in table.columns
        if isinstance(column.type, Numeric) and not isinstance(column.type, Integer)
    }


def _same_row(after: str, live: str | None, decimals: set[str]) -> bool:
    """Whether the audited snapshot and the live row hold the same values, numbers compared by
    value: an entry written from the values the app gave (``0.35``) and the row read back from a
    NUMERIC(14, 4) column (``0.3500``) are the same row."""
    if live is None or not decimals:
        return False
    audited, current = json.loads(after), json.loads(live)
    if audited.keys() != current.keys():
        return False
    for key, value in audited.items():
        other = current[key]
        if value == other:
            continue
        if key not in decimals or value is None or other is None:
            return False
        try:
            if Decimal(str(value)) != Decimal(str(other)):
                return False
        except ArithmeticError:
            return False
    return True


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count(AuditEntry.id))) or 0
