"""Settlement (结算): pools and counties with their signed population."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.org.services import subtree

bp = Blueprint("settlement", __name__, url_prefix="/settlement")
SETTLEMENT_ROLES = (Role.CITY_ADMIN, Role.FINANCE, Role.COUNTY_AUDITOR, Role.CENTRE_ADMIN)


@bp.route("/")
@roles_required(*SETTLEMENT_ROLES)
def index() -> Any:
    rows = [r for r in subtree() if r.unit.kind in {"pool", "county", "institution"}]
    return render_template("settlement/index.html", rows=rows)
