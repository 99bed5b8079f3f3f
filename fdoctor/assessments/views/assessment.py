"""One assessment: its page and its workflow buttons (scoring, the simple transitions, appeals and
their answers, corrections after publication)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, render_template, request
from flask_login import current_user

from assessments.scoring import DEFAULT_RECTIFICATION_THRESHOLD
from fdoctor.assessments import appeals, marking, reads, revisions, steps, transitions
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.forms import (
    ActionForm,
    AnswerForm,
    AppealForm,
    CorrectForm,
    EvidenceForm,
    ScoreForm,
    VerifyForm,
)
from fdoctor.assessments.l4 import draw_for
from fdoctor.assessments.levels import ASSESSOR_ROLE, LEVEL_LABELS, invalid_period
from fdoctor.assessments.models import Assessment
from fdoctor.assessments.reads import assessment_chain
from fdoctor.assessments.views.blueprint import (
    ASSESSMENT_ROLES,
    EXPIRED_MESSAGE,
    STALE_MESSAGE,
    apply_or_flash,
    back,
    bp,
    flash_form_errors,
    stale,
)
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.periods import parse_period
from fdoctor.core.scope import get_scoped_or_404


def _detail_context(assessment: Assessment) -> dict[str, Any]:
    today = clock.today()
    chain = assessment_chain(assessment)
    chain_ids = [a.id for a in chain]
    rects = reads.chain_rectifications(chain_ids)
    appeals = reads.chain_appeals(chain_ids)
    actions = transitions.allowed_actions(assessment, current_user, today)
    return {
        "a": assessment,
        "chain": chain,
        "rects": rects,
        "appeals": appeals,
        "actions": actions,
        **_items_context(assessment),
        "today": today,
        "overdue": assessment.status in ("open", "draft") and assessment.due_on < today,
        "level_label": LEVEL_LABELS.get(assessment.level, assessment.level),
        "is_owner": current_user.org_unit_id == assessment.unit_id,
        "is_assessor": current_user.org_unit_id == assessment.assessor_unit_id
        and current_user.role == ASSESSOR_ROLE[assessment.level].value,
        "action_form": ActionForm(),
        "score_form": ScoreForm(),
        "appeal_form": AppealForm(),
        "answer_form": AnswerForm(),
        "correct_form": CorrectForm(),
        "evidence_form": EvidenceForm(),
        "verify_form": VerifyForm(),
        "period_label": _period_label(assessment),
    }


def _items_context(assessment: Assessment) -> dict[str, Any]:
    """The items by dimension, their sum, the low ones and (L4) the county's drawn institutions."""
    dims: dict[str, list[Any]] = {}
    for item in assessment.items:
        dims.setdefault(item.dimension, []).append(item)
    spot = None
    if assessment.level == "L4":
        draw = draw_for(int(assessment.period))
        if draw is not None:
            spot = [i for i in draw.items if i.selected and i.county_id == assessment.unit_id]
    item_sum = None
    if assessment.items and all(i.points is not None for i in assessment.items):
        item_sum = sum(i.points for i in assessment.items)
    low = {
        item.code
        for item in assessment.items
        if item.points is not None
        and item.points < item.max_points * DEFAULT_RECTIFICATION_THRESHOLD
    }
    return {"low": low, "dims": dims, "spot": spot, "item_sum": item_sum}


def _period_label(assessment: Assessment) -> str:
    try:
        return parse_period(assessment.period, assessment.level, error=invalid_period).label
    except AssessmentError:
        return assessment.period


@bp.route("/<int:assessment_id>")
@roles_required(*ASSESSMENT_ROLES)
def detail(assessment_id: int) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    return render_template("assessments/detail.html", **_detail_context(assessment))


def _entries(
    prefix_points: str, prefix_reason: str, codes: list[str]
) -> dict[str, tuple[Any, Any]]:
    return {
        code: (
            request.form.get(f"{prefix_points}-{code}", ""),
            request.form.get(f"{prefix_reason}-{code}", ""),
        )
        for code in codes
        if f"{prefix_points}-{code}" in request.form or f"{prefix_reason}-{code}" in request.form
    }


@bp.route("/<int:assessment_id>/score", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def score(assessment_id: int) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    if not ScoreForm().validate_on_submit():
        flash(EXPIRED_MESSAGE, "danger")
        return back(assessment_id)
    if stale(assessment):
        flash(STALE_MESSAGE, "danger")
        return back(assessment_id)
    codes = [i.code for i in assessment.items if i.source == "manual"]
    entries = _entries("points", "reason", codes)
    apply_or_flash(lambda: marking.score_manual(assessment, current_user, entries), "评分已保存")
    return back(assessment_id)


def _simple_action(name: str, success: str) -> Any:
    def view(assessment_id: int) -> Any:
        assessment = get_scoped_or_404(Assessment, assessment_id)
        if not ActionForm().validate_on_submit():
            flash(EXPIRED_MESSAGE, "danger")
            return back(assessment_id)
        if stale(assessment):
            flash(STALE_MESSAGE, "danger")
            return back(assessment_id)
        function = getattr(steps, name)
        apply_or_flash(lambda: function(assessment, current_user), success)
        return back(assessment_id)

    view.__name__ = name
    return view


for _name, _url, _success in (
    ("refresh", "refresh", "已按最新记录重新计算指标"),
    ("submit", "submit", "考核已提交"),
    ("reopen", "reopen", "已退回修改"),
    ("publish", "publish", "考核结果已公示"),
    ("acknowledge", "acknowledge", "已确认考核结果；低于满分 60% 的指标已列为整改项"),
):
    bp.add_url_rule(
        f"/<int:assessment_id>/{_url}",
        endpoint=_name,
        view_func=roles_required(*ASSESSMENT_ROLES)(_simple_action(_name, _success)),
        methods=["POST"],
    )


@bp.route("/<int:assessment_id>/appeal", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def appeal(assessment_id: int) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    if not AppealForm().validate_on_submit():
        flash(EXPIRED_MESSAGE, "danger")
        return back(assessment_id)
    entries = {
        item.code: (
            request.form.get(f"appeal-reason-{item.code}", ""),
            request.form.get(f"appeal-points-{item.code}", ""),
        )
        for item in assessment.items
        if request.form.get(f"appeal-reason-{item.code}", "").strip()
        or request.form.get(f"appeal-points-{item.code}", "").strip()
    }
    apply_or_flash(
        lambda: appeals.appeal(assessment, current_user, entries), "申诉已提交，等待考核单位答复"
    )
    return back(assessment_id, "#appeals")


@bp.route("/appeals/<int:appeal_id>/answer", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def answer(appeal_id: int) -> Any:
    record = reads.get_appeal(appeal_id)
    if record is None:
        abort(404)
    assessment = get_scoped_or_404(Assessment, record.assessment_id)
    if not AnswerForm().validate_on_submit():
        flash(EXPIRED_MESSAGE, "danger")
        return back(assessment.id)
    decisions = {
        item.code: (
            request.form.get(f"decision-{item.code}", ""),
            request.form.get(f"corrected-{item.code}", ""),
            request.form.get(f"answer-{item.code}", ""),
        )
        for item in record.items
    }
    result = apply_or_flash(
        lambda: appeals.answer_appeal(record, current_user, decisions), "申诉已答复"
    )
    if isinstance(result, Assessment):
        return back(result.id, "#appeals")
    return back(assessment.id, "#appeals")


@bp.route("/<int:assessment_id>/correct", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def correct(assessment_id: int) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    form = CorrectForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return back(assessment_id)
    entries = {
        item.code: (
            request.form.get(f"fix-points-{item.code}", ""),
            request.form.get(f"fix-reason-{item.code}", ""),
        )
        for item in assessment.items
        if request.form.get(f"fix-points-{item.code}", "").strip()
    }
    result = apply_or_flash(
        lambda: revisions.correct(assessment, current_user, entries, form.reason.data),
        "已生成修订版本并公示",
    )
    if isinstance(result, Assessment):
        return back(result.id)
    return back(assessment_id)
