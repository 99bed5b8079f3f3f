"""Full citizen IDs shown on a page: noted while the page renders, one audit entry per request.

The ``show_id`` template helper masks a citizen ID for users who may not see it whole; for those
who may, it notes the view, and an after-request hook writes one entry (who, where, whose). A
page whose view cannot be logged is not sent.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app, g, render_template, request

from fdoctor.audit.events import record_event
from fdoctor.core import citizen_id
from fdoctor.core.access import sees_full_id
from fdoctor.extensions import db


def show_id(number: str | None) -> str:
    """A citizen ID as this user may see it: masked, or whole and noted for the audit."""
    if not sees_full_id():
        return citizen_id.mask(number)
    note_full_id_view(number)
    return number or ""


def note_full_id_view(number: str | None) -> None:
    """Remember that this request showed a full citizen ID; logged once per request."""
    if number:
        g.setdefault("full_ids_viewed", []).append(citizen_id.mask(number))


def _log_full_id_views(response: Any) -> Any:
    """Write one audit entry per request that showed full citizen IDs (who, where, whose)."""
    viewed = g.pop("full_ids_viewed", None)
    if not viewed or response.status_code >= 400:
        return response
    try:
        record_event(
            "view_id",
            "resident",
            "*",
            {"path": request.full_path.rstrip("?"), "count": len(viewed), "masked": viewed[:200]},
        )
        db.session.commit()
    except Exception:
        # No unlogged view: the page with the full numbers is not sent, the request fails.
        db.session.rollback()
        current_app.logger.exception("could not log a full citizen ID view")
        message = "审计日志写入失败，页面未显示，请稍后重试。"
        if request.path.startswith("/api/"):
            return current_app.response_class(
                json.dumps({"error": message, "status": 500}, ensure_ascii=False),
                status=500,
                mimetype="application/json",
            )
        return current_app.make_response(
            (render_template("errors/error.html", code=500, message=message), 500)
        )
    return response


def init_app(app: Flask) -> None:
    # Registered after the core's hooks so it runs first (after_request runs in reverse): the
    # error page that replaces a page whose ID view could not be logged gets no-store and the
    # security headers too.
    app.after_request(_log_full_id_views)
    app.context_processor(lambda: {"show_id": show_id})
