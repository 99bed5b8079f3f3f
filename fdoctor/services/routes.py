"""Service records: list by month and type."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, render_template, request

from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.roles import HEALTH_DATA_READERS
from fdoctor.core.scope import get_scoped_or_404, scoped
from fdoctor.extensions import db
from fdoctor.services.models import SERVICE_TYPES, VERIFICATION_STATES, ServiceRecord

bp = Blueprint("services", __name__, url_prefix="/services")


def _month(value: str | None) -> date:
    try:
        year, month = (int(x) for x in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return clock.today().replace(day=1)


@bp.route("/")
@roles_required(HEALTH_DATA_READERS)
def index() -> Any:
    start = _month(request.args.get("month"))
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    stype = request.args.get("type", "")
    stmt = scoped(ServiceRecord).where(
        ServiceRecord.service_date >= start, ServiceRecord.service_date < end
    )
    if stype in SERVICE_TYPES:
        stmt = stmt.where(ServiceRecord.type == stype)
    stmt = stmt.order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False)
    return render_template(
        "services/index.html",
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
    return render_template("services/detail.html", record=record, states=VERIFICATION_STATES)
