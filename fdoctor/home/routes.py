"""The home page: real figures for the user's scope and what they must do next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.query import year_arg
from fdoctor.core.roles import Role
from fdoctor.home.figures import home_figures
from fdoctor.home.finance import finance_figures, funds_table
from fdoctor.todos.items import grouped
from fdoctor.todos.reads import todos_for

bp = Blueprint("home", __name__)
menu.add(bp, "index", "首页", roles=None, group=None, order=10)
menu.add(bp, "funds", "结算池资金", roles={Role.FINANCE}, group=None, order=30)
# The to-do lists (fdoctor.todos) grouped by unit and role, for the home and settlement pages.
bp.add_app_template_filter(grouped, "todo_groups")
_FAVICON = (Path(__file__).resolve().parents[1] / "static" / "img" / "favicon.svg").read_bytes()


@bp.route("/")
@login_required
def index() -> Any:
    todos = todos_for(current_user)
    if current_user.role == Role.FINANCE.value:
        # The finance office pays: its first screen is money, not service counts.
        figures = finance_figures(clock.today().year, current_user)
        return render_template("home/finance.html", figures=figures, todos=todos)
    return render_template("home.html", figures=home_figures(), todos=todos)


@bp.route("/funds")
@roles_required(Role.FINANCE, Role.CITY_ADMIN)
def funds() -> Any:
    """Every year's pool funds (read only; the city enters them on the configuration page)."""
    year = year_arg(clock.today().year)
    table = funds_table()
    if year not in table.years:
        table = funds_table(sorted({*table.years, year}))
    return render_template("home/funds.html", table=table, year=year)


@bp.route("/favicon.ico")
def favicon() -> Any:
    from flask import Response

    return Response(
        _FAVICON, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


@bp.route("/healthz")
def healthz() -> Any:
    from sqlalchemy import text

    from fdoctor.extensions import db

    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
