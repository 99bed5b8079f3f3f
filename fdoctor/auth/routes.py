"""Login and logout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from fdoctor.audit import services as audit
from fdoctor.auth.forms import LoginForm
from fdoctor.auth.services import authenticate
from fdoctor.extensions import db

bp = Blueprint("auth", __name__)


def start_page(role: str) -> str:
    """Where a user lands after login: doctors start on the tablet work list."""
    if role == "doctor":
        return url_for("worklist.index")
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user, error = authenticate(form.username.data or "", form.password.data or "")
        if user is None:
            audit.record_failed_sign_in(form.username.data or "", error or "")
        else:
            audit.record_sign_in(user)
        db.session.commit()  # keep failure counters even when login fails
        if user is None:
            flash(error or "登录失败", "danger")
            return render_template("auth/login.html", form=form), 401
        login_user(user)
        target = request.args.get("next") or ""
        # Only same-site relative targets: no open redirect.
        if not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
            target = start_page(user.role)
        return redirect(target)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))
