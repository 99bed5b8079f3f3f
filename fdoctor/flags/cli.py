"""``flask flags detect --period 2026-Q3``: raise suspicion flags for a quarter (idempotent)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from assessments.periods import PeriodKind
from fdoctor.core.periods import parse_period
from fdoctor.extensions import db
from fdoctor.flags.services import detect_flags
from fdoctor.org.models import OrgUnit

flags_cli = AppGroup("flags", help="服务记录疑点")


def _bad_period(message: str) -> click.BadParameter:
    return click.BadParameter(message, param_hint="--period")


@flags_cli.command("detect")
@click.option("--period", "period_text", required=True, help="季度，例如 2026-Q3")
@click.option("--county", "county_code", default=None, help="只检测该县区（机构编码）")
def detect_command(period_text: str, county_code: str | None) -> None:
    """检测一个季度的服务记录疑点；可重复运行，已有的疑点不会重复生成。"""
    period = parse_period(period_text, PeriodKind.QUARTER, error=_bad_period)
    county_id = None
    if county_code:
        county = db.session.scalar(
            select(OrgUnit).where(OrgUnit.code == county_code, OrgUnit.kind == "county")
        )
        if county is None:
            raise click.BadParameter(f"县区编码 {county_code} 不存在", param_hint="--county")
        county_id = county.id
    created = detect_flags(period.start, period.end, county_id)
    db.session.commit()
    click.echo(f"{period.label}疑点检测完成：新增 {created} 条")
