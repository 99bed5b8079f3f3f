"""The county's municipal score (L4): reported and spot-check means, 40/60, the 10-point flag.

Every expected figure is worked out by hand in the comments.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.l4 import L4Rules, ReportedResult, SampleCheck, combine_l4

D = Decimal
RULES = L4Rules()


def test_reported_is_the_population_weighted_mean_and_the_total_weighs_40_60() -> None:
    reported = [ReportedResult(D("1000.0000"), D("90.00")), ReportedResult(D("3000"), D("80.00"))]
    samples = [
        SampleCheck("甲卫生院", D("70.00"), D("90.00")),
        SampleCheck("乙卫生院", D("75.55"), D("80.00")),
    ]
    result = combine_l4(reported, samples, RULES)
    # (1000 × 90 + 3000 × 80) ÷ 4000 = 330000 ÷ 4000 = 82.5
    assert result.reported == D("82.50")
    # (70.00 + 75.55) ÷ 2 = 72.775 → half up 72.78
    assert result.spot == D("72.78")
    # 0.4 × 82.50 + 0.6 × 72.78 = 33 + 43.668 = 76.668 → 76.67
    assert result.total == D("76.67")
    assert result.lines == (
        "上报得分 = Σ(签约人数 × 年终三级考核得分) ÷ Σ签约人数 = 1000×90.00 + 3000×80.00 ÷ 4000",
        "抽查得分 = 抽查机构市级评分的平均 = 70.00 + 75.55 ÷ 2",
        "市级得分 = 0.4 × 82.50 + 0.6 × 72.78 = 76.67",
    )
    # 甲: 90.00 − 70.00 = 20.00 > 10 → flagged; 乙: 80.00 − 75.55 = 4.45 → not.
    assert [s.flagged for s in result.samples] == [True, False]
    assert result.flagged == ("甲卫生院：上报 90.00 分，抽查 70.00 分，高出 20.00 分",)
    assert result.flag_reason(RULES) == (
        "上报得分高于市级抽查 10 分以上：甲卫生院：上报 90.00 分，抽查 70.00 分，高出 20.00 分"
    )


def test_without_signed_population_reported_is_the_plain_mean() -> None:
    reported = [ReportedResult(D(0), D("85.00")), ReportedResult(D(0), D("86.01"))]
    result = combine_l4(reported, [SampleCheck("甲", D("85.00"), None)], RULES)
    # (85.00 + 86.01) ÷ 2 = 85.505 → half up 85.51 (half-even would give 85.50)
    assert result.reported == D("85.51")
    assert result.lines[0] == "各机构签约人数均为 0，上报得分取年终三级考核得分的算术平均"
    # A sample without its own reported total is never flagged.
    assert not result.samples[0].flagged and result.flag_reason(RULES) is None


def test_a_gap_of_exactly_the_flag_points_is_not_flagged() -> None:
    samples = [SampleCheck("甲", D("80.00"), D("90.00")), SampleCheck("乙", D("79.99"), D("90.00"))]
    result = combine_l4([ReportedResult(D(10), D("90.00"))], samples, RULES)
    assert [s.flagged for s in result.samples] == [False, True]


def test_the_weights_and_the_flag_are_configurable() -> None:
    rules = L4Rules(reported_weight=D("0.5"), spot_weight=D("0.5"), flag_points=D("5"))
    samples = [SampleCheck("甲", D("84.00"), D("90.00"))]
    result = combine_l4([ReportedResult(D(1), D("90.00"))], samples, rules)
    # 0.5 × 90 + 0.5 × 84 = 87; 90 − 84 = 6 > 5
    assert result.total == D("87.00") and result.samples[0].flagged
    assert (
        result.flag_reason(rules)
        == "上报得分高于市级抽查 5 分以上：甲：上报 90.00 分，抽查 84.00 分，高出 6.00 分"
    )


def test_nothing_to_combine_is_refused() -> None:
    with pytest.raises(ValueError):
        combine_l4([], [SampleCheck("甲", D(80), None)], RULES)
