"""Suspicion flags for the centre and county: list with filters and counts per team, decide, detect."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from assessments.tiers import Level, Period, PeriodError, PeriodKind
from fdoctor.core import menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.core.scope import get_scoped_or_404, scope_clause, scoped
from fdoctor.core.unit_of_work import discard
from fdoctor.extensions import db
from fdoctor.flags.models import FLAG_DECISIONS, FLAG_KINDS, FLAG_STATUSES, SuspicionFlag
from fdoctor.flags.services import FlagError, detect_flags, resolve_flag
from fdoctor.org.models import OrgUnit
from fdoctor.surveys.samples import drawable_periods

bp = Blueprint("flags", __name__, url_prefix="/flags")
menu.add(
    bp,
    "index",
    "疑点",
    roles={Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN},
    group=menu.ASSESSMENT,
    order=30,
)
VIEWERS = (Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN)
DECIDERS = (Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR)
PER_PAGE = 50


def _filters() -> dict[str, Any]:
    kind = request.args.get("kind", "")
    status = request.args.get("status", "open")
    return {
        "kind": kind if kind in FLAG_KINDS else "",
        "status": status if status in FLAG_STATUSES or status == "all" else "open",
        "team": request.args.get("team", type=int) or None,
    }


@bp.route("/")
@roles_required(*VIEWERS)
def index() -> Any:
    chosen = _filters()
    stmt = scoped(SuspicionFlag).options(
        selectinload(SuspicionFlag.user), selectinload(SuspicionFlag.team)
    )
    if chosen["kind"]:
        stmt = stmt.where(SuspicionFlag.kind == chosen["kind"])
    if chosen["status"] != "all":
        stmt = stmt.where(SuspicionFlag.status == chosen["status"])
    if chosen["team"]:
        stmt = stmt.where(SuspicionFlag.team_id == chosen["team"])
    stmt = stmt.order_by(SuspicionFlag.subject_date.desc(), SuspicionFlag.id.desc())
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int) or 1, per_page=PER_PAGE, error_out=False
    )
    # Open flags per team and kind: one grouped query over the whole scope.
    per_team: dict[int, dict[str, int]] = {}
    for team_id, kind, n in db.session.execute(
        select(SuspicionFlag.team_id, SuspicionFlag.kind, func.count(SuspicionFlag.id))
        .where(SuspicionFlag.status == "open", scope_clause(SuspicionFlag))
        .group_by(SuspicionFlag.team_id, SuspicionFlag.kind)
    ).all():
        per_team.setdefault(team_id or 0, {})[kind] = n
    teams = db.session.execute(
        select(OrgUnit.id, OrgUnit.name)
        .where(OrgUnit.kind == "team", scope_clause(OrgUnit))
        .order_by(OrgUnit.code)
    ).all()
    can_decide = current_user.role in {r.value for r in DECIDERS}
    return render_template(
        "flags/index.html",
        page=page,
        chosen=chosen,
        kinds=FLAG_KINDS,
        # Only the kinds some team has open flags of get a column (there are sixteen kinds).
        counted_kinds={
            k: label for k, label in FLAG_KINDS.items() if any(k in r for r in per_team.values())
        },
        statuses=FLAG_STATUSES,
        decisions=FLAG_DECISIONS,
        per_team=per_team,
        teams=teams,
        team_names=dict(teams),
        can_decide=can_decide,
        periods=drawable_periods(Level.L2) if can_decide else [],
    )


@bp.route("/<int:flag_id>/resolve", methods=["POST"])
@roles_required(*DECIDERS)
def resolve(flag_id: int) -> Any:
    flag = get_scoped_or_404(SuspicionFlag, flag_id)
    try:
        resolve_flag(
            flag, request.form.get("decision", ""), request.form.get("reason", ""), current_user
        )
    except FlagError as exc:
        discard(f"疑点 #{flag_id}：{exc}")
    else:
        flash(f"疑点 #{flag_id} 已{flag.status_label}", "success")
    return redirect(_back_to_list())


def _back_to_list() -> str:
    """Back to the filtered list the form came from; only this page, never another site."""
    target = request.form.get("next", "")
    if target.startswith("/flags/") and not target.startswith("//"):
        return target
    return url_for("flags.index")


@bp.route("/detect", methods=["POST"])
@roles_required(*DECIDERS)
def detect() -> Any:
    """Run detection for one quarter over the user's institution (centre) or county."""
    unit = current_user.org_unit
    try:
        period = Period.parse(request.form.get("period", ""), expect=PeriodKind.QUARTER)
    except PeriodError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("flags.index"))
    if unit.kind == "institution":
        created = detect_flags(period.start, period.end, unit.county_id, institution_id=unit.id)
    else:
        created = detect_flags(period.start, period.end, unit.county_id)
    flash(f"{period.label}疑点检测完成：新增 {created} 条（已有的不会重复生成）", "success")
    return redirect(url_for("flags.index"))
