"""Pages of the team split's sources (blueprint ``teamsplit``, ``/teamsplit``):

* ``/attendance`` — the centre enters a month's attendance of all its teams' members in one
  table, or imports its spreadsheet (centre_admin);
* ``/points`` — the county adapts the workload point table (county_auditor; others read it);
* ``/deductions`` — the team leader records the internal check's deductions;
* ``/fund`` — the team fund's balance, what each year put in, and every award (team members);
  the leader records awards;
* ``/leaders`` — the institution's rule for its team leaders (centre_admin).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from assessments.money import yuan
from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.query import year_arg
from fdoctor.core.roles import Role
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.figures import dtext
from fdoctor.teamsplit.attendance import (
    ATTENDANCE_FIELDS,
    attendance_for,
    import_attendance,
    institution_members,
    parse_month,
    save_attendance,
)
from fdoctor.teamsplit.deductions import add_deduction, deductions_of
from fdoctor.teamsplit.entry import TeamSplitError, frozen_settlement, team_members
from fdoctor.teamsplit.fund import add_award, fund_of
from fdoctor.teamsplit.leaders import leader_rule, save_leader_rule
from fdoctor.teamsplit.models import AWARD_KINDS
from fdoctor.teamsplit.point_table import point_rows, save_point_values

bp = Blueprint("teamsplit", __name__, url_prefix="/teamsplit")
menu.add(bp, "attendance", "成员出勤", roles={Role.CENTRE_ADMIN}, group=menu.SETTLEMENT, order=50)
menu.add(bp, "leaders", "负责人分配", roles={Role.CENTRE_ADMIN}, group=menu.SETTLEMENT, order=60)
menu.add(bp, "deductions", "内部扣分", roles={Role.TEAM_LEADER}, group=menu.SETTLEMENT, order=70)
menu.add(
    bp, "fund", "部门基金", roles={Role.DOCTOR, Role.TEAM_LEADER}, group=menu.SETTLEMENT, order=80
)
menu.add(bp, "points", "工作量点数", roles={Role.COUNTY_AUDITOR}, group=menu.SETTLEMENT, order=90)


class CsrfForm(FlaskForm):
    """Only the CSRF token: the fields are read by the view and checked by the source modules."""


def _unit(kind: str) -> OrgUnit:
    unit = current_user.org_unit
    if unit is None or unit.kind != kind:
        abort(404)
    return unit


def _form_errors(form: FlaskForm) -> bool:
    if form.validate_on_submit():
        return False
    for errors in form.errors.values():
        for error in errors:
            flash(error, "danger")
    return True


def _default_month() -> str:
    today = clock.today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


# --------------------------------------------------------------------------- attendance


@bp.route("/attendance", methods=["GET", "POST"])
@roles_required(Role.CENTRE_ADMIN)
def attendance() -> Any:
    institution = _unit("institution")
    month = request.values.get("month") or _default_month()
    form = CsrfForm()
    submitted = None
    if request.method == "POST":
        if _form_errors(form):
            return redirect(url_for("teamsplit.attendance", month=month))
        members = institution_members(institution)
        rows = {
            user.id: {key: request.form.get(f"{key}_{user.id}", "") for key in ATTENDANCE_FIELDS}
            for _team, user in members
        }
        try:
            count = save_attendance(institution, month, rows, current_user)
        except TeamSplitError as exc:
            discard(exc)
            submitted = request.form
        else:
            flash(f"已保存 {month} 的 {count} 名成员出勤", "success")
            return redirect(url_for("teamsplit.attendance", month=month))
    return _attendance_page(institution, month, form, submitted)


def _attendance_page(institution: OrgUnit, month: str, form: FlaskForm, submitted: Any) -> Any:
    try:
        parse_month(month)
        records = attendance_for(institution, month)
        frozen = frozen_settlement(int(month[:4]))
    except TeamSplitError as exc:
        flash(str(exc), "danger")
        records, frozen = {}, None
    status = 422 if submitted is not None else 200
    return render_template(
        "teamsplit/attendance.html",
        institution=institution,
        month=month,
        form=form,
        members=institution_members(institution),
        records=records,
        fields=ATTENDANCE_FIELDS,
        submitted=submitted,
        frozen=frozen,
    ), status


@bp.route("/attendance/import", methods=["POST"])
@roles_required(Role.CENTRE_ADMIN)
def attendance_import() -> Any:
    institution = _unit("institution")
    month = request.form.get("month") or _default_month()
    form = CsrfForm()
    if _form_errors(form):
        return redirect(url_for("teamsplit.attendance", month=month))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的出勤表（.xlsx 或 .csv）", "danger")
        return redirect(url_for("teamsplit.attendance", month=month))
    try:
        count = import_attendance(institution, month, upload.filename, upload.read(), current_user)
    except TeamSplitError as exc:
        return refuse(
            f"导入失败，未保存任何记录：{exc}", url_for("teamsplit.attendance", month=month)
        )
    flash(f"已导入 {month} 的 {count} 名成员出勤", "success")
    return redirect(url_for("teamsplit.attendance", month=month))


# --------------------------------------------------------------------------- point table


@bp.route("/points", methods=["GET", "POST"])
@roles_required(Role.COUNTY_AUDITOR, Role.CITY_ADMIN, Role.CENTRE_ADMIN, Role.TEAM_LEADER)
def points() -> Any:
    unit = current_user.org_unit
    county = None
    if unit is not None and unit.kind != "city" and unit.county_id is not None:
        county = db.session.get(OrgUnit, unit.county_id)
    editable = current_user.role == Role.COUNTY_AUDITOR.value and county is not None
    form = CsrfForm()
    if request.method == "POST":
        if not editable or county is None:
            abort(403)
        if _form_errors(form):
            return redirect(url_for("teamsplit.points"))
        values = {
            row.service_type: request.form.get(f"points_{row.service_type}", "")
            for row in point_rows(county)
        }
        try:
            changed = save_point_values(county, values, current_user)
        except TeamSplitError as exc:
            discard(exc)
            return render_template(
                "teamsplit/points.html", county=county, rows=point_rows(county),
                form=form, editable=editable, submitted=request.form, dtext=dtext,
            ), 422  # fmt: skip
        flash(f"已保存工作量点数表（{changed} 项变更）", "success")
        return redirect(url_for("teamsplit.points"))
    return render_template(
        "teamsplit/points.html",
        county=county,
        rows=point_rows(county),
        form=form,
        editable=editable,
        submitted=None,
        dtext=dtext,
    )


# --------------------------------------------------------------------------- deductions


@bp.route("/deductions", methods=["GET", "POST"])
@roles_required(Role.TEAM_LEADER)
def deductions() -> Any:
    team = _unit("team")
    year = year_arg(clock.today().year)
    form = CsrfForm()
    status = 200
    if request.method == "POST":
        if _form_errors(form):
            return redirect(url_for("teamsplit.deductions", year=year))
        f = request.form
        try:
            row = add_deduction(
                team, f.get("user_id"), f.get("points", ""), f.get("reason", ""),
                f.get("decided_by", ""), f.get("decided_on", ""), current_user,
            )  # fmt: skip
        except TeamSplitError as exc:
            discard(exc)
            status = 422
        else:
            flash(f"已记录扣分 {dtext(row.points)} 分", "success")
            return redirect(url_for("teamsplit.deductions", year=row.decided_on.year))
    return render_template(
        "teamsplit/deductions.html",
        team=team,
        year=year,
        form=form,
        members=team_members(team),
        rows=deductions_of(team, year),
        submitted=request.form if status != 200 else None,
        today=clock.today().isoformat(),
        dtext=dtext,
    ), status


# --------------------------------------------------------------------------- the team fund


@bp.route("/fund", methods=["GET", "POST"])
@roles_required(Role.DOCTOR, Role.TEAM_LEADER)
def fund() -> Any:
    team = _unit("team")
    form = CsrfForm()
    status = 200
    if request.method == "POST":
        if current_user.role != Role.TEAM_LEADER.value:
            abort(403)
        if _form_errors(form):
            return redirect(url_for("teamsplit.fund"))
        f = request.form
        try:
            row = add_award(
                team, f.get("user_id"), f.get("kind", ""), f.get("amount", ""),
                f.get("reason", ""), f.get("awarded_on", ""), current_user,
            )  # fmt: skip
        except TeamSplitError as exc:
            discard(exc)
            status = 422
        else:
            flash(f"已记录{row.kind_label} {yuan(row.amount_fen)} 元", "success")
            return redirect(url_for("teamsplit.fund"))
    return render_template(
        "teamsplit/fund.html",
        team=team,
        fund=fund_of(team),
        form=form,
        members=team_members(team),
        kinds=AWARD_KINDS,
        is_leader=current_user.role == Role.TEAM_LEADER.value,
        submitted=request.form if status != 200 else None,
        today=clock.today().isoformat(),
        yuan=yuan,
    ), status


# --------------------------------------------------------------------------- leader rule


@bp.route("/leaders", methods=["GET", "POST"])
@roles_required(Role.CENTRE_ADMIN)
def leaders() -> Any:
    institution = _unit("institution")
    form = CsrfForm()
    if request.method == "POST":
        if _form_errors(form):
            return redirect(url_for("teamsplit.leaders"))
        try:
            save_leader_rule(
                institution, request.form.get("mode", ""), request.form.get("rate", ""),
                current_user,
            )  # fmt: skip
        except TeamSplitError as exc:
            discard(exc)
            return redirect(url_for("teamsplit.leaders"))
        flash("已保存团队负责人的分配方式", "success")
        return redirect(url_for("teamsplit.leaders"))
    return render_template(
        "teamsplit/leaders.html",
        institution=institution,
        rule=leader_rule(institution),
        form=form,
        dtext=dtext,
    )
