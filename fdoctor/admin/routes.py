"""Administration: users in scope; the system administrator creates users, changes their role,
unit and post, unlocks, resets and disables accounts. Every change is audited (``user_account`` is
an audited table; unlock, reset, enable and disable are also named events)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from fdoctor.admin.forms import UserCreateForm, UserEditForm
from fdoctor.auth.forms import ResetPasswordForm
from fdoctor.auth.models import User
from fdoctor.auth.services import (
    UserError,
    admin_reset_password,
    admin_set_active,
    admin_unlock,
    admin_update_user,
    create_user,
)
from fdoctor.core import clock, menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import ORG_MANAGERS, Role
from fdoctor.core.scope import scope_clause
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

bp = Blueprint("admin", __name__, url_prefix="/admin")
menu.add(
    bp, "users", "用户管理", roles={Role.ADMIN, Role.CENTRE_ADMIN}, group=menu.MANAGEMENT, order=20
)


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
    return render_template("admin/users.html", page=page, now=clock.now())


def _user_in_scope(user_id: int, allow_self: bool = False) -> User:
    user = db.session.scalar(
        select(User)
        .outerjoin(OrgUnit, User.org_unit_id == OrgUnit.id)
        .where(User.id == user_id, scope_clause(OrgUnit))
    )
    if user is None:
        abort(404)
    if user.id == current_user.id and not allow_self:
        raise UserError("不能在这里修改自己的账号，请使用“修改密码”")
    return user


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@roles_required(Role.ADMIN)
def unlock_user(user_id: int) -> Any:
    user = _user_in_scope(user_id, allow_self=True)
    admin_unlock(user)
    flash(f"已解除 {user.username} 的登录锁定", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(Role.ADMIN)
def set_active(user_id: int) -> Any:
    active = request.form.get("active") == "1"
    try:
        user = _user_in_scope(user_id)
    except UserError as exc:
        return refuse(exc, url_for("admin.users"))
    admin_set_active(user, active)
    flash(f"已{'启用' if active else '停用'}账号 {user.username}", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def reset_password(user_id: int) -> Any:
    form = ResetPasswordForm()
    try:
        user = _user_in_scope(user_id)
        if form.validate_on_submit():
            if form.new.data != form.confirm.data:
                raise UserError("两次输入的新密码不一致")
            admin_reset_password(user, form.new.data or "")
            flash(f"已重置 {user.username} 的密码，该用户原有的登录均已失效", "success")
            return redirect(url_for("admin.users"))
    except UserError as exc:
        discard(exc)
        if request.method == "GET":
            return redirect(url_for("admin.users"))
        user = db.session.get(User, user_id)
        return render_template("admin/reset_password.html", form=form, user=user), 400
    return render_template("admin/reset_password.html", form=form, user=user)


def _units() -> list[OrgUnit]:
    """The active units a user may be attached to, for the form's list of codes."""
    return list(db.session.scalars(select(OrgUnit).where(OrgUnit.active).order_by(OrgUnit.path)))


def _form_errors(form: UserCreateForm | UserEditForm) -> str:
    return "；".join(str(e) for errors in form.errors.values() for e in errors)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user() -> Any:
    form = UserCreateForm()
    if request.method == "POST":
        try:
            if not form.validate_on_submit():
                raise UserError(_form_errors(form))
            if form.password.data != form.confirm.data:
                raise UserError("两次输入的密码不一致")
            user = create_user(
                form.username.data or "",
                form.password.data or "",
                form.role.data or "",
                form.unit_code.data,
                display_name=(form.display_name.data or "").strip(),
                post=(form.post.data or "").strip() or None,
                on_probation=bool(form.on_probation.data),
            )
        except UserError as exc:
            discard(exc)
            return render_template(
                "admin/user_form.html", form=form, user=None, units=_units()
            ), 400
        flash(f"已创建用户 {user.username}（{user.role_enum.label}）", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None, units=_units())


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int) -> Any:
    user = _user_in_scope(user_id, allow_self=True)
    form = UserEditForm(
        data=None
        if request.method == "POST"
        else {
            "display_name": user.display_name,
            "role": user.role,
            "unit_code": user.org_unit.code if user.org_unit else "",
            "post": user.post or "",
            "on_probation": user.on_probation,
        }
    )
    if request.method == "POST":
        try:
            if not form.validate_on_submit():
                raise UserError(_form_errors(form))
            changed = admin_update_user(
                user,
                current_user._get_current_object(),
                display_name=form.display_name.data or "",
                role=form.role.data or "",
                unit_code=form.unit_code.data,
                post=form.post.data,
                on_probation=bool(form.on_probation.data),
            )
        except UserError as exc:
            discard(exc)
            user = _user_in_scope(user_id, allow_self=True)
            return render_template(
                "admin/user_form.html", form=form, user=user, units=_units()
            ), 400
        flash(
            f"已保存用户 {user.username} 的资料" if changed else "没有改动",
            "success" if changed else "info",
        )
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user, units=_units())
