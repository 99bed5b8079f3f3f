"""Scoring (计分): every rule at its edges, rounding, totals, warnings and refused values."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest

from assessments.index import (
    DIMENSION_NAMES,
    Band,
    Bands,
    Deduction,
    Dimension,
    Index,
    Indicator,
    Manual,
    MeanScale,
    RatioToTarget,
    Rule,
)
from assessments.index_files import INDEXES_DIR, load_index
from assessments.scoring import (
    IndicatorScore,
    ScoreResult,
    ScoringError,
    Unscorable,
    point_totals,
    score,
    score_indicator,
    score_metric_indicators,
)

D = Decimal


# --------------------------------------------------------------------------- factories


def indicator(
    code: str = "A1",
    max_points: str | int = 5,
    rule: Rule | None = None,
    *,
    name: str = "签约覆盖率",
    metric: str | None = "signing_coverage",
    target: str | None = "0.35",
    when_empty: str | None = None,
) -> Indicator:
    rule = RatioToTarget() if rule is None else rule
    return Indicator(
        code=code,
        name=name,
        dimension=code[0],
        max_points=D(max_points),
        metric=None if isinstance(rule, Manual) else metric,
        rule=rule,
        target=D(target) if isinstance(rule, RatioToTarget) and target is not None else None,
        when_empty=None if when_empty is None else D(when_empty),
    )


def make_index(*indicators: Indicator) -> Index:
    """An index of the given indicators; scoring does not need the 100 points validated."""
    return Index(
        code="test",
        name="测试指标",
        year=2026,
        scope="411002",
        version=3,
        based_on=None,
        indicators=indicators,
        dimensions=tuple(
            Dimension(
                key,
                value,
                sum((i.max_points for i in indicators if i.dimension == key), D(0)),
            )
            for key, value in DIMENSION_NAMES.items()
        ),
    )


def score_one(item: Indicator, value: object) -> ScoreResult:
    return score(make_index(item), {item.code: value})


def points(item: Indicator, value: object) -> Decimal:
    return score_one(item, value).indicators[0].points


BANDS = Bands(
    (Band(D("0.6"), D("0.5")), Band(D("0.8"), D("0.8")), Band(D("0.9"), D("1"))),
    floor=D(0),
)
ETHICS = Deduction((("complaints", D(2)), ("false_records", D(4))))


def bands(floor: str = "0") -> Indicator:
    return indicator("B4", 10, Bands(BANDS.bands, D(floor)), name="重点人群服务率")


def ethics(max_points: int = 8) -> Indicator:
    return indicator("C1", max_points, ETHICS, name="医德医风", metric="ethics_deductions")


def satisfaction(when_empty: str | None = None) -> Indicator:
    return indicator(
        "C3", 10, MeanScale(), name="满意度", metric="satisfaction", when_empty=when_empty
    )


def manual(max_points: str | int = 3) -> Indicator:
    return indicator("A4", max_points, Manual(), name="内部管理")


def city_values() -> dict[str, Any]:
    return {
        "A1": 0.31,
        "A2": 0.7,
        "A3": 0.95,
        "A4": 3,
        "A5": 0.9,
        "B1": 3.2,
        "B2": {"points": 7.5, "reason": "病历书写不规范 2 份"},
        "B3": 0.8,
        "B4": 0.9,
        "B5": 1.5,
        "B6": 0.5,
        "B7": None,
        "C1": {"complaints": 1, "false_records": 0},
        "C2": 0.9,
        "C3": 87.5,
        "C4": 0.61,
    }


# --------------------------------------------------------------------------- ratio_to_target


def test_ratio_zero_scores_zero() -> None:
    assert points(indicator(), 0) == D("0.00")


def test_ratio_below_target_scores_in_proportion() -> None:
    assert points(indicator(), 0.31) == D("4.43")


def test_ratio_exactly_at_target_scores_the_maximum() -> None:
    assert points(indicator(), D("0.35")) == D("5.00")


def test_ratio_over_target_is_capped_at_the_maximum() -> None:
    assert points(indicator(), 0.9) == D("5.00")


def test_ratio_of_a_huge_value_is_capped_without_overflow() -> None:
    assert points(indicator(), D("1E+999999")) == D("5.00")


def test_a_huge_integer_value_is_refused() -> None:
    with pytest.raises(ScoringError, match="指标 A1（签约覆盖率）的数值过大"):
        score_one(indicator(), 2**64)


def test_ratio_detail_shows_the_arithmetic() -> None:
    detail = score_one(indicator(), 0.31).indicators[0].detail
    assert detail == "5 × min(1, 0.31 ÷ 0.35) = 4.43"


def test_ratio_to_a_target_above_1_per_100_rate() -> None:
    b1 = indicator("B1", 10, name="基本医疗服务量", metric="basic_medical_volume", target="4.0")
    assert points(b1, 3.2) == D("8.00")


# --------------------------------------------------------------------------- rounding


def test_points_round_half_up_not_half_even() -> None:
    # 5 × 0.234 ÷ 0.4 = 2.925 exactly: half-even would give 2.92.
    assert points(indicator(target="0.4"), D("0.234")) == D("2.93")


def test_floats_are_taken_by_their_str() -> None:
    # 5 × 0.0012 ÷ 0.4 = 0.015; the binary float 0.0012 is a hair below and would give 0.01.
    assert points(indicator(target="0.4"), 0.0012) == D("0.02")


def test_mean_scale_rounds_half_up() -> None:
    assert points(satisfaction(), D("87.45")) == D("8.75")


def test_when_empty_points_round_half_up() -> None:
    assert points(indicator(when_empty="0.333"), None) == D("1.67")


def test_points_always_have_two_places() -> None:
    assert str(points(indicator(), 1)) == "5.00"


def test_scoring_ignores_the_callers_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.prec = 3
        context.rounding = decimal.ROUND_DOWN
        result = score(load_index(INDEXES_DIR / "city-2026.toml"), city_values())
    assert (result.get("A1"), result.total) == (result.indicators[0], D("88.74"))
    assert result.indicators[0].points == D("4.43")


def test_total_is_the_sum_of_rounded_points() -> None:
    thirds = [
        indicator(code, 10, name=name, metric=metric, target="0.3")
        for code, name, metric in (
            ("A1", "签约覆盖率", "signing_coverage"),
            ("A2", "重点人群签约率", "key_population_signing"),
            ("A3", "有效签约率", "effective_contracts"),
        )
    ]
    result = score(make_index(*thirds), {"A1": 0.1, "A2": 0.1, "A3": 0.1})
    # Each is 3.333… → 3.33; the exact sum would round to 10.00.
    assert result.total == D("9.99")


def test_dimension_subtotal_is_the_sum_of_rounded_points() -> None:
    thirds = [
        indicator(code, 10, name=name, metric=metric, target="0.3")
        for code, name, metric in (
            ("A1", "签约覆盖率", "signing_coverage"),
            ("A2", "重点人群签约率", "key_population_signing"),
        )
    ]
    result = score(make_index(*thirds), {"A1": 0.1, "A2": 0.1})
    assert result.dimensions[0].points == D("6.66")


# --------------------------------------------------------------------------- when_empty


def test_empty_value_scores_the_when_empty_fraction() -> None:
    b7 = indicator(
        "B7", 6, name="双向转诊", metric="referral_receipt", target="1", when_empty="0.5"
    )
    assert points(b7, None) == D("3.00")


def test_empty_value_detail_says_there_was_nothing_to_count() -> None:
    detail = score_one(indicator(when_empty="0.5"), None).indicators[0].detail
    assert detail == "无统计对象，按满分的 0.5 计：5 × 0.5 = 2.50"


def test_empty_value_is_kept_as_none() -> None:
    assert score_one(indicator(when_empty="0.5"), None).indicators[0].value is None


def test_empty_value_without_when_empty_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 A1（签约覆盖率）的数值为空"):
        score_one(indicator(), None)


def test_empty_mean_scale_uses_when_empty() -> None:
    assert points(satisfaction(when_empty="0.6"), None) == D("6.00")


def test_b7_of_the_city_index_scores_half_without_referrals() -> None:
    values = city_values()
    result = score(load_index(INDEXES_DIR / "city-2026.toml"), values)
    b7 = result.get("B7")
    assert b7 is not None and b7.points == D("3.00")


# --------------------------------------------------------------------------- bands


def test_bands_below_the_lowest_threshold_score_zero() -> None:
    assert points(bands(), D("0.59")) == D("0.00")


def test_bands_below_the_lowest_threshold_score_the_floor() -> None:
    assert points(bands(floor="0.2"), D("0.59")) == D("2.00")


def test_bands_exactly_at_a_threshold_reach_it() -> None:
    assert points(bands(), D("0.8")) == D("8.00")


def test_bands_just_under_a_threshold_stay_in_the_band_below() -> None:
    assert points(bands(), D("0.7999")) == D("5.00")


def test_bands_at_the_lowest_threshold_reach_it() -> None:
    assert points(bands(), D("0.6")) == D("5.00")


def test_bands_above_the_highest_threshold_score_its_fraction() -> None:
    assert points(bands(), D("1.5")) == D("10.00")


def test_bands_detail_names_the_band_reached() -> None:
    detail = score_one(bands(), D("0.85")).indicators[0].detail
    assert detail == "0.85 达到 0.8 档，得满分的 0.8：10 × 0.8 = 8.00"


def test_bands_detail_below_the_lowest_band() -> None:
    detail = score_one(bands(floor="0.2"), D("0.5")).indicators[0].detail
    assert detail == "0.5 未达到最低档 0.6，得满分的 0.2：10 × 0.2 = 2.00"


# --------------------------------------------------------------------------- deduction


def test_deduction_without_events_scores_the_maximum() -> None:
    assert points(ethics(), {"complaints": 0, "false_records": 0}) == D("8.00")


def test_deduction_subtracts_points_per_event() -> None:
    assert points(ethics(), {"complaints": 1, "false_records": 1}) == D("2.00")


def test_deduction_down_to_exactly_zero() -> None:
    assert points(ethics(), {"complaints": 0, "false_records": 2}) == D("0.00")


def test_deduction_is_floored_at_zero() -> None:
    assert points(ethics(), {"complaints": 3, "false_records": 1}) == D("0.00")


def test_deduction_detail_shows_each_event() -> None:
    detail = score_one(ethics(), {"complaints": 1, "false_records": 0}).indicators[0].detail
    assert detail == "8 − 2 × 1（经核实的投诉） − 4 × 0（经核查虚假的记录） = 6.00"


def test_deduction_detail_says_when_the_floor_applies() -> None:
    detail = score_one(ethics(), {"complaints": 3, "false_records": 1}).indicators[0].detail
    assert detail.endswith("= −2，扣完为止 → 0.00")


def test_deduction_keeps_the_counts_as_value() -> None:
    value = score_one(ethics(), {"complaints": 1, "false_records": 0}).indicators[0].value
    assert value == {"complaints": 1, "false_records": 0}


def test_deduction_with_a_missing_event_kind_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 C1（医德医风）缺少“经核查虚假的记录”"):
        score_one(ethics(), {"complaints": 1})


def test_deduction_with_an_unknown_event_kind_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 C1（医德医风）中未知的事件 'complaint'"):
        score_one(ethics(), {"complaint": 1, "complaints": 0, "false_records": 0})


@pytest.mark.parametrize("count", [-1, 1.5, D("1"), True, "1", None])
def test_deduction_count_must_be_a_non_negative_integer(count: object) -> None:
    with pytest.raises(ScoringError, match="“经核实的投诉”的次数必须是非负整数"):
        score_one(ethics(), {"complaints": count, "false_records": 0})


def test_deduction_count_above_a_billion_is_refused() -> None:
    with pytest.raises(ScoringError, match="“经核实的投诉”的次数过大"):
        score_one(ethics(), {"complaints": 10**9 + 1, "false_records": 0})


def test_deduction_value_must_be_a_mapping() -> None:
    with pytest.raises(ScoringError, match="指标 C1（医德医风）的数值必须是各类事件的次数"):
        score_one(ethics(), 2)


# --------------------------------------------------------------------------- mean_scale


def test_mean_scale_zero_scores_zero() -> None:
    assert points(satisfaction(), 0) == D("0.00")


def test_mean_scale_100_scores_the_maximum() -> None:
    assert points(satisfaction(), 100) == D("10.00")


def test_mean_scale_scales_the_mean() -> None:
    assert points(satisfaction(), 87.5) == D("8.75")


def test_mean_scale_detail() -> None:
    assert score_one(satisfaction(), 87.5).indicators[0].detail == "87.5 ÷ 100 × 10 = 8.75"


def test_mean_above_100_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 C3（满意度）是 0–100 分的平均分，不能大于 100"):
        score_one(satisfaction(), D("100.01"))


# --------------------------------------------------------------------------- manual


def test_manual_number_is_the_points() -> None:
    assert points(manual(), 2.5) == D("2.50")


def test_manual_mapping_gives_points_and_reason() -> None:
    item = score_one(manual(), {"points": 2, "reason": " 未公示 "}).indicators[0]
    assert (item.points, item.reason) == (D("2.00"), "未公示")


def test_manual_detail_includes_the_reason() -> None:
    item = score_one(manual(), {"points": 2, "reason": "未公示"}).indicators[0]
    assert item.detail == "考核人员评分 2.00（满分 3），理由：未公示"


def test_manual_zero_is_allowed() -> None:
    assert points(manual(), {"points": 0, "reason": "无制度"}) == D("0.00")


def test_manual_maximum_is_allowed() -> None:
    assert points(manual(), 3) == D("3.00")


def test_manual_points_with_more_places_round_half_up() -> None:
    assert points(manual(), D("2.125")) == D("2.13")


def test_manual_below_maximum_without_reason_is_a_warning() -> None:
    result = score_one(manual(), 2)
    assert result.warnings == ("指标 A4（内部管理）手工评分 2.00 分低于满分 3 分，但未填写理由",)


def test_manual_below_maximum_without_reason_needs_a_reason() -> None:
    result = score_one(manual(), 2)
    assert result.missing_reasons == ("A4",)
    assert result.indicators[0].needs_reason


def test_manual_below_maximum_with_reason_has_no_warning() -> None:
    assert score_one(manual(), {"points": 2, "reason": "未公示"}).warnings == ()


def test_manual_blank_reason_counts_as_none() -> None:
    assert score_one(manual(), {"points": 2, "reason": "  "}).missing_reasons == ("A4",)


def test_manual_maximum_without_reason_has_no_warning() -> None:
    assert score_one(manual(), {"points": 3}).warnings == ()


@pytest.mark.parametrize("given", [D("3.01"), -1, D("-0.01")])
def test_manual_points_outside_0_to_max_are_an_error(given: object) -> None:
    with pytest.raises(ScoringError, match="指标 A4（内部管理）的手工评分应在 0 到 3 分之间"):
        score_one(manual(), given)


def test_manual_none_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 A4（内部管理）缺少手工评分"):
        score_one(manual(), None)


def test_manual_mapping_without_points_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 A4（内部管理）的手工评分缺少分数 points"):
        score_one(manual(), {"reason": "未公示"})


def test_manual_mapping_with_unknown_keys_is_an_error() -> None:
    with pytest.raises(ScoringError, match="只能包含 points 和 reason，多了：note"):
        score_one(manual(), {"points": 3, "note": "x"})


def test_manual_reason_must_be_text() -> None:
    with pytest.raises(ScoringError, match="指标 A4（内部管理）的评分理由必须是文字"):
        score_one(manual(), {"points": 2, "reason": 5})


# --------------------------------------------------------------------------- refused values


def test_missing_indicator_is_an_error_naming_it_in_chinese() -> None:
    with pytest.raises(ScoringError, match="^指标 A1（签约覆盖率）缺少数值$"):
        score(make_index(indicator()), {})


def test_scoring_error_carries_the_indicator_code() -> None:
    with pytest.raises(ScoringError) as caught:
        score(make_index(indicator()), {})
    assert caught.value.code == "A1"


def test_unknown_extra_code_is_an_error() -> None:
    with pytest.raises(ScoringError, match="未知的指标代码 'A9'"):
        score(make_index(indicator()), {"A1": 0.3, "A9": 1})


@pytest.mark.parametrize("value", ["0.31", True, [0.31], {"value": 0.31}])
def test_value_of_the_wrong_type_is_an_error(value: object) -> None:
    with pytest.raises(ScoringError, match="指标 A1（签约覆盖率）的数值必须是数字"):
        score_one(indicator(), value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), D("NaN"), D("-Infinity")])
def test_non_finite_value_is_an_error(value: object) -> None:
    with pytest.raises(ScoringError, match="指标 A1（签约覆盖率）的数值必须是有限的数字"):
        score_one(indicator(), value)


def test_negative_ratio_is_an_error() -> None:
    with pytest.raises(ScoringError, match="指标 A1（签约覆盖率）的数值不能为负数，收到 -0.1"):
        score_one(indicator(), -0.1)


def test_values_must_be_a_mapping() -> None:
    with pytest.raises(ScoringError, match="数值必须是以指标代码为键的映射"):
        score(make_index(indicator()), [("A1", 0.3)])  # type: ignore[arg-type]


def test_scoring_error_is_a_value_error() -> None:
    assert issubclass(ScoringError, ValueError)


# --------------------------------------------------------------------------- the result


def test_city_index_example_total() -> None:
    result = score(load_index(INDEXES_DIR / "city-2026.toml"), city_values())
    assert result.total == D("88.74")


def test_city_index_example_dimensions() -> None:
    result = score(load_index(INDEXES_DIR / "city-2026.toml"), city_values())
    assert [(d.code, d.points, d.max_points) for d in result.dimensions] == [
        ("A", D("19.27"), D(20)),
        ("B", D("42.72"), D(50)),
        ("C", D("26.75"), D(30)),
    ]


def test_result_names_the_index_and_its_version() -> None:
    result = score_one(indicator(), 0.31)
    assert (result.index_code, result.index_version, result.max_total) == ("test", 3, D(5))


def test_indicator_score_carries_name_value_and_fraction() -> None:
    item = score_one(indicator(), 0.31).indicators[0]
    assert (item.code, item.name, item.dimension, item.rule) == (
        "A1",
        "签约覆盖率",
        "A",
        "ratio_to_target",
    )
    assert (item.value, item.max_points, item.fraction) == (D("0.31"), D(5), D("0.8860"))


def test_below_threshold_lists_indicators_under_60_percent() -> None:
    result = score(load_index(INDEXES_DIR / "city-2026.toml"), city_values())
    assert result.below_threshold() == ("B6", "B7")


def test_below_threshold_excludes_exactly_60_percent() -> None:
    assert score_one(manual(5), {"points": 3, "reason": "x"}).below_threshold() == ()


def test_below_threshold_uses_the_rounded_points() -> None:
    # 5 × 0.2099 ÷ 0.35 = 2.9986 → 3.00, which is 60%.
    assert score_one(indicator(), D("0.2099")).below_threshold() == ()


def test_below_threshold_takes_another_fraction() -> None:
    assert score_one(indicator(), 0.31).below_threshold(D("0.9")) == ("A1",)


def test_result_get_unknown_code_is_none() -> None:
    assert score_one(indicator(), 0.31).get("Z9") is None


# --------------------------------------------------------------------------- one indicator


def test_one_indicator_scores_exactly_as_the_whole_index_does() -> None:
    index = load_index(INDEXES_DIR / "city-2026.toml")
    values = city_values()
    whole = score(index, values)
    for item in index.indicators:
        one = score_indicator(item, values[item.code])
        assert one == whole.get(item.code), item.code


def test_an_empty_metric_without_when_empty_is_unscorable_for_want_of_data() -> None:
    result = score_indicator(satisfaction(), None)
    assert isinstance(result, Unscorable)
    assert (result.code, result.kind) == ("C3", "no_data")
    assert "无统计对象" in result.message


def test_an_empty_metric_with_when_empty_is_scored() -> None:
    result = score_indicator(satisfaction(when_empty="0.5"), None)
    assert isinstance(result, IndicatorScore) and result.points == D("5.00")


def test_a_value_its_rule_cannot_score_is_unscorable_with_the_scoring_message() -> None:
    result = score_indicator(satisfaction(), D(101))
    assert isinstance(result, Unscorable)
    assert result.kind == "invalid"
    with pytest.raises(ScoringError) as refused:
        score_one(satisfaction(), D(101))
    assert result.message == str(refused.value)


def test_a_manual_indicator_without_points_is_unscorable() -> None:
    result = score_indicator(manual(), None)
    assert isinstance(result, Unscorable) and result.kind == "no_points"
    given = score_indicator(manual(), {"points": 2, "reason": "台账不全"})
    assert isinstance(given, IndicatorScore)
    assert (given.points, given.reason) == (D("2.00"), "台账不全")


def test_one_indicator_ignores_the_callers_decimal_context() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_DOWN
        result = score_indicator(indicator(max_points=5, target="0.35"), D("0.31"))
    assert isinstance(result, IndicatorScore) and result.points == D("4.43")


# --------------------------------------------------------------------------- an assessment's items


def test_metric_indicators_are_scored_and_the_unscorable_left_to_the_assessor() -> None:
    index = make_index(
        indicator("A1"), satisfaction(), indicator("B1", metric="referral_receipt"), manual()
    )
    scored, unscorable = score_metric_indicators(index, {"A1": D("0.35"), "C3": D(101)})
    assert {code: s.points for code, s in scored.items()} == {"A1": D("5.00")}
    assert unscorable["B1"] == "无统计对象，且该指标未规定无数据时的得分，须由考核人员评分"
    assert unscorable["C3"].startswith("指标数值无法计分（") and unscorable["C3"].endswith(
        "），须由考核人员评分"
    )
    assert set(unscorable) == {"B1", "C3"}


def test_point_totals_sum_each_dimension_and_the_total_once_all_points_are_in() -> None:
    totals = point_totals([("A", D("1.25")), ("B", D("2.50")), ("A", D("3.00"))])
    assert totals is not None
    assert totals.dimensions == {"A": D("4.25"), "B": D("2.50")}
    assert (totals.dimension("C"), totals.total) == (D("0.00"), D("6.75"))
    assert point_totals([("A", D(1)), ("B", None)]) is None
    assert point_totals([]) is None
