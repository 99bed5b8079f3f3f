"""``flask corrections scan --year Y``: notice again what corrects the locked settlement of Y."""

from __future__ import annotations

import click
from flask.cli import AppGroup

corrections_cli = AppGroup("corrections", help="锁定后更正")


@corrections_cli.command("scan")
@click.option("--year", type=int, required=True, help="已锁定结算表的年度")
def scan_command(year: int) -> None:
    """补查该年度已锁定结算表的更正（认定虚假的服务记录、修订的考核得分）；可重复运行。"""
    from fdoctor.corrections.services import scan
    from fdoctor.extensions import db

    corrections = scan(year)
    db.session.commit()
    if not corrections:
        click.echo(f"{year} 年度没有已锁定结算表的更正")
    for c in corrections:
        click.echo(f"更正 #{c.id}（{c.cause_label}）：{c.reason}")
