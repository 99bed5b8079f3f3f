"""Administration: users in scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core.access import roles_required
from fdoctor.core.roles import ORG_MANAGERS
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@roles_required(ORG_MANAGERS)
def users() -> Any:
    stmt = (
        select(User)
        .outerjoin(OrgUnit, User.org_unit_id == OrgUnit.id)
        .where(scope_clause(OrgUnit))
        .order_by(OrgUnit.path, User.username)
    )
    page = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    return render_template("admin/users.html", page=page)
