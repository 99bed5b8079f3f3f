"""The city's L4 year: the counties' assessments and the spot-check draw."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from fdoctor.assessments import reads
from fdoctor.assessments.forms import DrawForm
from fdoctor.assessments.l4 import draw_for, draw_is_reproducible, draw_l4_spot_check
from fdoctor.assessments.models import SpotCheckDrawItem
from fdoctor.assessments.views.blueprint import L4_ROLES, apply_or_flash, bp, flash_form_errors
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role


def _known_year(year: int) -> None:
    """A year outside the calendar's range is no page (404), never a crash."""
    from assessments.tiers import MAX_YEAR, MIN_YEAR

    if not MIN_YEAR <= year <= MAX_YEAR:
        abort(404)


@bp.route("/l4/<int:year>")
@roles_required(*L4_ROLES)
def l4(year: int) -> Any:
    _known_year(year)
    draw = draw_for(year)
    items: list[SpotCheckDrawItem] = []
    reproducible = None
    if draw is not None:
        items = reads.draw_items(draw.id, current_user)
        reproducible = draw_is_reproducible(draw)
    return render_template(
        "assessments/l4.html",
        year=year,
        draw=draw,
        items=items,
        reproducible=reproducible,
        counties=reads.l4_assessments(year),
        spots=reads.spot_checks_by_unit(year),
        form=DrawForm(),
    )


@bp.route("/l4/<int:year>/draw", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def l4_draw(year: int) -> Any:
    _known_year(year)
    form = DrawForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".l4", year=year))
    apply_or_flash(
        lambda: draw_l4_spot_check(year, seed=form.seed.data, user=current_user),
        f"{year} 年度市级抽查机构已抽取，抽查评分表已开启",
    )
    return redirect(url_for(".l4", year=year))
