"""``care_schedule.windows_ending.anchored_windows_ending`` lists exactly the windows
``due_items`` reckons.

The tuned B4/B6 metrics reckon child checkup, vaccination and TB follow-up windows in SQL from
these runs of anchors; here every anchor of the reach is checked against the schedule itself
(a profile with that birth date or treatment start), for periods of every length, around month
ends and leap days. Pure: no database.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from assessments.care_schedule.due import due_items
from assessments.care_schedule.model import Pregnancy, ResidentProfile, ServiceType
from assessments.care_schedule.windows import MATERNAL_RULES, Anchor
from assessments.care_schedule.windows_ending import anchored_windows_ending, quarters_ending

ANCHORED_TYPES = {ServiceType.CHILD_CHECKUP, ServiceType.VACCINATION, ServiceType.TB_FOLLOWUP}


def _expected(start: date, end: date) -> set[tuple[str, date, str, date, date]]:
    """(anchor kind, anchor, type, window start, window end) by the schedule, anchor by anchor."""
    found = set()
    day = start - timedelta(days=366 * 8)
    while day <= end:
        profile: ResidentProfile[int] = ResidentProfile(1, day, tb_treatment_start=day)
        for item in due_items(profile, [], start, end, end):
            if item.service_type in ANCHORED_TYPES and start <= item.window_end <= end:
                kind = (
                    Anchor.TB_TREATMENT
                    if item.service_type is ServiceType.TB_FOLLOWUP
                    else Anchor.BIRTH
                )
                found.add(
                    (str(kind), day, str(item.service_type), item.window_start, item.window_end)
                )
        day += timedelta(days=1)
    return found


def _actual(start: date, end: date) -> set[tuple[str, date, str, date, date]]:
    found = set()
    count = 0
    for run in anchored_windows_ending(start, end):
        assert run.first <= run.last
        day = run.first
        while day <= run.last:
            count += 1
            found.add(
                (
                    str(run.anchor),
                    day,
                    str(run.service_type),
                    day + timedelta(days=run.start_days),
                    day + timedelta(days=run.end_days),
                )
            )
            day += timedelta(days=1)
    assert count == len(found)  # runs never overlap
    return found


PERIODS = [
    (date(2026, 10, 1), date(2026, 10, 31)),
    (date(2026, 2, 1), date(2026, 2, 28)),
    (date(2024, 2, 1), date(2024, 2, 29)),
    (date(2024, 3, 1), date(2024, 3, 31)),
    (date(2026, 7, 1), date(2026, 9, 30)),
    (date(2026, 1, 1), date(2026, 12, 31)),
    (date(2025, 12, 31), date(2025, 12, 31)),
]


@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_runs_are_the_schedule_windows(start: date, end: date) -> None:
    assert _actual(start, end) == _expected(start, end)


def test_random_short_ranges() -> None:
    rng = random.Random(7)
    for _ in range(6):
        start = date(2020, 1, 1) + timedelta(days=rng.randrange(2500))
        end = start + timedelta(days=rng.choice([0, 1, 27, 30, 45]))
        assert _actual(start, end) == _expected(start, end)


def test_quarters_ending_in_a_range() -> None:
    assert quarters_ending(date(2026, 3, 1), date(2026, 3, 31)) == [
        (date(2026, 1, 1), date(2026, 3, 31))
    ]
    assert quarters_ending(date(2026, 4, 1), date(2026, 4, 30)) == []
    assert len(quarters_ending(date(2026, 1, 1), date(2026, 12, 31))) == 4


def test_maternal_rules_are_the_schedule_windows() -> None:
    lmp, delivered = date(2026, 1, 10), date(2026, 9, 20)
    profile: ResidentProfile[int] = ResidentProfile(
        1, date(1995, 1, 1), pregnancy=Pregnancy(lmp=lmp, delivery_date=delivered)
    )
    items = [
        i
        for i in due_items(profile, [], date(2025, 1, 1), date(2027, 12, 31), date(2027, 12, 31))
        if i.service_type is ServiceType.MATERNAL_VISIT
    ]
    expected = []
    for rule in MATERNAL_RULES:
        base = delivered if rule.postpartum else lmp
        first = base + timedelta(days=rule.start_days)
        last = base + timedelta(days=rule.end_days)
        if not rule.postpartum:
            if first >= delivered:
                continue
            last = min(last, delivered - timedelta(days=1))
        expected.append((first, last))
    assert sorted((i.window_start, i.window_end) for i in items) == sorted(expected)
