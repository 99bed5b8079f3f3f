"""``flask users ...``: create the first administrator and other users from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from fdoctor.auth.models import User
from fdoctor.auth.services import UNIT_REQUIRED, UserError, create_user
from fdoctor.extensions import db

users_cli = AppGroup("users", help="用户管理")


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True)
@click.option("--unit", "unit_code", default=None, help="所属机构编码（管理员可不填）")
@click.option("--name", "display_name", default=None)
def create_command(
    username: str, password: str, role: str, unit_code: str | None, display_name: str | None
) -> None:
    """创建用户 (create a user)."""
    try:
        user = create_user(username, password, role, unit_code, display_name)
    except UserError as exc:
        db.session.rollback()
        message = str(exc)
        if message == UNIT_REQUIRED:
            message += "（--unit）"  # the option to give on the command line
        raise click.ClickException(message) from None
    db.session.commit()
    click.echo(f"已创建用户 {user.username}（{user.role_enum.label}）")


@users_cli.command("token")
@click.option("--username", required=True)
@click.option("--name", "device", default="平板", help="设备名称")
@click.option("--revoke", is_flag=True, help="吊销该用户的全部令牌")
def token_command(username: str, device: str, revoke: bool) -> None:
    """签发（或吊销）接口访问令牌 (issue or revoke an API bearer token)."""
    from sqlalchemy import select

    from fdoctor.auth.services import issue_api_token, revoke_api_tokens

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    if revoke:
        count = revoke_api_tokens(user)
        db.session.commit()
        click.echo(f"已吊销 {count} 个令牌")
        return
    try:
        token = issue_api_token(user, device)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(token)


def _user_named(username: str) -> User:
    from sqlalchemy import select

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户 {username} 不存在")
    return user


@users_cli.command("unlock")
@click.option("--username", required=True)
def unlock_command(username: str) -> None:
    """解除登录锁定 (lift a lockout, e.g. of the only administrator); audited."""
    from flask import g

    from fdoctor.auth.services import admin_unlock

    g.audit_actor = "cli"
    admin_unlock(_user_named(username))
    db.session.commit()
    click.echo(f"已解除 {username} 的登录锁定")


@users_cli.command("password")
@click.option("--username", required=True)
@click.password_option("--password", prompt="新密码", confirmation_prompt="再次输入新密码")
def password_command(username: str, password: str) -> None:
    """重置密码 (reset a password: policy applies, the user's sessions end, lock lifted); audited."""
    from flask import g

    from fdoctor.auth.services import admin_reset_password

    g.audit_actor = "cli"
    try:
        admin_reset_password(_user_named(username), password)
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"已重置 {username} 的密码，其原有登录均已失效")
