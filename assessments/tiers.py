"""The tier calendar (考核层级与周期): which period each level assesses, and when.

Levels (SPEC 5)
---------------
==========  ====================  ===========  =========================  ==========================
level       name                  period       opened                     due (inclusive)
==========  ====================  ===========  =========================  ==========================
L1          月度自查 monthly       month        1st of the next month      5th of that month
L2          季度考核 quarterly     quarter      1st day after the quarter  15th of that month
L3          半年/年终考核          half-year    1st day after the half     last day of that month
L4          市级年度考核 annual    year         1 January of the next year 20 February of the next year
==========  ====================  ===========  =========================  ==========================

Nothing is judged before its period ends
----------------------------------------
``first_judgeable_day(period)`` is the day after the period ends; ``ensure_period_ended`` raises
``PeriodNotEnded`` (a ``PeriodError`` naming that day) before it. The web app applies it, with its
clock's today, wherever a level is opened, the L4 spot check drawn, a verification sample drawn or
a settlement built, and to every period job that reads its period's records (scheduled or run by
hand with ``--period``/``--date``; ``flag_overdue`` acts on its run day and is exempt).

Choices where SPEC is silent
----------------------------
* L4 opens on **1 January**, like every other level "the day after the period ends": opening only
  fills metrics and lets the municipal spot-check sample be drawn at once, leaving the whole of
  January and February for site visits; the counties' reported L3 year-end results (due 31 January)
  are read when the L4 assessment is scored, not when it is opened.
* The L3 second half (H2) is the year-end assessment: its metrics **cover the whole year**
  (1 January – 31 December, 12 months), while H1 covers January – June. ``Period.start``/``end``
  are always the period's own calendar range; ``Period.covers``/``months`` are what metrics use.
* A due date is inclusive: submitting on the due date is on time; an unsubmitted assessment is
  overdue from the next day.
* Period text: ``2026-03`` (``2026-3`` is accepted too), ``2026-Q1`` (``q`` accepted), ``2026-H1``,
  ``2026``; years 1900–2999. ``str(period)`` always gives the canonical form.

Schedules (SPEC 8) are data here (``SCHEDULE``); the scheduler process reads them and each job calls
``period_for_job`` to learn the period it handles. Every period job handles the **last completed
period** of its kind as of the run date, so running a job by hand on any date repeats that day's run.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

__all__ = [
    "ASSESSMENT_LEVELS",
    "ASSESSMENT_LEVEL_LABELS",
    "SCHEDULE",
    "SPOT_CHECK_LEVEL",
    "SCHEDULE_TIMEZONE",
    "Level",
    "Period",
    "PeriodError",
    "PeriodKind",
    "PeriodNotEnded",
    "ScheduledJob",
    "due_on",
    "ended_periods",
    "ensure_period_ended",
    "first_judgeable_day",
    "is_overdue",
    "job_named",
    "level_tier",
    "opened_on",
    "period_for_job",
    "period_to_open",
    "periods_between",
]

MIN_YEAR = 1900
MAX_YEAR = 2999


class PeriodError(ValueError):
    """A period is malformed or does not fit the level; the message is user-facing Chinese."""


class PeriodNotEnded(PeriodError):
    """A period is to be judged (opened, drawn, sampled, settled) before it has ended.

    ``first_day`` is the first day it may be judged; the message is user-facing Chinese.
    """

    def __init__(self, period: Period, first_day: date, action: str) -> None:
        super().__init__(f"{period} 尚未结束，最早可于 {first_day.isoformat()} {action}。")
        self.period = period
        self.first_day = first_day


class PeriodKind(StrEnum):
    """The length of an assessment period."""

    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def count_per_year(self) -> int:
        """How many periods of this kind a year has (12, 4, 2, 1)."""
        return _PER_YEAR[self]

    @property
    def length_months(self) -> int:
        """Calendar length of one period in months (1, 3, 6, 12)."""
        return 12 // _PER_YEAR[self]


_KIND_LABELS = {
    PeriodKind.MONTH: "月度",
    PeriodKind.QUARTER: "季度",
    PeriodKind.HALF: "半年",
    PeriodKind.YEAR: "年度",
}
_PER_YEAR = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.HALF: 2, PeriodKind.YEAR: 1}
_FORMAT_HINT = {
    PeriodKind.MONTH: "2026-03",
    PeriodKind.QUARTER: "2026-Q1",
    PeriodKind.HALF: "2026-H1",
    PeriodKind.YEAR: "2026",
}


class Level(StrEnum):
    """The four assessment tiers (考核层级)."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"

    @property
    def label(self) -> str:
        """Chinese name, e.g. ``月度自查``."""
        return _LEVEL_LABELS[self]

    @property
    def tier_label(self) -> str:
        """Chinese tier name, e.g. ``一级考核``."""
        return _TIER_LABELS[self]

    @property
    def period_kind(self) -> PeriodKind:
        return _LEVEL_KINDS[self]


_LEVEL_LABELS = {
    Level.L1: "月度自查",
    Level.L2: "季度考核",
    Level.L3: "半年/年终考核",
    Level.L4: "市级年度考核",
}
_TIER_LABELS = {
    Level.L1: "一级考核",
    Level.L2: "二级考核",
    Level.L3: "三级考核",
    Level.L4: "市级考核",
}
_LEVEL_KINDS = {
    Level.L1: PeriodKind.MONTH,
    Level.L2: PeriodKind.QUARTER,
    Level.L3: PeriodKind.HALF,
    Level.L4: PeriodKind.YEAR,
}

# The city's own scoring of a sampled institution for the L4 spot check (市级抽查, SPEC 5): an
# assessment level of its own that follows the L4 calendar.
SPOT_CHECK_LEVEL = "L4S"
# Every level an assessment is stored at, in order.
ASSESSMENT_LEVELS: tuple[str, ...] = (*(level.value for level in Level), SPOT_CHECK_LEVEL)
# What the pages call each stored level, e.g. ``一级考核 · 月度自查``.
ASSESSMENT_LEVEL_LABELS: Mapping[str, str] = {
    **{
        level.value: f"{level.tier_label} · {level.label}"
        for level in (Level.L1, Level.L2, Level.L3)
    },
    Level.L4.value: Level.L4.label,
    SPOT_CHECK_LEVEL: "市级抽查评分",
}


def level_tier(level: str) -> Level:
    """The tier calendar's level of a stored assessment level (the spot check follows L4)."""
    return Level.L4 if level == SPOT_CHECK_LEVEL else Level(level)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class Period:
    """One assessment period (考核周期).

    ``number`` is the month (1–12), quarter (1–4) or half (1–2); it is always 1 for a year.
    Periods order by their calendar start, then by length.
    """

    kind: PeriodKind
    year: int
    number: int = 1

    def __post_init__(self) -> None:
        kind = PeriodKind(self.kind)
        object.__setattr__(self, "kind", kind)
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise PeriodError(f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间，收到 {self.year}")
        if not 1 <= self.number <= kind.count_per_year:
            raise PeriodError(_NUMBER_ERRORS[kind].format(number=self.number))

    # ---------------------------------------------------------------- construction

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        return cls(PeriodKind.MONTH, year, month)

    @classmethod
    def of_quarter(cls, year: int, quarter: int) -> Period:
        return cls(PeriodKind.QUARTER, year, quarter)

    @classmethod
    def of_half(cls, year: int, half: int) -> Period:
        return cls(PeriodKind.HALF, year, half)

    @classmethod
    def of_year(cls, year: int) -> Period:
        return cls(PeriodKind.YEAR, year, 1)

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        """The period of ``kind`` whose calendar range contains ``day``."""
        kind = PeriodKind(kind)
        return cls(kind, day.year, (day.month - 1) // kind.length_months + 1)

    @classmethod
    def parse(cls, text: str, expect: PeriodKind | None = None) -> Period:
        """Parse ``2026-03``, ``2026-Q1``, ``2026-H1`` or ``2026``.

        With ``expect``, a period of another kind is refused (e.g. a month given to an L2 job).
        """
        cleaned = text.strip().upper()
        match = _PERIOD_RE.fullmatch(cleaned)
        if match is None:
            raise PeriodError(
                f"无法识别的考核周期「{text}」：应为 2026-03（月）、2026-Q1（季度）、"
                "2026-H1（半年）或 2026（年度）"
            )
        year = int(match["year"])
        if match["month"] is not None:
            period = cls(PeriodKind.MONTH, year, int(match["month"]))
        elif match["quarter"] is not None:
            period = cls(PeriodKind.QUARTER, year, int(match["quarter"]))
        elif match["half"] is not None:
            period = cls(PeriodKind.HALF, year, int(match["half"]))
        else:
            period = cls(PeriodKind.YEAR, year, 1)
        if expect is not None and period.kind != expect:
            expect = PeriodKind(expect)
            raise PeriodError(
                f"需要{expect.label}周期（如 {_FORMAT_HINT[expect]}），收到「{text}」"
            )
        return period

    # ---------------------------------------------------------------- text

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.number:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.number}"
        if self.kind is PeriodKind.HALF:
            return f"{self.year}-H{self.number}"
        return f"{self.year}"

    @property
    def label(self) -> str:
        """Chinese label, e.g. ``2026年3月``, ``2026年第1季度``, ``2026年下半年（年终）``."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}年{self.number}月"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}年第{self.number}季度"
        if self.kind is PeriodKind.HALF:
            return f"{self.year}年上半年" if self.number == 1 else f"{self.year}年下半年（年终）"
        return f"{self.year}年度"

    # ---------------------------------------------------------------- dates

    @property
    def first_month(self) -> int:
        return (self.number - 1) * self.kind.length_months + 1

    @property
    def start(self) -> date:
        """First day of the period's own calendar range."""
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        """Last day (inclusive) of the period's own calendar range."""
        return _last_day(self.year, self.first_month + self.kind.length_months - 1)

    @property
    def is_year_end(self) -> bool:
        """True for the H2 half-year, whose assessment is the year-end one (年终考核)."""
        return self.kind is PeriodKind.HALF and self.number == 2

    @property
    def covers(self) -> tuple[date, date]:
        """The inclusive date range the metrics of this period cover (H2 covers the whole year)."""
        if self.is_year_end:
            return date(self.year, 1, 1), date(self.year, 12, 31)
        return self.start, self.end

    @property
    def months(self) -> int:
        """Number of months covered, to turn per-month targets into period targets."""
        return 12 if self.is_year_end else self.kind.length_months

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the period's own calendar range (not ``covers``)."""
        return self.start <= day <= self.end

    def previous(self) -> Period:
        return self._shift(-1)

    def next(self) -> Period:
        return self._shift(1)

    def _shift(self, steps: int) -> Period:
        per_year = self.kind.count_per_year
        index = self.year * per_year + (self.number - 1) + steps
        return Period(self.kind, index // per_year, index % per_year + 1)

    # ---------------------------------------------------------------- ordering

    def _sort_key(self) -> tuple[date, date]:
        return self.start, self.end

    def __lt__(self, other: Period) -> bool:
        return self._sort_key() < other._sort_key()

    def __le__(self, other: Period) -> bool:
        return self._sort_key() <= other._sort_key()

    def __gt__(self, other: Period) -> bool:
        return self._sort_key() > other._sort_key()

    def __ge__(self, other: Period) -> bool:
        return self._sort_key() >= other._sort_key()


_PERIOD_RE = re.compile(
    r"(?P<year>\d{4})(?:-(?:(?P<month>\d{1,2})|Q(?P<quarter>\d)|H(?P<half>\d)))?"
)
_NUMBER_ERRORS = {
    PeriodKind.MONTH: "月份应在 1–12 之间，收到 {number}",
    PeriodKind.QUARTER: "季度应为 Q1–Q4，收到 Q{number}",
    PeriodKind.HALF: "半年应为 H1（上半年）或 H2（下半年），收到 H{number}",
    PeriodKind.YEAR: "年度周期的序号只能是 1，收到 {number}",
}


# -------------------------------------------------------------------- the calendar


def first_judgeable_day(period: Period) -> date:
    """The first day ``period`` may be judged: the day after its calendar range ends.

    The one rule for every level, draw, verification sample and settlement (SPEC 5): nothing is
    opened, drawn, sampled or settled for a period while its records can still be entered.
    """
    return period.end + timedelta(days=1)


def ensure_period_ended(period: Period, today: date, action: str = "开启") -> None:
    """Raise ``PeriodNotEnded`` when ``today`` is before ``first_judgeable_day(period)``.

    ``action`` completes the message (``开启``, ``抽样``, ``生成结算表`` …).
    """
    first_day = first_judgeable_day(period)
    if today < first_day:
        raise PeriodNotEnded(period, first_day, action)


def _check_level(level: Level, period: Period) -> None:
    level = Level(level)
    if period.kind != level.period_kind:
        raise PeriodError(
            f"{level.label}（{level}）按{level.period_kind.label}考核，不能用于周期「{period}」"
        )


def opened_on(level: Level, period: Period) -> date:
    """The day the assessment of ``period`` opens: the day after the period ends.

    For L4 that is 1 January of the next year (see the module docstring).
    """
    _check_level(level, period)
    return first_judgeable_day(period)


def due_on(level: Level, period: Period) -> date:
    """The last day (inclusive) to submit the assessment of ``period``."""
    _check_level(level, period)
    after = period.end + timedelta(days=1)
    level = Level(level)
    if level is Level.L1:
        return after.replace(day=5)
    if level is Level.L2:
        return after.replace(day=15)
    if level is Level.L3:
        return _last_day(after.year, after.month)
    return date(period.year + 1, 2, 20)


def period_to_open(level: Level, today: date) -> Period:
    """The period whose assessment should be open on ``today``: the last completed one."""
    return Period.containing(Level(level).period_kind, today).previous()


def ended_periods(level: Level, today: date, count: int) -> list[Period]:
    """The level's last ``count`` periods that have ended by ``today``, newest first.

    The first is ``period_to_open``: the latest period that can be judged.
    """
    periods = [period_to_open(level, today)]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


def periods_between(level: Level, start: date, end: date) -> list[Period]:
    """The level's periods whose calendar range overlaps ``[start, end]``, in order."""
    if start > end:
        raise PeriodError(f"开始日期 {start} 晚于结束日期 {end}")
    kind = Level(level).period_kind
    period = Period.containing(kind, start)
    last = Period.containing(kind, end)
    periods = [period]
    while period != last:
        period = period.next()
        periods.append(period)
    return periods


def is_overdue(level: Level, period: Period, today: date, submitted: bool) -> bool:
    """An unsubmitted assessment is overdue from the day after its due date."""
    return not submitted and today > due_on(level, period)


# -------------------------------------------------------------------- schedules (SPEC 8)

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
