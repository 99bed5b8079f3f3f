"""Rectification (整改): the list, the owner's report and the assessor's verification."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user

from fdoctor.assessments import reads, rectification
from fdoctor.assessments.forms import EvidenceForm, VerifyForm
from fdoctor.assessments.models import Rectification
from fdoctor.assessments.views.blueprint import (
    ASSESSMENT_ROLES,
    apply_or_flash,
    back,
    bp,
    flash_form_errors,
)
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.scope import get_scoped_or_404


@bp.route("/rectifications")
@roles_required(*ASSESSMENT_ROLES)
def rectifications() -> Any:
    status = request.args.get("status", "")
    today = clock.today()
    page = reads.rectification_page(
        request.args.get("page", 1, type=int), today, status, request.args.get("only", "")
    )
    return render_template("assessments/rectifications.html", page=page, status=status, today=today)


def _rect_or_404(rect_id: int) -> Rectification:
    return get_scoped_or_404(Rectification, rect_id)


@bp.route("/rectifications/<int:rect_id>/rectify", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def rectify(rect_id: int) -> Any:
    rect = _rect_or_404(rect_id)
    form = EvidenceForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return back(rect.assessment_id, "#rectifications")
    apply_or_flash(
        lambda: rectification.rectify(rect, current_user, form.evidence.data),
        "整改情况已提交，等待考核单位核验",
    )
    return back(rect.assessment_id, "#rectifications")


@bp.route("/rectifications/<int:rect_id>/verify", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def verify(rect_id: int) -> Any:
    rect = _rect_or_404(rect_id)
    form = VerifyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return back(rect.assessment_id, "#rectifications")
    accept = form.decision.data != "return"
    apply_or_flash(
        lambda: rectification.verify_rectification(
            rect, current_user, form.note.data, accept=accept
        ),
        "整改已核验" if accept else "已退回整改",
    )
    return back(rect.assessment_id, "#rectifications")
