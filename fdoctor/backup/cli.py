"""``flask backup create`` / ``flask backup restore FILE``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from fdoctor.audit.checkpoints import checkpoint_record, write_checkpoint
from fdoctor.backup.services import BackupError, create_backup, restore_backup
from fdoctor.core import clock, dialect
from fdoctor.extensions import db

backup_cli = AppGroup("backup", help="备份与恢复")


@backup_cli.command("create")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="备份文件路径")
def create_command(output: Path | None) -> None:
    """在线备份当前数据库。"""
    if output is None:
        suffix = "sqlite3" if dialect.name(db.engine) == dialect.SQLITE else "dump"
        output = Path("backups") / f"fdoctor-{clock.now():%Y%m%d-%H%M%S}.{suffix}"
    # A fresh checkpoint goes into the backup and beside it (FILE.audit.json), so the trail's
    # end as of the backup is kept outside the database too.
    checkpoint = checkpoint_record(write_checkpoint(db.session))
    db.session.commit()
    try:
        result = create_backup(db.engine, output)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    sidecar = output.with_name(output.name + ".audit.json")
    sidecar.write_text(
        json.dumps({**checkpoint, "backup_sha256": result.sha256}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    click.echo(f"已备份到 {result.path}（{result.size:,} 字节，SHA-256 {result.sha256}）")
    click.echo(f"{checkpoint['anchor']}（已写入 {sidecar.name}）")


@backup_cli.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="目标数据库已有数据时仍然覆盖")
def restore_command(source: Path, force: bool) -> None:
    """从备份文件恢复到当前数据库（默认要求目标库为空）。"""
    db.session.remove()
    try:
        restore_backup(db.engine, source, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已从 {source} 恢复")
