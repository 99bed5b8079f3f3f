"""The printable assessment sheet (PDF and Excel)."""

from __future__ import annotations

from typing import Any

from fdoctor.assessments.models import Assessment
from fdoctor.assessments.views.blueprint import ASSESSMENT_ROLES, XLSX_MIMETYPE, bp, download
from fdoctor.core.access import roles_required
from fdoctor.core.scope import get_scoped_or_404


def _filename(assessment: Assessment, suffix: str) -> str:
    return f"assessment-{assessment.level}-{assessment.period}-{assessment.id}.{suffix}"


@bp.route("/<int:assessment_id>/sheet.pdf")
@roles_required(*ASSESSMENT_ROLES)
def sheet_pdf(assessment_id: int) -> Any:
    from fdoctor.assessments.sheet import sheet_data
    from fdoctor.reports.assessment_sheet import build_assessment_sheet_pdf

    assessment = get_scoped_or_404(Assessment, assessment_id)
    body = build_assessment_sheet_pdf(sheet_data(assessment))
    return download(body, "application/pdf", _filename(assessment, "pdf"))


@bp.route("/<int:assessment_id>/sheet.xlsx")
@roles_required(*ASSESSMENT_ROLES)
def sheet_xlsx(assessment_id: int) -> Any:
    from fdoctor.assessments.sheet import sheet_data
    from fdoctor.reports.assessment_sheet import build_assessment_sheet_xlsx

    assessment = get_scoped_or_404(Assessment, assessment_id)
    body = build_assessment_sheet_xlsx(sheet_data(assessment))
    return download(body, XLSX_MIMETYPE, _filename(assessment, "xlsx"))
