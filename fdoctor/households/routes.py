"""Households and residents: search and detail."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core.access import roles_required
from fdoctor.core.roles import HEALTH_DATA_READERS
from fdoctor.core.scope import get_scoped_or_404
from fdoctor.extensions import db
from fdoctor.households.models import TAG_LABELS, Household, Resident
from fdoctor.households.services import search_residents
from fdoctor.services.models import ServiceRecord

bp = Blueprint("households", __name__, url_prefix="/households")


@bp.route("/")
@roles_required(HEALTH_DATA_READERS)
def index() -> Any:
    q = request.args.get("q", "")
    page = db.paginate(
        search_residents(q), page=request.args.get("page", 1, type=int), per_page=30, error_out=False
    )
    return render_template("households/index.html", page=page, q=q, tag_labels=TAG_LABELS)


@bp.route("/<int:household_id>")
@roles_required(HEALTH_DATA_READERS)
def detail(household_id: int) -> Any:
    household = get_scoped_or_404(Household, household_id)
    contracts = db.session.scalars(
        select(Contract).where(Contract.household_id == household.id).order_by(Contract.start_date.desc())
    ).all()
    return render_template(
        "households/detail.html", household=household, contracts=contracts, tag_labels=TAG_LABELS
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
        select(ContractMember).where(ContractMember.resident_id == person.id, ContractMember.is_active)
    )
    return render_template(
        "households/resident.html",
        person=person,
        services=services,
        membership=membership,
        tag_labels=TAG_LABELS,
    )
