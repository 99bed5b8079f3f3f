"""A device's API call: ``Authorization: Bearer <token>`` says who it is.

The token is looked up once per request (with the user's unit), never mixed with a session
cookie (``fdoctor.core.web`` gives bearer requests no session and no CSRF check), and its use is
logged at most once per token and day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask, abort, current_app, request

from fdoctor.audit.events import record_token_use
from fdoctor.auth.services import _hash_token
from fdoctor.core import clock
from fdoctor.core.web import SAFE_METHODS, is_bearer_request
from fdoctor.extensions import db

_BEARER_HASH = "fdoctor.bearer_token_hash"
_BEARER_USER = "fdoctor.bearer_user"  # the request environ key of the looked-up token's user


_token_user_statement: Any = None


def bearer_user() -> Any:
    """The active user owning the request's unrevoked bearer token, or None; one query per request.

    The user's org unit comes in the same query (every API view scopes by it). The answer is kept
    in the request's environ (not ``g``, which tests share between requests), so the CSRF
    exemption, the login and Flask-Login's request loader all use one look-up.
    """
    environ = request.environ
    if _BEARER_USER in environ:
        return environ[_BEARER_USER]
    header = request.headers.get("Authorization", "")
    user = None
    if header.startswith("Bearer "):
        token_hash = _hash_token(header[7:].strip())
        environ[_BEARER_HASH] = token_hash  # the token-use log reads it instead of hashing again
        user = db.session.scalar(_token_user(), {"token_hash": token_hash})
    environ[_BEARER_USER] = user
    return user


def _token_user() -> Any:
    global _token_user_statement
    if _token_user_statement is None:
        from sqlalchemy import bindparam, select
        from sqlalchemy.orm import joinedload

        from fdoctor.auth.models import ApiToken, User

        _token_user_statement = (
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == bindparam("token_hash"),
                ApiToken.revoked_at.is_(None),
                User.active,
            )
            .options(joinedload(User.org_unit))
        )
    return _token_user_statement


_token_use_logged: dict[str, date] = {}  # token hash -> the day this process last logged its use


def _log_token_use(user: Any) -> None:
    """A device's token use, logged at most once per token and day (``record_token_use``, in
    its own transaction). The per-process memo spares the sync API the check on every later
    call of the day."""
    token_hash = request.environ.get(_BEARER_HASH)
    if token_hash is None:  # only a bearer request whose token was looked up is logged
        return
    today = clock.today()
    if _token_use_logged.get(token_hash) == today:
        return
    record_token_use(token_hash, user)
    _token_use_logged[token_hash] = today


def init_app(app: Flask) -> None:
    @app.before_request
    def bearer_login() -> None:
        # A device's API call ("Authorization: Bearer <token>"): the token alone says who it is,
        # looked up once (with the user's unit) and never mixed with a session cookie.
        if not is_bearer_request():
            return
        user = bearer_user()
        if user is None and request.method not in SAFE_METHODS:
            # No cookie is involved, so no CSRF check follows; a bad token must therefore never
            # fall back to the session cookie.
            abort(401)
        if user is not None:
            _log_token_use(user)
        current_app.login_manager._update_request_context_with_user(user)  # type: ignore[attr-defined]
