"""Request plumbing: error pages, security headers, template helpers (the menu: ``core.menu``)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from assessments.money import yuan
from fdoctor.core import clock, input_guard, menu
from fdoctor.core.roles import ROLE_LABELS, Role
from fdoctor.extensions import db

ERROR_MESSAGES = {
    400: "请求有误，请检查后重试。",
    401: "未登录、登录已过期或访问令牌无效。",
    403: "您没有权限访问此页面。",
    404: "页面或记录不存在，或不在您的管辖范围内。",
    405: "不支持此操作。",
    413: "上传的文件过大。",
    500: "系统内部错误，已记录，请稍后重试。",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def is_bearer_request(req: Any = None) -> bool:
    """An API call authenticated by a bearer token (a device), not by the session cookie."""
    req = request if req is None else req
    return bool(
        req.path.startswith("/api/") and req.headers.get("Authorization", "").startswith("Bearer ")
    )


class _SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, except that token-authenticated API calls have none.

    A device's call neither reads a session cookie it may carry nor gets one back: the API is
    stateless, and a session must never stand in for a token.
    """

    def open_session(self, app: Flask, req: Any) -> Any:
        if is_bearer_request(req):
            return self.session_class()
        return super().open_session(app, req)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if is_bearer_request():
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(DataError, _out_of_range)
    app.register_error_handler(Exception, _unhandled)

    app.after_request(_security_headers)
    app.after_request(_no_store_when_signed_in)

    # Before anything reads the input: NUL, lone surrogates and deep JSON are refused alike.
    app.before_request(input_guard.check_request)
    app.before_request(_csrf_check)
    app.before_request(_keep_session_alive)

    app.context_processor(_template_helpers)
    app.jinja_env.filters["yuan"] = _yuan
    app.jinja_env.filters["thousands"] = lambda n: f"{n:,}" if n is not None else "—"
    app.jinja_env.filters["pct"] = lambda x: "—" if x is None else f"{x * 100:.1f}%"


def _error_response(code: int, message: str) -> Any:
    """The error as JSON for the API, as the error page otherwise."""
    if request.path.startswith("/api/"):
        return {"error": message, "status": code}, code
    return render_template("errors/error.html", code=code, message=message), code


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if code >= 500:
        db.session.rollback()
    message = ERROR_MESSAGES.get(code, exc.description or "")
    if isinstance(exc, CSRFError):
        message = "表单已过期或缺少安全令牌，请刷新页面后重新提交。"
    elif isinstance(exc, input_guard.BadInput):
        message = exc.description or message
    return _error_response(code, message)


def _out_of_range(exc: Exception) -> Any:
    # The database refused a value (e.g. an id beyond the column's range), or a number or a
    # date went past what Python or SQLite can hold (an id of 30 digits, a page beyond the
    # last, a date offset past year 9999): the input was bad, not the server, and the answer
    # is the same on every database. Nothing of the request is kept.
    db.session.rollback()
    return _error_response(400, "输入的数值超出允许范围或格式不正确，请检查后重试。")


def _unhandled(exc: Exception) -> Any:
    db.session.rollback()
    current_app.logger.exception("unhandled error on %s", request.path)
    return _error_response(500, ERROR_MESSAGES[500])


def _security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _csrf_check() -> None:
    if request.method in SAFE_METHODS or is_bearer_request():
        return
    from fdoctor.extensions import csrf

    csrf.protect()


def _keep_session_alive() -> None:
    # Idle sessions expire: the lifetime restarts on every request of a logged-in user.
    # Token-authenticated API calls have no session.
    if is_bearer_request():
        return
    session.permanent = True


def _template_helpers() -> dict[str, Any]:
    return {
        "role_labels": {r.value: label for r, label in ROLE_LABELS.items()},
        "Role": Role,
        "today": clock.today(),
        "nav_menu": menu.menu_for(current_user.role) if current_user.is_authenticated else [],
    }


# Responses that hold no personal data and may be cached: assets, the icon, the service worker.
CACHEABLE_ENDPOINTS = frozenset(
    {"static", "home.favicon", "records.service_worker", "worklist.pages_service_worker"}
)


def _no_store_when_signed_in(response: Any) -> Any:
    """Nothing shown to a signed-in user (pages, JSON, files) is kept by a browser or proxy cache.

    Health data must not stay on a shared clinic computer after logout, nor come back through
    the back button; static assets stay cacheable.
    """
    # is_anonymous reads no column: a user expired by the request's commit is not loaded again.
    if request.endpoint in CACHEABLE_ENDPOINTS or current_user.is_anonymous:
        return response
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _yuan(fen: int | None) -> str:
    """The ``yuan`` template filter: the core's one money format, a dash for no amount."""
    return "—" if fen is None else yuan(fen)
