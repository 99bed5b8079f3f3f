"""``flask users ...``: create the first administrator and other users from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from fdoctor.auth.services import UserError, create_user
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
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"已创建用户 {user.username}（{user.role_enum.label}）")
