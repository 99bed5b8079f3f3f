"""Simulation (模拟测算) pages under the settlement blueprint: a what-if step on a draft beside
it, saving a simulation under a name, and comparing two saved ones. Finance and the city only."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.extensions import db
from fdoctor.settlement import simulation
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.forms import SimulationForm
from fdoctor.settlement.models import Settlement, SettlementSimulation
from fdoctor.settlement.routes import bp

SIMULATION_ROLES = (Role.CITY_ADMIN, Role.FINANCE)


def _draft_or_404(settlement_id: int) -> Settlement:
    settlement = db.session.get(Settlement, settlement_id)
    if settlement is None:
        abort(404)
    return settlement


def _saved_or_404(settlement: Settlement, simulation_id: int | None) -> SettlementSimulation:
    saved = db.session.get(SettlementSimulation, simulation_id) if simulation_id else None
    if saved is None or saved.settlement_id != settlement.id:
        abort(404)
    return saved


def _form_values(overrides: simulation.Overrides) -> dict[str, str]:
    """A saved simulation's overrides as the form's field values."""
    values = {f"fund_{k}": f"{v / 100:.2f}" for k, v in overrides.funds.items()}
    values |= {f"score_{k}": str(v) for k, v in overrides.county_scores.items()}
    for n, (inst_id, (centre, stations)) in enumerate(sorted(overrides.splits.items()), 1):
        values |= {f"split_institution_{n}": str(inst_id), f"split_centre_{n}": str(centre),
                   f"split_stations_{n}": str(stations)}  # fmt: skip
    if overrides.reserve_rate is not None:
        values["reserve_pct"] = str((overrides.reserve_rate * 100).normalize())
    return values


def _page(
    settlement: Settlement, form: SimulationForm, values: dict[str, str], **extra: Any
) -> Any:
    base = simulation.base_of(settlement)
    return render_template(
        "settlement/simulation.html",
        settlement=settlement,
        base=base,
        form=form,
        values=values,
        split_rows=range(1, simulation.SPLIT_ROWS + 1),
        split_choices=sorted((base.institutions[i] for i in base.both_parts), key=lambda u: u.code),
        saved=simulation.saved_simulations(settlement),
        **extra,
    )


@bp.route("/<int:settlement_id>/simulate", methods=["GET", "POST"])
@roles_required(*SIMULATION_ROLES)
def simulate(settlement_id: int) -> Any:
    settlement = _draft_or_404(settlement_id)
    try:
        simulation.ensure_simulable(settlement)
    except SettlementError as exc:
        return refuse(exc, url_for("settlement.detail", settlement_id=settlement.id))
    form = SimulationForm()
    if request.method == "GET":
        loaded = None
        if "saved" in request.args:
            loaded = _saved_or_404(settlement, request.args.get("saved", type=int))
            overrides = simulation.overrides_of(loaded)
        else:
            overrides = simulation.Overrides()
        result = None
        error = None
        try:
            result = simulation.simulate(settlement, overrides)
        except SettlementError as exc:
            error = str(exc)
        return _page(settlement, form, _form_values(overrides), result=result, loaded=loaded,
                     error=error)  # fmt: skip
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if not form.validate_on_submit():
        messages = [e for errors in form.errors.values() for e in errors]
        return _page(settlement, form, values, result=None, loaded=None,
                     error="；".join(messages) or "表单已过期，请刷新页面后重试"), 400  # fmt: skip
    base = simulation.base_of(settlement)
    try:
        overrides = simulation.overrides_from_form(base, request.form)
        if form.action.data == "save":
            saved = simulation.save(settlement, form.name.data or "", overrides, current_user)
            flash(f"已保存模拟方案「{saved.name}」", "success")
            return redirect(
                url_for("settlement.simulate", settlement_id=settlement.id, saved=saved.id)
            )
        result = simulation.simulate(settlement, overrides)
    except SettlementError as exc:
        discard()  # the page below shows what the database holds; the reason is on it
        return _page(settlement, form, values, result=None, loaded=None, error=str(exc)), 400
    return _page(settlement, form, values, result=result, loaded=None, error=None)


@bp.route("/<int:settlement_id>/simulations/compare")
@roles_required(*SIMULATION_ROLES)
def compare_simulations(settlement_id: int) -> Any:
    settlement = _draft_or_404(settlement_id)
    first = _saved_or_404(settlement, request.args.get("a", type=int))
    second = _saved_or_404(settlement, request.args.get("b", type=int))
    try:
        rows = simulation.compare(settlement, first, second)
    except SettlementError as exc:
        return refuse(exc, url_for("settlement.simulate", settlement_id=settlement.id))
    return render_template(
        "settlement/simulation_compare.html",
        settlement=settlement,
        first=first,
        second=second,
        rows=rows,
    )
