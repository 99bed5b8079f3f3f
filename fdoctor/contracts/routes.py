"""Contracts: list, detail, signing a household, the agreement PDF, paper copies, renewal and
termination.

Reads: every health-data role in scope. Writes (sign, copies, renew, terminate): doctors and
team leaders in their own team, centres in their teams (RECORDERS).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from fdoctor.confirm.links import agreement_token, link_url
from fdoctor.contracts.forms import CopiesForm, SignForm, TerminateForm, sign_form_class
from fdoctor.contracts.models import CONTRACT_STATUSES, Contract
from fdoctor.contracts.services import (
    ContractConflict,
    ContractError,
    SignRequest,
    active_contracts_of,
    agreement_data,
    available_packages,
    execute_signing,
    is_key_person,
    prepare_signing,
    record_copies_signed,
    renew_contract,
    renewable,
    renewal_defaults,
    terminate_contract,
)
from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import HEALTH_DATA_READERS, RECORDERS, Role
from fdoctor.core.scope import get_scoped_or_404, scoped
from fdoctor.core.unit_of_work import discard
from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.households.services import can_write, team_doctors, writable_teams
from fdoctor.reports.agreement import build_agreement_pdf

bp = Blueprint("contracts", __name__, url_prefix="/contracts")
menu.add(bp, "index", "签约", roles=HEALTH_DATA_READERS, group=menu.RESIDENTS, order=20)


@bp.route("/")
@roles_required(HEALTH_DATA_READERS)
def index() -> Any:
    status = request.args.get("status", "active")
    expiring = request.args.get("expiring") == "1"
    stmt = scoped(Contract)
    if status in CONTRACT_STATUSES:
        stmt = stmt.where(Contract.status == status)
    if expiring:
        stmt = stmt.where(Contract.end_date <= clock.today() + timedelta(days=30))
    stmt = stmt.order_by(Contract.end_date, Contract.id)
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=30, error_out=False
    )
    return render_template(
        "contracts/index.html",
        page=page,
        status=status,
        expiring=expiring,
        statuses=CONTRACT_STATUSES,
    )


@bp.route("/<int:contract_id>")
@roles_required(HEALTH_DATA_READERS)
def detail(contract_id: int) -> Any:
    contract = get_scoped_or_404(Contract, contract_id)
    renewed_to = db.session.scalar(
        scoped(Contract).where(Contract.renewed_from_id == contract.id).limit(1)
    )
    return render_template(
        "contracts/detail.html",
        contract=contract,
        renewed_to=renewed_to,
        can_write=can_write(),
        copies_form=CopiesForm(),
        renew_blocked=renewable(contract),
    )


@bp.route("/<int:contract_id>/agreement.pdf")
@roles_required(HEALTH_DATA_READERS)
def agreement(contract_id: int) -> Any:
    contract = get_scoped_or_404(Contract, contract_id)
    data = replace(agreement_data(contract), confirm_url=link_url(agreement_token(contract)))
    pdf = build_agreement_pdf(data)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="agreement-{contract.code}.pdf"'},
    )


@bp.route("/<int:contract_id>/copies", methods=["POST"])
@roles_required(RECORDERS)
def copies(contract_id: int) -> Any:
    contract = get_scoped_or_404(Contract, contract_id)
    form = CopiesForm()
    if form.validate_on_submit():
        try:
            record_copies_signed(contract)
        except ContractError as exc:
            discard(exc)
        else:
            flash("已登记：两份纸质协议均已签字", "success")
    else:
        flash("表单已过期，请刷新页面后重试", "danger")
    return redirect(url_for("contracts.detail", contract_id=contract.id))


# --- signing and renewal --------------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class MemberRow:
    """One household member on the signing form (rendered by hand: data attributes per box)."""

    id: int
    label: str
    key: bool  # key population or chronic high-risk: 1–3 year terms
    busy: bool  # already under another active contract


def _sign_form(household: Household, old: Contract | None) -> tuple[SignForm, list[Any]]:
    """The form for this household with choices from the user's scope."""
    packages = [p for p in available_packages(household.county_id) if p.kind == "personalised"]
    form = sign_form_class(packages)()
    today = clock.today()
    residents = [r for r in household.residents if r.status == "active"]
    taken = active_contracts_of(r.id for r in residents)
    rows = []
    for r in residents:
        contract = taken.get(r.id)
        busy = contract is not None and (old is None or contract.id != old.id)
        label = r.name + (f"（已签约 {contract.code}）" if busy and contract else "")
        rows.append(MemberRow(r.id, label, is_key_person(r, today), busy))
    form.members.choices = [SelectChoice(row.id, row.label) for row in rows]
    form.member_rows = rows  # type: ignore[attr-defined]
    teams = writable_teams()
    form.team_id.choices = [SelectChoice(str(t.id), t.name) for t in teams]
    form.doctor_id.choices = [SelectChoice("", "请选择签约责任医生")] + [
        SelectChoice(str(d.id), d.display_name, {"data-team": str(d.org_unit_id)})
        for d in team_doctors(t.id for t in teams)
    ]
    form.packages.choices = [
        SelectChoice(p.id, f"{p.name}（{p.fee_fen // 100}元/人·年）", {"data-fee": str(p.fee_fen)})
        for p in packages
    ]
    return form, packages


def _prefill(form: SignForm, values: SignRequest) -> None:
    form.members.data = list(values.resident_ids)
    form.team_id.data = str(values.team_id or "")
    form.doctor_id.data = str(values.doctor_id or "")
    form.packages.data = list(values.packages)
    for package_id, persons in values.packages.items():
        field = getattr(form, f"persons_{package_id}", None)
        if field is not None:
            field.data = persons
    form.start_date.data = values.start
    form.years.data = str(values.years or "")
    form.first_contact.data = values.first_contact


def _request_from(form: SignForm) -> SignRequest:
    packages: dict[int, int | None] = {}
    for package_id in form.packages.data or []:
        field = getattr(form, f"persons_{package_id}", None)
        packages[package_id] = field.data if field is not None else None
    return SignRequest(
        resident_ids=list(form.members.data or []),
        team_id=_int(form.team_id.data),
        doctor_id=_int(form.doctor_id.data),
        packages=packages,
        start=form.start_date.data,
        years=_int(form.years.data),
        first_contact=bool(form.first_contact.data),
    )


def _show(form: SignForm, exc: ContractError) -> None:
    target = {"members": form.members, "team_id": form.team_id, "doctor_id": form.doctor_id,
              "packages": form.packages, "start_date": form.start_date, "years": form.years,
              "reason": None}.get(exc.field or "")  # fmt: skip
    if target is not None:
        target.errors = list(target.errors) + [exc.message]
    else:
        flash(exc.message, "danger")


def _render_sign(form: SignForm, household: Household, packages: list[Any], old: Contract | None,
                 status: int) -> Any:  # fmt: skip
    return (
        render_template(
            "contracts/sign.html",
            form=form,
            household=household,
            packages=packages,
            old=old,
        ),
        status,
    )


@bp.route("/new/<int:household_id>", methods=["GET", "POST"])
@roles_required(RECORDERS)
def new(household_id: int) -> Any:
    household = get_scoped_or_404(Household, household_id)
    form, packages = _sign_form(household, None)
    if request.method == "GET":
        doctor_id = household.responsible_doctor_id
        if doctor_id is None and current_user.role in {Role.DOCTOR.value, Role.TEAM_LEADER.value}:
            doctor_id = current_user.id
        _prefill(
            form,
            SignRequest(
                resident_ids=[],
                team_id=household.team_id,
                doctor_id=doctor_id,
                start=clock.today(),
                years=3,  # within both limits (1–3 and 3–5 years)
            ),
        )
    status = 200
    if form.validate_on_submit():
        try:
            plan = prepare_signing(household, _request_from(form))
            contract = execute_signing(plan)
        except ContractError as exc:
            _show(form, exc)
            status = 409 if isinstance(exc, ContractConflict) else 422
        else:
            flash(
                f"签约成功：协议 {contract.code}。请打印协议一式两份，双方签字后登记。", "success"
            )
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    elif request.method == "POST":
        status = 422
    return _render_sign(form, household, packages, None, status)


@bp.route("/<int:contract_id>/renew", methods=["GET", "POST"])
@roles_required(RECORDERS)
def renew(contract_id: int) -> Any:
    old = get_scoped_or_404(Contract, contract_id)
    household = db.session.get(Household, old.household_id)
    assert household is not None
    blocked = renewable(old)
    if blocked:
        if request.method == "POST":
            flash(blocked, "danger")
            return redirect(url_for("contracts.detail", contract_id=old.id))
        return render_template(
            "contracts/blocked.html", contract=old, message=blocked, action="续约"
        )
    form, packages = _sign_form(household, old)
    form.submit.label.text = "确认续约"
    if request.method == "GET":
        _prefill(form, renewal_defaults(old))
    status = 200
    if form.validate_on_submit():
        try:
            contract = renew_contract(old, _request_from(form))
        except ContractError as exc:
            _show(form, exc)
            status = 409 if isinstance(exc, ContractConflict) else 422
        else:
            flash(f"续约成功：新协议 {contract.code}，原协议已标记为已续约", "success")
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    elif request.method == "POST":
        status = 422
    return _render_sign(form, household, packages, old, status)


@bp.route("/<int:contract_id>/terminate", methods=["GET", "POST"])
@roles_required(RECORDERS)
def terminate(contract_id: int) -> Any:
    contract = get_scoped_or_404(Contract, contract_id)
    if contract.status != "active":
        message = f"该协议状态为“{contract.status_label}”，不能解约"
        if request.method == "POST":
            flash(message, "danger")
            return redirect(url_for("contracts.detail", contract_id=contract.id))
        return render_template(
            "contracts/blocked.html", contract=contract, message=message, action="解约"
        )
    form = TerminateForm()
    status = 200
    if form.validate_on_submit():
        try:
            terminate_contract(contract, form.reason.data or "")
        except ContractError as exc:
            form.reason.errors = list(form.reason.errors) + [exc.message]
            status = 422
        else:
            flash(f"协议 {contract.code} 已解约", "success")
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    elif request.method == "POST":
        status = 422
    return render_template("contracts/terminate.html", form=form, contract=contract), status
