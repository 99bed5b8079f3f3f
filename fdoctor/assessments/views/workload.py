"""The county workload reports (page and Excel)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_login import current_user

from assessments.workload import PointTable
from fdoctor.assessments import reads
from fdoctor.assessments.models import WorkloadReport
from fdoctor.assessments.views.blueprint import WORKLOAD_ROLES, XLSX_MIMETYPE, bp, download
from fdoctor.core.access import roles_required


@bp.route("/workload")
@roles_required(*WORKLOAD_ROLES)
def workload() -> Any:
    reports = reads.workload_reports(current_user)
    return render_template("assessments/workload.html", reports=reports)


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
    from fdoctor.reports.dashboards import workload_table

    report = _report_or_404(report_id)
    return render_template(
        "assessments/workload_detail.html",
        report=report,
        table=workload_table(report, _point_table(report)),
    )


@bp.route("/workload/<int:report_id>.xlsx")
@roles_required(*WORKLOAD_ROLES)
def workload_xlsx(report_id: int) -> Any:
    from fdoctor.reports.dashboards import build_workload_xlsx, workload_table

    report = _report_or_404(report_id)
    body = build_workload_xlsx(workload_table(report, _point_table(report)))
    return download(body, XLSX_MIMETYPE, f"workload-{report.county.code}-{report.period}.xlsx")
