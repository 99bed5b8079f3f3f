"""A period is judged only after it ends (assessments.periods.first_judgeable_day)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessments.periods import (
    Period,
    PeriodError,
    PeriodNotEnded,
    ensure_period_ended,
    first_judgeable_day,
)
from assessments.tiers import Level, opened_on

# One period per level, its last day and the first day it may be judged.
BOUNDARIES = [
    ("2027-06", date(2027, 6, 30), date(2027, 7, 1)),
    ("2026-02", date(2026, 2, 28), date(2026, 3, 1)),
    ("2028-02", date(2028, 2, 29), date(2028, 3, 1)),
    ("2026-12", date(2026, 12, 31), date(2027, 1, 1)),
    ("2026-Q1", date(2026, 3, 31), date(2026, 4, 1)),
    ("2026-Q4", date(2026, 12, 31), date(2027, 1, 1)),
    ("2026-H1", date(2026, 6, 30), date(2026, 7, 1)),
    ("2026-H2", date(2026, 12, 31), date(2027, 1, 1)),
    ("2026", date(2026, 12, 31), date(2027, 1, 1)),
]


@pytest.mark.parametrize(("text", "last", "first"), BOUNDARIES)
def test_first_judgeable_day_is_the_day_after_the_period(
    text: str, last: date, first: date
) -> None:
    assert first_judgeable_day(Period.parse(text)) == first


@pytest.mark.parametrize(("text", "last", "first"), BOUNDARIES)
def test_the_last_day_is_refused_and_names_the_first_allowed_day(
    text: str, last: date, first: date
) -> None:
    period = Period.parse(text)
    with pytest.raises(PeriodNotEnded) as caught:
        ensure_period_ended(period, last)
    assert caught.value.first_day == first
    assert caught.value.period == period
    assert str(caught.value) == f"{text} 尚未结束，最早可于 {first.isoformat()} 开启。"


@pytest.mark.parametrize(("text", "last", "first"), BOUNDARIES)
def test_the_first_day_after_is_allowed(text: str, last: date, first: date) -> None:
    ensure_period_ended(Period.parse(text), first)
    ensure_period_ended(Period.parse(text), first + timedelta(days=400))


def test_the_refusal_is_a_period_error_and_names_the_action() -> None:
    with pytest.raises(PeriodError, match=r"^2026 尚未结束，最早可于 2027-01-01 生成结算表。$"):
        ensure_period_ended(Period.of_year(2026), date(2026, 12, 6), "生成结算表")


def test_a_period_in_progress_or_in_the_future_is_refused() -> None:
    today = date(2026, 12, 6)
    for text in ("2027-06", "2026-12", "2026-Q4", "2026-H2", "2026", "2027"):
        with pytest.raises(PeriodNotEnded):
            ensure_period_ended(Period.parse(text), today)


@pytest.mark.parametrize("level", list(Level))
def test_every_level_opens_on_its_first_judgeable_day(level: Level) -> None:
    period = Period.containing(level.period_kind, date(2026, 5, 17))
    assert opened_on(level, period) == first_judgeable_day(period)


periods = st.one_of(
    st.builds(Period.of_month, st.integers(1901, 2998), st.integers(1, 12)),
    st.builds(Period.of_quarter, st.integers(1901, 2998), st.integers(1, 4)),
    st.builds(Period.of_half, st.integers(1901, 2998), st.integers(1, 2)),
    st.builds(Period.of_year, st.integers(1901, 2998)),
)


@given(periods, st.integers(-400, 400))
def test_judgeable_exactly_when_today_is_after_the_period(period: Period, offset: int) -> None:
    today = period.end + timedelta(days=offset)
    if today > period.end:
        ensure_period_ended(period, today)
        assert not period.contains(today)
    else:
        with pytest.raises(PeriodNotEnded):
            ensure_period_ended(period, today)
