"""``flask audit verify``: walk the hash chain and compare the audited records."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from fdoctor.audit.services import verify
from fdoctor.extensions import db

audit_cli = AppGroup("audit", help="审计日志")


@audit_cli.command("verify")
@click.option("--chain-only", is_flag=True, help="只校验日志链，不比对业务记录")
def verify_command(chain_only: bool) -> None:
    """校验审计日志哈希链，并比对被审计记录是否被绕过系统修改。"""
    result = verify(db.session, check_records=not chain_only)
    if result.ok:
        click.echo(f"审计日志完整：共 {result.entries} 条，哈希链与业务记录一致。")
        return
    for problem in result.problems:
        click.echo(problem, err=True)
    raise SystemExit(1)
