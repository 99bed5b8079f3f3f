"""The public results board (考核结果公示): published scores, no personal data, no login.

Only unit names, levels, periods and scores of current revisions that have been published
(including those under appeal during the publicity period); never a person's name, phone or ID.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import aliased

from fdoctor.assessments.levels import LEVEL_LABELS
from fdoctor.assessments.models import Assessment
from fdoctor.core import menu
from fdoctor.core.query import period_arg
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

bp = Blueprint("public", __name__, url_prefix="/public")
menu.add(bp, "index", "结果公示", roles=None, group=menu.ASSESSMENT, order=50)
PUBLIC_LEVELS = ("L1", "L2", "L3", "L4")
PUBLIC_STATUSES = ("published", "acknowledged", "appealed")


@bp.route("/")
def index() -> Any:
    level = request.args.get("level", "")
    if level not in PUBLIC_LEVELS:
        level = next(
            (lv for lv in ("L4", "L3", "L2", "L1") if _periods(lv)),
            "L3",
        )
    periods = _periods(level)
    period = period_arg() or ""
    if period not in periods:
        period = periods[0] if periods else ""
    parent = aliased(OrgUnit)
    parent_column = Assessment.county_id if level == "L3" else Assessment.institution_id
    rows = db.session.execute(
        select(
            OrgUnit.name,
            parent.name.label("parent_name"),
            Assessment.total,
            Assessment.dimension_a,
            Assessment.dimension_b,
            Assessment.dimension_c,
            Assessment.reported_score,
            Assessment.spot_check_score,
            Assessment.revision,
            Assessment.status,
            Assessment.published_at,
        )
        .join(OrgUnit, OrgUnit.id == Assessment.unit_id)
        .outerjoin(parent, parent.id == parent_column)
        .where(
            Assessment.level == level,
            Assessment.period == period,
            Assessment.is_current.is_(True),
            Assessment.status.in_(PUBLIC_STATUSES),
        )
        .order_by(Assessment.total.desc(), OrgUnit.code)
    ).all()
    return render_template(
        "public/index.html",
        rows=rows,
        level=level,
        period=period,
        periods=periods,
        levels={lv: LEVEL_LABELS[lv] for lv in PUBLIC_LEVELS},
    )


def _periods(level: str) -> list[str]:
    found = db.session.scalars(
        select(Assessment.period)
        .where(
            Assessment.level == level,
            Assessment.is_current.is_(True),
            Assessment.status.in_(PUBLIC_STATUSES),
        )
        .distinct()
    ).all()
    return sorted(found, reverse=True)
