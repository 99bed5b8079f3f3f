"""Households and residents: search, detail, and the create/edit forms.

Reads: every health-data role in scope. Writes: doctors and team leaders in their own team,
centres in their teams (RECORDERS); objects outside the scope answer 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import HEALTH_DATA_READERS, RECORDERS, Role
from fdoctor.core.scope import get_scoped_or_404
from fdoctor.extensions import db
from fdoctor.households import search
from fdoctor.households.forms import HouseholdForm, ResidentForm
from fdoctor.households.models import DERIVED_TAGS, STORED_TAGS, TAG_LABELS, Household, Resident
from fdoctor.households.services import (
    FieldErrors,
    HouseholdInput,
    ResidentInput,
    can_write,
    grid_options,
    open_pregnancy,
    save_household,
    save_resident,
    team_doctors,
    writable_teams,
)
from fdoctor.records.models import ServiceRecord

bp = Blueprint("households", __name__, url_prefix="/households")
menu.add(bp, "index", "居民与家庭", roles=HEALTH_DATA_READERS, group=menu.RESIDENTS, order=10)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ints(values: list[str]) -> list[int | None]:
    return [_int(v) for v in values]


@bp.route("/")
@roles_required(HEALTH_DATA_READERS)
def index() -> Any:
    q = request.args.get("q", "")
    where = search.resolve_filter(
        current_user, _ints(request.args.getlist("unit")), _int(request.args.get("cell"))
    )
    page = search.find_residents(q, where, page=request.args.get("page", 1, type=int))
    # Links keep the filter in its canonical form: the deepest unit chosen, the cell.
    args: dict[str, Any] = {"q": q} if q else {}
    if where.cell is not None:
        args["cell"] = where.cell.id
    elif where.unit is not None:
        args["unit"] = where.unit.id
    return render_template(
        "households/index.html",
        page=page,
        q=q,
        args=args,
        levels=search.filter_levels(where),
        limit=search.SEARCH_LIMIT,
        tag_labels=TAG_LABELS,
        can_write=can_write(),
    )


@bp.route("/<int:household_id>")
@roles_required(HEALTH_DATA_READERS)
def detail(household_id: int) -> Any:
    household = get_scoped_or_404(Household, household_id)
    contracts = db.session.scalars(
        select(Contract)
        .where(Contract.household_id == household.id)
        .order_by(Contract.start_date.desc())
    ).all()
    return render_template(
        "households/detail.html",
        household=household,
        contracts=contracts,
        tag_labels=TAG_LABELS,
        can_write=can_write(),
        has_active=any(c.status == "active" for c in contracts),
    )


@bp.route("/residents/<int:resident_id>")
@roles_required(HEALTH_DATA_READERS)
def resident(resident_id: int) -> Any:
    person = get_scoped_or_404(Resident, resident_id)
    services = db.session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.resident_id == person.id)
        .order_by(ServiceRecord.service_date.desc())
        .limit(50)
    ).all()
    membership = db.session.scalar(
        select(ContractMember).where(
            ContractMember.resident_id == person.id, ContractMember.is_active
        )
    )
    return render_template(
        "households/resident.html",
        person=person,
        services=services,
        membership=membership,
        tag_labels=TAG_LABELS,
        can_write=can_write(),
        pregnancy=open_pregnancy(person),
    )


# --- household forms ------------------------------------------------------------------------


def _fill_household_choices(form: HouseholdForm) -> bool:
    """Fill the pickers from the user's teams; False when the user has no team to write in."""
    teams = writable_teams()
    team_ids = [t.id for t in teams]
    several = len(teams) > 1
    form.team_id.choices = [SelectChoice(str(t.id), t.name) for t in teams]
    form.grid_cell_id.choices = [SelectChoice("", "请选择网格")] + [
        SelectChoice(
            str(o.id),
            f"{o.team_name} › {o.label}" if several else o.label,
            {"data-team": str(o.team_id), "data-chain": o.chain_attr},
        )
        for o in grid_options(team_ids=team_ids)
        if o.leaf
    ]
    form.responsible_doctor_id.choices = [SelectChoice("", "请选择责任医生")] + [
        SelectChoice(str(d.id), d.display_name, {"data-team": str(d.org_unit_id)})
        for d in team_doctors(team_ids)
    ]
    return bool(teams)


def _household_input(form: HouseholdForm) -> HouseholdInput:
    return HouseholdInput(
        team_id=_int(form.team_id.data),
        grid_cell_id=_int(form.grid_cell_id.data),
        address=form.address.data or "",
        phone=form.phone.data or "",
        responsible_doctor_id=_int(form.responsible_doctor_id.data),
        code=form.code.data or "",
    )


def _show_errors(form: Any, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        target = getattr(form, name, None)
        if target is not None:
            target.errors = list(target.errors) + messages
        else:
            for message in messages:
                flash(message, "danger")


@bp.route("/new", methods=["GET", "POST"])
@roles_required(RECORDERS)
def new() -> Any:
    form = HouseholdForm()
    has_team = _fill_household_choices(form)
    if request.method == "GET" and current_user.role in {Role.DOCTOR.value, Role.TEAM_LEADER.value}:
        form.team_id.data = str(current_user.org_unit_id)
        form.responsible_doctor_id.data = str(current_user.id)
    status = 200
    if form.validate_on_submit():
        try:
            household = save_household(_household_input(form))
        except FieldErrors as exc:
            _show_errors(form, exc.errors)
            status = 422
        else:
            flash(f"已建档：家庭 {household.code}", "success")
            return redirect(url_for("households.detail", household_id=household.id))
    elif request.method == "POST":
        status = 422
    return (
        render_template("households/form.html", form=form, household=None, has_team=has_team),
        status,
    )


@bp.route("/<int:household_id>/edit", methods=["GET", "POST"])
@roles_required(RECORDERS)
def edit(household_id: int) -> Any:
    household = get_scoped_or_404(Household, household_id)
    form = HouseholdForm(
        data=None
        if request.method == "POST"
        else {
            "team_id": str(household.team_id),
            "grid_cell_id": str(household.grid_cell_id),
            "code": household.code,
            "address": household.address,
            "phone": household.phone or "",
            "responsible_doctor_id": str(household.responsible_doctor_id or ""),
        }
    )
    has_team = _fill_household_choices(form)
    status = 200
    if form.validate_on_submit():
        try:
            save_household(_household_input(form), household)
        except FieldErrors as exc:
            _show_errors(form, exc.errors)
            status = 422
        else:
            flash("家庭信息已保存", "success")
            return redirect(url_for("households.detail", household_id=household.id))
    elif request.method == "POST":
        status = 422
    return (
        render_template("households/form.html", form=form, household=household, has_team=has_team),
        status,
    )


# --- resident forms -------------------------------------------------------------------------


def _resident_input(form: ResidentForm) -> ResidentInput:
    return ResidentInput(
        name=form.name.data or "",
        citizen_id=form.citizen_id.data or "",
        relation=form.relation.data or "",
        is_head=bool(form.is_head.data),
        phone=form.phone.data or "",
        sex=form.sex.data or "",
        birth_date=form.birth_date.data,
        tags=set(form.tags.data or []),
        lmp_date=form.lmp_date.data,
        tb_treatment_start=form.tb_treatment_start.data,
    )


def _render_resident_form(
    form: ResidentForm, household: Household, person: Resident | None, status: int
) -> Any:
    return (
        render_template(
            "households/resident_form.html",
            form=form,
            household=household,
            person=person,
            derived_labels=DERIVED_TAGS,
            stored_labels=STORED_TAGS,
            today_iso=clock.today().isoformat(),
        ),
        status,
    )


@bp.route("/<int:household_id>/residents/new", methods=["GET", "POST"])
@roles_required(RECORDERS)
def new_resident(household_id: int) -> Any:
    household = get_scoped_or_404(Household, household_id)
    form = ResidentForm()
    if request.method == "GET" and not household.residents:
        form.is_head.data = True
    status = 200
    if form.validate_on_submit():
        try:
            person = save_resident(household, _resident_input(form))
        except FieldErrors as exc:
            _show_errors(form, exc.errors)
            status = 422
        else:
            flash(f"已添加家庭成员 {person.name}", "success")
            return redirect(url_for("households.detail", household_id=household.id))
    elif request.method == "POST":
        status = 422
    return _render_resident_form(form, household, None, status)


@bp.route("/residents/<int:resident_id>/edit", methods=["GET", "POST"])
@roles_required(RECORDERS)
def edit_resident(resident_id: int) -> Any:
    person = get_scoped_or_404(Resident, resident_id)
    household = person.household
    if request.method == "POST":
        form = ResidentForm()
    else:
        pregnancy = open_pregnancy(person)
        form = ResidentForm(
            data={
                "name": person.name,
                "citizen_id": person.citizen_id,
                "sex": person.sex,
                "birth_date": person.birth_date,
                "phone": person.phone or "",
                "relation": person.relation,
                "is_head": person.is_head,
                "tags": [t for t in STORED_TAGS if getattr(person, f"tag_{t}")],
                "lmp_date": pregnancy.lmp_date if pregnancy else None,
                "tb_treatment_start": person.tb_treatment_start,
            }
        )
    status = 200
    if form.validate_on_submit():
        try:
            save_resident(household, _resident_input(form), person)
        except FieldErrors as exc:
            _show_errors(form, exc.errors)
            status = 422
        else:
            flash(f"已保存 {person.name} 的信息", "success")
            return redirect(url_for("households.resident", resident_id=person.id))
    elif request.method == "POST":
        status = 422
    return _render_resident_form(form, household, person, status)
