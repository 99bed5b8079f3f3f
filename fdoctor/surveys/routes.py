"""Surveys, verification sampling and calls, the review queue, and complaints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from assessments.tiers import Level, Period, PeriodError
from fdoctor.auth.models import User
from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.periods import parse_period
from fdoctor.core.query import period_arg
from fdoctor.core.roles import Role
from fdoctor.core.scope import get_scoped_or_404, scope_clause, scoped
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.households.services import search_residents
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys import forms
from fdoctor.surveys.calls import item_response, record_call, records_to_check
from fdoctor.surveys.complaints import (
    doctors_in_scope,
    record_complaint,
    resolve_complaint,
    teams_in_scope,
)
from fdoctor.surveys.errors import SurveyError
from fdoctor.surveys.models import (
    COMPLAINT_STATUSES,
    RECORD_CHECK_ANSWERS,
    REVIEW_DECISIONS,
    SAMPLE_ITEM_STATUSES,
    SAMPLE_LEVELS,
    SATISFACTION_GRADES,
    SURVEY_CHANNELS,
    Complaint,
    SurveyResponse,
    VerificationSample,
    VerificationSampleItem,
)
from fdoctor.surveys.report import verification_report
from fdoctor.surveys.review import dispute_evidence, review_record
from fdoctor.surveys.samples import (
    DRAW_LEVELS,
    draw_sample,
    drawable_periods,
    find_sample,
    replay_sample,
    sample_doctors,
    samples_in_scope,
    stored_draw,
    visible_units,
)
from fdoctor.surveys.satisfaction import record_survey

bp = Blueprint("surveys", __name__, url_prefix="/surveys")
menu.add(
    bp,
    "index",
    "满意度与投诉",
    roles={Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN},
    group=menu.ASSESSMENT,
    order=20,
)
SURVEY_ROLES = (Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN)
# Who sees verification samples and their report, and who draws, calls and reviews.
VERIFY_VIEWERS = (Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN)
VERIFIERS = (Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR)
SURVEYORS = (Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR)
PER_PAGE = 50


def _has_endpoint(name: str) -> bool:
    return name in current_app.view_functions


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


def _can_verify() -> bool:
    return current_user.role in {r.value for r in VERIFIERS}


@bp.context_processor
def _survey_helpers() -> dict[str, Any]:
    return {"has_flags_page": _has_endpoint("flags.index"), "can_verify": _can_verify()}


# ------------------------------------------------------------------ surveys


@bp.route("/")
@roles_required(*SURVEY_ROLES)
def index() -> Any:
    stmt = scoped(SurveyResponse).order_by(
        SurveyResponse.surveyed_on.desc(), SurveyResponse.id.desc()
    )
    page = db.paginate(stmt, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "surveys/index.html", page=page, grades=SATISFACTION_GRADES, channels=SURVEY_CHANNELS
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*SURVEYORS)
def new_survey() -> Any:
    """An ordinary satisfaction survey (入户 / 自助) of one resident, outside any sample."""
    resident_id = request.values.get("resident", type=int)
    resident = get_scoped_or_404(Resident, resident_id) if resident_id else None
    q = request.args.get("q", "").strip()
    matches = db.session.scalars(search_residents(q).limit(20)).all() if q and not resident else []
    if request.method == "POST":
        if resident is None:
            flash("请先选择被调查的居民", "danger")
            return _render_new_survey(None, q, matches, 400)
        try:
            record_survey(
                resident,
                current_user,
                channel=forms.text(request.form, "channel"),
                surveyed_on=forms.day(request.form, "surveyed_on", "调查日期"),
                satisfaction=forms.grade(request.form),
                knows_doctor=forms.yes_no(request.form, "knows_doctor"),
                comment=forms.text(request.form, "comment"),
            )
        except SurveyError as exc:
            discard(exc)
            return _render_new_survey(resident, q, matches, exc.status)
        flash(f"已登记 {resident.name} 的满意度调查", "success")
        return redirect(url_for("surveys.index"))
    return _render_new_survey(resident, q, matches, 200)


def _render_new_survey(
    resident: Resident | None, q: str, matches: list[Resident], status: int
) -> Any:
    return (
        render_template(
            "surveys/new.html",
            resident=resident,
            q=q,
            matches=matches,
            grades=SATISFACTION_GRADES,
            channels={k: SURVEY_CHANNELS[k] for k in ("visit", "self")},
            form=request.form,
        ),
        status,
    )


# ------------------------------------------------------------------ samples


def _get_sample_or_404(sample_id: int) -> VerificationSample:
    sample = db.session.scalar(samples_in_scope().where(VerificationSample.id == sample_id))
    if sample is None:
        abort(404)
    return sample


def _get_item_or_404(item_id: int) -> VerificationSampleItem:
    item = db.session.scalar(
        select(VerificationSampleItem)
        .join(VerificationSample, VerificationSample.id == VerificationSampleItem.sample_id)
        .where(
            VerificationSampleItem.id == item_id,
            VerificationSample.org_unit_id.in_(visible_units()),
        )
    )
    if item is None:
        abort(404)
    return item


def _draw_level() -> Level | None:
    return DRAW_LEVELS.get(current_user.role)


@bp.route("/samples")
@roles_required(*VERIFY_VIEWERS)
def samples() -> Any:
    stmt = samples_in_scope().order_by(
        VerificationSample.period.desc(), VerificationSample.level, VerificationSample.id
    )
    page = db.paginate(stmt, page=_page(), per_page=PER_PAGE, error_out=False)
    ids = [s.id for s in page.items]
    counts = {
        sample_id: (total, done, unreachable)
        for sample_id, total, done, unreachable in db.session.execute(
            select(
                VerificationSampleItem.sample_id,
                func.count(VerificationSampleItem.id),
                func.count(VerificationSampleItem.id).filter(
                    VerificationSampleItem.status == "done"
                ),
                func.count(VerificationSampleItem.id).filter(
                    VerificationSampleItem.status == "unreachable"
                ),
            )
            .where(VerificationSampleItem.sample_id.in_(ids))
            .group_by(VerificationSampleItem.sample_id)
        ).all()
    }
    units = dict(
        db.session.execute(
            select(OrgUnit.id, OrgUnit.name).where(
                OrgUnit.id.in_({s.org_unit_id for s in page.items})
            )
        ).all()
    )
    level = _draw_level()
    return render_template(
        "surveys/samples.html",
        page=page,
        counts=counts,
        units=units,
        levels=SAMPLE_LEVELS,
        draw_level=level,
        periods=drawable_periods(level) if level else [],
    )


@bp.route("/samples/draw", methods=["POST"], endpoint="draw")
@roles_required(*VERIFIERS)
def draw_sample_view() -> Any:
    level = _draw_level()
    unit = current_user.org_unit
    if level is None or unit is None:
        abort(403)
    try:
        period = parse_period(request.form.get("period"), level, error=SurveyError)
        sample, created = draw_sample(unit, level, period, current_user)
        sample_id = sample.id
        db.session.flush()  # a draw made at the same moment shows here, not after the answer
    except SurveyError as exc:
        return refuse(exc, url_for("surveys.samples"))
    except IntegrityError:
        # Someone drew the same sample at the same moment: theirs stands.
        discard()
        existing = find_sample(unit, level, period)
        if existing is None:
            raise
        sample_id, created = existing.id, False
    if created:
        flash(f"已完成{period.label}抽样", "success")
    else:
        flash(f"{period.label}的抽样已存在（每期只抽一次），以下为已抽取的名单", "info")
    return redirect(url_for("surveys.sample", sample_id=sample_id))


@bp.route("/samples/<int:sample_id>")
@roles_required(*VERIFY_VIEWERS)
def sample(sample_id: int) -> Any:
    sample = _get_sample_or_404(sample_id)
    status = request.args.get("status", "")
    team_id = request.args.get("team", type=int)
    stmt = (
        select(VerificationSampleItem)
        .where(VerificationSampleItem.sample_id == sample.id)
        .options(joinedload(VerificationSampleItem.resident).joinedload(Resident.household))
        .order_by(VerificationSampleItem.team_id, VerificationSampleItem.draw_order)
    )
    if status in SAMPLE_ITEM_STATUSES:
        stmt = stmt.where(VerificationSampleItem.status == status)
    if team_id:
        stmt = stmt.where(VerificationSampleItem.team_id == team_id)
    page = db.paginate(stmt, page=_page(), per_page=PER_PAGE, error_out=False)
    report = verification_report([sample.id])
    parts = {part.team_id: part for part in sample.teams}
    doctors = sample_doctors(sample)
    replay = None
    if request.args.get("replay"):
        replayed = replay_sample(sample)
        replay = (
            "missing"
            if replayed is None
            else ("same" if replayed == stored_draw(sample) else "different")
        )
    return render_template(
        "surveys/sample.html",
        sample=sample,
        page=page,
        rows=report,
        parts=parts,
        doctors=doctors,
        team_names={row.team_id: row.team_name for row in report},
        status=status,
        team_id=team_id,
        statuses=SAMPLE_ITEM_STATUSES,
        levels=SAMPLE_LEVELS,
        replay=replay,
    )


@bp.route("/items/<int:item_id>/call", methods=["GET", "POST"])
@roles_required(*VERIFIERS)
def call(item_id: int) -> Any:
    item = _get_item_or_404(item_id)
    if request.method == "POST":
        try:
            answers = forms.record_answers(request.form)
            record_call(
                item,
                current_user,
                outcome=forms.text(request.form, "outcome"),
                channel=forms.text(request.form, "channel") or "phone",
                satisfaction=forms.grade(request.form),
                knows_doctor=forms.yes_no(request.form, "knows_doctor"),
                answers=answers,
                comment=forms.text(request.form, "comment"),
            )
        except SurveyError as exc:
            discard(exc)
            return _render_call(db.session.get(VerificationSampleItem, item_id), exc.status)
        flash("回访结果已保存", "success")
        return redirect(url_for("surveys.sample", sample_id=item.sample_id, status="pending"))
    return _render_call(item, 200)


def _render_call(item: VerificationSampleItem | None, status: int) -> Any:
    assert item is not None
    response = item_response(item) if item.status == "done" else None
    records = records_to_check(item) if response is None else []
    return (
        render_template(
            "surveys/call.html",
            item=item,
            response=response,
            records=records,
            grades=SATISFACTION_GRADES,
            answers=RECORD_CHECK_ANSWERS,
            statuses=SAMPLE_ITEM_STATUSES,
            channels=SURVEY_CHANNELS,
            form=request.form,
        ),
        status,
    )


# ------------------------------------------------------------------ review queue


@bp.route("/review")
@roles_required(*VERIFIERS)
def review() -> Any:
    stmt = (
        scoped(ServiceRecord)
        .where(ServiceRecord.verification == "disputed")
        .options(joinedload(ServiceRecord.resident), joinedload(ServiceRecord.doctor))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
    )
    page = db.paginate(stmt, page=_page(), per_page=PER_PAGE, error_out=False)
    evidence = dispute_evidence(r.id for r in page.items)
    teams = dict(
        db.session.execute(
            select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_({r.team_id for r in page.items}))
        ).all()
    )
    return render_template(
        "surveys/review.html",
        page=page,
        evidence=evidence,
        teams=teams,
        answers=RECORD_CHECK_ANSWERS,
        decisions=REVIEW_DECISIONS,
    )


@bp.route("/review/<int:record_id>", methods=["POST"])
@roles_required(*VERIFIERS)
def review_decide(record_id: int) -> Any:
    record = get_scoped_or_404(ServiceRecord, record_id)
    try:
        review_record(
            record,
            forms.text(request.form, "decision"),
            forms.text(request.form, "reason"),
            current_user,
        )
    except SurveyError as exc:
        discard(f"记录 #{record_id}：{exc}")
    else:
        label = REVIEW_DECISIONS[record.verification]
        flash(f"记录 #{record_id} 已{label}", "success")
    return redirect(url_for("surveys.review", page=request.args.get("page", 1, type=int)))


# ------------------------------------------------------------------ report


@bp.route("/report")
@roles_required(*VERIFY_VIEWERS)
def report() -> Any:
    level = request.args.get("level", "L2")
    if level not in SAMPLE_LEVELS:
        level = "L2"
    in_scope = samples_in_scope().where(VerificationSample.level == level)
    periods = sorted(
        set(db.session.scalars(in_scope.with_only_columns(VerificationSample.period))), reverse=True
    )
    period = period_arg() or (periods[0] if periods else "")
    if period not in periods:
        period = periods[0] if periods else ""
    ids = list(
        db.session.scalars(
            in_scope.where(VerificationSample.period == period).with_only_columns(
                VerificationSample.id
            )
        )
    )
    rows = verification_report(ids)
    try:
        period_label = Period.parse(period).label if period else ""
    except PeriodError:
        period_label = period
    return render_template(
        "surveys/report.html",
        rows=rows,
        level=level,
        levels=SAMPLE_LEVELS,
        period=period,
        period_label=period_label,
        periods=periods,
    )


# ------------------------------------------------------------------ complaints


@bp.route("/complaints")
@roles_required(*SURVEY_ROLES)
def complaints() -> Any:
    status = request.args.get("status", "")
    stmt = scoped(Complaint).options(selectinload(Complaint.doctor), selectinload(Complaint.team))
    if status in COMPLAINT_STATUSES:
        stmt = stmt.where(Complaint.status == status)
    stmt = stmt.order_by(Complaint.received_on.desc(), Complaint.id.desc())
    page = db.paginate(stmt, page=_page(), per_page=PER_PAGE, error_out=False)
    counts = dict(
        db.session.execute(
            select(Complaint.status, func.count(Complaint.id))
            .where(scope_clause(Complaint))
            .group_by(Complaint.status)
        ).all()
    )
    return render_template(
        "surveys/complaints.html",
        page=page,
        statuses=COMPLAINT_STATUSES,
        status=status,
        counts=counts,
    )


@bp.route("/complaints/new", methods=["GET", "POST"])
@roles_required(*VERIFIERS)
def complaint_new() -> Any:
    teams = teams_in_scope()
    doctors = doctors_in_scope()
    if request.method == "POST":
        try:
            data = forms.complaint_input(request.form)
            team = next((t for t in teams if t.id == data.team_id), None)
            if team is None:
                raise SurveyError("请选择被投诉的家庭医生团队")
            doctor = None
            if data.doctor_id is not None:
                doctor = next((d for d in doctors if d.id == data.doctor_id), None)
                if doctor is None:
                    raise SurveyError("所选医生不存在或不在您的管辖范围内")
            record_complaint(
                current_user,
                team=team,
                received_on=data.received_on,
                channel=data.channel,
                content=data.content,
                complainant=data.complainant,
                doctor=doctor,
            )
        except SurveyError as exc:
            discard(exc)
            return _render_complaint_form(teams, doctors, exc.status)
        flash("投诉已登记，待核实", "success")
        return redirect(url_for("surveys.complaints", status="open"))
    return _render_complaint_form(teams, doctors, 200)


def _render_complaint_form(teams: list[OrgUnit], doctors: list[User], status: int) -> Any:
    team_names = {t.id: t.name for t in teams}
    return (
        render_template(
            "surveys/complaint_new.html",
            teams=teams,
            doctors=doctors,
            team_names=team_names,
            channels=forms.COMPLAINT_CHANNELS,
            form=request.form,
            today=clock.today(),
        ),
        status,
    )


@bp.route("/complaints/<int:complaint_id>/resolve", methods=["POST"])
@roles_required(*VERIFIERS)
def complaint_resolve(complaint_id: int) -> Any:
    complaint = get_scoped_or_404(Complaint, complaint_id)
    try:
        resolve_complaint(
            complaint,
            forms.text(request.form, "decision"),
            forms.text(request.form, "resolution"),
            current_user,
        )
    except SurveyError as exc:
        discard(f"投诉 #{complaint_id}：{exc}")
    else:
        flash(f"投诉 #{complaint_id} 已处理：{complaint.status_label}", "success")
    return redirect(url_for("surveys.complaints"))
