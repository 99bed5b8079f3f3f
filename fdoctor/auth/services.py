"""Users: creation with role/unit checks, password policy, login with throttling."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.roles import ROLE_UNIT_KINDS, Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


class UserError(ValueError):
    """A user-facing error in Chinese."""


def check_password_policy(password: str) -> None:
    if len(password) < 8:
        raise UserError("密码至少8位")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise UserError("密码须同时包含字母和数字")


def create_user(
    username: str,
    password: str,
    role: str,
    unit_code: str | None = None,
    display_name: str | None = None,
    post: str | None = None,
) -> User:
    """Create a user; admin may have no unit (the top of the tree), other roles need one."""
    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{3,64}", username):
        raise UserError("用户名须为3-64位字母、数字、下划线、点或连字符")
    try:
        role_enum = Role(role)
    except ValueError:
        raise UserError(f"未知角色：{role}（可选：{', '.join(r.value for r in Role)}）") from None
    check_password_policy(password)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"用户名 {username} 已存在")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
        if unit is None:
            raise UserError(f"机构编码 {unit_code} 不存在")
        if unit.kind not in ROLE_UNIT_KINDS[role_enum]:
            raise UserError(f"角色“{role_enum.label}”不能挂在“{unit.kind_label}”类机构下")
    elif role_enum is not Role.ADMIN:
        raise UserError("除系统管理员外，创建用户须指定所属机构编码（--unit）")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role_enum.value,
        org_unit_id=unit.id if unit else None,
        post=post,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(username: str, password: str) -> tuple[User | None, str | None]:
    """Check credentials; returns (user, None) or (None, Chinese error). Flushes the counters."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    now = clock.now()
    if user is None:
        return None, "用户名或密码错误"
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return None, f"登录失败次数过多，账号已锁定，请{minutes}分钟后再试"
    if not user.check_password(password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
            db.session.flush()
            return None, f"连续{MAX_FAILED_LOGINS}次密码错误，账号锁定{LOCK_MINUTES}分钟"
        db.session.flush()
        return None, "用户名或密码错误"
    if not user.active:
        return None, "账号已停用，请联系管理员"
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.flush()
    return user, None


def _hash_token(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_api_token(user: User, name: str) -> str:
    """Create a bearer token for ``user``; the plain token is returned once and never stored."""
    import secrets

    from fdoctor.auth.models import ApiToken

    if not user.active:
        raise UserError("账号已停用，不能签发令牌")
    token = "fd_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(user_id=user.id, name=name[:64] or "设备", token_hash=_hash_token(token))
    )
    db.session.flush()
    return token


def user_for_token(token: str) -> User | None:
    """The active user owning an unrevoked token (marks it used), or None."""
    from fdoctor.auth.models import ApiToken

    row = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.active:
        return None
    return row.user


def revoke_api_tokens(user: User) -> int:
    from fdoctor.auth.models import ApiToken

    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = clock.now()
    db.session.flush()
    return len(rows)
