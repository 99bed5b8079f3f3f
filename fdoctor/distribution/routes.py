"""Second distribution pages (blueprint ``distribution``, ``/distribution``): the team's
proposal, confirmation, 公示, objections and the institution's approval; the centre's settings of
each team; and every member's own pay slip (``/distribution/slips``), on screen and as a PDF."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from fdoctor.core import menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.core.scope import get_scoped_or_404, in_scope
from fdoctor.core.unit_of_work import refuse
from fdoctor.distribution import services
from fdoctor.distribution.forms import SettingsForm, TextForm
from fdoctor.distribution.models import DistributionObjection, TeamDistribution
from fdoctor.distribution.services import DistributionError
from fdoctor.distribution.slips import my_lines, slip_for
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.reports.payslip import build_payslip_pdf
from fdoctor.settlement.models import Settlement
from fdoctor.settlement.ratings import team_members

bp = Blueprint("distribution", __name__, url_prefix="/distribution")
menu.add(
    bp,
    "index",
    "二次分配",
    roles={Role.DOCTOR, Role.TEAM_LEADER, Role.CENTRE_ADMIN},
    group=menu.SETTLEMENT,
    order=30,
)
menu.add(
    bp, "slips", "我的绩效", roles={Role.DOCTOR, Role.TEAM_LEADER}, group=menu.SETTLEMENT, order=40
)
MEMBERS = (Role.DOCTOR, Role.TEAM_LEADER)
TEAM_ROLES = (Role.DOCTOR, Role.TEAM_LEADER, Role.CENTRE_ADMIN)


def _locked_sheets() -> list[Settlement]:
    return list(
        db.session.scalars(
            select(Settlement)
            .where(Settlement.kind == "settlement", Settlement.status == "locked")
            .order_by(Settlement.year.desc())
        )
    )


def _teams() -> list[OrgUnit]:
    """The teams the user works with: their own, or every team of their institution."""
    unit = current_user.org_unit
    if unit is None:
        return []
    if unit.kind == "team":
        return [unit]
    return list(
        db.session.scalars(
            select(OrgUnit)
            .where(OrgUnit.kind == "team", OrgUnit.institution_id == unit.id)
            .order_by(OrgUnit.code)
        )
    )


@bp.route("/")
@roles_required(*TEAM_ROLES)
def index() -> Any:
    teams = _teams()
    sheets = _locked_sheets()
    statuses = {
        (d.settlement_id, d.team_id): d
        for d in db.session.scalars(
            select(TeamDistribution).where(TeamDistribution.team_id.in_([t.id for t in teams]))
        )
    }
    is_centre = current_user.role == Role.CENTRE_ADMIN.value
    return render_template(
        "distribution/index.html",
        teams=teams,
        sheets=sheets,
        statuses=statuses,
        is_centre=is_centre,
        settings={t.id: services.settings_for(t.id) for t in teams} if is_centre else {},
        members={t.id: team_members(t.id) for t in teams} if is_centre else {},
        form=SettingsForm(),
    )


@bp.route("/settings/<int:team_id>", methods=["POST"])
@roles_required(Role.CENTRE_ADMIN)
def settings(team_id: int) -> Any:
    team = get_scoped_or_404(OrgUnit, team_id)
    form = SettingsForm()
    if team.kind != "team":
        abort(404)
    if not form.validate_on_submit():
        flash("表单已过期，请重试", "danger")
        return redirect(url_for("distribution.index"))
    raw = (form.representative_id.data or "").strip()
    try:
        services.save_settings(team, int(raw) if raw.isdigit() else None,
                               form.publicity_days.data or "", current_user)  # fmt: skip
    except DistributionError as exc:
        return refuse(exc, url_for("distribution.index"))
    flash(f"已保存团队「{team.name}」的二次分配设置", "success")
    return redirect(url_for("distribution.index"))


def _sheet_or_404(settlement_id: int) -> Settlement:
    sheet = db.session.get(Settlement, settlement_id)
    if sheet is None or sheet.kind != "settlement" or sheet.status != "locked":
        abort(404)
    return sheet


def _team_or_404(team_id: int) -> OrgUnit:
    team = db.session.get(OrgUnit, team_id)
    if team is None or team.kind != "team" or not in_scope(team):
        abort(404)
    return team


@bp.route("/<int:settlement_id>/team/<int:team_id>")
@roles_required(*TEAM_ROLES)
def team(settlement_id: int, team_id: int) -> Any:
    sheet = _sheet_or_404(settlement_id)
    unit = _team_or_404(team_id)
    distribution = services.distribution_for(sheet.id, unit.id)
    settings = services.settings_for(unit.id)
    is_leader = services.is_leader(current_user, unit)
    is_representative = bool(settings and settings.representative_id == current_user.id)
    # Before the 公示 only the leader, the representative and the institution see the list.
    shows_lines = (
        services.is_published(distribution)
        or is_leader
        or is_representative
        or current_user.role == Role.CENTRE_ADMIN.value
    )
    return render_template(
        "distribution/team.html",
        sheet=sheet,
        team=unit,
        distribution=distribution,
        settings=settings,
        lines=services.team_lines(sheet.id, unit.id) if shows_lines else [],
        shows_lines=shows_lines,
        is_leader=is_leader,
        is_representative=is_representative,
        is_member=services.is_member(current_user, unit),
        is_centre=current_user.role == Role.CENTRE_ADMIN.value,
        publicity_days=services.publicity_days_for(unit.id),
        form=TextForm(),
    )


def _run(step: Any, back: str, done: str) -> Any:
    form = TextForm()
    if not form.validate_on_submit():
        flash("表单已过期，请重试", "danger")
        return redirect(back)
    try:
        step(form.text.data)
    except DistributionError as exc:
        return refuse(exc, back)
    flash(done, "success")
    return redirect(back)


def _team_url(distribution: TeamDistribution) -> str:
    return url_for(
        "distribution.team", settlement_id=distribution.settlement_id,
        team_id=distribution.team_id,
    )  # fmt: skip


@bp.route("/<int:settlement_id>/team/<int:team_id>/propose", methods=["POST"])
@roles_required(Role.TEAM_LEADER)
def propose(settlement_id: int, team_id: int) -> Any:
    sheet = _sheet_or_404(settlement_id)
    unit = _team_or_404(team_id)
    back = url_for("distribution.team", settlement_id=sheet.id, team_id=unit.id)
    return _run(
        lambda text: services.propose(sheet, unit, current_user, text),
        back,
        "已提交二次分配方案，待二次分配工作小组代表确认",
    )


@bp.route("/<int:distribution_id>/confirm", methods=["POST"])
@roles_required(*MEMBERS)
def confirm(distribution_id: int) -> Any:
    distribution = get_scoped_or_404(TeamDistribution, distribution_id)
    return _run(
        lambda text: services.confirm(distribution, current_user, text),
        _team_url(distribution),
        "已确认方案，方案已在团队内公示",
    )


@bp.route("/<int:distribution_id>/object", methods=["POST"])
@roles_required(*MEMBERS)
def object_to(distribution_id: int) -> Any:
    distribution = get_scoped_or_404(TeamDistribution, distribution_id)
    return _run(
        lambda text: services.object_to(distribution, current_user, text),
        _team_url(distribution),
        "已提交异议，等待团队长答复",
    )


@bp.route("/objection/<int:objection_id>/answer", methods=["POST"])
@roles_required(Role.TEAM_LEADER)
def answer(objection_id: int) -> Any:
    objection = get_scoped_or_404(DistributionObjection, objection_id)
    return _run(
        lambda text: services.answer(objection, current_user, text),
        _team_url(objection.distribution),
        "已答复异议",
    )


@bp.route("/<int:distribution_id>/approve", methods=["POST"])
@roles_required(Role.CENTRE_ADMIN)
def approve(distribution_id: int) -> Any:
    distribution = get_scoped_or_404(TeamDistribution, distribution_id)
    return _run(
        lambda _text: services.approve(distribution, current_user),
        _team_url(distribution),
        "已批准本团队的二次分配",
    )


# --------------------------------------------------------------------------- pay slips


@bp.route("/slips")
@roles_required(*MEMBERS)
def slips() -> Any:
    return render_template("distribution/slips.html", lines=my_lines(current_user))


@bp.route("/slips/<int:line_id>")
@roles_required(*MEMBERS)
def slip(line_id: int) -> Any:
    data = slip_for(current_user, line_id)
    if data is None:
        abort(404)
    return render_template("distribution/slip.html", slip=data, line_id=line_id)


@bp.route("/slips/<int:line_id>.pdf")
@roles_required(*MEMBERS)
def slip_pdf(line_id: int) -> Any:
    data = slip_for(current_user, line_id)
    if data is None:
        abort(404)
    return send_file(
        io.BytesIO(build_payslip_pdf(data)),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{data.title}-{data.member}.pdf",
    )
