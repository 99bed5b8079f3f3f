"""Service records: list by month and type, the tablet recording page, conflicts, referrals."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload

from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.query import month_arg
from fdoctor.core.roles import HEALTH_DATA_READERS, RECORDERS, Role
from fdoctor.core.scope import get_scoped_or_404, scoped
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.records import drafts as rules
from fdoctor.records.conflicts import open_conflicts, resolve_conflict
from fdoctor.records.errors import ServiceError
from fdoctor.records.models import (
    SERVICE_CATEGORIES,
    SERVICE_TYPES,
    VERIFICATION_STATES,
    ServiceRecord,
    ServiceRecordVersion,
)
from fdoctor.records.referrals import confirm_referral, receiving_institution_id, referral_inbox
from fdoctor.records.versions import record_data

bp = Blueprint("records", __name__, url_prefix="/services")
menu.add(
    bp, "tablet", "录入服务", roles={Role.DOCTOR, Role.TEAM_LEADER}, group=menu.SERVICES, order=10
)
menu.add(bp, "index", "服务记录", roles=HEALTH_DATA_READERS, group=menu.SERVICES, order=20)
menu.add(
    bp,
    "referrals",
    "转诊接收",
    roles={Role.CENTRE_ADMIN, Role.TEAM_LEADER},
    group=menu.SERVICES,
    order=30,
)
menu.add(
    bp,
    "conflicts",
    "修改冲突",
    roles={Role.CENTRE_ADMIN, Role.TEAM_LEADER},
    group=menu.SERVICES,
    order=40,
)

REVIEWERS = (Role.TEAM_LEADER, Role.CENTRE_ADMIN)
# Rows of the side-by-side conflict view: (label, key in the version data).
COMPARED_FIELDS = (
    ("服务日期", "service_date"),
    ("收缩压 (mmHg)", "systolic_bp"),
    ("舒张压 (mmHg)", "diastolic_bp"),
    ("空腹血糖 (mmol/L)", "fasting_glucose"),
    ("参加人数", "attendance"),
    ("健康教育主题", "topic"),
    ("转诊机构", "other_institution_name"),
    ("回执时间", "referral_received_at"),
    ("备注", "notes"),
)


@bp.route("/")
@roles_required(HEALTH_DATA_READERS)
def index() -> Any:
    start = month_arg(clock.today().replace(day=1))
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    stype = request.args.get("type", "")
    stmt = scoped(ServiceRecord).where(
        ServiceRecord.service_date >= start, ServiceRecord.service_date < end
    )
    if stype in SERVICE_TYPES:
        stmt = stmt.where(ServiceRecord.type == stype)
    stmt = stmt.options(joinedload(ServiceRecord.resident), joinedload(ServiceRecord.doctor))
    stmt = stmt.order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    return render_template(
        "records/index.html",
        page=page,
        month=f"{start:%Y-%m}",
        stype=stype,
        types=SERVICE_TYPES,
        states=VERIFICATION_STATES,
    )


@bp.route("/<int:record_id>")
@roles_required(HEALTH_DATA_READERS)
def detail(record_id: int) -> Any:
    record = get_scoped_or_404(ServiceRecord, record_id)
    versions = db.session.scalars(
        select(ServiceRecordVersion)
        .where(ServiceRecordVersion.record_id == record.id)
        .options(joinedload(ServiceRecordVersion.author))
        .order_by(ServiceRecordVersion.created_at, ServiceRecordVersion.id)
    ).all()
    return render_template(
        "records/detail.html",
        record=record,
        states=VERIFICATION_STATES,
        versions=versions,
        compared=COMPARED_FIELDS,
    )


# --- the tablet page ------------------------------------------------------------------------


@bp.route("/tablet")
@roles_required(RECORDERS)
def tablet() -> Any:
    """The recording page; everything after the first load runs in static/js/tablet.js."""
    unit = current_user.org_unit
    county_id = unit.county_id if unit is not None else None
    institutions = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.kind == "institution", OrgUnit.active)
        .order_by(case((OrgUnit.county_id == county_id, 0), else_=1), OrgUnit.code)
    ).all()
    teams: list[OrgUnit] = []
    if unit is None or unit.kind != "team":
        teams = list(
            db.session.scalars(
                scoped(OrgUnit).where(OrgUnit.kind == "team", OrgUnit.active).order_by(OrgUnit.code)
            )
        )
    categories = [
        (label, [(key, tl) for key, (cat, tl) in SERVICE_TYPES.items() if cat == code])
        for code, label in SERVICE_CATEGORIES.items()
    ]
    return render_template(
        "records/tablet.html",
        categories=categories,
        institutions=institutions,
        teams=teams,
        team_id=unit.id if unit is not None and unit.kind == "team" else "",
        rules=rules,
        type_fields={k: " ".join(v) for k, v in rules.TYPE_FIELDS.items()},
        service_types={k: label for k, (_cat, label) in SERVICE_TYPES.items()},
        api_base=url_for("api.me").rsplit("/", 1)[0],
        record_base=url_for(".index"),
    )


@bp.route("/sw.js")
def service_worker() -> Any:
    """The tablet's service worker, served under /services/ so it may control /services/tablet.

    Public on purpose: it holds no data, and the browser re-fetches it for updates even when the
    session has expired.
    """
    script = Path(current_app.static_folder or "") / "js" / "sw.js"
    response = current_app.response_class(script.read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


# --- conflicts ------------------------------------------------------------------------------


def _comparison(conflict: ServiceRecordVersion) -> list[tuple[str, Any, Any, bool]]:
    current = record_data(conflict.record)
    theirs = conflict.data
    rows = []
    for label, key in COMPARED_FIELDS:
        mine, other = current.get(key), theirs.get(key)
        if mine is None and other is None:
            continue
        rows.append((label, mine, other, mine != other))
    return rows


@bp.route("/conflicts")
@roles_required(*REVIEWERS)
def conflicts() -> Any:
    """Open edit conflicts in the reviewer's scope, each shown side by side with the record."""
    rows = db.session.scalars(open_conflicts(current_user).limit(200)).unique().all()
    return render_template(
        "records/conflicts.html",
        conflicts=[(c, _comparison(c)) for c in rows],
    )


@bp.route("/conflicts/<int:version_id>/resolve", methods=["POST"])
@roles_required(*REVIEWERS)
def resolve(version_id: int) -> Any:
    conflict = get_scoped_or_404(ServiceRecordVersion, version_id)
    try:
        resolve_conflict(conflict, request.form.get("choice", ""), current_user)
    except ServiceError as exc:
        return refuse(exc, url_for(".conflicts"), "warning")
    if conflict.status == "accepted":
        flash("已采用设备提交的版本，原版本保留在历史中", "success")
    else:
        flash("已保留当前版本，设备提交的版本保留在历史中", "success")
    return redirect(url_for(".conflicts"))


# --- referrals ------------------------------------------------------------------------------

REFERRAL_STATES = {"pending": "待确认", "received": "已接收", "all": "全部"}


@bp.route("/referrals")
@roles_required(*REVIEWERS)
def referrals() -> Any:
    """Referrals addressed to the user's institution, with a "确认接收" action."""
    state = request.args.get("state", "pending")
    if state not in REFERRAL_STATES:
        state = "pending"
    page = db.paginate(
        referral_inbox(current_user, state),
        page=request.args.get("page", 1, type=int),
        per_page=50,
        error_out=False,
    )
    institution_id = receiving_institution_id(current_user)
    institution = db.session.get(OrgUnit, institution_id) if institution_id else None
    return render_template(
        "records/referrals.html",
        page=page,
        state=state,
        states=REFERRAL_STATES,
        institution=institution,
    )


@bp.route("/referrals/<int:record_id>/receive", methods=["POST"])
@roles_required(*REVIEWERS)
def receive(record_id: int) -> Any:
    try:
        record = confirm_referral(record_id, current_user)
    except ServiceError as exc:
        if exc.status in {403, 404}:
            abort(exc.status)  # nothing of the request is kept
        discard(exc, "info")
    else:
        name = record.resident.name if record.resident else ""
        flash(f"已确认接收 {name} 的转诊", "success")
    return redirect(url_for(".referrals", state=request.form.get("state", "pending")))
