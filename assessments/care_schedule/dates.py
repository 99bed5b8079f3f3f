"""Calendar arithmetic of the care schedule: months that clamp, ages, calendar quarters."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from assessments.tiers import Period, PeriodKind

__all__ = ["add_months", "age_on", "calendar_quarters", "day_before"]


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the end of the month."""
    year, month_index = divmod(day.month - 1 + months, 12)
    year += day.year
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day`` (birthdays follow ``add_months``)."""
    years = day.year - birth_date.year
    if add_months(birth_date, 12 * years) > day:
        years -= 1
    return years


def day_before(day: date) -> date:
    return day - timedelta(days=1)


def calendar_quarters(start: date, end: date) -> list[Period]:
    """The calendar quarters that overlap ``[start, end]``, in order."""
    quarter = Period.containing(PeriodKind.QUARTER, start)
    quarters = []
    while quarter.start <= end:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters
