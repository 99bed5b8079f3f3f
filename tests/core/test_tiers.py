"""The tier calendar: periods, opening and due dates, and the job schedule (assessments.periods,
assessments.tiers, assessments.job_schedule)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessments.job_schedule import SCHEDULE, job_named, period_for_job
from assessments.periods import Period, PeriodError, PeriodKind, first_judgeable_day
from assessments.tiers import (
    ASSESSMENT_LEVEL_LABELS,
    ASSESSMENT_LEVELS,
    SPOT_CHECK_LEVEL,
    Level,
    due_on,
    ended_periods,
    is_overdue,
    level_tier,
    opened_on,
    period_to_open,
    periods_between,
)


def p(text: str) -> Period:
    return Period.parse(text)


periods = st.one_of(
    st.builds(Period.of_month, st.integers(1901, 2998), st.integers(1, 12)),
    st.builds(Period.of_quarter, st.integers(1901, 2998), st.integers(1, 4)),
    st.builds(Period.of_half, st.integers(1901, 2998), st.integers(1, 2)),
    st.builds(Period.of_year, st.integers(1901, 2998)),
)

# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03", Period(PeriodKind.MONTH, 2026, 3)),
        ("2026-12", Period(PeriodKind.MONTH, 2026, 12)),
        ("2026-Q1", Period(PeriodKind.QUARTER, 2026, 1)),
        ("2026-Q4", Period(PeriodKind.QUARTER, 2026, 4)),
        ("2026-H1", Period(PeriodKind.HALF, 2026, 1)),
        ("2026-H2", Period(PeriodKind.HALF, 2026, 2)),
        ("2026", Period(PeriodKind.YEAR, 2026, 1)),
    ],
)
def test_parse_reads_every_period_form(text: str, expected: Period) -> None:
    assert Period.parse(text) == expected


@pytest.mark.parametrize("text", ["2026-03", "2026-Q1", "2026-H2", "2026"])
def test_str_gives_back_the_parsed_text(text: str) -> None:
    assert str(Period.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("2026-3", "2026-03"), ("2026-q2", "2026-Q2"), ("2026-h1", "2026-H1"), (" 2026 ", "2026")],
)
def test_parse_accepts_lenient_forms_and_str_gives_the_canonical_one(
    text: str, canonical: str
) -> None:
    assert str(Period.parse(text)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "26-03",
        "2026-13",
        "2026-00",
        "2026-123",
        "2026-Q0",
        "2026-Q5",
        "2026-H0",
        "2026-H3",
        "2026/03",
        "2026-W01",
        "2026-Q1-extra",
        "二〇二六",
        "1899",
        "3000-01",
    ],
)
def test_parse_rejects_malformed_or_out_of_range_text_with_a_period_error(text: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(text)


def test_period_error_is_a_value_error_with_a_chinese_message() -> None:
    with pytest.raises(ValueError, match="无法识别的考核周期"):
        Period.parse("2026/03")


def test_parse_with_an_expected_kind_rejects_another_kind() -> None:
    with pytest.raises(PeriodError, match="需要季度周期"):
        Period.parse("2026-03", expect=PeriodKind.QUARTER)


def test_parse_with_an_expected_kind_accepts_that_kind() -> None:
    assert Period.parse("2026-Q3", expect=PeriodKind.QUARTER) == Period.of_quarter(2026, 3)


def test_a_year_period_refuses_a_number_other_than_one() -> None:
    with pytest.raises(PeriodError):
        Period(PeriodKind.YEAR, 2026, 2)


@given(periods)
def test_parse_of_str_round_trips_every_period(period: Period) -> None:
    assert Period.parse(str(period)) == period


# --------------------------------------------------------------------------- labels and dates


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2026-03", "2026年3月"),
        ("2026-Q1", "2026年第1季度"),
        ("2026-H1", "2026年上半年"),
        ("2026-H2", "2026年下半年（年终）"),
        ("2026", "2026年度"),
    ],
)
def test_label_is_chinese(text: str, label: str) -> None:
    assert p(text).label == label


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
    ],
)
def test_start_and_end_are_the_inclusive_calendar_range(text: str, start: date, end: date) -> None:
    assert (p(text).start, p(text).end) == (start, end)


def test_year_end_half_covers_the_whole_year() -> None:
    assert p("2026-H2").covers == (date(2026, 1, 1), date(2026, 12, 31))


def test_first_half_covers_january_to_june() -> None:
    assert p("2026-H1").covers == (date(2026, 1, 1), date(2026, 6, 30))


@pytest.mark.parametrize("text", ["2026-03", "2026-Q3", "2026"])
def test_other_periods_cover_their_own_range(text: str) -> None:
    assert p(text).covers == (p(text).start, p(text).end)


@pytest.mark.parametrize(
    ("text", "months"),
    [("2026-03", 1), ("2026-Q1", 3), ("2026-H1", 6), ("2026-H2", 12), ("2026", 12)],
)
def test_months_counts_the_covered_months(text: str, months: int) -> None:
    assert p(text).months == months


@pytest.mark.parametrize(
    ("text", "previous", "following"),
    [
        ("2026-01", "2025-12", "2026-02"),
        ("2026-12", "2026-11", "2027-01"),
        ("2026-Q1", "2025-Q4", "2026-Q2"),
        ("2026-Q4", "2026-Q3", "2027-Q1"),
        ("2026-H1", "2025-H2", "2026-H2"),
        ("2026-H2", "2026-H1", "2027-H1"),
        ("2026", "2025", "2027"),
    ],
)
def test_previous_and_next_cross_year_boundaries(text: str, previous: str, following: str) -> None:
    assert (p(text).previous(), p(text).next()) == (p(previous), p(following))


@given(periods)
def test_next_then_previous_is_the_same_period(period: Period) -> None:
    assert period.next().previous() == period


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2026, 3, 31), False),
        (date(2026, 4, 1), True),
        (date(2026, 6, 30), True),
        (date(2026, 7, 1), False),
    ],
)
def test_contains_includes_both_ends_of_the_period(day: date, inside: bool) -> None:
    assert p("2026-Q2").contains(day) is inside


def test_contains_uses_the_calendar_range_not_the_year_end_coverage() -> None:
    assert not p("2026-H2").contains(date(2026, 3, 1))


def test_periods_order_by_calendar_start() -> None:
    assert sorted([p("2026-02"), p("2025-12"), p("2026-01")]) == [
        p("2025-12"),
        p("2026-01"),
        p("2026-02"),
    ]


def test_containing_finds_the_quarter_of_a_day() -> None:
    assert Period.containing(PeriodKind.QUARTER, date(2026, 8, 15)) == p("2026-Q3")


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize(
    ("level", "label", "kind"),
    [
        (Level.L1, "月度自查", PeriodKind.MONTH),
        (Level.L2, "季度考核", PeriodKind.QUARTER),
        (Level.L3, "半年/年终考核", PeriodKind.HALF),
        (Level.L4, "市级年度考核", PeriodKind.YEAR),
    ],
)
def test_each_level_has_a_chinese_label_and_a_period_kind(
    level: Level, label: str, kind: PeriodKind
) -> None:
    assert (level.label, level.period_kind) == (label, kind)


@pytest.mark.parametrize(
    ("level", "text", "opened", "due"),
    [
        (Level.L1, "2026-02", date(2026, 3, 1), date(2026, 3, 5)),
        (Level.L1, "2026-12", date(2027, 1, 1), date(2027, 1, 5)),
        (Level.L2, "2026-Q1", date(2026, 4, 1), date(2026, 4, 15)),
        (Level.L2, "2026-Q4", date(2027, 1, 1), date(2027, 1, 15)),
        (Level.L3, "2026-H1", date(2026, 7, 1), date(2026, 7, 31)),
        (Level.L3, "2026-H2", date(2027, 1, 1), date(2027, 1, 31)),
        (Level.L4, "2026", date(2027, 1, 1), date(2027, 2, 20)),
    ],
)
def test_opened_and_due_dates_follow_the_tier_table(
    level: Level, text: str, opened: date, due: date
) -> None:
    assert (opened_on(level, p(text)), due_on(level, p(text))) == (opened, due)


@pytest.mark.parametrize(("level", "text"), [(Level.L1, "2026-Q1"), (Level.L4, "2026-H2")])
def test_a_period_of_the_wrong_kind_for_the_level_is_refused(level: Level, text: str) -> None:
    with pytest.raises(PeriodError):
        opened_on(level, p(text))


@pytest.mark.parametrize(
    ("level", "today", "expected"),
    [
        (Level.L1, date(2027, 1, 1), "2026-12"),
        (Level.L1, date(2026, 3, 31), "2026-02"),
        (Level.L2, date(2026, 5, 20), "2026-Q1"),
        (Level.L2, date(2026, 1, 1), "2025-Q4"),
        (Level.L3, date(2026, 7, 1), "2026-H1"),
        (Level.L3, date(2026, 6, 30), "2025-H2"),
        (Level.L4, date(2026, 2, 10), "2025"),
    ],
)
def test_period_to_open_is_the_last_completed_period(
    level: Level, today: date, expected: str
) -> None:
    assert period_to_open(level, today) == p(expected)


def test_ended_periods_start_at_the_latest_judgeable_one_newest_first() -> None:
    today = date(2026, 12, 6)
    assert [str(x) for x in ended_periods(Level.L1, today, 3)] == ["2026-11", "2026-10", "2026-09"]
    assert [str(x) for x in ended_periods(Level.L2, today, 5)] == [
        "2026-Q3",
        "2026-Q2",
        "2026-Q1",
        "2025-Q4",
        "2025-Q3",
    ]
    assert [str(x) for x in ended_periods(Level.L4, today, 2)] == ["2025", "2024"]
    for level in Level:
        assert all(first_judgeable_day(x) <= today for x in ended_periods(level, today, 4))


def test_periods_between_lists_every_overlapping_period_in_order() -> None:
    assert periods_between(Level.L2, date(2026, 2, 15), date(2026, 8, 1)) == [
        p("2026-Q1"),
        p("2026-Q2"),
        p("2026-Q3"),
    ]


def test_periods_between_a_single_day_is_its_period() -> None:
    assert periods_between(Level.L1, date(2026, 12, 31), date(2026, 12, 31)) == [p("2026-12")]


def test_periods_between_refuses_an_end_before_the_start() -> None:
    with pytest.raises(PeriodError):
        periods_between(Level.L1, date(2026, 5, 1), date(2026, 4, 1))


def test_an_unsubmitted_assessment_is_not_overdue_on_its_due_date() -> None:
    assert not is_overdue(Level.L1, p("2026-03"), date(2026, 4, 5), submitted=False)


def test_an_unsubmitted_assessment_is_overdue_the_day_after_its_due_date() -> None:
    assert is_overdue(Level.L1, p("2026-03"), date(2026, 4, 6), submitted=False)


def test_a_submitted_assessment_is_never_overdue() -> None:
    assert not is_overdue(Level.L4, p("2025"), date(2026, 12, 31), submitted=True)


# --------------------------------------------------------------------------- schedule


def test_schedule_has_every_job_of_spec_section_8() -> None:
    assert {job.name for job in SCHEDULE} == {
        "open_l1",
        "remind_l1",
        "flag_overdue",
        "open_l2",
        "open_l3",
        "open_l4",
        "draw_l4_sample",
        "contract_expiry",
        "workload_report",
        # Beyond SPEC 8: the audit chain's checkpoint and the tallies' monthly rebuild.
        "audit_checkpoint",
        "rebuild_tallies",
        # Issue 16: suspicion detection, daily over the quarter so far and at each quarter's end.
        "detect_flags_daily",
        "detect_flags_quarter",
    }


def test_job_names_are_unique() -> None:
    assert len({job.name for job in SCHEDULE}) == len(SCHEDULE)


def test_every_job_of_a_level_handles_that_levels_period_kind() -> None:
    assert all(job.period_kind == job.level.period_kind for job in SCHEDULE if job.level)


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("open_l1", date(2026, 5, 1)),
        ("remind_l1", date(2026, 5, 3)),
        ("flag_overdue", date(2026, 5, 6)),
        ("open_l2", date(2026, 4, 1)),
        ("open_l3", date(2026, 7, 1)),
        ("open_l4", date(2027, 1, 1)),
        ("draw_l4_sample", date(2027, 1, 1)),
        ("contract_expiry", date(2026, 5, 17)),
    ],
)
def test_job_runs_on_its_scheduled_day(name: str, day: date) -> None:
    assert job_named(name).runs_on(day)


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("open_l1", date(2026, 5, 2)),
        ("open_l2", date(2026, 5, 1)),
        ("open_l3", date(2026, 4, 1)),
        ("open_l4", date(2026, 7, 1)),
    ],
)
def test_job_does_not_run_on_other_days(name: str, day: date) -> None:
    assert not job_named(name).runs_on(day)


def test_workload_report_runs_before_the_fifth() -> None:
    job = job_named("workload_report")
    assert [d for d in range(1, 6) if job.runs_on(date(2026, 5, d))] == [3]


def test_cron_fields_are_strings_for_the_cron_trigger() -> None:
    assert job_named("open_l2").cron_fields() == {
        "month": "1,4,7,10",
        "day": "1",
        "hour": "1",
        "minute": "10",
    }


@pytest.mark.parametrize(
    ("name", "run_date", "expected"),
    [
        ("open_l1", date(2027, 1, 1), "2026-12"),
        ("remind_l1", date(2026, 5, 3), "2026-04"),
        ("flag_overdue", date(2026, 5, 6), "2026-04"),
        ("open_l2", date(2026, 4, 1), "2026-Q1"),
        ("open_l3", date(2027, 1, 1), "2026-H2"),
        ("open_l4", date(2027, 1, 1), "2026"),
        ("draw_l4_sample", date(2027, 1, 1), "2026"),
        ("workload_report", date(2026, 3, 3), "2026-02"),
    ],
)
def test_period_for_job_is_the_last_completed_period(
    name: str, run_date: date, expected: str
) -> None:
    assert period_for_job(name, run_date) == p(expected)


def test_period_for_job_refuses_a_job_without_a_period() -> None:
    with pytest.raises(PeriodError, match="不按考核周期"):
        period_for_job("contract_expiry", date(2026, 5, 1))


def test_an_unknown_job_is_refused() -> None:
    with pytest.raises(PeriodError, match="未知的定时任务"):
        job_named("open_l5")


def test_the_stored_levels_and_their_labels_are_defined_once_here() -> None:
    assert ASSESSMENT_LEVELS == ("L1", "L2", "L3", "L4", "L4S")
    assert SPOT_CHECK_LEVEL == "L4S"
    assert dict(ASSESSMENT_LEVEL_LABELS) == {
        "L1": "一级考核 · 月度自查",
        "L2": "二级考核 · 季度考核",
        "L3": "三级考核 · 半年/年终考核",
        "L4": "市级年度考核",
        "L4S": "市级抽查评分",
    }


def test_the_spot_check_follows_the_l4_calendar() -> None:
    assert level_tier("L4S") is Level.L4
    assert [level_tier(level) for level in ("L1", "L2", "L3", "L4")] == list(Level)
    with pytest.raises(ValueError):
        level_tier("L5")
