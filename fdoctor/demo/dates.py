"""Calendar arithmetic the builder needs: months, years and quarters."""

from __future__ import annotations

from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# Last year's settlement is built and locked this many days after the year ends (its L4 is
# published within the first days of January).
SETTLEMENT_DAYS_AFTER_YEAR = 14


def settled_year(anchor: date) -> int:
    """The last year whose settlement is locked by ``anchor``: last year, or in the first days
    of January (before its settlement day) the year before."""
    last = anchor.year - 1
    if anchor >= date(anchor.year, 1, 1) + timedelta(days=SETTLEMENT_DAYS_AFTER_YEAR):
        return last
    return last - 1


def history_start(anchor: date) -> date:
    """The first day of the demo's records: 1 January of the settled year, so that the city
    lives through the whole of it, and through the current year up to ``anchor``."""
    return date(settled_year(anchor), 1, 1)
