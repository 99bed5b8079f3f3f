"""The keyed, hash-chained audit trail: appending entries, and the chain's keyed end.

Every audited change is written as an entry in the same transaction as the change (the flush
listener in ``fdoctor.audit.listener``, the events of ``fdoctor.audit.events``, the bulk loads of
``fdoctor.audit.baselines``). Entries are chained: each stores the previous entry's hash, and each
hash is an HMAC under the audit key (``fdoctor.audit.keys``), which the database does not hold.
The chain's end is kept in the keyed ``audit_head`` row, and checkpoints
(``fdoctor.audit.checkpoints``) note it from time to time, so cutting entries off the end is seen.

Appends are serialised: the first statement of an append updates the ``audit_head`` row (after a
transaction-scoped advisory lock on PostgreSQL), so on SQLite it takes the database's writer lock
and on PostgreSQL the row lock before the chain's end is read; two transactions never chain off
the same entry. An append that fails raises: the caller's transaction (and the request) fails
with it, nothing is logged "best effort".

Bulk Core statements (``insert(Model)`` with lists of rows, COPY) bypass the ORM. A service that
inserts rows with one Core statement gives each row the entry the ORM would have with
``write_created_rows``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from fdoctor.audit.keys import audit_key, keyed, mac
from fdoctor.audit.models import AuditEntry, AuditHead
from fdoctor.audit.snapshots import canonical, jsonable, row_snapshot
from fdoctor.core import clock, dialect
from fdoctor.core.bulk import insert_rows

GENESIS = "0" * 64
_ADVISORY_KEY = 7_245_001  # arbitrary constant naming the audit chain lock
HEAD_ID = 1


def entry_hash(prev_hash: str, fields: dict[str, Any], key: bytes | None) -> str:
    """The hash of an entry: HMAC-SHA256 under ``key``; plain SHA-256 for legacy entries
    (``key`` None)."""
    message = (prev_hash + "|" + canonical(fields)).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    signer = keyed(key)
    signer.update(message)
    return str(signer.hexdigest())


def head_mac(key: bytes, last_id: int, last_hash: str, legacy_until: int) -> str:
    return mac(key, f"head|{last_id}|{last_hash}|{legacy_until}")


def checkpoint_mac(
    key: bytes, at: datetime, entries: int, last_id: int, last_hash: str, prev_mac: str
) -> str:
    stamp = at.isoformat(sep=" ")
    return mac(key, f"checkpoint|{stamp}|{entries}|{last_id}|{last_hash}|{prev_mac}")


def _actor() -> tuple[int | None, str | None, str | None]:
    if not has_request_context():
        # Commands and scheduled jobs: the name set for the run, else the system account.
        named = getattr(g, "audit_actor", None) if _has_g() else None
        return None, named or _system_account(), None
    from flask_login import current_user

    user_id = username = None
    if getattr(current_user, "is_authenticated", False):
        user_id, username = current_user.id, current_user.username
    return user_id, username, request.remote_addr


def _system_account() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no name for the process's uid (some containers)
        return "cli:unknown"


def _has_g() -> bool:
    from flask import has_app_context

    return has_app_context()


def lock_chain(connection: Any) -> tuple[int, str, int, bool]:
    """Take the chain lock and read its end: (last id, last hash, legacy_until, head exists).

    The first statement is a write to the head row that returns it: on SQLite it takes the
    writer lock before anything is read (a read first could see an end another writer is about
    to move: two entries with one id, the second refused with ``UNIQUE constraint failed``); on
    PostgreSQL it waits for the row lock and returns the row as the previous holder left it.
    Before the first append there is no row to lock: a transaction-scoped advisory lock
    (PostgreSQL) serialises that case, and the row is looked for again under it.
    """
    head = connection.execute(_LOCK_HEAD).first()
    if head is None and dialect.is_postgresql(connection):
        dialect.advisory_xact_lock(connection, _ADVISORY_KEY)
        head = connection.execute(_LOCK_HEAD).first()
    if head is not None:
        return head[0], head[1], head[2], True
    # No head yet (an empty trail): start from the last entry, if any; a trail whose head was
    # removed goes on from its last entry and ``verify`` reports the missing head.
    last = connection.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (last[0], last[1], 0, False) if last else (0, GENESIS, 0, False)


_LOCK_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == HEAD_ID)
    .values(last_id=AuditHead.last_id)
    .returning(AuditHead.last_id, AuditHead.last_hash, AuditHead.legacy_until)
)


def _move_head(
    connection: Any, key: bytes, last_id: int, last_hash: str, legacy_until: int, exists: bool
) -> None:
    values = {
        "last_id": last_id,
        "last_hash": last_hash,
        "legacy_until": legacy_until,
        "mac": head_mac(key, last_id, last_hash, legacy_until),
    }
    if exists:
        connection.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(**values))
    else:
        connection.execute(insert(AuditHead).values(id=HEAD_ID, **values))


def write_entries(
    connection: Any,
    pending: list[tuple[str, str, str, Any, Any]],
    *,
    bulk: bool = False,
    actor: Any = None,
) -> int:
    """Append entries (action, table, row id, before, after) to the chain on ``connection``;
    returns the id of the last one.

    Everything that does not depend on the previous entry (the canonical text of each entry) is
    computed before the chain lock is taken; under the lock only the chain's end is read, the
    hashes are chained and the rows are inserted. The lock is then held until the transaction
    ends. ``bulk`` (the tablet upload's created records): on PostgreSQL the entries go in as one
    JSON parameter rather than one parameter set per entry. ``actor``: the user acting, when it
    is not yet the request's signed-in user (a sign-in). Any failure raises.
    """
    if not pending:
        return 0
    key = audit_key()
    user_id, username, ip = _actor()
    if actor is not None:
        user_id, username = actor.id, actor.username
    at = clock.now()
    stamp = jsonable(at)
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
        # The same bytes entry_hash() signs after the previous hash.
        prepared.append((fields, ("|" + canonical(fields)).encode("utf-8")))

    last_id, prev, legacy_until, head_exists = lock_chain(connection)
    # Ids are assigned here, under the chain lock, so the chain order is the id order and a batch
    # of entries is one multi-row insert.
    next_id = last_id + 1
    rows = []
    signer = keyed(key)
    for fields, tail in prepared:
        one = signer.copy()
        one.update(prev.encode("ascii") + tail)
        digest = one.hexdigest()
        rows.append({**fields, "id": next_id, "at": at, "prev_hash": prev, "hash": digest})
        prev = digest
        next_id += 1
    if dialect.is_postgresql(connection) and bulk and len(rows) > 1:
        _insert_entries_pg(connection, rows)
    else:
        connection.execute(insert(AuditEntry), rows)
    _move_head(connection, key, next_id - 1, prev, legacy_until, head_exists)
    return next_id - 1


def write_created_rows(connection: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """Audit rows a service inserted itself with one Core statement, as the ORM would have.

    Each row (every column, ``id`` included, with the values as written) gets the same
    ``create`` entry that the flush listener writes for an ORM insert; the entries are chained
    and inserted together (``bulk``).
    """
    write_entries(
        connection,
        [("create", table, str(row["id"]), None, row_snapshot(row, table)) for row in rows],
        bulk=True,
    )


_ENTRY_COLUMNS = ("id", "at", "user_id", "username", "ip", "action", "table_name", "row_id",
                  "before", "after", "prev_hash", "hash")  # fmt: skip


def _insert_entries_pg(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Many entries as one statement with one parameter (``fdoctor.core.bulk``)."""
    insert_rows(connection, AuditEntry.__table__, rows, _ENTRY_COLUMNS)


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count(AuditEntry.id))) or 0
