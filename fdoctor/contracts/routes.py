"""Contracts: list with status and expiry filters, detail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template, request

from fdoctor.contracts.models import CONTRACT_STATUSES, Contract
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.roles import HEALTH_DATA_READERS
from fdoctor.core.scope import get_scoped_or_404, scoped
from fdoctor.extensions import db

bp = Blueprint("contracts", __name__, url_prefix="/contracts")


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
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=30, error_out=False)
    return render_template(
        "contracts/index.html", page=page, status=status, expiring=expiring, statuses=CONTRACT_STATUSES
    )


@bp.route("/<int:contract_id>")
@roles_required(HEALTH_DATA_READERS)
def detail(contract_id: int) -> Any:
    contract = get_scoped_or_404(Contract, contract_id)
    return render_template("contracts/detail.html", contract=contract)
