"""The windows that end within a date range, found without a resident, for a database to reckon
in bulk: runs of anchor dates (child checkups, vaccinations, TB follow-ups) and the calendar
quarters of the quarterly follow-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from assessments.care_schedule.dates import calendar_quarters
from assessments.care_schedule.model import ServiceType, check_range
from assessments.care_schedule.windows import CHILD_RULES, TB_RULES, Anchor, AnchoredRule

__all__ = ["AnchoredRun", "anchored_windows_ending", "quarters_ending"]


@dataclass(frozen=True)
class AnchoredRun:
    """Windows of one rule for a run of anchor dates (birth dates or TB treatment starts).

    For every anchor ``a`` from ``first`` to ``last`` (both inclusive) the rule's window is
    ``[a + start_days, a + end_days]``: within a run the month arithmetic shifts every anchor
    alike, so a database can reckon the windows of its residents with plain day arithmetic.
    """

    anchor: Anchor
    service_type: ServiceType
    label: str  # the window's label: one per rule, shared by its runs
    first: date
    last: date
    start_days: int
    end_days: int


# An anchor lies at most this long before the end of any of its windows (the 6-year vaccination
# window ends 78 months after birth); the search for anchors starts this far back.
_ANCHOR_REACH = timedelta(days=366 * 8)


def anchored_windows_ending(start: date, end: date) -> list[AnchoredRun]:
    """Every child checkup and vaccination window (from the birth date) and TB follow-up window
    (from the treatment start) that ends within ``[start, end]``, as runs of anchors.

    A profile with that birth date (or treatment start) has exactly these windows ending in the
    range among those three types: the windows ``due_items`` reckons, found here without a
    resident. The runs of one rule (one ``label``) follow each other without gaps, ordered by
    anchor.
    """
    check_range(start, end)
    runs: list[AnchoredRun] = []
    for rule in (*CHILD_RULES, *TB_RULES):
        anchor = _first_anchor(rule, start, lambda day: day >= start)
        after = _first_anchor(rule, start, lambda day: day > end)
        rule_runs: list[AnchoredRun] = []
        while anchor < after:
            window_start, window_end = rule.bounds(anchor)
            offsets = ((window_start - anchor).days, (window_end - anchor).days)
            last = rule_runs[-1] if rule_runs else None
            if last is not None and (last.start_days, last.end_days) == offsets:
                rule_runs[-1] = AnchoredRun(
                    rule.anchor, rule.service_type, rule.label, last.first, anchor, *offsets
                )
            else:
                rule_runs.append(
                    AnchoredRun(
                        rule.anchor, rule.service_type, rule.label, anchor, anchor, *offsets
                    )
                )
            anchor += timedelta(days=1)
        runs += rule_runs
    return runs


def _first_anchor(rule: AnchoredRule, near: date, ends: Callable[[date], bool]) -> date:
    """The earliest anchor whose window end satisfies ``ends``, a test that is false up to some
    day and true from it on (window ends never decrease as the anchor moves later). The answer
    lies after ``near`` minus the reach of the longest schedule."""
    low, high = (near - _ANCHOR_REACH).toordinal(), near.toordinal()
    while not ends(rule.bounds(date.fromordinal(high))[1]):
        high += 366
    while low < high:
        middle = (low + high) // 2
        if ends(rule.bounds(date.fromordinal(middle))[1]):
            high = middle
        else:
            low = middle + 1
    return date.fromordinal(low)


def quarters_ending(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar quarters (first and last day) that end within ``[start, end]``: the quarterly
    follow-up windows (hypertension, diabetes, severe mental disorder) due in that range."""
    check_range(start, end)
    return [(q.start, q.end) for q in calendar_quarters(start, end) if start <= q.end <= end]
