"""The county workload reports (page and Excel), and generating a month's report from the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from assessments.periods import Period, PeriodError, PeriodKind, PeriodNotEnded, ensure_period_ended
from assessments.workload import PointTable
from fdoctor.assessments import reads
from fdoctor.assessments.models import WorkloadReport
from fdoctor.assessments.views.blueprint import (
    WORKLOAD_ROLES,
    XLSX_MIMETYPE,
    bp,
    download,
    flash_form_errors,
)
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.scope import visible_county_ids


class WorkloadForm(FlaskForm):
    month = StringField(
        "月份",
        validators=[DataRequired("请填写月份"), Length(max=10, message="月份应形如 2026-03")],
    )


def _last_month() -> str:
    """The latest month that has ended: the form's default."""
    day = clock.today().replace(day=1) - timedelta(days=1)
    return f"{day.year}-{day.month:02d}"


@bp.route("/workload")
@roles_required(*WORKLOAD_ROLES)
def workload() -> Any:
    reports = reads.workload_reports(current_user)
    form = WorkloadForm(month=_last_month())
    return render_template("assessments/workload.html", reports=reports, form=form)


@bp.route("/workload/generate", methods=["POST"])
@roles_required(*WORKLOAD_ROLES)
def workload_generate() -> Any:
    """Generate an ended month's report: the city for every county, a county for its own."""
    from fdoctor.scheduler.services import workload_report

    form = WorkloadForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".workload"))
    text = (form.month.data or "").strip()
    try:
        period = Period.parse(text, expect=PeriodKind.MONTH)
    except PeriodError:
        flash(f"月份「{text}」无效，应形如 2026-03", "danger")
        return redirect(url_for(".workload"))
    try:
        ensure_period_ended(period, clock.today(), "生成工作量报表")
    except PeriodNotEnded as exc:
        flash(str(exc), "danger")
        return redirect(url_for(".workload"))
    outcome = workload_report(period, visible_county_ids())
    if outcome.created:
        flash(f"已生成 {period} 工作量报表：{outcome.note}", "success")
    else:
        flash(f"{period} 的工作量报表此前已生成，未重复生成", "info")
    return redirect(url_for(".workload"))


def _point_table(report: WorkloadReport) -> PointTable:
    """The county's workload point table (the city's default where it has not adapted it)."""
    from fdoctor.teamsplit.reads import point_tables, table_for

    return table_for(point_tables(), report.county_id)


def _report_or_404(report_id: int) -> WorkloadReport:
    report = reads.workload_report(report_id, current_user)
    if report is None:
        abort(404)
    return report


@bp.route("/workload/<int:report_id>")
@roles_required(*WORKLOAD_ROLES)
def workload_detail(report_id: int) -> Any:
    from fdoctor.assessments.dashboards import workload_table

    report = _report_or_404(report_id)
    return render_template(
        "assessments/workload_detail.html",
        report=report,
        table=workload_table(report, _point_table(report)),
    )


@bp.route("/workload/<int:report_id>.xlsx")
@roles_required(*WORKLOAD_ROLES)
def workload_xlsx(report_id: int) -> Any:
    from fdoctor.assessments.dashboards import workload_table
    from fdoctor.reports.workload import build_workload_xlsx

    report = _report_or_404(report_id)
    body = build_workload_xlsx(workload_table(report, _point_table(report)))
    return download(body, XLSX_MIMETYPE, f"workload-{report.county.code}-{report.period}.xlsx")
