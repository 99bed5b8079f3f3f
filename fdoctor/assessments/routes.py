"""Assessment pages (考核): list, scoring, workflow buttons, appeals, rectification, L4, dashboards."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from assessments.scoring import DEFAULT_RECTIFICATION_THRESHOLD
from fdoctor.assessments import workflow
from fdoctor.assessments.forms import (
    ActionForm,
    AnswerForm,
    AppealForm,
    CorrectForm,
    DrawForm,
    EvidenceForm,
    OpenForm,
    ScoreForm,
    VerifyForm,
)
from fdoctor.assessments.models import (
    ASSESSMENT_STATUSES,
    NOTIFICATION_KINDS,
    Appeal,
    Assessment,
    Notification,
    Rectification,
    SpotCheckDrawItem,
    WorkloadReport,
)
from fdoctor.assessments.services import (
    ASSESSOR_ROLE,
    LEVEL_LABELS,
    SPOT_LEVEL,
    AssessmentError,
    assessment_chain,
    draw_for,
    draw_is_reproducible,
    draw_l4_spot_check,
    format_number,
    format_target,
    format_value,
    item_records_query,
    open_assessments,
    parse_period,
)
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.query import period_arg, year_arg
from fdoctor.core.roles import Role
from fdoctor.core.scope import get_scoped_or_404, scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

bp = Blueprint("assessments", __name__, url_prefix="/assessments")
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
DRILL_LIMIT = 200


@bp.app_template_filter("metric_value")
def _metric_value(item: Any) -> str:
    return format_value(item)


@bp.app_template_filter("metric_target")
def _metric_target(item: Any) -> str:
    return format_target(item)


@bp.app_template_filter("points")
def _points(value: Any) -> str:
    return format_number(value)


def _back(assessment_id: int, anchor: str = "") -> Any:
    return redirect(url_for(".detail", assessment_id=assessment_id) + anchor)


def _flash_form_errors(form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "danger")


STALE_MESSAGE = "此考核刚刚被其他人修改，您的操作未保存；请刷新页面查看最新内容后再操作"


def _stale(assessment: Assessment) -> bool:
    """The page the user acted on showed an older version than the database holds."""
    seen = request.form.get("row_version", "")
    return seen.isdigit() and int(seen) != assessment.row_version


def _commit_or_flash(action: Any, success: str) -> Any:
    """Run a service call; commit once and flash success, or roll back and flash the reason."""
    try:
        result = action()
        db.session.commit()
    except AssessmentError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return None
    except StaleDataError:
        db.session.rollback()
        flash(STALE_MESSAGE, "danger")
        return None
    flash(success, "success")
    return result if result is not None else True


# --------------------------------------------------------------------------- list and opening


@bp.route("/")
@roles_required(*ASSESSMENT_ROLES)
def index() -> Any:
    level = request.args.get("level", "")
    period = period_arg() or ""
    status = request.args.get("status", "")
    only = request.args.get("only", "")
    today = clock.today()
    stmt = (
        select(Assessment)
        .where(scope_clause(Assessment), Assessment.is_current.is_(True))
        .options(selectinload(Assessment.unit), selectinload(Assessment.assessor_unit))
    )
    if level in LEVEL_LABELS:
        stmt = stmt.where(Assessment.level == level)
    if period:
        stmt = stmt.where(Assessment.period == period)
    if status in ASSESSMENT_STATUSES:
        stmt = stmt.where(Assessment.status == status)
    if only == "overdue":
        stmt = stmt.where(Assessment.status.in_(("open", "draft")), Assessment.due_on < today)
    if only == "mine":
        stmt = stmt.where(
            or_(
                Assessment.assessor_unit_id == current_user.org_unit_id,
                Assessment.unit_id == current_user.org_unit_id,
            )
        )
    stmt = stmt.order_by(Assessment.due_on.desc(), Assessment.level, Assessment.unit_id)
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    notices = db.session.scalars(
        select(Notification)
        .where(
            scope_clause(Notification),
            Notification.kind.in_(("remind_l1", "assessment_overdue", "rectification_overdue")),
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(10)
    ).all()
    open_rects = db.session.scalar(
        select(func.count(Rectification.id)).where(
            scope_clause(Rectification), Rectification.status != "verified"
        )
    )
    form = OpenForm(level=OPENS_LEVEL.get(current_user.role, "L1"))
    return render_template(
        "assessments/list.html",
        page=page,
        level=level,
        period=period,
        status=status,
        only=only,
        levels=LEVEL_LABELS,
        statuses=ASSESSMENT_STATUSES,
        notices=notices,
        open_rects=open_rects or 0,
        form=form,
        opens_level=OPENS_LEVEL.get(current_user.role),
        today=today,
    )


@bp.route("/open", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def open_view() -> Any:
    form = OpenForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for(".index"))
    wanted = OPENS_LEVEL[current_user.role]
    level = form.level.data or ""
    if level != wanted:
        flash(f"您的角色只能开启{LEVEL_LABELS[wanted]}", "danger")
        return redirect(url_for(".index"))

    def run() -> Any:
        period = parse_period(level, form.period.data or "")
        return open_assessments(level, period, within=current_user.org_unit)

    try:
        result = run()
    except AssessmentError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".index"))
    db.session.commit()
    flash(result.message, "success")
    if len(result.created) == 1:
        return _back(result.created[0])
    return redirect(url_for(".index", level=level, period=result.period))


@bp.route("/index-file")
@roles_required(*ASSESSMENT_ROLES)
def index_file() -> Any:
    from assessments.index import IndexFileError, default_index_path, load_index

    year = year_arg(clock.today().year)
    try:
        index = load_index(default_index_path(year))
    except (IndexFileError, FileNotFoundError):
        abort(404)
    return render_template("assessments/index.html", index=index, year=year)


# --------------------------------------------------------------------------- one assessment


def _detail_context(assessment: Assessment) -> dict[str, Any]:
    today = clock.today()
    chain = assessment_chain(assessment)
    chain_ids = [a.id for a in chain]
    rects = db.session.scalars(
        select(Rectification)
        .where(Rectification.assessment_id.in_(chain_ids))
        .options(selectinload(Rectification.owner_unit), selectinload(Rectification.owner_user))
        .order_by(Rectification.code)
    ).all()
    appeals = db.session.scalars(
        select(Appeal)
        .where(Appeal.assessment_id.in_(chain_ids))
        .options(selectinload(Appeal.items))
        .order_by(Appeal.id)
    ).all()
    actions = workflow.allowed_actions(assessment, current_user, today)
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
    return {
        "a": assessment,
        "low": low,
        "chain": chain,
        "rects": rects,
        "appeals": appeals,
        "actions": actions,
        "dims": dims,
        "spot": spot,
        "item_sum": item_sum,
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


def _period_label(assessment: Assessment) -> str:
    try:
        return parse_period(assessment.level, assessment.period).label
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
        flash("表单已过期，请刷新后重试", "danger")
        return _back(assessment_id)
    if _stale(assessment):
        flash(STALE_MESSAGE, "danger")
        return _back(assessment_id)
    codes = [i.code for i in assessment.items if i.source == "manual"]
    entries = _entries("points", "reason", codes)
    _commit_or_flash(lambda: workflow.score_manual(assessment, current_user, entries), "评分已保存")
    return _back(assessment_id)


def _simple_action(name: str, success: str) -> Any:
    def view(assessment_id: int) -> Any:
        assessment = get_scoped_or_404(Assessment, assessment_id)
        if not ActionForm().validate_on_submit():
            flash("表单已过期，请刷新后重试", "danger")
            return _back(assessment_id)
        if _stale(assessment):
            flash(STALE_MESSAGE, "danger")
            return _back(assessment_id)
        function = getattr(workflow, name)
        _commit_or_flash(lambda: function(assessment, current_user), success)
        return _back(assessment_id)

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
        flash("表单已过期，请刷新后重试", "danger")
        return _back(assessment_id)
    entries = {
        item.code: (
            request.form.get(f"appeal-reason-{item.code}", ""),
            request.form.get(f"appeal-points-{item.code}", ""),
        )
        for item in assessment.items
        if request.form.get(f"appeal-reason-{item.code}", "").strip()
        or request.form.get(f"appeal-points-{item.code}", "").strip()
    }
    _commit_or_flash(
        lambda: workflow.appeal(assessment, current_user, entries), "申诉已提交，等待考核单位答复"
    )
    return _back(assessment_id, "#appeals")


@bp.route("/appeals/<int:appeal_id>/answer", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def answer(appeal_id: int) -> Any:
    record = db.session.get(Appeal, appeal_id)
    if record is None:
        abort(404)
    assessment = get_scoped_or_404(Assessment, record.assessment_id)
    if not AnswerForm().validate_on_submit():
        flash("表单已过期，请刷新后重试", "danger")
        return _back(assessment.id)
    decisions = {
        item.code: (
            request.form.get(f"decision-{item.code}", ""),
            request.form.get(f"corrected-{item.code}", ""),
            request.form.get(f"answer-{item.code}", ""),
        )
        for item in record.items
    }
    result = _commit_or_flash(
        lambda: workflow.answer_appeal(record, current_user, decisions), "申诉已答复"
    )
    if isinstance(result, Assessment):
        return _back(result.id, "#appeals")
    return _back(assessment.id, "#appeals")


@bp.route("/<int:assessment_id>/correct", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def correct(assessment_id: int) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    form = CorrectForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(assessment_id)
    entries = {
        item.code: (
            request.form.get(f"fix-points-{item.code}", ""),
            request.form.get(f"fix-reason-{item.code}", ""),
        )
        for item in assessment.items
        if request.form.get(f"fix-points-{item.code}", "").strip()
    }
    result = _commit_or_flash(
        lambda: workflow.correct(assessment, current_user, entries, form.reason.data),
        "已生成修订版本并公示",
    )
    if isinstance(result, Assessment):
        return _back(result.id)
    return _back(assessment_id)


# --------------------------------------------------------------------------- drill-down


# Columns shown per kind of record behind a numerator: (header, attribute).
_DRILL_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "ServiceRecord": [
        ("编号", "id"),
        ("服务日期", "service_date"),
        ("服务类型", "type_label"),
        ("核实状态", "verification_label"),
        ("录入时间", "entered_at"),
    ],
    "Resident": [
        ("编号", "id"),
        ("姓名", "name"),
        ("身份证号", "citizen_id"),
        ("性别", "sex"),
        ("出生日期", "birth_date"),
    ],
    "Contract": [
        ("编号", "id"),
        ("协议编号", "code"),
        ("签约日期", "signed_on"),
        ("起始", "start_date"),
        ("截止", "end_date"),
        ("状态", "status_label"),
    ],
    "SurveyResponse": [
        ("编号", "id"),
        ("调查日期", "surveyed_on"),
        ("周期", "period"),
        ("方式", "channel"),
        ("满意度", "satisfaction"),
        ("知晓家庭医生", "knows_doctor"),
    ],
}


def _cells(row: Any) -> list[tuple[str, Any, str | None]]:
    """(header, value, link) per shown column of a drill-down row."""
    from fdoctor.core.web import _show_id

    cells: list[tuple[str, Any, str | None]] = []
    for value in row:
        model = type(value).__name__
        columns = _DRILL_COLUMNS.get(model)
        if columns is None:
            cells.append(("值", value, None))
            continue
        link = _record_link(model, value)
        for header, attr in columns:
            shown = getattr(value, attr, None)
            if attr == "citizen_id":
                shown = _show_id(shown)
            elif attr == "sex":
                shown = {"M": "男", "F": "女"}.get(shown, shown)
            elif isinstance(shown, bool):
                shown = "是" if shown else "否"
            cells.append((header, shown, link if attr == "id" else None))
    return cells


def _record_link(model: str, obj: Any) -> str | None:
    endpoints = {
        "ServiceRecord": ("services.detail", "record_id"),
        "Contract": ("contracts.detail", "contract_id"),
        "Resident": ("households.resident", "resident_id"),
    }
    if model not in endpoints:
        return None
    endpoint, arg = endpoints[model]
    return url_for(endpoint, **{arg: obj.id})


@bp.route("/<int:assessment_id>/items/<code>/records")
@roles_required(*ASSESSMENT_ROLES)
def records(assessment_id: int, code: str) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    item = next((i for i in assessment.items if i.code == code), None)
    if item is None:
        abort(404)
    try:
        stmt = item_records_query(assessment, item)
    except (AssessmentError, ValueError) as exc:
        flash(f"无法列出该指标的记录：{exc}", "warning")
        return _back(assessment.id)
    rows: list[list[tuple[str, Any, str | None]]] = []
    total = 0
    if stmt is not None:
        total = (
            db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        )
        rows = [_cells(row) for row in db.session.execute(stmt.limit(DRILL_LIMIT))]
    headers = [label for label, _, _ in rows[0]] if rows else []
    drill = json.loads(item.drill) if item.drill else {}
    return render_template(
        "assessments/records.html",
        a=assessment,
        item=item,
        rows=rows,
        headers=headers,
        total=total,
        limit=DRILL_LIMIT,
        drill=drill,
        manual=stmt is None,
    )


# --------------------------------------------------------------------------- sheets


@bp.route("/<int:assessment_id>/sheet.pdf")
@roles_required(*ASSESSMENT_ROLES)
def sheet_pdf(assessment_id: int) -> Any:
    from fdoctor.reports.assessment_sheet import build_assessment_sheet_pdf, sheet_data

    assessment = get_scoped_or_404(Assessment, assessment_id)
    body = build_assessment_sheet_pdf(sheet_data(assessment))
    return _download(
        body,
        "application/pdf",
        f"assessment-{assessment.level}-{assessment.period}-{assessment.id}.pdf",
    )


@bp.route("/<int:assessment_id>/sheet.xlsx")
@roles_required(*ASSESSMENT_ROLES)
def sheet_xlsx(assessment_id: int) -> Any:
    from fdoctor.reports.assessment_sheet import build_assessment_sheet_xlsx, sheet_data

    assessment = get_scoped_or_404(Assessment, assessment_id)
    body = build_assessment_sheet_xlsx(sheet_data(assessment))
    return _download(
        body,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"assessment-{assessment.level}-{assessment.period}-{assessment.id}.xlsx",
    )


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --------------------------------------------------------------------------- rectification


@bp.route("/rectifications")
@roles_required(*ASSESSMENT_ROLES)
def rectifications() -> Any:
    status = request.args.get("status", "")
    today = clock.today()
    stmt = (
        select(Rectification)
        .where(scope_clause(Rectification))
        .options(selectinload(Rectification.assessment), selectinload(Rectification.owner_unit))
    )
    if status in ("open", "rectified", "verified"):
        stmt = stmt.where(Rectification.status == status)
    if request.args.get("only") == "overdue":
        stmt = stmt.where(Rectification.status == "open", Rectification.deadline < today)
    stmt = stmt.order_by(Rectification.status, Rectification.deadline, Rectification.id)
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
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
        _flash_form_errors(form)
        return _back(rect.assessment_id, "#rectifications")
    _commit_or_flash(
        lambda: workflow.rectify(rect, current_user, form.evidence.data),
        "整改情况已提交，等待考核单位核验",
    )
    return _back(rect.assessment_id, "#rectifications")


@bp.route("/rectifications/<int:rect_id>/verify", methods=["POST"])
@roles_required(*ASSESSMENT_ROLES)
def verify(rect_id: int) -> Any:
    rect = _rect_or_404(rect_id)
    form = VerifyForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(rect.assessment_id, "#rectifications")
    accept = form.decision.data != "return"
    _commit_or_flash(
        lambda: workflow.verify_rectification(rect, current_user, form.note.data, accept=accept),
        "整改已核验" if accept else "已退回整改",
    )
    return _back(rect.assessment_id, "#rectifications")


# --------------------------------------------------------------------------- L4 spot check


def _known_year(year: int) -> None:
    """A year outside the calendar's range is no page (404), never a crash."""
    from assessments.tiers import MAX_YEAR, MIN_YEAR

    if not MIN_YEAR <= year <= MAX_YEAR:
        abort(404)


@bp.route("/l4/<int:year>")
@roles_required(*L4_ROLES)
def l4(year: int) -> Any:
    _known_year(year)
    draw = draw_for(year)
    items: list[SpotCheckDrawItem] = []
    reproducible = None
    if draw is not None:
        stmt = (
            select(SpotCheckDrawItem)
            .where(SpotCheckDrawItem.draw_id == draw.id)
            .options(
                selectinload(SpotCheckDrawItem.institution), selectinload(SpotCheckDrawItem.county)
            )
            .order_by(
                SpotCheckDrawItem.county_id,
                SpotCheckDrawItem.selected.desc(),
                SpotCheckDrawItem.draw_order,
                SpotCheckDrawItem.institution_id,
            )
        )
        if current_user.role != Role.CITY_ADMIN.value:
            stmt = stmt.where(SpotCheckDrawItem.county_id == current_user.org_unit_id)
        items = list(db.session.scalars(stmt))
        reproducible = draw_is_reproducible(draw)
    counties = db.session.scalars(
        select(Assessment)
        .where(
            Assessment.level == "L4",
            Assessment.period == str(year),
            Assessment.is_current.is_(True),
            scope_clause(Assessment),
        )
        .options(selectinload(Assessment.unit))
        .order_by(Assessment.unit_id)
    ).all()
    spots = {
        a.unit_id: a
        for a in db.session.scalars(
            select(Assessment).where(
                Assessment.level == SPOT_LEVEL,
                Assessment.period == str(year),
                Assessment.is_current.is_(True),
            )
        )
    }
    return render_template(
        "assessments/l4.html",
        year=year,
        draw=draw,
        items=items,
        reproducible=reproducible,
        counties=counties,
        spots=spots,
        form=DrawForm(),
    )


@bp.route("/l4/<int:year>/draw", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def l4_draw(year: int) -> Any:
    _known_year(year)
    form = DrawForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for(".l4", year=year))
    _commit_or_flash(
        lambda: draw_l4_spot_check(year, seed=form.seed.data, user=current_user),
        f"{year} 年度市级抽查机构已抽取，抽查评分表已开启",
    )
    return redirect(url_for(".l4", year=year))


# --------------------------------------------------------------------------- dashboards


def _dashboard_args() -> tuple[str, int | None, str | None]:
    view = request.args.get("view") or {
        Role.TEAM_LEADER.value: "team",
        Role.CENTRE_ADMIN.value: "centre",
        Role.COUNTY_AUDITOR.value: "county",
        Role.CITY_ADMIN.value: "city",
    }.get(current_user.role, "team")
    if view not in ("team", "centre", "county", "city"):
        abort(404)
    return view, request.args.get("unit", type=int), period_arg()


def _dashboard_unit(view: str, unit_id: int | None) -> OrgUnit | None:
    """The unit a dashboard is about: the user's own, or one below it in scope."""
    kind = {"team": "team", "centre": "institution", "county": "county", "city": "city"}[view]
    if unit_id is None:
        unit = current_user.org_unit
        if unit is not None and unit.kind == kind:
            return unit
        if kind == "city":
            return db.session.scalar(
                select(OrgUnit).where(OrgUnit.kind == "city").order_by(OrgUnit.id)
            )
        return None
    unit = get_scoped_or_404(OrgUnit, unit_id)
    if unit.kind != kind:
        abort(404)
    return unit


@bp.route("/dashboard")
@roles_required(*ASSESSMENT_ROLES)
def dashboard() -> Any:
    from fdoctor.reports.dashboards import dashboard_data

    view, unit_id, period = _dashboard_args()
    unit = _dashboard_unit(view, unit_id)
    level = request.args.get("level")
    data = None
    if unit is not None:
        try:
            data = dashboard_data(view, unit, period, clock.today(), level)
        except AssessmentError as exc:
            flash(str(exc), "warning")
    children = _dashboard_children(view, unit)
    return render_template(
        "assessments/dashboard.html",
        view=view,
        unit=unit,
        data=data,
        period=period,
        level=level,
        children=children,
    )


def _dashboard_children(view: str, unit: OrgUnit | None) -> list[tuple[str, OrgUnit]]:
    """Units one level down the user may open a dashboard of (county → centres → teams)."""
    below = {
        "city": ("county", "county"),
        "county": ("institution", "centre"),
        "centre": ("team", "team"),
    }
    if unit is None or view not in below:
        return []
    kind, child_view = below[view]
    stmt = select(OrgUnit).where(OrgUnit.kind == kind, scope_clause(OrgUnit))
    if view != "city":
        stmt = stmt.where(OrgUnit.path.startswith(unit.path))
    return [(child_view, child) for child in db.session.scalars(stmt.order_by(OrgUnit.code))]


@bp.route("/dashboard/data.json")
@roles_required(*ASSESSMENT_ROLES)
def dashboard_json() -> Any:
    from fdoctor.reports.dashboards import dashboard_data

    view, unit_id, period = _dashboard_args()
    unit = _dashboard_unit(view, unit_id)
    if unit is None:
        return jsonify({"error": "请选择要查看的单位", "status": 404}), 404
    try:
        data = dashboard_data(view, unit, period, clock.today(), request.args.get("level"))
    except AssessmentError as exc:
        return jsonify({"error": str(exc), "status": exc.status}), exc.status
    return jsonify(data.chart)


# --------------------------------------------------------------------------- notifications


@bp.route("/notifications")
@roles_required(*NOTIFICATION_ROLES)
def notifications() -> Any:
    kind = request.args.get("kind", "")
    stmt = (
        select(Notification)
        .where(scope_clause(Notification))
        .options(selectinload(Notification.unit))
    )
    if kind in NOTIFICATION_KINDS:
        stmt = stmt.where(Notification.kind == kind)
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    return render_template(
        "assessments/notifications.html", page=page, kind=kind, kinds=NOTIFICATION_KINDS
    )


# --------------------------------------------------------------------------- workload reports


def _workload_scope() -> Any:
    unit = current_user.org_unit
    if current_user.role == Role.CITY_ADMIN.value or unit is None:
        return WorkloadReport.id.is_not(None)
    return WorkloadReport.county_id == unit.county_id


@bp.route("/workload")
@roles_required(*WORKLOAD_ROLES)
def workload() -> Any:
    reports = db.session.scalars(
        select(WorkloadReport)
        .where(_workload_scope())
        .options(selectinload(WorkloadReport.county))
        .order_by(WorkloadReport.period.desc(), WorkloadReport.county_id)
        .limit(200)
    ).all()
    return render_template("assessments/workload.html", reports=reports)


def _report_or_404(report_id: int) -> WorkloadReport:
    report = db.session.scalar(
        select(WorkloadReport).where(WorkloadReport.id == report_id, _workload_scope())
    )
    if report is None:
        abort(404)
    return report


@bp.route("/workload/<int:report_id>")
@roles_required(*WORKLOAD_ROLES)
def workload_detail(report_id: int) -> Any:
    from fdoctor.reports.dashboards import workload_table

    report = _report_or_404(report_id)
    return render_template(
        "assessments/workload_detail.html", report=report, table=workload_table(report)
    )


@bp.route("/workload/<int:report_id>.xlsx")
@roles_required(*WORKLOAD_ROLES)
def workload_xlsx(report_id: int) -> Any:
    from fdoctor.reports.dashboards import build_workload_xlsx, workload_table

    report = _report_or_404(report_id)
    body = build_workload_xlsx(workload_table(report))
    return _download(
        body,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"workload-{report.county.code}-{report.period}.xlsx",
    )
