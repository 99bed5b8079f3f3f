"""The assessment list, opening assessments, the index file and the notifications."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from fdoctor.assessments import defaults, reads
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.forms import OpenForm
from fdoctor.assessments.levels import LEVEL_LABELS, invalid_period
from fdoctor.assessments.models import ASSESSMENT_STATUSES, NOTIFICATION_KINDS
from fdoctor.assessments.opening import open_assessments
from fdoctor.assessments.views.blueprint import (
    ASSESSMENT_ROLES,
    NOTIFICATION_ROLES,
    OPENS_LEVEL,
    back,
    bp,
    flash_form_errors,
)
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.periods import parse_period
from fdoctor.core.query import period_arg, year_arg
from fdoctor.core.unit_of_work import refuse


@bp.route("/")
@roles_required(*ASSESSMENT_ROLES)
def index() -> Any:
    today = clock.today()
    opens_level = OPENS_LEVEL.get(current_user.role)
    level = request.args.get("level", "")
    period = period_arg() or ""
    status = request.args.get("status", "")
    only = request.args.get("only", "")
    opened_default = not request.args and opens_level is not None
    if opened_default:
        # A bare visit opens on the role's level and its latest period that can be judged.
        level, period = opens_level, defaults.latest_judgeable(opens_level, today)
    page = reads.assessment_page(
        request.args.get("page", 1, type=int), current_user, today, level, period, status, only
    )
    form = OpenForm(level=opens_level or "L1")
    choices = defaults.open_choices(opens_level, today) if opens_level else []
    empty = "没有符合条件的考核。"
    if period and not status and not only:
        empty = defaults.empty_message(level, period, today, opens_level)
    return render_template(
        "assessments/list.html",
        page=page,
        level=level,
        period=period,
        status=status,
        only=only,
        levels=LEVEL_LABELS,
        statuses=ASSESSMENT_STATUSES,
        notices=reads.list_notices(),
        open_rects=reads.open_rectification_count(),
        form=form,
        opens_level=opens_level,
        open_choices=choices,
        opened_default=opened_default,
        empty=empty,
        today=today,
    )


@bp.route("/open", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def open_view() -> Any:
    form = OpenForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".index"))
    wanted = OPENS_LEVEL[current_user.role]
    level = form.level.data or ""
    if level != wanted:
        flash(f"您的角色只能开启{LEVEL_LABELS[wanted]}", "danger")
        return redirect(url_for(".index"))

    def run() -> Any:
        period = parse_period(form.period.data, level, error=invalid_period)
        return open_assessments(level, period, within=current_user.org_unit)

    try:
        result = run()
    except AssessmentError as exc:
        return refuse(exc, url_for(".index"))
    flash(result.message, "success")
    if len(result.created) == 1:
        return back(result.created[0])
    return redirect(url_for(".index", level=level, period=result.period))


@bp.route("/index-file")
@roles_required(*ASSESSMENT_ROLES)
def index_file() -> Any:
    from assessments.index import IndexFileError
    from assessments.index_files import default_index_path, load_index

    year = year_arg(clock.today().year)
    try:
        index = load_index(default_index_path(year))
    except (IndexFileError, FileNotFoundError):
        abort(404)
    return render_template("assessments/index.html", index=index, year=year)


@bp.route("/notifications")
@roles_required(*NOTIFICATION_ROLES)
def notifications() -> Any:
    kind = request.args.get("kind", "")
    page = reads.notification_page(request.args.get("page", 1, type=int), kind)
    return render_template(
        "assessments/notifications.html", page=page, kind=kind, kinds=NOTIFICATION_KINDS
    )
