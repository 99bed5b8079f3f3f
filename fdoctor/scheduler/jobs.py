"""The periodic jobs (SPEC 8): thin functions over the services, one per ``tiers.SCHEDULE`` entry.

A job receives the period it handles and the day it runs for. The scheduler runs each job on its
cron day for the last completed period (``tiers.period_for_job``); ``flask jobs run NAME --period P``
runs it for any past period as it would have run on its scheduled day after that period
(``scheduled_run_date``), ``--date D`` as it would have run on day D. Every job is idempotent.

A period job (but ``flag_overdue``, which acts on its run day) is refused, whichever way it is
asked for, while its period has not ended by the clock's today (``tiers.ensure_period_ended``): ``--period 2027-06`` on 6 December 2026 opens
nothing, and neither does ``--date 2027-07-01``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from assessments.tiers import (
    SCHEDULE,
    Level,
    Period,
    PeriodError,
    PeriodKind,
    ensure_period_ended,
    job_named,
    period_for_job,
)
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.l4 import draw_for, draw_l4_spot_check
from fdoctor.assessments.opening import open_assessments
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.core.periods import parse_period
from fdoctor.extensions import db
from fdoctor.scheduler import services
from fdoctor.scheduler.services import Outcome

log = logging.getLogger("fdoctor.jobs")


@dataclass(frozen=True)
class JobRun:
    name: str
    period: Period | None
    today: date


def _open(level: Level) -> Callable[[JobRun], Outcome]:
    def run(job: JobRun) -> Outcome:
        assert job.period is not None
        result = open_assessments(level.value, job.period)
        return Outcome(created=len(result.created), note=result.message)

    return run


def _draw_l4(job: JobRun) -> Outcome:
    assert job.period is not None
    existed = draw_for(job.period.year) is not None
    draw = draw_l4_spot_check(job.period.year)
    picked = sum(1 for item in draw.items if item.selected)
    return Outcome(
        created=0 if existed else picked,
        note=f"{job.period.year} 年度市级抽查：随机种子 {draw.seed}，抽中 {picked} 家机构",
    )


def _remind_l1(job: JobRun) -> Outcome:
    assert job.period is not None
    return services.remind_l1(job.period)


def _flag_overdue(job: JobRun) -> Outcome:
    return services.flag_overdue(job.today)


def _contract_expiry(job: JobRun) -> Outcome:
    return services.contract_expiry(job.today)


def _workload(job: JobRun) -> Outcome:
    assert job.period is not None
    return services.workload_report(job.period)


def _audit_checkpoint(job: JobRun) -> Outcome:
    from fdoctor.audit.services import anchor_line, write_checkpoint

    checkpoint = write_checkpoint(db.session)
    return Outcome(created=1, note=f"{anchor_line(checkpoint)}（共 {checkpoint.entries} 条）")


def _rebuild_tallies(job: JobRun) -> Outcome:
    from fdoctor.tallies.services import rebuild_month

    assert job.period is not None
    written = rebuild_month(str(job.period))
    return Outcome(
        created=written["tallies"],
        note=f"{job.period} 运行统计已按服务记录重算：{written['tallies']} 行服务计数，"
        f"{written['signed_population']} 个单位的签约人数",
    )


def _detect(start: date, end: date, label: str) -> Outcome:
    from fdoctor.flags.services import detect_flags

    created = detect_flags(start, end)
    return Outcome(
        created=created, note=f"{label}疑点检测：新增 {created} 条（已有的疑点不重复生成）"
    )


def _detect_flags_daily(job: JobRun) -> Outcome:
    # The quarter so far, up to yesterday (today's records are still coming in).
    yesterday = job.today - timedelta(days=1)
    quarter = Period.containing(PeriodKind.QUARTER, yesterday)
    return _detect(quarter.start, yesterday, f"{quarter.start} 至 {yesterday} ")


def _detect_flags_quarter(job: JobRun) -> Outcome:
    assert job.period is not None
    return _detect(job.period.start, job.period.end, str(job.period))


JOBS: dict[str, Callable[[JobRun], Outcome]] = {
    "open_l1": _open(Level.L1),
    "remind_l1": _remind_l1,
    "flag_overdue": _flag_overdue,
    "open_l2": _open(Level.L2),
    "open_l3": _open(Level.L3),
    "open_l4": _open(Level.L4),
    "draw_l4_sample": _draw_l4,
    "contract_expiry": _contract_expiry,
    "workload_report": _workload,
    "audit_checkpoint": _audit_checkpoint,
    "rebuild_tallies": _rebuild_tallies,
    "detect_flags_daily": _detect_flags_daily,
    "detect_flags_quarter": _detect_flags_quarter,
}
assert set(JOBS) == {job.name for job in SCHEDULE}, "every scheduled job needs a function"


# Period jobs that act on their run day, not on their period's records: flagging what is overdue
# as of a day judges no period, so it is not held to the period having ended.
ACTS_ON_RUN_DAY = frozenset({"flag_overdue"})


class JobError(UserFacingError):
    """A job cannot run as asked; the message is Chinese."""


def scheduled_run_date(name: str, period: Period) -> date:
    """The day the scheduler runs job ``name`` for ``period``: its first cron day after the period."""
    job = job_named(name)
    day = period.end + timedelta(days=1)
    for _ in range(400):
        if job.runs_on(day) and period_for_job(name, day) == period:
            return day
        day += timedelta(days=1)
    raise JobError(f"定时任务「{name}」不处理周期「{period}」")


def plan(name: str, period: str | None = None, day: date | None = None) -> JobRun:
    """Which period and day a run handles, from ``--period`` or ``--date`` (default: today)."""
    try:
        job = job_named(name)
    except PeriodError as exc:
        raise JobError(str(exc)) from None
    if period is not None and day is not None:
        raise JobError("--period 与 --date 只能指定一个")
    today = clock.today()
    if day is not None and day > today and (job.period_kind is None or name in ACTS_ON_RUN_DAY):
        # A job that acts on its run day (contract expiry, overdue flags) run for a later day
        # would act early on what is not yet due: expire live contracts, flag what is not late.
        # Period jobs run for a later day are refused below, by their period's end.
        raise JobError(f"不能为将来的日期 {day.isoformat()} 运行任务（今天是 {today.isoformat()}）")
    if job.period_kind is None:
        if period is not None:
            raise JobError(f"定时任务「{name}」按日运行，请用 --date 指定日期")
        return JobRun(name, None, day or today)
    if period is not None:
        parsed = parse_period(period, job.period_kind, error=JobError)
        run = JobRun(name, parsed, scheduled_run_date(name, parsed))
    else:
        run_day = day or today
        run = JobRun(name, period_for_job(name, run_day), run_day)
    if name in ACTS_ON_RUN_DAY and run.today > today:
        raise JobError(
            f"任务「{name}」的运行日 {run.today.isoformat()} 尚未到来（今天是 {today.isoformat()}）"
        )
    if name not in ACTS_ON_RUN_DAY:
        assert run.period is not None
        try:
            ensure_period_ended(run.period, today, "运行此任务")
        except PeriodError as exc:
            raise JobError(str(exc)) from None
    return run


def run_job(name: str, period: str | None = None, day: date | None = None) -> Outcome:
    """Run one job and commit; roll back and raise ``JobError`` on a refused run."""
    job = plan(name, period, day)
    try:
        outcome = JOBS[name](job)
        db.session.commit()
    except AssessmentError as exc:
        db.session.rollback()
        raise JobError(str(exc)) from None
    except Exception:
        db.session.rollback()
        raise
    log.info("job %s period=%s day=%s: %s", name, job.period, job.today, outcome)
    return outcome


# The app the scheduler process runs jobs in (set by ``fdoctor.scheduler.runner``).
_app: Any = None


def set_app(app: Any) -> None:
    global _app
    _app = app


def scheduled_job(name: str) -> None:
    """Entry point the job store keeps a reference to: run ``name`` for today in an app context."""
    app = _app
    if app is None:
        from fdoctor import create_app

        app = create_app()
        set_app(app)
    with app.app_context():
        try:
            run_job(name)
        except JobError as exc:
            log.warning("job %s refused: %s", name, exc)
        finally:
            db.session.remove()
