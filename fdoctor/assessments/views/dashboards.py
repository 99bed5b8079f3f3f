"""The dashboards of a team, centre, county or the city (page and chart data)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, render_template, request
from flask_login import current_user

from fdoctor.assessments import reads
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.views.blueprint import ASSESSMENT_ROLES, bp
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.query import period_arg
from fdoctor.core.roles import Role
from fdoctor.core.scope import get_scoped_or_404
from fdoctor.org.models import OrgUnit


def _dashboard_args() -> tuple[str, int | None, str | None]:
    view = request.args.get("view") or {
        Role.TEAM_LEADER.value: "team",
        Role.CENTRE_ADMIN.value: "centre",
        Role.COUNTY_AUDITOR.value: "county",
        Role.CITY_ADMIN.value: "city",
    }.get(current_user.role, "team")
    if view not in ("team", "centre", "county", "city"):
        abort(404)
    return view, request.args.get("unit", type=int), period_arg()


def _dashboard_unit(view: str, unit_id: int | None) -> OrgUnit | None:
    """The unit a dashboard is about: the user's own, or one below it in scope."""
    kind = {"team": "team", "centre": "institution", "county": "county", "city": "city"}[view]
    if unit_id is None:
        unit = current_user.org_unit
        if unit is not None and unit.kind == kind:
            return unit
        if kind == "city":
            return reads.first_city()
        return None
    unit = get_scoped_or_404(OrgUnit, unit_id)
    if unit.kind != kind:
        abort(404)
    return unit


@bp.route("/dashboard")
@roles_required(*ASSESSMENT_ROLES)
def dashboard() -> Any:
    from fdoctor.assessments.dashboards import dashboard_data

    view, unit_id, period = _dashboard_args()
    unit = _dashboard_unit(view, unit_id)
    level = request.args.get("level")
    data = None
    if unit is not None:
        try:
            data = dashboard_data(view, unit, period, clock.today(), level)
        except AssessmentError as exc:
            flash(str(exc), "warning")
    children = _dashboard_children(view, unit)
    return render_template(
        "assessments/dashboard.html",
        view=view,
        unit=unit,
        data=data,
        period=period,
        level=level,
        children=children,
    )


def _dashboard_children(view: str, unit: OrgUnit | None) -> list[tuple[str, OrgUnit]]:
    """Units one level down the user may open a dashboard of (county → centres → teams)."""
    below = {
        "city": ("county", "county"),
        "county": ("institution", "centre"),
        "centre": ("team", "team"),
    }
    if unit is None or view not in below:
        return []
    kind, child_view = below[view]
    return [
        (child_view, child) for child in reads.units_below(unit, kind, whole_city=view == "city")
    ]


@bp.route("/dashboard/data.json")
@roles_required(*ASSESSMENT_ROLES)
def dashboard_json() -> Any:
    from fdoctor.assessments.dashboards import dashboard_data

    view, unit_id, period = _dashboard_args()
    unit = _dashboard_unit(view, unit_id)
    if unit is None:
        return jsonify({"error": "请选择要查看的单位", "status": 404}), 404
    try:
        data = dashboard_data(view, unit, period, clock.today(), request.args.get("level"))
    except AssessmentError as exc:
        return jsonify({"error": str(exc), "status": exc.status}), exc.status
    return jsonify(data.chart)
