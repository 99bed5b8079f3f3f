"""``flask audit verify`` / ``flask audit checkpoint``: check the keyed chain, note its end."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from fdoctor.audit.baselines import adopt_unlogged_rows
from fdoctor.audit.checkpoints import anchor_line, write_checkpoint
from fdoctor.audit.verify import verify
from fdoctor.extensions import db

audit_cli = AppGroup("audit", help="审计日志")


@audit_cli.command("verify")
@click.option("--chain-only", is_flag=True, help="只校验日志链，不比对业务记录")
@click.option(
    "--anchor", "anchors", multiple=True, help="核对结算表或备份上打印的审计链锚点（#编号 哈希）"
)
def verify_command(chain_only: bool, anchors: tuple[str, ...]) -> None:
    """校验审计日志哈希链、链头与检查点，并比对被审计记录是否被绕过系统修改。"""
    result = verify(db.session, check_records=not chain_only, anchors=anchors)
    if result.ok:
        click.echo(f"审计日志完整：共 {result.entries} 条，哈希链与业务记录一致。")
        return
    for problem in result.problems:
        click.echo(problem, err=True)
    raise SystemExit(1)


@audit_cli.command("checkpoint")
def checkpoint_command() -> None:
    """记录审计链当前末尾的检查点（审计链锚点），供结算表与备份引用。"""
    checkpoint = write_checkpoint(db.session)
    db.session.commit()
    click.echo(
        f"已记录检查点 #{checkpoint.id}：{anchor_line(checkpoint)}（共 {checkpoint.entries} 条）"
    )


@audit_cli.command("adopt")
def adopt_command() -> None:
    """升级后一次性纳入审计：为尚无审计记录的已有记录建立基线（记录操作人）。"""
    adopted = adopt_unlogged_rows()
    db.session.commit()
    if not adopted:
        click.echo("所有被审计的记录均已有审计记录，无需纳入。")
        return
    for table, count in sorted(adopted.items()):
        click.echo(f"{table}：{count:,} 行已建立基线")
