"""The organisation tree in the user's scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import menu
from fdoctor.core.roles import ROLE_LABELS, Role
from fdoctor.core.scope import get_scoped_or_404
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.org.services import subtree

bp = Blueprint("org", __name__, url_prefix="/org")
menu.add(bp, "index", "机构", roles=None, group=menu.MANAGEMENT, order=10)


@bp.route("/")
@login_required
def index() -> Any:
    return render_template("org/index.html", rows=subtree())


@bp.route("/<int:unit_id>")
@login_required
def detail(unit_id: int) -> Any:
    unit = get_scoped_or_404(OrgUnit, unit_id)
    members = db.session.scalars(
        select(User)
        .where(User.org_unit_id == unit.id, User.active.is_(True))
        .order_by(User.role != Role.TEAM_LEADER.value, User.display_name, User.id)
    ).all()
    return render_template(
        "org/detail.html",
        unit=unit,
        members=members,
        role_labels={role.value: label for role, label in ROLE_LABELS.items()},
    )
