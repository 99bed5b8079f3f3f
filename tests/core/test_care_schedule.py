"""Due public-health services per resident (assessments.care_schedule).

Every date is fixed and ``today`` is always passed in: nothing reads the clock.
"""

from __future__ import annotations

from datetime import date

import pytest

from assessments.care_schedule.dates import add_months, age_on
from assessments.care_schedule.due import (
    chronic_standard_managed,
    count_due_and_done,
    due_items,
    work_list,
)
from assessments.care_schedule.model import (
    CareScheduleError,
    DueItem,
    DueStatus,
    Pregnancy,
    ResidentProfile,
    ServiceDone,
    ServiceType,
    population_tags,
)

HTN = ServiceType.HYPERTENSION_FOLLOWUP
DM = ServiceType.DIABETES_FOLLOWUP
CHILD_BIRTH = date(2026, 1, 10)
ADULT_BIRTH = date(1980, 5, 1)
YEAR_2026 = (date(2026, 1, 1), date(2026, 12, 31))


def profile(
    resident_id: int = 1,
    birth: date = ADULT_BIRTH,
    tags: tuple[str, ...] = (),
    **kwargs: object,
) -> ResidentProfile[int]:
    return ResidentProfile(resident_id, birth, frozenset(tags), **kwargs)  # type: ignore[arg-type]


def done(service_type: ServiceType, year: int, month: int, day: int) -> ServiceDone:
    return ServiceDone(service_type, date(year, month, day))


def windows(items: list[DueItem[int]], service_type: ServiceType) -> list[tuple[date, date]]:
    return [(i.window_start, i.window_end) for i in items if i.service_type is service_type]


def by_label(items: list[DueItem[int]], label: str) -> DueItem[int]:
    (item,) = (i for i in items if i.label_zh == label)
    return item


def child_items(today: date, *services: ServiceDone) -> list[DueItem[int]]:
    return due_items(profile(birth=CHILD_BIRTH), services, CHILD_BIRTH, date(2033, 12, 31), today)


def maternal_items(pregnancy: Pregnancy) -> list[DueItem[int]]:
    resident = profile(birth=date(1995, 3, 1), tags=("maternal",), pregnancy=pregnancy)
    return due_items(resident, [], *YEAR_2026, today=date(2026, 1, 1))


# --------------------------------------------------------------------------- dates and tags


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_a_leap_day_birthday_falls_on_28_february_in_other_years() -> None:
    assert (
        age_on(date(2024, 2, 29), date(2025, 2, 27)),
        age_on(date(2024, 2, 29), date(2025, 2, 28)),
    ) == (0, 1)


def test_elderly_tag_is_derived_from_the_65th_birthday() -> None:
    resident = profile(birth=date(1961, 7, 15))
    assert "elderly65" not in population_tags(resident, date(2026, 7, 14))
    assert "elderly65" in population_tags(resident, date(2026, 7, 15))


def test_child_tag_lasts_until_the_seventh_birthday() -> None:
    resident = profile(birth=date(2020, 1, 10), tags=("child0_6",))
    assert "child0_6" in population_tags(resident, date(2027, 1, 9))
    assert "child0_6" not in population_tags(resident, date(2027, 1, 10))


def test_service_done_accepts_the_type_as_text() -> None:
    assert ServiceDone("vaccination", date(2026, 1, 1)).service_type is ServiceType.VACCINATION  # type: ignore[arg-type]


def test_service_done_refuses_an_unscheduled_type() -> None:
    with pytest.raises(CareScheduleError, match="不是计划内"):
        ServiceDone("consultation", date(2026, 1, 1))  # type: ignore[arg-type]


def test_due_items_refuses_an_end_before_the_start() -> None:
    with pytest.raises(CareScheduleError):
        due_items(profile(), [], date(2026, 5, 1), date(2026, 4, 1), date(2026, 5, 1))


def test_a_resident_in_no_key_population_has_nothing_due() -> None:
    assert due_items(profile(), [], *YEAR_2026, today=date(2026, 6, 1)) == []


# --------------------------------------------------------------------------- children


def test_neonatal_checkup_window_is_28_to_30_days_of_age() -> None:
    item = by_label(child_items(date(2026, 1, 10)), "儿童健康检查（满月）")
    assert (item.window_start, item.window_end) == (date(2026, 2, 7), date(2026, 2, 9))


def test_child_checkup_windows_follow_the_target_ages() -> None:
    checkups = windows(child_items(date(2026, 1, 10)), ServiceType.CHILD_CHECKUP)
    assert len(checkups) == 12
    assert checkups[1] == (date(2026, 3, 10), date(2026, 5, 9))  # 3 months ± 1 month
    assert checkups[4] == (date(2026, 11, 10), date(2027, 3, 9))  # 12 months ± 2 months
    assert checkups[-1] == (date(2031, 10, 10), date(2032, 4, 9))  # 6 years ± 3 months


def test_vaccination_windows_start_at_the_schedule_ages() -> None:
    vaccinations = windows(child_items(date(2026, 1, 10)), ServiceType.VACCINATION)
    assert len(vaccinations) == 14
    assert vaccinations[0] == (date(2026, 1, 10), date(2026, 2, 9))  # birth
    assert vaccinations[9] == (date(2027, 7, 10), date(2027, 10, 9))  # 18 months
    assert vaccinations[-1] == (date(2032, 1, 10), date(2032, 7, 9))  # 6 years


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2026, 2, 6), DueStatus.UPCOMING),
        (date(2026, 2, 7), DueStatus.DUE),
        (date(2026, 2, 9), DueStatus.DUE),
        (date(2026, 2, 10), DueStatus.OVERDUE),
    ],
)
def test_status_follows_today_against_the_window(today: date, status: DueStatus) -> None:
    assert by_label(child_items(today), "儿童健康检查（满月）").status is status


def test_a_checkup_inside_the_window_marks_it_done() -> None:
    item = by_label(
        child_items(date(2026, 3, 1), done(ServiceType.CHILD_CHECKUP, 2026, 2, 8)),
        "儿童健康检查（满月）",
    )
    assert (item.status, item.done_on) == (DueStatus.DONE, date(2026, 2, 8))


def test_a_checkup_after_the_window_does_not_satisfy_it() -> None:
    item = by_label(
        child_items(date(2026, 3, 1), done(ServiceType.CHILD_CHECKUP, 2026, 2, 10)),
        "儿童健康检查（满月）",
    )
    assert item.status is DueStatus.OVERDUE


def test_a_service_of_another_type_does_not_satisfy_a_window() -> None:
    item = by_label(
        child_items(date(2026, 3, 1), done(ServiceType.VACCINATION, 2026, 2, 8)),
        "儿童健康检查（满月）",
    )
    assert item.status is DueStatus.OVERDUE


# --------------------------------------------------------------------------- maternal


LMP_WINDOWS = [
    (date(2026, 1, 1), date(2026, 4, 1)),  # before 13 weeks
    (date(2026, 4, 23), date(2026, 5, 27)),  # 16–20 weeks
    (date(2026, 5, 28), date(2026, 6, 24)),  # 21–24 weeks
    (date(2026, 7, 16), date(2026, 9, 16)),  # 28–36 weeks
    (date(2026, 9, 17), date(2026, 10, 14)),  # 37–40 weeks
]


def test_antenatal_windows_count_weeks_from_the_last_menstrual_period() -> None:
    items = maternal_items(Pregnancy(lmp=date(2026, 1, 1)))
    assert windows(items, ServiceType.MATERNAL_VISIT) == LMP_WINDOWS


def test_the_expected_due_date_alone_gives_the_same_windows() -> None:
    items = maternal_items(Pregnancy(expected_due=date(2026, 10, 8)))
    assert windows(items, ServiceType.MATERNAL_VISIT) == LMP_WINDOWS


def test_delivery_adds_postpartum_visit_and_42_day_check_and_ends_the_antenatal_window() -> None:
    items = maternal_items(Pregnancy(lmp=date(2026, 1, 1), delivery_date=date(2026, 9, 20)))
    assert windows(items, ServiceType.MATERNAL_VISIT)[-3:] == [
        (date(2026, 9, 17), date(2026, 9, 19)),
        (date(2026, 9, 23), date(2026, 9, 27)),
        (date(2026, 11, 1), date(2026, 11, 15)),
    ]


def test_preterm_delivery_drops_the_antenatal_windows_not_yet_started() -> None:
    items = maternal_items(Pregnancy(lmp=date(2026, 1, 1), delivery_date=date(2026, 8, 1)))
    assert [i.label_zh for i in items][3:] == [
        "孕晚期检查（孕28–36周）",
        "产后访视（产后3–7天）",
        "产后42天健康检查",
    ]
    assert items[3].window_end == date(2026, 7, 31)


def test_a_pregnancy_needs_a_last_period_or_a_due_date() -> None:
    with pytest.raises(CareScheduleError):
        Pregnancy(delivery_date=date(2026, 9, 20))


# --------------------------------------------------------------------------- chronic, mental, TB


def test_hypertension_follow_ups_in_q1_and_q3_only_leave_q2_overdue() -> None:
    resident = profile(tags=("hypertension",))
    services = [done(HTN, 2026, 2, 10), done(HTN, 2026, 8, 20)]
    items = due_items(resident, services, *YEAR_2026, today=date(2026, 11, 15))
    assert [i.status for i in items] == [
        DueStatus.DONE,
        DueStatus.OVERDUE,
        DueStatus.DONE,
        DueStatus.DUE,
    ]


def test_quarterly_windows_are_the_calendar_quarters() -> None:
    items = due_items(profile(tags=("hypertension",)), [], *YEAR_2026, today=date(2026, 1, 1))
    assert windows(items, HTN)[1] == (date(2026, 4, 1), date(2026, 6, 30))


def test_two_follow_ups_in_one_quarter_satisfy_only_that_quarter() -> None:
    resident = profile(tags=("hypertension",))
    services = [done(HTN, 2026, 1, 10), done(HTN, 2026, 3, 20)]
    items = due_items(resident, services, date(2026, 1, 1), date(2026, 6, 30), date(2026, 7, 1))
    assert [(i.status, i.done_on) for i in items] == [
        (DueStatus.DONE, date(2026, 1, 10)),
        (DueStatus.OVERDUE, None),
    ]


def test_each_chronic_disease_needs_its_own_follow_up() -> None:
    resident = profile(tags=("hypertension", "diabetes"))
    items = due_items(
        resident, [done(HTN, 2026, 2, 10)], date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1)
    )
    assert {(i.service_type, i.status) for i in items} == {
        (HTN, DueStatus.DONE),
        (DM, DueStatus.OVERDUE),
    }


def test_quarters_ending_before_the_diagnosis_are_not_due() -> None:
    resident = profile(tags=("hypertension",), tag_since={"hypertension": date(2026, 8, 10)})
    items = due_items(resident, [], *YEAR_2026, today=date(2026, 1, 1))
    assert windows(items, HTN) == [
        (date(2026, 7, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 12, 31)),
    ]


def test_severe_mental_disorder_is_followed_up_every_quarter() -> None:
    items = due_items(profile(tags=("mental_severe",)), [], *YEAR_2026, today=date(2026, 1, 1))
    assert len(windows(items, ServiceType.MENTAL_FOLLOWUP)) == 4


def test_tuberculosis_is_followed_up_monthly_for_six_months_of_treatment() -> None:
    resident = profile(tags=("tuberculosis",), tb_treatment_start=date(2026, 3, 15))
    tb = windows(
        due_items(resident, [], *YEAR_2026, today=date(2026, 3, 15)), ServiceType.TB_FOLLOWUP
    )
    assert (len(tb), tb[0], tb[-1]) == (
        6,
        (date(2026, 3, 15), date(2026, 4, 14)),
        (date(2026, 8, 15), date(2026, 9, 14)),
    )


# --------------------------------------------------------------------------- elderly


def test_elderly_checkup_window_opens_on_the_65th_birthday() -> None:
    items = due_items(
        profile(birth=date(1961, 7, 15)), [], date(2025, 1, 1), date(2027, 12, 31), date(2026, 1, 1)
    )
    assert windows(items, ServiceType.ELDERLY_CHECKUP) == [
        (date(2026, 7, 15), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 12, 31)),
    ]


def test_a_checkup_before_turning_65_does_not_count() -> None:
    services = [done(ServiceType.ELDERLY_CHECKUP, 2026, 5, 1)]
    items = due_items(
        profile(birth=date(1961, 7, 15)), services, *YEAR_2026, today=date(2027, 1, 5)
    )
    assert [i.status for i in items] == [DueStatus.OVERDUE]


def test_a_checkup_after_turning_65_satisfies_the_year() -> None:
    services = [done(ServiceType.ELDERLY_CHECKUP, 2026, 8, 1)]
    items = due_items(
        profile(birth=date(1961, 7, 15)), services, *YEAR_2026, today=date(2027, 1, 5)
    )
    assert [i.status for i in items] == [DueStatus.DONE]


# --------------------------------------------------------------------------- work list


def test_work_list_puts_overdue_first_then_orders_by_window_end() -> None:
    patients = [
        profile(1, tags=("hypertension",)),
        profile(2, tags=("tuberculosis",), tb_treatment_start=date(2026, 4, 25)),
    ]
    items = work_list(patients, {}, today=date(2026, 5, 20))
    assert [(i.resident_id, i.label_zh, i.status) for i in items] == [
        (1, "高血压患者随访（2026年第1季度）", DueStatus.OVERDUE),
        (2, "肺结核患者随访（治疗第1月）", DueStatus.DUE),
        (2, "肺结核患者随访（治疗第2月）", DueStatus.UPCOMING),
        (1, "高血压患者随访（2026年第2季度）", DueStatus.DUE),
    ]


def test_work_list_leaves_out_done_windows() -> None:
    patients = [profile(1, tags=("hypertension",))]
    followups = {1: [done(HTN, 2026, 2, 1), done(HTN, 2026, 4, 2)]}
    assert work_list(patients, followups, today=date(2026, 5, 20)) == []


def test_work_list_leaves_out_windows_opening_after_the_horizon() -> None:
    patients = [profile(2, tags=("tuberculosis",), tb_treatment_start=date(2026, 4, 25))]
    items = work_list(patients, {}, today=date(2026, 5, 17), horizon_days=7)
    assert [i.label_zh for i in items] == ["肺结核患者随访（治疗第1月）"]


def test_work_list_leaves_out_overdue_windows_older_than_the_lookback() -> None:
    patients = [profile(1, tags=("hypertension",))]
    items = work_list(patients, {}, today=date(2026, 8, 1), lookback_days=90)
    assert [i.label_zh for i in items] == [
        "高血压患者随访（2026年第2季度）",
        "高血压患者随访（2026年第3季度）",
    ]


# --------------------------------------------------------------------------- denominators


def test_count_due_and_done_counts_windows_ending_in_the_period() -> None:
    patients = [profile(1, tags=("hypertension",)), profile(2, tags=("hypertension",))]
    followups = {1: [done(HTN, 2026, 5, 5)]}
    counts = count_due_and_done(patients, followups, date(2026, 4, 1), date(2026, 6, 30), [HTN])
    assert counts == (2, 1)


def test_a_window_ending_after_the_period_is_not_yet_due() -> None:
    elderly = [profile(1, birth=date(1950, 1, 1))]
    counts = count_due_and_done(
        elderly, {}, date(2026, 4, 1), date(2026, 6, 30), [ServiceType.ELDERLY_CHECKUP]
    )
    assert counts == (0, 0)


def test_a_window_that_started_before_the_period_counts_a_service_done_before_it() -> None:
    child = [profile(1, birth=CHILD_BIRTH)]
    vaccinations = {1: [done(ServiceType.VACCINATION, 2026, 2, 20)]}
    counts = count_due_and_done(
        child, vaccinations, date(2026, 3, 1), date(2026, 3, 31), ["vaccination"]
    )
    assert counts == (1, 1)


def test_chronic_patient_with_every_completed_quarter_followed_up_is_standard_managed() -> None:
    services = [done(HTN, 2026, 2, 1), done(HTN, 2026, 5, 1)]
    resident = profile(tags=("hypertension",))
    assert chronic_standard_managed(resident, services, 2026, as_of=date(2026, 7, 15)) is True


def test_chronic_patient_missing_a_completed_quarter_is_not_standard_managed() -> None:
    services = [done(HTN, 2026, 2, 1), done(HTN, 2026, 8, 1)]
    resident = profile(tags=("hypertension",))
    assert chronic_standard_managed(resident, services, 2026, as_of=date(2026, 9, 30)) is False


def test_the_current_unfinished_quarter_is_not_judged() -> None:
    services = [done(HTN, 2026, 2, 1)]
    resident = profile(tags=("hypertension",))
    assert chronic_standard_managed(resident, services, 2026, as_of=date(2026, 6, 29)) is True


def test_a_patient_with_both_diseases_needs_both_follow_ups_every_quarter() -> None:
    services = [done(HTN, 2026, 2, 1)]
    resident = profile(tags=("hypertension", "diabetes"))
    assert chronic_standard_managed(resident, services, 2026, as_of=date(2026, 3, 31)) is False


def test_standard_management_is_not_judged_before_the_first_quarter_ends() -> None:
    resident = profile(tags=("hypertension",))
    assert chronic_standard_managed(resident, [], 2026, as_of=date(2026, 2, 10)) is None


def test_standard_management_does_not_apply_to_a_resident_without_chronic_disease() -> None:
    resident = profile(tags=("mental_severe",))
    assert chronic_standard_managed(resident, [], 2026, as_of=date(2026, 12, 31)) is None


def test_standard_management_skips_quarters_before_the_diagnosis() -> None:
    resident = profile(tags=("diabetes",), tag_since={"diabetes": date(2026, 8, 10)})
    services = [done(DM, 2026, 9, 1), done(DM, 2026, 11, 1)]
    assert chronic_standard_managed(resident, services, 2026, as_of=date(2026, 12, 31)) is True
