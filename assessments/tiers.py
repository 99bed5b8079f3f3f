"""The tier calendar (考核层级): the assessment levels, which period each assesses, and when.

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

The periods themselves, and the rule that nothing is judged before its period ends
(``first_judgeable_day``), are ``assessments.periods``; the job schedule is
``assessments.job_schedule``.

Choices where SPEC is silent
----------------------------
* L4 opens on **1 January**, like every other level "the day after the period ends": opening only
  fills metrics and lets the municipal spot-check sample be drawn at once, leaving the whole of
  January and February for site visits; the counties' reported L3 year-end results (due 31 January)
  are read when the L4 assessment is scored, not when it is opened.
* The L3 second half (H2) is the year-end assessment: its metrics cover the whole year
  (``Period.covers``).
* A due date is inclusive: submitting on the due date is on time; an unsubmitted assessment is
  overdue from the next day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum

from assessments.periods import (
    Period,
    PeriodError,
    PeriodKind,
    first_judgeable_day,
    last_day_of_month,
)

__all__ = [
    "ASSESSMENT_LEVELS",
    "ASSESSMENT_LEVEL_LABELS",
    "SPOT_CHECK_LEVEL",
    "Level",
    "due_on",
    "ended_periods",
    "is_overdue",
    "level_tier",
    "opened_on",
    "period_to_open",
    "periods_between",
]


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


# -------------------------------------------------------------------- the calendar


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
        return last_day_of_month(after.year, after.month)
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
