"""Users: creation with role/unit checks, password policy, login with throttling, sessions."""

from __future__ import annotations

import math
import re
import string
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from fdoctor.audit.events import audited_update
from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.core.roles import ROLE_UNIT_KINDS, Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128  # the login form accepts no longer password
PASSWORD_MIN_CLASSES = 3  # of: lower-case, upper-case, digits, other characters
BAD_CREDENTIALS = "用户名或密码错误"
UNIT_REQUIRED = "除系统管理员外，用户须指定所属机构编码"
_COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")
_LEET = str.maketrans("013457@$", "oieastas")


class UserError(UserFacingError):
    """A user-facing error in Chinese."""


@cache
def common_passwords() -> frozenset[str]:
    """The refused list shipped with the app (``common_passwords.txt``), lower case."""
    lines = _COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip() for x in lines if x.strip() and not x.startswith("#"))


def check_password_policy(password: str, username: str | None = None) -> None:
    """The password policy (口令策略) for every password a person sets.

    At least 8 characters from at least three of four classes (lower-case, upper-case, digits,
    other), not only digits, not containing the user name, and not a common password (also after
    stripping leading/trailing digits and symbols and undoing 0→o, 1→i, 3→e ... substitutions).
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        raise UserError(f"密码至少{PASSWORD_MIN_LENGTH}位")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise UserError(f"密码不能超过{PASSWORD_MAX_LENGTH}位")
    if password.isdigit():
        raise UserError("密码不能全是数字")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < PASSWORD_MIN_CLASSES:
        raise UserError("密码须包含大写字母、小写字母、数字、符号中的至少三种")
    lowered = password.lower()
    name = (username or "").strip().lower()
    if len(name) >= 3 and (name in lowered or name in lowered.translate(_LEET)):
        raise UserError("密码不能包含用户名")
    edges = string.digits + string.punctuation + " "
    core = lowered.strip(edges)
    forms = {lowered, lowered.rstrip(edges), core}
    candidates = forms | {form.translate(_LEET) for form in forms}
    if not core or candidates & common_passwords():
        raise UserError("密码过于常见，容易被猜中，请换一个")


def create_user(
    username: str,
    password: str,
    role: str,
    unit_code: str | None = None,
    display_name: str | None = None,
    post: str | None = None,
    on_probation: bool = False,
) -> User:
    """Create a user; admin may have no unit (the top of the tree), other roles need one."""
    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{3,64}", username):
        raise UserError("用户名须为3-64位字母、数字、下划线、点或连字符")
    role_enum = _role(role)
    check_password_policy(password, username)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"用户名 {username} 已存在")
    unit = _unit_for(role_enum, unit_code)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role_enum.value,
        org_unit_id=unit.id if unit else None,
        post=post,
        on_probation=on_probation,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(f"未知角色：{role}（可选：{', '.join(r.value for r in Role)}）") from None


def _unit_for(role: Role, unit_code: str | None) -> OrgUnit | None:
    """The unit of ``unit_code`` if ``role`` fits its kind; admin alone may have none."""
    unit_code = (unit_code or "").strip()
    if not unit_code:
        if role is not Role.ADMIN:
            raise UserError(UNIT_REQUIRED)
        return None
    unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
    if unit is None:
        raise UserError(f"机构编码 {unit_code} 不存在")
    if not unit.active:
        raise UserError(f"机构「{unit.name}」已撤销，不能再挂用户")
    if unit.kind not in ROLE_UNIT_KINDS[role]:
        raise UserError(f"角色“{role.label}”不能挂在“{unit.kind_label}”类机构下")
    return unit


def admin_update_user(
    user: User,
    actor: User,
    *,
    display_name: str,
    role: str,
    unit_code: str | None,
    post: str | None,
    on_probation: bool,
) -> bool:
    """An administrator changes a user's name, role, unit, post or probation; audited by the
    flush listener (before and after). A new role or unit ends the user's sessions, so the new
    permissions and scope apply at once. Returns whether anything changed."""
    role_enum = _role(role)
    unit = _unit_for(role_enum, unit_code)
    display_name = (display_name or "").strip()
    if not display_name:
        raise UserError("请输入姓名")
    unit_id = unit.id if unit else None
    if user.id == actor.id and (role_enum.value != user.role or unit_id != user.org_unit_id):
        raise UserError("不能修改自己的角色或所属机构，请由另一名系统管理员操作")
    post = (post or "").strip() or None
    moved = role_enum.value != user.role or unit_id != user.org_unit_id
    changed = moved or (display_name, post, on_probation) != (
        user.display_name, user.post, bool(user.on_probation),
    )  # fmt: skip
    if not changed:
        return False
    user.display_name, user.role, user.org_unit_id = display_name, role_enum.value, unit_id
    user.post, user.on_probation = post, on_probation
    if moved:
        end_sessions(user)
    db.session.flush()
    return True


@cache
def _dummy_hash() -> str:
    """A hash of a random password, made like every real one: checked when no user matches."""
    import secrets

    return generate_password_hash(secrets.token_urlsafe(16))


def lock_minutes_left(locked_until: datetime, now: datetime) -> int:
    """Whole minutes still locked, rounded up: 1 to LOCK_MINUTES, never more than the lock."""
    seconds = (locked_until - now).total_seconds()
    return min(LOCK_MINUTES, max(1, math.ceil(seconds / 60)))


def authenticate(username: str, password: str) -> tuple[User | None, str | None]:
    """Check credentials; returns (user, None) or (None, Chinese error). Flushes the counters.

    A missing user costs one password-hash check like a present one, so the answer's timing does
    not tell which user names exist. Each check is first claimed by one atomic UPDATE (the failed
    count goes up only while below the limit and the account is not locked), so parallel requests
    get at most ``MAX_FAILED_LOGINS`` guesses: the row stays locked (PostgreSQL) or the database
    (SQLite's single writer) until the request commits.
    """
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    now = clock.now()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None, BAD_CREDENTIALS
    failed = audited_update(
        User,
        user.id,
        update(User)
        .where(
            User.id == user.id,
            User.failed_logins < MAX_FAILED_LOGINS,
            or_(User.locked_until.is_(None), User.locked_until <= now),
        )
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins),
        returning=True,
    )
    if failed is None:
        locked_until = db.session.scalar(select(User.locked_until).where(User.id == user.id))
        minutes = lock_minutes_left(locked_until, now) if locked_until else LOCK_MINUTES
        db.session.expire(user)
        return None, f"登录失败次数过多，账号已锁定，请{minutes}分钟后再试"
    if not check_password_hash(user.password_hash, password):
        if failed >= MAX_FAILED_LOGINS:
            _set_counters(user, failed_logins=0, locked_until=now + timedelta(minutes=LOCK_MINUTES))
            return None, f"连续{MAX_FAILED_LOGINS}次密码错误，账号锁定{LOCK_MINUTES}分钟"
        db.session.expire(user)
        return None, BAD_CREDENTIALS
    if not user.active:
        _set_counters(user, failed_logins=0)
        return None, "账号已停用，请联系管理员"
    _set_counters(user, failed_logins=0, locked_until=None, last_login_at=now)
    return user, None


def _set_counters(user: User, **values: object) -> None:
    audited_update(User, user.id, update(User).where(User.id == user.id).values(**values))
    db.session.expire(user)


def user_for_session(session_id: str) -> User | None:
    """The active user a session cookie names (``"<id>:<session version>"``), or None.

    A cookie opened before the user's last logout, password change or deactivation carries an
    older version and no longer signs anyone in.
    """
    user_id, _, version = (session_id or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()) or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def end_sessions(user: User) -> None:
    """End every session of ``user`` (raises the session version in one atomic UPDATE)."""
    user.session_version = User.session_version + 1  # type: ignore[assignment]
    db.session.flush()


def set_new_password(user: User, password: str) -> None:
    """Set a password a person chose (policy applies) and end every session of the user."""
    check_password_policy(password, user.username)
    user.set_password(password)
    end_sessions(user)


def change_own_password(user: User, current: str, new: str, confirm: str) -> None:
    """A signed-in user's own password change; the caller signs the current session in again."""
    if not check_password_hash(user.password_hash, current):
        raise UserError("当前密码不正确")
    if new != confirm:
        raise UserError("两次输入的新密码不一致")
    if new == current:
        raise UserError("新密码不能与当前密码相同")
    set_new_password(user, new)


def admin_reset_password(user: User, password: str) -> None:
    """An administrator sets a new password: also lifts a lockout; logged in the audit trail."""
    from fdoctor.audit.events import record_event

    set_new_password(user, password)
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    record_event("password_reset", "user_account", str(user.id), {"username": user.username})


def admin_unlock(user: User) -> None:
    """Lift a lockout after failed logins; logged in the audit trail."""
    from fdoctor.audit.events import record_event

    was = user.locked_until
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    record_event(
        "unlock",
        "user_account",
        str(user.id),
        {"username": user.username, "locked_until": was.isoformat(sep=" ") if was else None},
    )


def admin_set_active(user: User, active: bool) -> None:
    """Disable (ending every session and token use) or enable an account; audited."""
    from fdoctor.audit.events import record_event

    user.active = active
    if not active:
        end_sessions(user)
    db.session.flush()
    record_event(
        "enable" if active else "disable", "user_account", str(user.id), {"username": user.username}
    )


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
