"""Writing and verifying the keyed, hash-chained audit trail.

Every ORM insert, update and delete of an audited table is captured at flush time (one listener
for the whole app, so no view can forget it) and written in the same transaction as the change.
Entries are chained: each stores the previous entry's hash, and each hash is an HMAC under the
audit key (``fdoctor.audit.keys``), which the database does not hold. The chain's end is kept in
the keyed ``audit_head`` row, and checkpoints (``audit_checkpoint``, printed on locked settlement
sheets and stored with backups) note it from time to time, so cutting entries off the end is seen.

Appends are serialised: the first statement of an append updates the ``audit_head`` row (after a
transaction-scoped advisory lock on PostgreSQL), so on SQLite it takes the database's writer lock
and on PostgreSQL the row lock before the chain's end is read; two transactions never chain off
the same entry. An append that fails raises: the caller's transaction (and the request) fails
with it, nothing is logged "best effort".

Bulk Core statements (``insert(Model)`` with lists of rows, COPY) bypass the ORM. A service that
inserts rows with one Core statement gives each row the entry the ORM would have with
``write_created_rows``; the demo loader calls ``record_bulk_load`` per table, which stores a
per-row content digest computed by the database (``audit_baseline``) and one ``bulk_load`` entry
holding their count and sums, so a later change to a bulk-loaded row is found and named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Integer, Numeric, event, func, insert, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from fdoctor.audit.keys import audit_key, keyed, mac
from fdoctor.audit.models import AuditBaseline, AuditCheckpoint, AuditEntry, AuditHead
from fdoctor.core import clock, dialect
from fdoctor.core.bulk import insert_rows

# Every table that decides money, points or access (SPEC: assessments, settlement, accounts).
# ``tests/app/test_audit_coverage.py`` checks every model table is here or in NOT_AUDITED.
AUDITED_TABLES = frozenset(
    {
        # residents, contracts and services: the denominators and numerators of the indicators
        "resident",
        "household",
        "pregnancy",
        "contract",
        "contract_member",
        "contract_package",
        "service_package",
        "service_record",
        "record_review",
        "complaint",
        # surveys and verification draws
        "survey_response",
        "survey_record_check",
        "verification_sample",
        "verification_sample_team",
        "verification_sample_doctor",
        "verification_sample_item",
        "resident_answer",
        # assessments and what follows them
        "assessment",
        "assessment_item",
        "assessment_appeal",
        "assessment_appeal_item",
        "rectification",
        "spot_check_draw",
        "spot_check_draw_item",
        "suspicion_flag",
        # money
        "settlement",
        "settlement_line",
        "settlement_correction",
        "settlement_correction_line",
        "settlement_simulation",
        "settlement_parameters",
        "pool_fund",
        "post_coefficient",
        "institution_split",
        "member_rating",
        "distribution_settings",
        "team_distribution",
        "distribution_objection",
        "workload_standard",
        "attendance_record",
        "point_value",
        "member_deduction",
        "fund_award",
        "leader_rule",
        "workload_report",
        "workload_report_row",
        "population_figure",
        # access
        "user_account",
        "api_token",
        "org_unit",
    }
)
# Tables left out, each with the reason (the coverage test requires one).
NOT_AUDITED: dict[str, str] = {
    "audit_entry": "the trail itself",
    "audit_head": "the trail's keyed end",
    "audit_checkpoint": "keyed checkpoints of the trail",
    "audit_baseline": "digests of bulk-loaded rows, summed in their keyed bulk_load entry",
    "notification": "messages derived from audited rows; deciding nothing",
    "import_run": "the record of an upload; the rows it writes are audited",
    "service_record_version": "sync history of a service record; the record itself is audited",
    "grid_cell": "map cells grouping households; scope follows the household's team",
    "service_tally": "derived counts of audited service records; rebuilt from them by a job",
    "signed_population": "derived counts of audited contracts; rebuilt from them by a job",
    "resident_link_hit": "the resident page's rate limit (a digest of the address and a time)",
}
# Columns whose value never enters the trail: a keyed digest of the value stands in for it, so a
# change (a password change, a raw rewrite of the hash) still shows without storing the secret.
REDACTED: dict[str, tuple[str, ...]] = {
    "user_account": ("password_hash",),
    "api_token": ("token_hash",),
}
# Columns left out of snapshots: token use is logged as ``token_use`` events, at most once per
# token and day, instead of an update entry per request.
IGNORED: dict[str, tuple[str, ...]] = {"api_token": ("last_used_at",)}
# Columns too large to copy into every entry: their SHA-256 (``sha256:<hex>`` of the UTF-8 text)
# stands in for the value, so a change to them still shows. A settlement sheet's inputs and
# outputs are each megabytes of canonical JSON at city scale, and the sheet's row is written
# (and so audited) several times in one build; the ``sha256`` column covers both as well.
DIGESTED: dict[str, tuple[str, ...]] = {"settlement": ("inputs_json", "outputs_json")}
GENESIS = "0" * 64
_ADVISORY_KEY = 7_245_001  # arbitrary constant naming the audit chain lock
HEAD_ID = 1


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


def _redacted(table: str, column: str, value: Any) -> str | None:
    """A keyed digest standing in for a secret column's value (None stays None)."""
    if value is None:
        return None
    return "hmac:" + mac(audit_key(), f"{table}.{column}|{value}")[:16]


def _digested(value: Any) -> Any:
    """The stand-in of a ``DIGESTED`` column's value (None, and a stand-in, stay as they are)."""
    if not isinstance(value, str) or value.startswith(_DIGEST_PREFIX):
        return value
    return _DIGEST_PREFIX + hashlib.sha256(value.encode("utf-8")).hexdigest()


_DIGEST_PREFIX = "sha256:"


def _clean(table: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """Drop ignored columns, replace secret ones and digest large ones (see ``REDACTED``,
    ``IGNORED`` and ``DIGESTED``)."""
    if table is None or (table not in REDACTED and table not in IGNORED and table not in DIGESTED):
        return data
    for column in IGNORED.get(table, ()):
        data.pop(column, None)
    for column in REDACTED.get(table, ()):
        if column in data:
            data[column] = _redacted(table, column, data[column])
    for column in DIGESTED.get(table, ()):
        if column in data:
            data[column] = _digested(data[column])
    return data


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of a mapped object, JSON-safe and stable."""
    mapper = inspect(obj).mapper
    data = {col.key: _jsonable(getattr(obj, col.key)) for col in mapper.column_attrs}
    return _clean(getattr(obj, "__tablename__", None), data)


def row_snapshot(row: dict[str, Any], table: str | None = None) -> dict[str, Any]:
    return _clean(table, {k: _jsonable(v) for k, v in row.items()})


# One encoder for every entry: json.dumps with options builds a new encoder on each call.
_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
)


def canonical(data: Any) -> str:
    """The stable text of a value (keys sorted, no spaces): what the chain hashes."""
    return _CANONICAL.encode(data)


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


def _pk(obj: Any) -> str:
    # After a flush the identity key is not yet assigned; read the primary key columns instead.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ":".join(str(x) for x in key)


def _lock_chain(connection: Any) -> tuple[int, str, int, bool]:
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
        # The same bytes entry_hash() signs after the previous hash.
        prepared.append((fields, ("|" + canonical(fields)).encode("utf-8")))

    last_id, prev, legacy_until, head_exists = _lock_chain(connection)
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


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    changes = session.info.setdefault("audit_pending", [])
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        if table not in AUDITED_TABLES or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        before = {}
        unknown = []  # set while expired (e.g. after a commit): the old value was never loaded
        for attr in state.mapper.column_attrs:
            hist = state.attrs[attr.key].history
            if hist.deleted:
                before[attr.key] = _jsonable(hist.deleted[0])
            elif hist.added:
                unknown.append(attr)
            else:
                before[attr.key] = _jsonable(getattr(obj, attr.key))
        if unknown:
            # The row in the database still holds the old values until this flush.
            stored = session.connection().execute(
                select(*(a.columns[0] for a in unknown)).where(
                    *(c == v for c, v in zip(state.mapper.primary_key, state.identity or (),
                                             strict=True))
                )
            ).first()  # fmt: skip
            for i, attr in enumerate(unknown):
                before[attr.key] = _jsonable(stored[i] if stored is not None else None)
        changes.append(("update", obj, _clean(table, before)))
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


def audited_update(model: Any, row_id: int, statement: Any, *, returning: bool = False) -> Any:
    """Run one Core UPDATE of one row of an audited ``model`` and log it as the ORM would.

    Counters written with single statements (atomic under parallel requests, e.g. the sign-in
    attempts) are not seen by the flush listener; the row as read before and after (under the
    UPDATE's row lock) goes into an ``update`` entry, so ``verify`` finds the row as its last
    entry says. Returns the statement's RETURNING scalar when ``returning``, else None; None too
    when no row matched (nothing is logged then).
    """
    from fdoctor.extensions import db

    table = model.__table__
    read = select(table).where(table.c.id == row_id)
    before = db.session.execute(read).mappings().first()
    result = db.session.execute(statement, execution_options={"synchronize_session": False})
    value = result.scalar() if returning else None
    if (returning and value is None) or (not returning and not result.rowcount):
        return None
    after = db.session.execute(read).mappings().one()
    if before is not None and dict(before) != dict(after):
        name = model.__tablename__
        write_entries(
            db.session.connection(),
            [("update", name, str(row_id), row_snapshot(dict(before), name),
              row_snapshot(dict(after), name))],
        )  # fmt: skip
    return value


def record_event(
    action: str,
    table: str,
    row_id: str,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
) -> None:
    """Log a non-change event (a full citizen ID viewed, a sign-in) in the current transaction."""
    from fdoctor.extensions import db

    write_entries(db.session.connection(), [(action, table, row_id, None, detail)], actor=actor)


def record_sign_in(user: Any) -> None:
    """A successful sign-in (登录) of ``user``, logged with the request's address."""
    record_event("login", "user_account", str(user.id), {"username": user.username}, actor=user)


def record_failed_sign_in(username: str, reason: str) -> None:
    """A refused sign-in: the name tried (cut to 64 characters), the account if it exists."""
    from fdoctor.auth.models import User
    from fdoctor.extensions import db

    name = (username or "").strip()[:64]
    user_id = db.session.scalar(select(User.id).where(User.username == name))
    row_id = str(user_id) if user_id is not None else "*"
    record_event("login_failed", "user_account", row_id, {"username": name, "why": reason})


def record_token_use(token_hash: str, user: Any = None) -> bool:
    """Log that a device used its API token today, at most once per token and day.

    One conditional update marks the token used today; only the request that moves it writes the
    ``token_use`` entry, so a device syncing all day costs one entry (and one chain lock) a day.
    Runs in its own short transaction, committed at once: the use stays logged whatever the
    request does next, and the request's session (its loaded user) is left alone.
    """
    from fdoctor.auth.models import ApiToken
    from fdoctor.extensions import db

    now = clock.now()
    day_start = datetime(now.year, now.month, now.day)
    with db.engine.begin() as connection:
        token = connection.execute(
            update(ApiToken)
            .where(
                ApiToken.token_hash == token_hash,
                (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < day_start),
            )
            # updated_at kept as it is: a token's use is not a change of the token
            .values(last_used_at=now, updated_at=ApiToken.updated_at)
            .returning(ApiToken.id, ApiToken.user_id)
        ).first()
        if token is None:
            return False
        detail = {"user_id": token[1], "day": str(now.date())}
        entry = ("token_use", "api_token", str(token[0]), None, detail)
        write_entries(connection, [entry], actor=user)
    return True


# --------------------------------------------------------------------------- bulk loads


def _digest_expression(connection: Any, table: str, columns: list[str]) -> str:
    """SQL computing a row's content digest (32 hex) from ``columns`` of alias ``t``."""
    cols = ", ".join(f't."{c}"' for c in columns)
    if dialect.is_postgresql(connection):
        return f"md5(CAST(ROW({cols}) AS TEXT))"
    return f"fd_row_digest({cols})"


def _row_digest(*values: Any) -> str:
    """SQLite's ``fd_row_digest``: MD5 of the row's values as SQLite returns them."""
    return hashlib.md5(repr(values).encode("utf-8"), usedforsecurity=False).hexdigest()


def _register_sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
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


def _baseline_sums(
    connection: Any, table: str, where: str | None = None, params: dict[str, Any] | None = None
) -> tuple[int, int, int]:
    """Count and sums of the table's baselines; with ``where`` (SQL on the table as ``t``), of
    the baselines of the rows it selects only."""
    rows = f' AND row_id IN (SELECT t.id FROM "{table}" t WHERE {where})' if where else ""
    bound = {"t": table, **(params or {})}
    if dialect.is_postgresql(connection):
        row = connection.execute(
            text(
                "SELECT count(*), "
                "COALESCE(sum(('x' || substr(digest, 1, 15))::bit(60)::bigint::numeric), 0), "
                "COALESCE(sum(('x' || substr(digest, 16, 15))::bit(60)::bigint::numeric), 0) "
                "FROM audit_baseline WHERE table_name = :t" + rows
            ),
            bound,
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
    before = _baseline_sums(connection, table)
    # A table loaded for the first time (the demo loader) needs no check for earlier baselines.
    fresh = before[0] == 0 and not only_unlogged
    connection.execute(
        text(
            f"INSERT INTO audit_baseline (table_name, row_id, digest) "
            f"SELECT CAST(:t AS VARCHAR(64)), t.id, {_digest_expression(connection, table, columns)} "
            f'FROM "{table}" t'
            + ("" if fresh else _NOT_BASELINED)
            + (_NO_ENTRY if only_unlogged else "")
        ),
        {"t": table},
    )
    after = _baseline_sums(connection, table)
    added = [a - b for a, b in zip(after, before, strict=True)]
    if only_unlogged and not added[0]:
        return 0
    record_event(
        "bulk_load",
        table,
        "*",
        {"rows": count, "note": note, "columns": columns,
         "baseline": {"count": added[0], "high": str(added[1]), "low": str(added[2])}},
    )  # fmt: skip
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
    connection.execute(
        text(
            f"INSERT INTO audit_baseline (table_name, row_id, digest) "
            f"SELECT CAST(:t AS VARCHAR(64)), t.id, {_digest_expression(connection, table, columns)} "
            f'FROM "{table}" t WHERE {where}'
        ),
        {"t": table, **params},
    )
    count, high, low = _baseline_sums(connection, table, where, params)
    record_event(
        "bulk_load",
        table,
        subject,
        {"rows": count, "note": note, "columns": columns,
         "baseline": {"count": count, "high": str(high), "low": str(low)}},
    )  # fmt: skip
    return count


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
    count, high, low = _baseline_sums(connection, table, where, params)
    if count:
        connection.execute(
            text(
                f"DELETE FROM audit_baseline WHERE table_name = :t AND row_id IN "
                f'(SELECT t.id FROM "{table}" t WHERE {where})'
            ),
            {"t": table, **params},
        )
        record_event(
            "bulk_delete",
            table,
            subject,
            {"rows": count, "note": note, "columns": columns,
             "baseline": {"count": count, "high": str(high), "low": str(low)}},
        )  # fmt: skip
    write_entries(connection, pending, bulk=True)
    return count + len(pending)


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
    for table in _audited_model_tables():
        count = record_bulk_load(table.name, 0, "纳入审计前已有的记录", only_unlogged=True)
        if count:
            adopted[table.name] = count
    return adopted


def install(session_class: Any) -> None:
    event.listen(session_class, "before_flush", _before_flush)
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(Engine, "connect", _register_sqlite_functions)


# --------------------------------------------------------------------------- checkpoints


def write_checkpoint(session: Session) -> AuditCheckpoint:
    """Note the chain's current end in a keyed checkpoint (审计链锚点); the caller commits."""
    key = audit_key()
    connection = session.connection()
    last_id, last_hash, _legacy, _exists = _lock_chain(connection)
    entries = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.id <= last_id))
    previous = session.scalars(
        select(AuditCheckpoint.mac).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()
    prev_mac = previous or GENESIS
    at = clock.now().replace(microsecond=0)
    checkpoint = AuditCheckpoint(
        at=at,
        entries=entries or 0,
        last_id=last_id,
        last_hash=last_hash,
        prev_mac=prev_mac,
        mac=checkpoint_mac(key, at, entries or 0, last_id, last_hash, prev_mac),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()


def anchor_line(checkpoint: AuditCheckpoint | None) -> str:
    """The short line printed on locked sheets: the last entry's id and the start of its hash."""
    if checkpoint is None:
        return "审计链锚点: 无"
    return f"审计链锚点: #{checkpoint.last_id} {checkpoint.last_hash[:16]}"


def checkpoint_record(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as plain data (stored beside a backup)."""
    return {
        "checkpoint": checkpoint.id,
        "at": checkpoint.at.isoformat(sep=" "),
        "entries": checkpoint.entries,
        "last_id": checkpoint.last_id,
        "last_hash": checkpoint.last_hash,
        "prev_mac": checkpoint.prev_mac,
        "mac": checkpoint.mac,
        "anchor": anchor_line(checkpoint),
    }


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problems: list[str]


_MAX_PROBLEMS = 200
_MAX_ROWS_NAMED = 50  # rows named per table and kind of problem; the rest are counted


def verify(
    session: Session, check_records: bool = True, anchors: Iterable[str] = ()
) -> VerifyResult:
    """Walk the chain and its head and checkpoints; compare live records; name every problem.

    Reported: an entry changed, removed or forged (its keyed hash or its link is wrong), entries
    cut off the end (the head or a checkpoint records more), an edited head or checkpoint, and,
    unless ``check_records`` is off: a record whose current values differ from its last audited
    ``after`` or from its bulk-load baseline, a record deleted or inserted behind the app's back
    (no entry and no baseline covers it). ``anchors`` are lines printed on sheets
    (``#<id> <16 hex>``) to check against the chain.
    """
    key = audit_key()
    problems: list[str] = []
    head = session.get(AuditHead, HEAD_ID)
    legacy_until = head.legacy_until if head is not None else 0
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
    wanted = {c.last_id for c in checkpoints} | _anchor_ids(anchors, problems)
    seen: dict[int, tuple[str, int]] = {}  # wanted id -> (hash, entries up to it)
    prev = GENESIS
    last_id = 0
    count = 0
    latest: dict[tuple[str, str], str | None] = {}
    loads: dict[str, list[dict[str, Any]]] = {}
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
        elif entry_hash(prev, fields, None if entry.id <= legacy_until else key) != entry.hash:
            problems.append(
                f"审计日志第 {entry.id} 条被修改或伪造（校验码不符，非持有审计密钥的系统写入）"
            )
        prev = entry.hash
        last_id = entry.id
        if entry.id in wanted:
            seen[entry.id] = (entry.hash, count)
        if entry.action in {"create", "update", "delete"}:
            latest[(entry.table_name, entry.row_id)] = entry.after
        elif entry.action in {"bulk_load", "bulk_delete"} and entry.after:
            load = json.loads(entry.after)
            if entry.action == "bulk_delete":  # baselines removed with their rows
                counted = load.get("baseline") or {}
                load["baseline"] = {k: -int(counted.get(k, 0)) for k in ("count", "high", "low")}
            loads.setdefault(entry.table_name, []).append(load)
        if len(problems) >= _MAX_PROBLEMS:
            break
    problems.extend(_check_head(key, head, count, last_id, prev))
    problems.extend(_check_checkpoints(key, checkpoints, seen, last_id))
    problems.extend(_check_anchors(anchors, seen))
    if check_records:
        problems.extend(_compare_records(session, latest))
        problems.extend(_check_baselines(session, loads, latest))
        problems.extend(_uncovered_rows(session))
    return VerifyResult(ok=not problems, entries=count, problems=problems)


def _check_head(
    key: bytes, head: AuditHead | None, count: int, last_id: int, last_hash: str
) -> list[str]:
    if head is None:
        return ["审计日志链头记录（audit_head）缺失：无法确认日志末尾未被删除"] if count else []
    problems = []
    if head.mac != head_mac(key, head.last_id, head.last_hash, head.legacy_until):
        problems.append("审计日志链头记录被改动（校验码不符）")
    if head.last_id > last_id:
        first = last_id + 1
        problems.append(
            f"审计日志末尾第 {first} 至 {head.last_id} 条被删除（截断：链头记录最后一条为第 "
            f"{head.last_id} 条，现存最后一条为第 {last_id} 条）"
        )
    elif head.last_id < last_id:
        problems.append(
            f"审计日志第 {head.last_id + 1} 至 {last_id} 条不是经系统追加的（链头只记录到第 "
            f"{head.last_id} 条）"
        )
    elif head.last_hash != last_hash:
        problems.append(f"审计日志第 {last_id} 条与链头记录的哈希不符")
    return problems


def _check_checkpoints(
    key: bytes, checkpoints: list[AuditCheckpoint], seen: dict[int, tuple[str, int]], last_id: int
) -> list[str]:
    problems = []
    prev_mac = GENESIS
    for cp in checkpoints:
        expected = checkpoint_mac(key, cp.at, cp.entries, cp.last_id, cp.last_hash, cp.prev_mac)
        if cp.mac != expected:
            problems.append(f"审计检查点 #{cp.id} 被改动或伪造（校验码不符）")
            prev_mac = cp.mac
            continue
        if cp.prev_mac != prev_mac:
            problems.append(f"审计检查点 #{cp.id} 之前的检查点被删除或篡改")
        prev_mac = cp.mac
        if cp.last_id == 0:
            continue
        found = seen.get(cp.last_id)
        if found is None:
            if cp.last_id > last_id:
                problems.append(
                    f"审计日志在第 {last_id} 条之后被截断：检查点 #{cp.id}（{cp.at:%Y-%m-%d %H:%M}）"
                    f"记录到第 {cp.last_id} 条"
                )
            else:
                problems.append(f"审计日志第 {cp.last_id} 条（检查点 #{cp.id} 记录的末尾）被删除")
        elif found[0] != cp.last_hash:
            problems.append(f"审计日志第 {cp.last_id} 条与检查点 #{cp.id} 记录的哈希不符")
        elif found[1] != cp.entries:
            problems.append(
                f"审计日志第 {cp.last_id} 条及以前现有 {found[1]} 条，检查点 #{cp.id} 记录为 "
                f"{cp.entries} 条"
            )
    return problems


def _anchor_ids(anchors: Iterable[str], problems: list[str]) -> set[int]:
    ids = set()
    for anchor in anchors:
        parsed = _parse_anchor(anchor)
        if parsed is None:
            problems.append(f"无法识别的审计链锚点：{anchor}")
        else:
            ids.add(parsed[0])
    return ids


def _parse_anchor(anchor: str) -> tuple[int, str] | None:
    import re

    match = re.search(r"#(\d+)\s+([0-9a-f]{16})", anchor)
    return (int(match.group(1)), match.group(2)) if match else None


def _check_anchors(anchors: Iterable[str], seen: dict[int, tuple[str, int]]) -> list[str]:
    problems = []
    for anchor in anchors:
        parsed = _parse_anchor(anchor)
        if parsed is None:
            continue
        found = seen.get(parsed[0])
        if found is None:
            problems.append(f"审计链锚点 #{parsed[0]} 所指的日志已不存在（被截断或删除）")
        elif not found[0].startswith(parsed[1]):
            problems.append(f"审计链锚点 #{parsed[0]} 与日志第 {parsed[0]} 条的哈希不符")
    return problems


def _audited_model_tables() -> list[Any]:
    from fdoctor.extensions import db

    return [t for name, t in sorted(db.metadata.tables.items()) if name in AUDITED_TABLES]


def _check_baselines(
    session: Session,
    loads: dict[str, list[dict[str, Any]]],
    latest: dict[tuple[str, str], str | None],
) -> list[str]:
    """Bulk-loaded rows: the baseline sums match the keyed entries, and each row still has the
    digest it was loaded with (unless a later entry records a change through the app)."""
    from fdoctor.extensions import db

    connection = session.connection()
    problems = []
    baselined = set(session.scalars(select(AuditBaseline.table_name).distinct()).all())
    for table_name in sorted(set(loads) | baselined):
        recorded = [load.get("baseline") or {} for load in loads.get(table_name, [])]
        expected = (
            sum(int(r.get("count", 0)) for r in recorded),
            sum(int(r.get("high", 0)) for r in recorded),
            sum(int(r.get("low", 0)) for r in recorded),
        )
        if _baseline_sums(connection, table_name) != expected:
            problems.append(
                f"{table_name} 的批量载入基线（audit_baseline）被改动：与批量载入审计记录不符"
            )
        table = db.metadata.tables.get(table_name)
        if table is None or not loads.get(table_name):
            continue
        columns = loads[table_name][0].get("columns") or [c.name for c in table.columns]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            problems.append(f"{table_name} 缺少批量载入时的列 {missing}，无法比对基线")
            continue
        digest = _digest_expression(connection, table_name, columns)
        rows = connection.execute(
            text(
                f"SELECT b.row_id, t.id FROM audit_baseline b "
                f'LEFT JOIN "{table_name}" t ON t.id = b.row_id '
                f"WHERE b.table_name = :t AND (t.id IS NULL OR {digest} <> b.digest) "
                f"ORDER BY b.row_id"
            ),
            {"t": table_name},
        ).all()
        changed = [r[0] for r in rows if (table_name, str(r[0])) not in latest and r[1] is not None]
        gone = [r[0] for r in rows if (table_name, str(r[0])) not in latest and r[1] is None]
        problems.extend(_name_rows(table_name, changed, "被绕过系统修改（与批量载入时的内容不符）"))
        problems.extend(_name_rows(table_name, gone, "被绕过系统删除（批量载入的记录）"))
    return problems


def _uncovered_rows(session: Session) -> list[str]:
    """Rows of audited tables that no entry and no baseline covers: written behind the app."""
    connection = session.connection()
    problems = []
    for table in _audited_model_tables():
        if "id" not in table.columns:
            continue
        rows = connection.execute(
            text(
                f'SELECT t.id FROM "{table.name}" t WHERE NOT EXISTS (SELECT 1 FROM '
                f"audit_baseline b WHERE b.table_name = :t AND b.row_id = t.id) AND NOT EXISTS "
                f"(SELECT 1 FROM audit_entry e WHERE e.table_name = :t "
                f"AND e.row_id = CAST(t.id AS VARCHAR(64))) ORDER BY t.id"
            ),
            {"t": table.name},
        ).scalars()
        problems.extend(
            _name_rows(table.name, list(rows), "未经系统写入（没有任何审计记录覆盖该行）")
        )
    return problems


def _name_rows(table: str, ids: list[Any], what: str) -> list[str]:
    named = [f"{table} 第 {row_id} 行{what}" for row_id in ids[:_MAX_ROWS_NAMED]]
    if len(ids) > _MAX_ROWS_NAMED:
        named.append(f"{table} 另有 {len(ids) - _MAX_ROWS_NAMED} 行{what}")
    return named


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
                current[str(row[pk.name])] = canonical(row_snapshot(dict(row), table_name))
        for row_id, after in sorted(rows.items()):
            live = current.get(row_id)
            if after is None and live is not None:
                problems.append(
                    f"{table_name} 第 {row_id} 行已被删除的记录又出现了（未经系统写入）"
                )
            elif after is not None and live is None:
                problems.append(f"{table_name} 第 {row_id} 行被绕过系统删除")
            elif (
                after is not None
                and live != after
                and not _same_row(after, live, decimals)
                and not _same_digested(table_name, after, live, decimals)
            ):
                problems.append(f"{table_name} 第 {row_id} 行被绕过系统修改（与审计记录不符）")
    return problems


def _same_digested(table: str, after: str, live: str | None, decimals: set[str]) -> bool:
    """Whether an entry written before a column was ``DIGESTED`` (it holds the whole value)
    describes the live row, whose snapshot holds the value's digest."""
    if table not in DIGESTED or live is None:
        return False
    audited = json.loads(after)
    if not any(isinstance(audited.get(c), str) and not audited[c].startswith(_DIGEST_PREFIX)
               for c in DIGESTED[table]):  # fmt: skip
        return False
    normalised = canonical(_clean(table, audited))
    return normalised == live or _same_row(normalised, live, decimals)


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
