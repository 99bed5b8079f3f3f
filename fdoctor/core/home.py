"""The home page: real figures for the user's scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import login_required

from fdoctor.reports.dashboard import home_figures

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index() -> Any:
    return render_template("home.html", figures=home_figures())


@bp.route("/favicon.ico")
def favicon() -> Any:
    from flask import current_app, send_from_directory

    return send_from_directory(
        current_app.static_folder + "/img", "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )


@bp.route("/healthz")
def healthz() -> Any:
    from sqlalchemy import text

    from fdoctor.extensions import db

    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
