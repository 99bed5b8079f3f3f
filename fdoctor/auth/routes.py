"""Login and logout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from fdoctor.audit.events import record_failed_sign_in, record_sign_in
from fdoctor.auth.forms import ChangePasswordForm, LoginForm
from fdoctor.auth.services import UserError, authenticate, change_own_password, end_sessions
from fdoctor.core.unit_of_work import discard
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
            record_failed_sign_in(form.username.data or "", error or "")
        else:
            record_sign_in(user)
        # Committed here, on purpose: a failed sign-in answers 401, which keeps nothing of the
        # request, but its failure counter (and the lock it may bring) must stay.
        db.session.commit()
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
    # Server-side: every cookie of this user (a copy too) stops working, not only this one.
    end_sessions(current_user._get_current_object())
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    """Change one's own password (policy applies); the user's other sessions end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_own_password(
                user, form.current.data or "", form.new.data or "", form.confirm.data or ""
            )
        except UserError as exc:
            discard(exc)
            return render_template("auth/change_password.html", form=form), 400
        login_user(user)  # this session goes on under the new session version
        flash("密码已修改，其他设备上的登录已失效", "success")
        return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", form=form)
