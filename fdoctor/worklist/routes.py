"""The doctor's start page: overdue services and what is due this week (工作清单)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user

from fdoctor.core import menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.worklist.services import WorkList, has_own_households, team_work_list

bp = Blueprint("worklist", __name__, url_prefix="/worklist")
menu.add(bp, "index", "工作清单", roles={Role.DOCTOR, Role.TEAM_LEADER}, group=None, order=20)
WORKERS = (Role.DOCTOR, Role.TEAM_LEADER)


def _work_list() -> tuple[WorkList, str, bool]:
    """The user's team list, or only their own households (``?who=mine``; doctors' default)."""
    team = current_user.org_unit
    if team is None or team.kind != "team":
        abort(404)
    own = has_own_households(team.id, current_user.id)
    default = "mine" if own and current_user.role == Role.DOCTOR.value else "team"
    who = request.args.get("who", default)
    if who not in ("mine", "team"):
        who = default
    doctor_id = current_user.id if who == "mine" else None
    return team_work_list(team.id, doctor_id=doctor_id), who, own


def record_link(resident_id: int, service_type: str) -> str:
    """Where the "record" button goes: the tablet entry page, pre-filled."""
    query = urlencode({"resident": resident_id, "type": service_type})
    if "records.tablet" in current_app.view_functions:
        return url_for("records.tablet", resident=resident_id, type=service_type)
    return f"{request.script_root}/services/tablet?{query}"


@bp.route("/")
@roles_required(*WORKERS)
def index() -> Any:
    work, who, own = _work_list()
    return render_template(
        "worklist/index.html", work=work, who=who, has_own=own, record_link=record_link
    )


@bp.route("/items.json")
@roles_required(*WORKERS)
def data() -> Any:
    """The same list as JSON, for the tablet to keep offline."""
    work, who, _ = _work_list()
    return {
        "today": work.today.isoformat(),
        "who": who,
        "residents": work.residents,
        "overdue": [item.as_json() for item in work.overdue],
        "due": [item.as_json() for item in work.due],
    }


@bp.route("/pages-sw.js")
def pages_service_worker() -> Any:
    """The service worker keeping the last copy of the work list, households and contracts pages.

    Served here but allowed to control the whole site (``Service-Worker-Allowed: /``); it only
    answers those three pages and static files. Public like the tablet's worker: it holds no data.
    """
    script = Path(current_app.static_folder or "") / "js" / "pages-sw.js"
    response = current_app.response_class(script.read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    response.add_etag()
    return response.make_conditional(request)
