"""Survey responses and complaints: lists in scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.core.scope import scoped
from fdoctor.extensions import db
from fdoctor.surveys.models import (
    COMPLAINT_STATUSES,
    SATISFACTION_GRADES,
    SURVEY_CHANNELS,
    Complaint,
    SurveyResponse,
)

bp = Blueprint("surveys", __name__, url_prefix="/surveys")
SURVEY_ROLES = (Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN)


@bp.route("/")
@roles_required(*SURVEY_ROLES)
def index() -> Any:
    stmt = scoped(SurveyResponse).order_by(SurveyResponse.surveyed_on.desc(), SurveyResponse.id.desc())
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False)
    return render_template(
        "surveys/index.html", page=page, grades=SATISFACTION_GRADES, channels=SURVEY_CHANNELS
    )


@bp.route("/complaints")
@roles_required(*SURVEY_ROLES)
def complaints() -> Any:
    stmt = scoped(Complaint).order_by(Complaint.received_on.desc(), Complaint.id.desc())
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False)
    return render_template("surveys/complaints.html", page=page, statuses=COMPLAINT_STATUSES)
