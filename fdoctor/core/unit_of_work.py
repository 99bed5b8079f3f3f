"""One unit of work per request: the view's writes are committed once, or none of them is kept.

Every view of the app runs inside ``transactional`` (``init_app`` wraps them all when the app is
built). When the view returns a response below 400 and the request wrote something, the session
is committed **before** the response leaves the view, so a commit that fails (a concurrent change,
a trigger's refusal) becomes that request's error and not a success already on its way; the
success messages the view flashed are taken back then. When the view raises, or answers 400 or
above, everything is rolled back. Routes therefore call services and render; they do not commit.

A refusal of the areas (``fdoctor.core.errors.UserFacingError``) that a view does not catch
becomes its Chinese message with its status: the error page, or ``{"error", "status"}`` under
``/api/``. A view that catches one to answer its own way calls ``discard`` (or ``refuse``, which
also redirects): the request's writes are rolled back at once, so what the page shows next is
what the database holds, and the reason is flashed.

Some writes must outlive the request's answer and commit on purpose, each with a comment at the
place: the failed sign-in counters (the answer is 401), the confirmation page's rate-limit hit
(the answer may be 429), an API edit whose conflict is kept for review (the answer is 409), a
rejected import's run and report (the answer is 422), and the full-ID view log written after the
view (``fdoctor.audit.requests``). The CLI and the
scheduler's jobs are not requests: they keep their own transactions.

A request "wrote" when the session holds unflushed changes or its connection ran a statement
other than a read since its transaction began; a page that only reads is not committed (no extra
round trip, nothing expired).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, flash, redirect, render_template, request, session
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from fdoctor.core.errors import UserFacingError
from fdoctor.extensions import db

_WROTE = "fdoctor.unit_of_work.wrote"  # in a connection's info: a write since BEGIN
_WRAPPED = "_unit_of_work"
_READS = ("SELECT", "WITH", "SHOW", "PRAGMA", "EXPLAIN", "SET ", "BEGIN", "SAVEPOINT", "RELEASE")


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(
    conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
) -> None:
    if not statement.lstrip()[:9].upper().startswith(_READS):
        conn.info[_WROTE] = True


@event.listens_for(Engine, "begin")
@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_writes(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


def wrote(sess: Session) -> bool:
    """Whether the session's transaction holds a write not yet committed."""
    if sess.new or sess.dirty or sess.deleted:
        return True
    if not sess.in_transaction():
        return False
    return bool(sess.connection().info.get(_WROTE))


def transactional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``view`` as one unit of work: commit once when it answers below 400, else roll back."""
    if getattr(view, _WRAPPED, False):
        return view

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Response:
        # ``in`` does not mark the cookie session as read (no ``Vary: Cookie`` for nothing).
        flashed_before = list(session["_flashes"]) if "_flashes" in session else []
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if response.status_code >= 400:
            db.session.rollback()
        elif wrote(db.session()):
            try:
                db.session.commit()
            except BaseException:
                db.session.rollback()
                # The view's success messages go with its writes.
                if flashed_before:
                    session["_flashes"] = flashed_before
                else:
                    session.pop("_flashes", None)
                raise
        return response

    setattr(run, _WRAPPED, True)
    return run


def discard(reason: str | Exception | None = None, category: str = "danger") -> None:
    """Keep nothing of this request (roll back now) and flash ``reason`` if given.

    For a view that catches a refusal and answers with a page of its own: the page then shows
    what the database holds, not the half-done change.
    """
    db.session.rollback()
    if reason is not None:
        flash(_message(reason), category)


def refuse(reason: str | Exception, to: str, category: str = "danger") -> Response:
    """Keep nothing of this request, flash ``reason`` and redirect to ``to``."""
    discard(reason, category)
    return redirect(to)


def _message(reason: str | Exception) -> str:
    return reason.message if isinstance(reason, UserFacingError) else str(reason)


def refused(exc: UserFacingError) -> Any:
    """A refusal no view caught: its message with its status, as a page or as JSON."""
    db.session.rollback()
    if request.path.startswith("/api/"):
        return {"error": exc.message, "status": exc.status}, exc.status
    return render_template("errors/error.html", code=exc.status, message=exc.message), exc.status


def init_app(app: Flask) -> None:
    """Wrap every view (registered so far) in ``transactional``; answer uncaught refusals."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint == "static":
            continue
        app.view_functions[endpoint] = transactional(view)
    app.register_error_handler(UserFacingError, refused)
