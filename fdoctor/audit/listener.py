"""The flush listener: every ORM insert, update and delete of an audited table becomes an entry of
the chain at flush time, in the same transaction (one listener for the whole app, so no view can
forget it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from fdoctor.audit.baselines import register_sqlite_functions
from fdoctor.audit.chain import write_entries
from fdoctor.audit.snapshots import clean, jsonable, snapshot
from fdoctor.audit.tables import AUDITED_TABLES


def _pk(obj: Any) -> str:
    # After a flush the identity key is not yet assigned; read the primary key columns instead.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ":".join(str(x) for x in key)


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
                before[attr.key] = jsonable(hist.deleted[0])
            elif hist.added:
                unknown.append(attr)
            else:
                before[attr.key] = jsonable(getattr(obj, attr.key))
        if unknown:
            # The row in the database still holds the old values until this flush.
            stored = session.connection().execute(
                select(*(a.columns[0] for a in unknown)).where(
                    *(c == v for c, v in zip(state.mapper.primary_key, state.identity or (),
                                             strict=True))
                )
            ).first()  # fmt: skip
            for i, attr in enumerate(unknown):
                before[attr.key] = jsonable(stored[i] if stored is not None else None)
        changes.append(("update", obj, clean(table, before)))
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


def install(session_class: Any) -> None:
    """Listen to the flushes of ``session_class``; give SQLite connections the row digest."""
    event.listen(session_class, "before_flush", _before_flush)
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(Engine, "connect", register_sqlite_functions)
