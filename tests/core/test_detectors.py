"""The pure suspicion rules (assessments.detectors): each catches its case, not the honest look-alike."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from assessments.detectors import (
    BpReading,
    DetectorSettings,
    DoctorDay,
    GlucoseReading,
    PhoneUse,
    Visit,
    clock_disagreement,
    copied_readings,
    digit_preference,
    first_call_due,
    implausible_readings,
    near_duplicates,
    normalise_phone,
    shared_phones,
    threshold_clusters,
    volume_outliers,
)

S = DetectorSettings()
START, END = date(2026, 7, 1), date(2026, 9, 30)


def _history(doctor: int, team: int, per_day: int, days: int = 60) -> list[DoctorDay]:
    return [
        DoctorDay(doctor, team, START - timedelta(days=d), per_day, doctor * 10_000 + d)
        for d in range(1, days + 1)
    ]


# ------------------------------------------------------------------ settings


def test_settings_come_from_the_configuration_and_refuse_unknown_or_bad_values() -> None:
    s = DetectorSettings.from_mapping({"near_duplicate_days": "7", "threshold_share": 0.5})
    assert (s.near_duplicate_days, s.threshold_share) == (7, Decimal("0.5"))
    with pytest.raises(ValueError, match="未知的疑点规则参数"):
        DetectorSettings.from_mapping({"nearly": 1})
    with pytest.raises(ValueError, match="无效"):
        DetectorSettings.from_mapping({"volume_floor": "many"})
    with pytest.raises(ValueError, match="负数"):
        DetectorSettings.from_mapping({"volume_floor": -1})


# ------------------------------------------------------------------ volume


def test_a_day_far_above_the_doctors_and_the_teams_usual_is_flagged() -> None:
    days = _history(1, 7, 6) + _history(2, 7, 5) + [DoctorDay(1, 7, START, 20, 99)]
    [finding] = volume_outliers(days, START, END, S)
    assert finding.record_id == 99 and finding.key == f"doctor:1:{START.isoformat()}"
    assert "20 次" in finding.reason and "本人" in finding.reason and "团队" in finding.reason


def test_a_busy_day_within_the_doctors_own_usual_is_not_flagged() -> None:
    # A doctor serving a large grid: busier than the team every day, but not above their own usual.
    days = _history(1, 7, 10) + _history(2, 7, 4) + [DoctorDay(1, 7, START, 14, 99)]
    assert volume_outliers(days, START, END, S) == []


def test_a_day_at_the_ceiling_is_flagged_whatever_the_history() -> None:
    days = _history(1, 7, 28) + [DoctorDay(1, 7, START, 30, 99)]
    [finding] = volume_outliers(days, START, END, S)
    assert "单日上限 30" in finding.reason


def test_a_small_day_is_never_flagged_even_against_a_tiny_median() -> None:
    days = _history(1, 7, 1) + _history(2, 7, 1) + [DoctorDay(1, 7, START, 8, 99)]
    assert volume_outliers(days, START, END, S) == []


# ------------------------------------------------------------------ near-duplicates


def test_the_same_follow_up_again_two_days_later_is_flagged() -> None:
    visits = [
        Visit(1, 5, "hypertension_followup", date(2026, 8, 1), "高血压随访"),
        Visit(2, 5, "hypertension_followup", date(2026, 8, 3), "高血压随访"),
    ]
    [finding] = near_duplicates(visits, START, END, S)
    assert finding.record_id == 2 and "仅隔 2 天" in finding.reason


def test_a_follow_up_two_weeks_later_or_another_type_is_not_flagged() -> None:
    visits = [
        Visit(1, 5, "hypertension_followup", date(2026, 8, 1)),
        Visit(2, 5, "hypertension_followup", date(2026, 8, 15)),
        Visit(3, 5, "diabetes_followup", date(2026, 8, 16)),
        Visit(4, 6, "hypertension_followup", date(2026, 8, 16)),
    ]
    assert near_duplicates(visits, START, END, S) == []


def test_a_repeat_of_a_visit_before_the_window_is_flagged_in_the_window() -> None:
    visits = [
        Visit(1, 5, "elderly_checkup", date(2026, 6, 29)),
        Visit(2, 5, "elderly_checkup", date(2026, 7, 1)),
    ]
    assert [f.record_id for f in near_duplicates(visits, START, END, S)] == [2]


# ------------------------------------------------------------------ readings


def _bp(i: int, sbp: int, dbp: int, day: date, resident: int = 5, doctor: int = 1) -> BpReading:
    return BpReading(i, doctor, resident, day, sbp, dbp)


def test_a_reading_copied_from_the_previous_visit_is_flagged() -> None:
    bp = [_bp(1, 142, 88, date(2026, 5, 2)), _bp(2, 142, 88, date(2026, 8, 2))]
    [finding] = copied_readings(bp, [], START, END)
    assert finding.record_id == 2 and "142/88" in finding.reason


def test_a_reading_that_varies_or_repeats_an_older_visit_is_not_flagged() -> None:
    bp = [
        _bp(1, 142, 88, date(2026, 2, 2)),
        _bp(2, 138, 86, date(2026, 5, 2)),
        _bp(3, 142, 88, date(2026, 8, 2)),  # equal to two visits ago, not to the last one
        _bp(4, 142, 88, date(2026, 8, 3), resident=6),  # another resident's reading
    ]
    assert copied_readings(bp, [], START, END) == []


def test_glucose_is_copied_only_when_equal_to_each_of_the_previous_two() -> None:
    def g(i: int, v: str, m: int) -> GlucoseReading:
        return GlucoseReading(i, 1, 5, date(2026, m, 1), Decimal(v))

    assert copied_readings([], [g(1, "7.2", 3), g(2, "6.8", 5), g(3, "6.8", 8)], START, END) == []
    [finding] = copied_readings([], [g(1, "6.8", 3), g(2, "6.8", 5), g(3, "6.8", 8)], START, END)
    assert finding.record_id == 3


def test_implausible_pairs_are_flagged_and_high_but_real_readings_are_not() -> None:
    day = date(2026, 8, 1)
    bp = [_bp(1, 120, 115, day), _bp(2, 240, 100, day), _bp(3, 182, 96, day), _bp(4, 200, 70, day)]
    glucose = [
        GlucoseReading(5, 1, 5, day, Decimal("1.8")),
        GlucoseReading(6, 1, 5, day, Decimal("15.4")),
    ]
    found = implausible_readings(bp, glucose, START, END, S)
    assert [f.record_id for f in found] == [1, 2, 5]
    assert "脉压仅 5" in found[0].reason


def _series(values: list[int], doctor: int) -> list[BpReading]:
    return [
        _bp(doctor * 1000 + i, v, 80, START + timedelta(days=i), resident=i, doctor=doctor)
        for i, v in enumerate(values)
    ]


def test_readings_clustered_just_below_the_threshold_are_flagged() -> None:
    clustered = _series([136, 138, 139, 137, 135] * 3 + [122, 150, 128, 145, 131], doctor=1)
    found = threshold_clusters(clustered, [], START, END, S)
    assert len(found) == 15
    assert "75%" in found[0].reason


def test_a_doctor_with_a_natural_spread_of_readings_is_not_flagged() -> None:
    spread = _series([118, 124, 128, 131, 136, 142, 147, 152, 160, 138] * 3, doctor=2)
    assert threshold_clusters(spread, [], START, END, S) == []


def test_terminal_digit_preference_is_flagged_once_per_doctor() -> None:
    rounded = [_bp(i, 140 if i % 2 else 130, 80 if i % 3 else 90, START + timedelta(days=i))
               for i in range(40)]  # fmt: skip
    [finding] = digit_preference(rounded, START, END, S)
    assert finding.key == f"doctor:1:{START.isoformat()}" and "尾数为 0" in finding.reason


def test_even_readings_read_honestly_show_no_digit_preference() -> None:
    honest = [_bp(i, 120 + 2 * (i % 15), 70 + 2 * (i % 9), START + timedelta(days=i))
              for i in range(40)]  # fmt: skip
    assert digit_preference(honest, START, END, S) == []


# ------------------------------------------------------------------ residents and clocks


def test_a_phone_shared_by_three_households_is_found_not_one_shared_in_a_family() -> None:
    uses = [PhoneUse("139-0000-1111", h) for h in (1, 2, 3)]
    uses += [
        PhoneUse("13900002222", 4),
        PhoneUse("+86 139 0000 2222", 4),
        PhoneUse("1390000222", 5),
    ]
    uses += [PhoneUse("13900003333", 6), PhoneUse("13900003333", 7)]
    [shared] = shared_phones(uses, S)
    assert shared.household_ids == {1, 2, 3}
    assert "139****1111" in shared.reason()
    assert normalise_phone("8613900002222") == "13900002222"
    assert normalise_phone("110") is None


def test_a_first_call_is_due_after_ninety_days_without_service_only() -> None:
    assert first_call_due(date(2026, 6, 1), None, END, S)
    assert not first_call_due(date(2026, 8, 1), None, END, S)  # 60 days: not yet due
    assert not first_call_due(date(2026, 6, 1), date(2026, 7, 15), END, S)


def test_a_tablet_clock_set_back_is_flagged_a_late_upload_is_not() -> None:
    reason = clock_disagreement(-3 * 86_400 - 3600, S)
    assert reason is not None and "慢 3 天 1 小时 0 分" in reason
    assert clock_disagreement(-120, S) is None  # two minutes: clocks drift
    assert clock_disagreement(None, S) is None  # no clock evidence sent


def _doctor_series(doctor: int, n: int, in_band: int) -> list[BpReading]:
    """``n`` readings of a doctor, ``in_band`` of them at 137, the others spread away from 135–139."""
    spread = [118, 124, 128, 131, 142, 147, 152, 160, 126, 145]
    return [
        _bp(doctor * 1000 + i, 137 if i < in_band else spread[i % 10], 84,
            START + timedelta(days=i), resident=doctor * 1000 + i, doctor=doctor)
        for i in range(n)
    ]  # fmt: skip


def test_a_doctor_clustering_far_more_than_the_peers_is_flagged() -> None:
    peers = [r for d in (2, 3, 4) for r in _doctor_series(d, 25, 2)]  # 8% in the band
    suspect = _doctor_series(1, 30, 9)  # 30%: under the 40% of a doctor alone, but 3.75× peers
    found = threshold_clusters(peers + suspect, [], START, END, S)
    assert {f.record_id for f in found} == {r.id for r in suspect if r.systolic == 137}
    assert "其他医生中位数的倍数 25%" in found[0].reason


def test_a_doctor_clustering_like_the_peers_is_not_flagged() -> None:
    peers = [r for d in (2, 3, 4) for r in _doctor_series(d, 25, 7)]  # 28%: a county that rounds
    suspect = _doctor_series(1, 30, 9)
    assert threshold_clusters(peers + suspect, [], START, END, S) == []


def test_digit_preference_is_judged_against_the_other_doctors() -> None:
    def rounded(doctor: int, share_tenths: int) -> list[BpReading]:
        return [
            _bp(doctor * 1000 + i, 130 if i % 10 < share_tenths else 127,
                80 if i % 10 < share_tenths else 83, START + timedelta(days=i), doctor=doctor)
            for i in range(40)
        ]  # fmt: skip

    peers = rounded(2, 1) + rounded(3, 2) + rounded(4, 1)  # 10–20% zeros
    [finding] = digit_preference(peers + rounded(1, 4), START, END, S)  # 40%: 4× the median
    assert finding.key == f"doctor:1:{START.isoformat()}"
    alike = rounded(2, 4) + rounded(3, 3) + rounded(4, 4)
    assert digit_preference(alike + rounded(1, 4), START, END, S) == []
