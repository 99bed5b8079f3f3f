"""The home page: real figures for the user's scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, render_template
from flask_login import login_required

from fdoctor.home.figures import home_figures

bp = Blueprint("home", __name__)
_FAVICON = (Path(__file__).resolve().parents[1] / "static" / "img" / "favicon.svg").read_bytes()


@bp.route("/")
@login_required
def index() -> Any:
    return render_template("home.html", figures=home_figures())


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
