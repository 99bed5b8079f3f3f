"""The assessments blueprint, its roles and the helpers every assessment view shares."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.formatting import format_number, format_target, format_value
from fdoctor.assessments.models import Assessment
from fdoctor.core import menu
from fdoctor.core.roles import Role
from fdoctor.core.unit_of_work import discard
from fdoctor.extensions import db

bp = Blueprint("assessments", __name__, url_prefix="/assessments")
menu.add(
    bp,
    "index",
    "考核",
    roles={Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN},
    group=menu.ASSESSMENT,
    order=10,
)
menu.add(bp, "notifications", "提醒", roles={Role.DOCTOR}, group=menu.ASSESSMENT, order=40)
ASSESSMENT_ROLES = (Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN)
NOTIFICATION_ROLES = (Role.DOCTOR, *ASSESSMENT_ROLES)
L4_ROLES = (Role.COUNTY_AUDITOR, Role.CITY_ADMIN)
WORKLOAD_ROLES = (Role.COUNTY_AUDITOR, Role.CITY_ADMIN)
# The level each role opens as assessor.
OPENS_LEVEL = {
    Role.TEAM_LEADER.value: "L1",
    Role.CENTRE_ADMIN.value: "L2",
    Role.COUNTY_AUDITOR.value: "L3",
    Role.CITY_ADMIN.value: "L4",
}
STALE_MESSAGE = "此考核刚刚被其他人修改，您的操作未保存；请刷新页面查看最新内容后再操作"
EXPIRED_MESSAGE = "表单已过期，请刷新后重试"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_template_filter("metric_value")
def _metric_value(item: Any) -> str:
    return format_value(item)


@bp.app_template_filter("metric_target")
def _metric_target(item: Any) -> str:
    return format_target(item)


@bp.app_template_filter("points")
def _points(value: Any) -> str:
    return format_number(value)


def back(assessment_id: int, anchor: str = "") -> Any:
    """Redirect to an assessment's page (at ``anchor``)."""
    return redirect(url_for(".detail", assessment_id=assessment_id) + anchor)


def flash_form_errors(form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "danger")


def stale(assessment: Assessment) -> bool:
    """The page the user acted on showed an older version than the database holds."""
    seen = request.form.get("row_version", "")
    return seen.isdigit() and int(seen) != assessment.row_version


def apply_or_flash(action: Any, success: str) -> Any:
    """Run a service call and flash success (the request's unit of work commits it), or keep
    nothing of it and flash the reason."""
    try:
        result = action()
        db.session.flush()  # someone else's newer version shows here, not after the answer
    except AssessmentError as exc:
        discard(exc)
        return None
    except StaleDataError:
        discard(STALE_MESSAGE)
        return None
    flash(success, "success")
    return result if result is not None else True


def download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
