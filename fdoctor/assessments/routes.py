"""Assessments (考核): the index in force; assessment workflow pages build on it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role

bp = Blueprint("assessments", __name__, url_prefix="/assessments")
ASSESSMENT_ROLES = (Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN)


@bp.route("/")
@roles_required(*ASSESSMENT_ROLES)
def index() -> Any:
    from assessments.index import IndexFileError, default_index_path, load_index

    year = request.args.get("year", clock.today().year, type=int)
    try:
        index_file = load_index(default_index_path(year))
    except (IndexFileError, FileNotFoundError):
        abort(404)
    return render_template("assessments/index.html", index=index_file, year=year)
