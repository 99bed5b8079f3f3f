"""``flask demo load``: a deterministic demo city; ``flask demo logins``: who to log in as."""

from __future__ import annotations

import time
import unicodedata
from datetime import date, datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select, text

from fdoctor.auth.models import User
from fdoctor.core import clock, dialect
from fdoctor.demo.generator import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    SCALES,
    TABLE_LABELS,
    DemoError,
    load_demo,
)
from fdoctor.demo.year import LIVED_SCALES, live_through
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

demo_cli = AppGroup("demo", help="演示数据")


def _vacuum() -> None:
    """PostgreSQL: VACUUM (ANALYZE) after a bulk load, outside the load's transaction.

    Freshly COPYed tables have no visibility map, so every index-only scan (the metrics probe
    ``ix_service_record_counting`` per resident) would visit the heap for each row until
    autovacuum came by; a database that has run for a year has long had its pages marked.
    """
    if not dialect.is_postgresql(db.engine):
        return
    db.session.remove()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE)"))


def _pad(text: str, columns: int) -> str:
    """Pad to a terminal width: Chinese characters take two columns."""
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, columns - width)


@demo_cli.command("load")
@click.option("--seed", type=int, default=None, help="随机种子（默认取配置 DEMO_SEED）")
@click.option(
    "--anchor",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="基准日期 YYYY-MM-DD（默认今天），所有数据按它往前推算",
)
@click.option(
    "--scale",
    type=click.Choice(list(SCALES)),
    default="demo",
    show_default=True,
    help="规模：" + "；".join(f"{name} {scale.label}" for name, scale in SCALES.items()),
)
@click.option("--if-empty", is_flag=True, help="已有机构或用户数据时跳过，不报错（启动脚本用）")
def load_command(seed: int | None, anchor: datetime | None, scale: str, if_empty: bool) -> None:
    """载入演示城市（许昌市）的机构、用户、居民、签约和一年的服务记录。"""
    if if_empty and _has_data():
        click.echo("数据库中已有机构或用户数据，跳过演示数据载入。")
        _print_logins()
        return
    seed = current_app.config["DEMO_SEED"] if seed is None else seed
    day: date = anchor.date() if anchor else clock.today()
    started = time.perf_counter()
    try:
        if SCALES[scale].streaming:
            click.echo(f"正在生成{SCALES[scale].label}的数据，按县区逐个写入……")
        summary = load_demo(seed=seed, anchor=day, scale=scale, progress=click.echo)
        if scale in LIVED_SCALES:
            lived = time.perf_counter()
            live_through(seed, day)
            click.echo(
                f"演示城市已走完最近的考核周期与结算，用时 {time.perf_counter() - lived:.1f} 秒"
            )
    except DemoError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    _vacuum()
    elapsed = time.perf_counter() - started
    click.echo(f"已载入演示数据：种子 {seed}，基准日期 {day.isoformat()}，用时 {elapsed:.1f} 秒")
    for table, label in TABLE_LABELS.items():
        click.echo(f"  {_pad(label, 12)}{summary.counts[table]:>8,}")
    click.echo(f"  {_pad('合计', 12)}{summary.total_rows:>8,}")
    click.echo()
    _print_logins()


@demo_cli.command("logins")
def logins_command() -> None:
    """列出演示账号及密码。"""
    _print_logins()


def _has_data() -> bool:
    """Org units or users mean the city (or an operator's own setup) is already there."""
    units = db.session.scalar(select(func.count(OrgUnit.id)))
    return bool(units or db.session.scalar(select(func.count(User.id))))


def _print_logins() -> None:
    units = dict(
        db.session.execute(
            select(User.username, OrgUnit.name)
            .outerjoin(OrgUnit, User.org_unit_id == OrgUnit.id)
            .where(User.username.in_([name for name, _ in DEMO_LOGINS]))
        ).all()
    )
    click.echo(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
    click.echo(f"  {_pad('用户名', 10)}{_pad('角色', 30)}所属机构")
    for username, label in DEMO_LOGINS:
        where = (units[username] or "全市") if username in units else "（尚未载入）"
        click.echo(f"  {_pad(username, 10)}{_pad(label, 30)}{where}")
