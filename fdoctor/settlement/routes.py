"""Settlement (结算) pages: sheets by year, the cascade with its explainer, approval, exports,
configuration (city) and the team leader's member ratings."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from assessments.cascade.text import approx, parse_frac
from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.query import year_arg
from fdoctor.core.roles import Role
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.corrections.sheet import annexes as correction_annexes
from fdoctor.extensions import db
from fdoctor.reports import settlement_sheet
from fdoctor.settlement import approval, parameters
from fdoctor.settlement.build import LEVEL_DEPTH, build_settlement
from fdoctor.settlement.errors import SettlementError, SettlementIncomplete
from fdoctor.settlement.figures import dtext, kind_label
from fdoctor.settlement.forms import (
    BuildForm,
    FundsForm,
    ParametersForm,
    PostForm,
    RatingsForm,
    SplitForm,
    StandardForm,
    TransitionForm,
)
from fdoctor.settlement.inputs import config_status
from fdoctor.settlement.models import LINE_LEVELS, Settlement
from fdoctor.settlement.queries import (
    explanation_of,
    get_line_or_404,
    integrity_ok,
    line_family,
    settlements_by_year,
    visible_lines,
)
from fdoctor.settlement.ratings import (
    RatingsInvalid,
    ratings_for,
    ratings_frozen,
    save_ratings,
    team_members,
)
from fdoctor.settlement.sheet import SHEETS, sheet_available, sheet_data

bp = Blueprint("settlement", __name__, url_prefix="/settlement")
menu.add(
    bp,
    "index",
    "结算",
    roles={Role.CITY_ADMIN, Role.FINANCE, Role.COUNTY_AUDITOR, Role.CENTRE_ADMIN},
    group=menu.SETTLEMENT,
    order=10,
)
menu.add(bp, "ratings", "成员系数", roles={Role.TEAM_LEADER}, group=menu.SETTLEMENT, order=20)
SETTLEMENT_ROLES = (Role.CITY_ADMIN, Role.FINANCE, Role.COUNTY_AUDITOR, Role.CENTRE_ADMIN)
CITY_WIDE = {Role.CITY_ADMIN.value, Role.FINANCE.value}
FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _year_arg() -> int:
    return year_arg(clock.today().year)


def _assessment_url(assessment_id: int | None) -> str | None:
    """A link to the assessment page when the assessments area provides one."""
    if assessment_id is None:
        return None
    try:
        return url_for("assessments.detail", assessment_id=assessment_id)
    except BuildError:
        return None


def _rounding_text(text: str | None) -> str:
    value = parse_frac(text)
    return "—" if value is None else approx(value, 6, sign=True)


def _number_text(text: str | None) -> str:
    """An exact decimal as text with thousands separators (weights such as P × S)."""
    if text is None:
        return "—"
    return f"{Decimal(text):,}"


def _helpers() -> dict[str, Any]:
    return {
        "assessment_url": _assessment_url,
        "rounding_text": _rounding_text,
        "number_text": _number_text,
        "level_labels": LINE_LEVELS,
        "sheets": SHEETS,
        "sheet_available": sheet_available,
    }


# --------------------------------------------------------------------------- sheets


@bp.route("/")
@roles_required(*SETTLEMENT_ROLES)
def index() -> Any:
    year = _year_arg()
    city_wide = current_user.role in CITY_WIDE
    status = config_status(year) if city_wide else []
    form = BuildForm(year=year, kind="settlement")
    return render_template(
        "settlement/index.html",
        year=year,
        settlements=settlements_by_year(),
        status=status,
        form=form,
        can_build=current_user.role == Role.CITY_ADMIN.value,
        **_helpers(),
    )


@bp.route("/build", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def build() -> Any:
    form = BuildForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
        return redirect(url_for("settlement.index"))
    year, kind = form.year.data, form.kind.data or "settlement"
    try:
        settlement, changed = build_settlement(year, kind, current_user)
    except SettlementIncomplete as exc:
        return refuse(
            f"{year} 年度{kind_label(kind)}表无法计算，缺少 {len(exc.missing)} 项，见下方清单",
            url_for("settlement.index", year=year),
        )
    except SettlementError as exc:
        return refuse(exc, url_for("settlement.index", year=year))
    if changed:
        flash(
            f"已计算 {year} 年度{settlement.kind_label}表草稿（第 {settlement.version} 版）",
            "success",
        )
    else:
        flash("输入数据没有变化，草稿保持不变（SHA-256 相同）", "info")
    return redirect(url_for("settlement.detail", settlement_id=settlement.id))


def _settlement_or_404(settlement_id: int) -> Settlement:
    settlement = db.session.get(Settlement, settlement_id)
    if settlement is None:
        abort(404)
    return settlement


@bp.route("/<int:settlement_id>")
@roles_required(*SETTLEMENT_ROLES)
def detail(settlement_id: int) -> Any:
    settlement = _settlement_or_404(settlement_id)
    lines = visible_lines(settlement, current_user)
    pools = [line for line in lines if line.level == "pool"]
    selected = None
    if pools:
        wanted = request.args.get("pool", type=int)
        selected = next((p for p in pools if p.unit_id == wanted), pools[0])
        start = lines.index(selected)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].level == "pool"), len(lines)
        )
        lines = lines[start:end]
    base = min((LEVEL_DEPTH[line.level] for line in lines), default=0)
    has_children = {line.parent_id for line in lines}
    return render_template(
        "settlement/detail.html",
        settlement=settlement,
        lines=lines,
        depth={line.id: LEVEL_DEPTH[line.level] - base for line in lines},
        has_children=has_children,
        pools=pools,
        selected=selected,
        actions=approval.allowed_actions(settlement, current_user),
        form=TransitionForm(),
        integrity=integrity_ok(settlement),
        annexes=correction_annexes(settlement, "page", current_user),
        **_helpers(),
    )


@bp.route("/<int:settlement_id>/line/<int:line_id>")
@roles_required(*SETTLEMENT_ROLES)
def line(settlement_id: int, line_id: int) -> Any:
    settlement = _settlement_or_404(settlement_id)
    item = get_line_or_404(settlement, line_id, current_user)
    ancestors, children = line_family(item, current_user)
    return render_template(
        "settlement/line.html",
        settlement=settlement,
        line=item,
        explanation=explanation_of(item),
        ancestors=ancestors,
        children=children,
        **_helpers(),
    )


@bp.route("/<int:settlement_id>/transition", methods=["POST"])
@roles_required(Role.CITY_ADMIN, Role.FINANCE)
def transition(settlement_id: int) -> Any:
    settlement = _settlement_or_404(settlement_id)
    form = TransitionForm()
    if not form.validate_on_submit():
        flash("缺少操作", "danger")
        return redirect(url_for("settlement.detail", settlement_id=settlement.id))
    action = form.action.data or ""
    try:
        approval.transition(settlement, action, current_user)
    except SettlementError as exc:
        return refuse(exc, url_for("settlement.detail", settlement_id=settlement_id))
    flash(f"操作成功，结算表当前状态：{settlement.status_label}", "success")
    return redirect(url_for("settlement.detail", settlement_id=settlement.id))


@bp.route("/<int:settlement_id>/export/<sheet>.<fmt>")
@roles_required(*SETTLEMENT_ROLES)
def export(settlement_id: int, sheet: str, fmt: str) -> Any:
    settlement = _settlement_or_404(settlement_id)
    if fmt not in FORMATS or not sheet_available(settlement, sheet):
        abort(404)
    data = sheet_data(settlement, sheet, current_user, request.args.get("pool", type=int))
    if sheet == "settlement":
        build = (
            settlement_sheet.build_settlement_pdf
            if fmt == "pdf"
            else settlement_sheet.build_settlement_xlsx
        )
    else:
        build = (
            settlement_sheet.build_distribution_pdf
            if fmt == "pdf"
            else settlement_sheet.build_distribution_xlsx
        )
    body = build(data)
    response = send_file(
        io.BytesIO(body),
        mimetype=FORMATS[fmt],
        as_attachment=True,
        download_name=f"{data.title}-{settlement.sha256[:8]}.{fmt}",
    )
    response.headers["X-Settlement-SHA256"] = settlement.sha256
    return response


# --------------------------------------------------------------------------- configuration


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _save_config(section: str, year: int) -> str:
    """Run one configuration form; returns the success message or raises SettlementError."""
    form_data = request.form
    if section == "funds":
        values = {pool.id: form_data.get(f"fund_{pool.id}", "") for pool in parameters.pools()}
        count = parameters.save_funds(year, values, current_user)
        return f"已保存 {year} 年度 {count} 个结算池的资金"
    if section == "parameters":
        form = ParametersForm()
        parameters.save_parameters(
            year, form.reserve_pct.data or "", form.preallocation_pct.data or "",
            form.attainment_cap.data or "", current_user,
        )  # fmt: skip
        return f"已保存 {year} 年度比例参数"
    if section == "split":
        split_form = SplitForm()
        parameters.save_split(
            _int_or_none(split_form.institution_id.data), split_form.centre.data or "",
            split_form.stations.data or "", current_user,
        )  # fmt: skip
        return "已保存中心/站点拆分比例"
    if section == "post":
        post_form = PostForm()
        row = parameters.save_post(
            post_form.post.data or "", post_form.coefficient.data or "", current_user
        )
        return f"已保存岗位「{row.post}」的岗位系数"
    if section == "standard":
        standard_form = StandardForm()
        parameters.save_standard(
            year, standard_form.post.data or "", standard_form.services.data or "", current_user
        )
        return f"已保存 {year} 年度标准工作量"
    row_id = _int_or_none(form_data.get("row_id"))
    if section == "split_delete" and row_id:
        parameters.delete_split(row_id)
        return "已删除拆分比例"
    if section == "post_delete" and row_id:
        parameters.delete_post(row_id)
        return "已删除岗位系数"
    if section == "standard_delete" and row_id:
        parameters.delete_standard(row_id)
        return "已删除标准工作量"
    raise SettlementError("未知的配置项")


@bp.route("/config", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def config() -> Any:
    year = _year_arg()
    if request.method == "POST":
        # Only the CSRF token and the year are checked by the form; values by the services.
        check = FundsForm()
        if not check.validate_on_submit():
            for errors in check.errors.values():
                for error in errors:
                    flash(error, "danger")
            return redirect(url_for("settlement.config", year=year))
        year = check.year.data or year
        try:
            message = _save_config(request.form.get("section", ""), year)
        except SettlementError as exc:
            return refuse(exc, url_for("settlement.config", year=year))
        flash(message, "success")
        return redirect(url_for("settlement.config", year=year))
    return year_views.render_config(year)


# --------------------------------------------------------------------------- member ratings


@bp.route("/ratings", methods=["GET", "POST"])
@roles_required(Role.TEAM_LEADER)
def ratings() -> Any:
    team = current_user.org_unit
    if team is None or team.kind != "team":
        abort(404)
    year = _year_arg()
    form = RatingsForm(year=year)
    if request.method == "POST":
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for error in errors:
                    flash(error, "danger")
            return redirect(url_for("settlement.ratings", year=year))
        year = form.year.data or year
        values = {
            member.id: request.form.get(f"c_{member.id}", "") for member in team_members(team.id)
        }
        try:
            count = save_ratings(team, year, values, current_user)
        except SettlementError as exc:
            row_errors = exc.errors if isinstance(exc, RatingsInvalid) else {}
            discard(f"未保存：{len(row_errors)} 名成员的系数有误，见表中标红的行"
                    if row_errors else exc)  # fmt: skip
            return render_template(
                "settlement/ratings.html", team=team, year=year, form=form,
                members=team_members(team.id), ratings=ratings_for(team.id, year),
                submitted=request.form, frozen=ratings_frozen(year), dtext=dtext,
                row_errors=row_errors,
            ), 422  # fmt: skip
        flash(f"已保存 {count} 名成员的 {year} 年度个人系数", "success")
        return redirect(url_for("settlement.ratings", year=year))
    return render_template(
        "settlement/ratings.html",
        team=team,
        year=year,
        form=form,
        members=team_members(team.id),
        ratings=ratings_for(team.id, year),
        submitted=None,
        frozen=ratings_frozen(year),
        dtext=dtext,
        row_errors={},
    )


# The one form per year and its spreadsheet, and the simulation pages (模拟测算), register their
# routes on ``bp`` (imported last: they need ``bp``, and the configuration page above renders
# through ``year_views``).
from fdoctor.settlement import simulation_routes, year_views  # noqa: E402, F401
