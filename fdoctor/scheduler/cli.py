"""``flask scheduler run`` (the one scheduler process) and ``flask jobs run NAME --period ...``."""

from __future__ import annotations

import logging
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from assessments.job_schedule import SCHEDULE

scheduler_cli = AppGroup("scheduler", help="定时任务调度进程")
jobs_cli = AppGroup("jobs", help="手动运行定时任务")


@scheduler_cli.command("run")
def run_command() -> None:
    """启动调度进程（生产环境作为独立服务运行，Web 进程从不启动它）。"""
    from fdoctor.scheduler.runner import build_scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    click.echo(f"调度进程已启动：{len(SCHEDULE)} 个定时任务，时区 Asia/Shanghai；Ctrl+C 退出")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("调度进程已停止")


@jobs_cli.command("list")
def list_command() -> None:
    """列出全部定时任务及其运行时间。"""
    for job in SCHEDULE:
        fields = job.cron_fields()
        when = f"月={fields['month']} 日={fields['day']} {job.hour:02d}:{job.minute:02d}"
        period = job.period_kind.label if job.period_kind else "按日"
        click.echo(f"{job.name:<16} {when:<22} {period:<4} {job.description_zh}")


@jobs_cli.command("run")
@click.argument("name")
@click.option("--period", default=None, help="考核周期，如 2026-03、2026-Q1、2026-H2、2026")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="按某日运行，YYYY-MM-DD",
)
def run_job_command(name: str, period: str | None, day: datetime | None) -> None:
    """手动运行一个定时任务（可补跑任意过去的周期，重复运行不会重复生成）。"""
    from fdoctor.scheduler.jobs import JobError, plan, run_job

    try:
        job = plan(name, period, day.date() if day else None)
        outcome = run_job(name, period, day.date() if day else None)
    except JobError as exc:
        raise click.ClickException(str(exc)) from None
    scope = f"周期 {job.period}，" if job.period else ""
    click.echo(f"{name}：{scope}运行日 {job.today.isoformat()}；{outcome}")
