"""Request plumbing: error pages, security headers, template helpers, vendored assets."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from fdoctor.core import citizen_id, clock
from fdoctor.core.access import sees_full_id
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


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code >= 500:
            db.session.rollback()
        message = ERROR_MESSAGES.get(code, exc.description or "")
        if isinstance(exc, CSRFError):
            message = "表单已过期或缺少安全令牌，请刷新页面后重新提交。"
        if request.path.startswith("/api/"):
            return {"error": message, "status": code}, code
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(DataError)
    def out_of_range(exc: DataError) -> Any:
        # The database refused a value (e.g. an id beyond the column's range): the input was
        # bad, not the server. Nothing of the request is kept.
        db.session.rollback()
        message = "输入的数值超出允许范围或格式不正确，请检查后重试。"
        if request.path.startswith("/api/"):
            return {"error": message, "status": 400}, 400
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(Exception)
    def unhandled(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return {"error": ERROR_MESSAGES[500], "status": 500}, 500
        return render_template("errors/error.html", code=500, message=ERROR_MESSAGES[500]), 500

    app.after_request(_log_full_id_views)

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.before_request
    def csrf_check() -> None:
        if request.method in {"GET", "HEAD", "OPTIONS", "TRACE"}:
            return
        header = request.headers.get("Authorization", "")
        if request.path.startswith("/api/") and header.startswith("Bearer "):
            # No cookie is involved, so no CSRF; but a bad token must never fall back to the
            # session cookie without the CSRF check.
            from flask import abort

            from fdoctor.auth.services import user_for_token

            if user_for_token(header[7:].strip()) is None:
                abort(401)
            return
        from fdoctor.extensions import csrf

        csrf.protect()

    @app.before_request
    def keep_session_alive() -> None:
        # Idle sessions expire: the lifetime restarts on every request of a logged-in user.
        from flask import session

        session.permanent = True

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        return {
            "role_labels": {r.value: label for r, label in ROLE_LABELS.items()},
            "Role": Role,
            "today": clock.today(),
            "show_id": _show_id,
            "nav_items": _nav_items() if current_user.is_authenticated else [],
        }

    app.jinja_env.filters["yuan"] = _yuan
    app.jinja_env.filters["thousands"] = lambda n: f"{n:,}" if n is not None else "—"
    app.jinja_env.filters["pct"] = lambda x: "—" if x is None else f"{x * 100:.1f}%"


def _show_id(number: str | None) -> str:
    if not sees_full_id():
        return citizen_id.mask(number)
    note_full_id_view(number)
    return number or ""


def note_full_id_view(number: str | None) -> None:
    """Remember that this request showed a full citizen ID; logged once per request."""
    from flask import g

    if number:
        g.setdefault("full_ids_viewed", []).append(citizen_id.mask(number))


def _log_full_id_views(response: Any) -> Any:
    """Write one audit entry per request that showed full citizen IDs (who, where, whose)."""
    from flask import g

    viewed = g.pop("full_ids_viewed", None)
    if not viewed or response.status_code >= 400:
        return response
    from fdoctor.audit.services import record_event

    try:
        record_event(
            "view_id",
            "resident",
            "*",
            {"path": request.full_path.rstrip("?"), "count": len(viewed), "masked": viewed[:200]},
        )
        db.session.commit()
    except Exception:  # never fail the page because of the log; the error is logged loudly
        db.session.rollback()
        from flask import current_app

        current_app.logger.exception("could not log a full citizen ID view")
    return response


def _yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


# (endpoint, label, roles allowed)
NAV = [
    ("home.index", "首页", None),
    ("worklist.index", "工作清单", {"doctor", "team_leader"}),
    (
        "households.index",
        "居民与家庭",
        {"doctor", "team_leader", "centre_admin", "county_auditor", "city_admin"},
    ),
    (
        "contracts.index",
        "签约",
        {"doctor", "team_leader", "centre_admin", "county_auditor", "city_admin"},
    ),
    ("services.tablet", "录入服务", {"doctor", "team_leader"}),
    (
        "services.index",
        "服务记录",
        {"doctor", "team_leader", "centre_admin", "county_auditor", "city_admin"},
    ),
    (
        "surveys.index",
        "满意度与投诉",
        {"team_leader", "centre_admin", "county_auditor", "city_admin"},
    ),
    ("assessments.index", "考核", {"team_leader", "centre_admin", "county_auditor", "city_admin"}),
    ("settlement.index", "结算", {"city_admin", "finance", "county_auditor", "centre_admin"}),
    ("flags.index", "疑点", {"centre_admin", "county_auditor", "city_admin"}),
    ("settlement.ratings", "成员系数", {"team_leader"}),
    ("public.index", "结果公示", None),
    ("assessments.notifications", "提醒", {"doctor"}),
    ("services.referrals", "转诊接收", {"centre_admin", "team_leader"}),
    ("services.conflicts", "修改冲突", {"centre_admin", "team_leader"}),
    ("imports.index", "导入", {"doctor", "team_leader", "centre_admin"}),
    ("org.index", "机构", None),
    ("admin.users", "用户管理", {"admin", "centre_admin"}),
]


def _nav_items() -> list[tuple[str, str]]:
    role = current_user.role
    return [(endpoint, label) for endpoint, label, roles in NAV if roles is None or role in roles]
