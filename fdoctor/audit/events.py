"""Entries written outside the flush listener: single-statement updates of audited rows, and
events that change nothing (a sign-in, a refused sign-in, a full citizen ID viewed, a device's
token used)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from fdoctor.audit.chain import write_entries
from fdoctor.audit.snapshots import row_snapshot
from fdoctor.core import clock


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
