"""The job schedule (SPEC 8) as data: ``SCHEDULE``, one ``ScheduledJob`` per periodic job.

The scheduler process reads it and each job calls ``period_for_job`` to learn the period it
handles. Every period job handles the **last completed period** of its kind as of the run date, so
running a job by hand on any date repeats that day's run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from assessments.periods import Period, PeriodError, PeriodKind
from assessments.tiers import Level

__all__ = [
    "SCHEDULE",
    "SCHEDULE_TIMEZONE",
    "ScheduledJob",
    "job_named",
    "period_for_job",
]

SCHEDULE_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class ScheduledJob:
    """One periodic job, as cron fields the scheduler hands to APScheduler's ``CronTrigger``.

    ``month`` and ``day`` are ``"*"`` or a comma-separated list of numbers. ``period_kind`` is the
    kind of period the job handles (``None`` for jobs that are not about a period, e.g. the daily
    contract-expiry job); ``level`` is the tier it opens or reminds, if any.
    """

    name: str
    description_zh: str
    level: Level | None
    period_kind: PeriodKind | None
    hour: int
    minute: int = 0
    month: str = "*"
    day: str = "*"

    def cron_fields(self) -> dict[str, str]:
        """Keyword arguments for ``CronTrigger(**fields, timezone=SCHEDULE_TIMEZONE)``."""
        return {
            "month": self.month,
            "day": self.day,
            "hour": str(self.hour),
            "minute": str(self.minute),
        }

    def runs_on(self, day: date) -> bool:
        """Whether the job fires on ``day`` (at ``hour:minute``)."""
        return _cron_matches(self.month, day.month) and _cron_matches(self.day, day.day)


def _cron_matches(field: str, value: int) -> bool:
    return field == "*" or value in {int(part) for part in field.split(",")}


# Jobs on the same day are staggered by a few minutes so their logs read in order; the workload
# report runs on the 3rd so that records of the month's last day, which may be entered up to 48 h
# later (indicator A5), are in before it is built, still well before the 5th.
SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        "open_l1",
        "开启上月的一级考核（团队月度自查），自动填入各项指标",
        Level.L1,
        PeriodKind.MONTH,
        hour=1,
        minute=0,
        day="1",
    ),
    ScheduledJob(
        "remind_l1",
        "提醒团队长在 5 日前提交上月月度自查",
        Level.L1,
        PeriodKind.MONTH,
        hour=9,
        minute=0,
        day="3",
    ),
    ScheduledJob(
        "flag_overdue",
        "标记逾期未提交的考核与逾期未完成的整改项",
        None,
        PeriodKind.MONTH,
        hour=1,
        minute=0,
        day="6",
    ),
    ScheduledJob(
        "open_l2",
        "开启上一季度的二级考核（卫生院/社区卫生服务中心考核团队）",
        Level.L2,
        PeriodKind.QUARTER,
        hour=1,
        minute=10,
        month="1,4,7,10",
        day="1",
    ),
    ScheduledJob(
        "open_l3",
        "开启上一半年的三级考核（县区考核各机构；下半年为年终考核，覆盖全年）",
        Level.L3,
        PeriodKind.HALF,
        hour=1,
        minute=20,
        month="1,7",
        day="1",
    ),
    ScheduledJob(
        "open_l4",
        "开启上一年度的市级年度考核",
        Level.L4,
        PeriodKind.YEAR,
        hour=1,
        minute=30,
        month="1",
        day="1",
    ),
    ScheduledJob(
        "draw_l4_sample",
        "抽取市级年度考核的抽查机构（每个县区至少 2 家），记录随机种子以便复核",
        Level.L4,
        PeriodKind.YEAR,
        hour=1,
        minute=40,
        month="1",
        day="1",
    ),
    ScheduledJob(
        "contract_expiry",
        "签约协议到期前 30 天提醒，到期协议置为已到期",
        None,
        None,
        hour=2,
        minute=0,
    ),
    ScheduledJob(
        "audit_checkpoint",
        "记录审计日志链当前末尾的检查点（审计链锚点），截断日志可被发现",
        None,
        None,
        hour=0,
        minute=30,
    ),
    ScheduledJob(
        "rebuild_tallies",
        "按服务记录与签约协议重算上月的运行统计（服务计数、月末签约人数），核对并修复累计值",
        None,
        PeriodKind.MONTH,
        hour=2,
        minute=30,
        day="3",
    ),
    ScheduledJob(
        "detect_flags_daily",
        "检测本季度截至昨日的服务记录疑点（每日一次，已有疑点不重复生成）",
        None,
        None,
        hour=3,
        minute=30,
    ),
    ScheduledJob(
        "detect_flags_quarter",
        "季度结束后对上一季度全部服务记录与签约协议做一次完整的疑点检测",
        None,
        PeriodKind.QUARTER,
        hour=3,
        minute=40,
        month="1,4,7,10",
        day="1",
    ),
    ScheduledJob(
        "workload_report",
        "生成上月各县区工作量报表（当月工作量报表，5 日前完成）",
        None,
        PeriodKind.MONTH,
        hour=3,
        minute=0,
        day="3",
    ),
)


def job_named(name: str) -> ScheduledJob:
    """The scheduled job called ``name``."""
    for job in SCHEDULE:
        if job.name == name:
            return job
    known = "、".join(job.name for job in SCHEDULE)
    raise PeriodError(f"未知的定时任务「{name}」，可用任务：{known}")


def period_for_job(job_name: str, run_date: date) -> Period:
    """The period a job running on ``run_date`` handles: the last completed period of its kind."""
    job = job_named(job_name)
    if job.period_kind is None:
        raise PeriodError(f"定时任务「{job_name}」不按考核周期运行")
    return Period.containing(job.period_kind, run_date).previous()
