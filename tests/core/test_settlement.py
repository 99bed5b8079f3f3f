"""Settlement arithmetic (assessments.settlement): pools, pre-allocation, splits, team shares."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessments.settlement import (
    MemberInput,
    PoolInput,
    PreallocationUnit,
    SettlementInputError,
    UnitInput,
    distribute_team,
    preallocate,
    settle_pools,
    split_by_ratio,
    workload_attainment,
)

# --------------------------------------------------------------------------- factories


def unit(name="甲", population=100, score=Decimal("90"), preallocated=0):
    return UnitInput(
        name=name, signed_population=population, score=score, preallocated_fen=preallocated
    )


def pool(*units, name="市区", fund=1000):
    return PoolInput(name=name, fund_fen=fund, units=list(units) or [unit()])


def settle_one(*units, fund=1000):
    return settle_pools([pool(*units, fund=fund)])[0]


def entitled(result):
    return {line.name: line.entitled_fen for line in result.units}


def member(name="张三", k=1, y=1, c=1, a=1, probation=False):
    return MemberInput(name=name, k=k, y=y, c=c, a=a, probation=probation)


# --------------------------------------------------------------------------- settle_pools


def test_a_pool_with_one_county_gets_the_whole_fund():
    result = settle_one(unit("禹州市", 500000, Decimal("87.5")), fund=123456789)
    assert entitled(result) == {"禹州市": 123456789}


def test_two_pools_are_settled_independently():
    urban = pool(
        unit("魏都区", 3, Decimal("80")),
        unit("建安区", 2, Decimal("90")),
        unit("东城区", 1, Decimal("60")),
        name="市区",
        fund=1001,
    )
    counties = pool(
        unit("禹州市", 100, Decimal("90")),
        unit("长葛市", 100, Decimal("60")),
        unit("鄢陵县", 50, Decimal("100")),
        name="县市",
        fund=1000,
    )
    results = settle_pools([urban, counties])
    # Weights 240/180/60 of 480: exact 500.5/375.375/125.125; weights 9000/6000/5000 of 20000.
    assert [entitled(r) for r in results] == [
        {"魏都区": 501, "建安区": 375, "东城区": 125},
        {"禹州市": 450, "长葛市": 300, "鄢陵县": 250},
    ]


def test_hundred_fen_over_three_equal_units_gives_34_to_the_first_name_in_unicode_order():
    result = settle_one(unit("甲"), unit("乙"), unit("丙"), fund=100)
    assert entitled(result) == {"甲": 33, "乙": 33, "丙": 34}


def test_a_zero_score_unit_is_entitled_to_nothing():
    result = settle_one(unit("甲", score=Decimal("0")), unit("乙"), unit("丙"), fund=1001)
    assert entitled(result)["甲"] == 0


def test_a_zero_population_unit_is_entitled_to_nothing():
    result = settle_one(unit("甲", population=0), unit("乙"), fund=1001)
    assert entitled(result) == {"甲": 0, "乙": 1001}


def test_the_worked_example_of_the_docs():
    result = settle_one(
        unit("魏都区", 210000, Decimal("91.5"), preallocated=80000000),
        unit("建安区", 180000, Decimal("88.25"), preallocated=40000000),
        unit("东城区", 30000, Decimal("92.75")),
        fund=123456789,
    )
    assert [(u.entitled_fen, u.balance_fen) for u in result.units] == [
        (62620529, -17379471),
        (51768260, 11768260),
        (9068000, 9068000),
    ]


def test_weight_is_population_times_score_exactly():
    line = settle_one(unit("甲", 210000, Decimal("91.5"))).units[0]
    assert line.weight == Decimal("19215000")


def test_share_is_the_exact_fraction_of_the_pool_weight():
    result = settle_one(unit("甲", 1, Decimal("1")), unit("乙", 2, Decimal("1")))
    assert [line.share for line in result.units] == [Fraction(1, 3), Fraction(2, 3)]


def test_share_display_is_rounded_half_up_to_eight_places():
    result = settle_one(unit("甲", 1, Decimal("1")), unit("乙", 2, Decimal("1")))
    assert [str(line.share_display) for line in result.units] == ["0.33333333", "0.66666667"]


def test_rounding_adjustment_is_entitled_minus_the_exact_value():
    result = settle_one(unit("甲"), unit("乙"), unit("丙"), fund=100)
    assert [line.rounding_adjustment for line in result.units] == [
        Fraction(-1, 3),
        Fraction(-1, 3),
        Fraction(2, 3),
    ]


def test_balance_is_entitled_minus_preallocated_and_negative_means_recover():
    line = settle_one(unit("甲", preallocated=1200), fund=1000).units[0]
    assert line.balance_fen == -200


def test_pool_totals_add_up_the_lines():
    result = settle_one(
        unit("甲", 3, Decimal("80"), preallocated=100),
        unit("乙", 2, Decimal("90"), preallocated=600),
        fund=1001,
    )
    assert (
        result.total_signed_population,
        result.total_weight,
        result.total_entitled_fen,
        result.total_preallocated_fen,
        result.total_balance_fen,
    ) == (5, Decimal("420"), 1001, 700, 301)


def test_the_same_unit_name_may_appear_in_two_pools():
    results = settle_pools(
        [pool(unit("中心卫生院"), name="甲县"), pool(unit("中心卫生院"), name="乙县")]
    )
    assert [r.units[0].entitled_fen for r in results] == [1000, 1000]


def test_a_zero_fund_entitles_everybody_to_zero():
    assert entitled(settle_one(unit("甲"), unit("乙"), fund=0)) == {"甲": 0, "乙": 0}


def test_an_integral_decimal_fund_is_accepted():
    assert settle_one(fund=Decimal("1000")).fund_fen == 1000  # type: ignore[arg-type]


def test_a_score_with_a_trailing_zero_third_place_is_accepted():
    assert settle_one(unit(score=Decimal("91.500"))).units[0].score == Decimal("91.5")


def test_an_integer_score_is_accepted():
    assert settle_one(unit(score=100)).units[0].weight == Decimal("10000")


def test_no_pools_settle_to_no_results():
    assert settle_pools([]) == []


@given(
    fund=st.integers(0, 10**11),
    lines=st.lists(
        st.tuples(
            st.integers(0, 2_000_000),
            st.decimals(min_value=0, max_value=100, places=2),
        ),
        min_size=1,
        max_size=15,
    ).filter(lambda ls: any(p > 0 and s > 0 for p, s in ls)),
)
def test_a_pool_always_pays_out_exactly_its_fund(fund, lines):
    units = [unit(f"单位{i}", p, s) for i, (p, s) in enumerate(lines)]
    assert settle_one(*units, fund=fund).total_entitled_fen == fund


# --------------------------------------------------------------------------- settle errors


def test_negative_population_is_an_error_naming_pool_unit_and_field():
    with pytest.raises(
        SettlementInputError, match="结算池「市区」中单位「甲」的签约人口不能为负数"
    ):
        settle_one(unit("甲", population=-1))


def test_missing_population_is_an_error():
    with pytest.raises(SettlementInputError, match="缺少结算池「市区」中单位「甲」的签约人口"):
        settle_one(unit("甲", population=None))


def test_fractional_population_is_an_error():
    with pytest.raises(SettlementInputError, match="签约人口必须是整数人"):
        settle_one(unit("甲", population=Decimal("10.5")))


def test_boolean_population_is_an_error():
    with pytest.raises(SettlementInputError, match="签约人口必须是数字，不能是布尔值"):
        settle_one(unit("甲", population=True))


def test_score_above_100_is_an_error():
    with pytest.raises(SettlementInputError, match="单位「甲」的考核得分必须在 0 到 100 之间"):
        settle_one(unit("甲", score=Decimal("100.01")))


def test_negative_score_is_an_error():
    with pytest.raises(SettlementInputError, match="考核得分必须在 0 到 100 之间"):
        settle_one(unit("甲", score=Decimal("-1")))


def test_score_with_three_decimals_is_an_error():
    with pytest.raises(SettlementInputError, match="单位「甲」的考核得分最多保留两位小数"):
        settle_one(unit("甲", score=Decimal("91.555")))


def test_missing_score_is_an_error():
    with pytest.raises(SettlementInputError, match="缺少结算池「市区」中单位「甲」的考核得分"):
        settle_one(unit("甲", score=None))


def test_float_score_is_an_error():
    with pytest.raises(SettlementInputError, match="考核得分不能使用浮点数"):
        settle_one(unit("甲", score=91.5))


def test_boolean_score_is_an_error():
    with pytest.raises(SettlementInputError, match="考核得分必须是数字，不能是布尔值"):
        settle_one(unit("甲", score=True))


def test_nan_score_is_an_error():
    with pytest.raises(SettlementInputError, match="考核得分必须是有限的数字"):
        settle_one(unit("甲", score=Decimal("NaN")))


def test_a_pool_whose_weights_are_all_zero_is_an_error():
    with pytest.raises(
        SettlementInputError, match="结算池「市区」所有单位的“签约人口×考核得分”均为 0"
    ):
        settle_one(unit("甲", score=Decimal("0")), unit("乙", population=0))


def test_a_fund_with_a_fraction_of_a_fen_is_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」的资金总额必须是整数分"):
        settle_one(fund=Decimal("12.5"))


def test_a_fund_given_as_text_is_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」的资金总额必须是数字"):
        settle_one(fund="abc")


def test_a_negative_fund_is_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」的资金总额不能为负数"):
        settle_one(fund=-1)


def test_a_boolean_fund_is_an_error():
    with pytest.raises(SettlementInputError, match="资金总额必须是数字，不能是布尔值"):
        settle_one(fund=True)


def test_a_missing_fund_is_an_error():
    with pytest.raises(SettlementInputError, match="缺少结算池「市区」的资金总额"):
        settle_one(fund=None)


def test_a_negative_preallocation_is_an_error():
    with pytest.raises(SettlementInputError, match="单位「甲」的预拨金额不能为负数"):
        settle_one(unit("甲", preallocated=-1))


def test_duplicate_unit_names_in_a_pool_are_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」中单位名称重复：「甲」"):
        settle_one(unit("甲"), unit("甲"))


def test_duplicate_pool_names_are_an_error():
    with pytest.raises(SettlementInputError, match="结算池名称重复：「市区」"):
        settle_pools([pool(name="市区"), pool(name="市区")])


def test_a_pool_without_units_is_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」没有参与结算的单位"):
        settle_pools([PoolInput(name="市区", fund_fen=100, units=[])])


def test_a_blank_unit_name_is_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」第 2 个单位的名称不能为空"):
        settle_one(unit("甲"), unit("  "))


def test_a_missing_pool_name_is_an_error():
    with pytest.raises(SettlementInputError, match="缺少第 1 个结算池的名称"):
        settle_pools([PoolInput(name=None, fund_fen=100, units=[unit()])])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- preallocate


def test_first_year_preallocation_goes_by_signed_population():
    result = preallocate(10000, [PreallocationUnit("甲", 300), PreallocationUnit("乙", 100)])
    assert [line.preallocated_fen for line in result.lines] == [5250, 1750]


def test_preallocation_is_seventy_percent_of_last_year_by_default():
    result = preallocate(
        10000, [PreallocationUnit("甲", 1, 4000), PreallocationUnit("乙", 1, 3000)]
    )
    assert [line.preallocated_fen for line in result.lines] == [2800, 2100]


def test_budget_left_by_units_with_history_is_unallocated_when_all_have_history():
    result = preallocate(
        10000, [PreallocationUnit("甲", 1, 4000), PreallocationUnit("乙", 1, 3000)]
    )
    assert (result.budget_fen, result.preallocated_fen, result.unallocated_fen) == (
        7000,
        4900,
        2100,
    )


def test_units_without_history_share_by_population_what_the_others_leave():
    result = preallocate(
        10000,
        [
            PreallocationUnit("甲", 1, 4000),
            PreallocationUnit("乙", 1, 3000),
            PreallocationUnit("丙", 300),
            PreallocationUnit("丁", 100),
        ],
    )
    assert [(line.basis, line.preallocated_fen) for line in result.lines] == [
        ("last_year", 2800),
        ("last_year", 2100),
        ("population", 1575),
        ("population", 525),
    ]


def test_claims_above_the_budget_are_scaled_down_and_newcomers_get_nothing_yet():
    result = preallocate(
        5000,
        [
            PreallocationUnit("甲", 1, 4000),
            PreallocationUnit("乙", 1, 3000),
            PreallocationUnit("丙", 300),
        ],
    )
    assert [line.preallocated_fen for line in result.lines] == [2000, 1500, 0]


def test_preallocation_rate_is_configurable():
    result = preallocate(10000, [PreallocationUnit("甲", 1, 4000)], Decimal("0.5"))
    assert result.lines[0].preallocated_fen == 2000


def test_a_zero_last_year_amount_counts_as_history():
    result = preallocate(10000, [PreallocationUnit("甲", 100, 0), PreallocationUnit("乙", 100)])
    assert [line.preallocated_fen for line in result.lines] == [0, 7000]


def test_preallocation_budget_is_rounded_half_up():
    assert preallocate(5, [PreallocationUnit("甲", 1)], Decimal("0.5")).budget_fen == 3


@given(
    fund=st.integers(0, 10**10),
    units=st.lists(
        st.tuples(st.integers(0, 10**6), st.none() | st.integers(0, 10**10)),
        min_size=1,
        max_size=10,
    ),
    rate=st.decimals(min_value=0, max_value=1, places=2),
)
def test_preallocation_never_exceeds_its_budget(fund, units, rate):
    lines = [PreallocationUnit(f"单位{i}", p, last) for i, (p, last) in enumerate(units)]
    result = preallocate(fund, lines, rate)
    assert sum(line.preallocated_fen for line in result.lines) + result.unallocated_fen == (
        result.budget_fen
    )


def test_preallocation_rate_above_one_is_an_error():
    with pytest.raises(SettlementInputError, match="结算池「市区」的预拨比例必须在 0 到 1 之间"):
        preallocate(100, [PreallocationUnit("甲", 1)], Decimal("1.1"), pool_name="市区")


def test_negative_last_year_amount_is_an_error():
    with pytest.raises(SettlementInputError, match="单位「甲」的上年应得金额不能为负数"):
        preallocate(100, [PreallocationUnit("甲", 1, -5)])


def test_duplicate_names_in_a_preallocation_are_an_error():
    with pytest.raises(SettlementInputError, match="单位名称重复：「甲」"):
        preallocate(100, [PreallocationUnit("甲", 1), PreallocationUnit("甲", 2)])


def test_a_preallocation_without_units_is_an_error():
    with pytest.raises(SettlementInputError, match="没有参与预拨的单位"):
        preallocate(100, [])


# --------------------------------------------------------------------------- split_by_ratio


def test_split_sixty_forty_gives_the_odd_fen_to_the_larger_remainder():
    assert split_by_ratio(101, {"中心": 60, "站": 40}) == {"中心": 61, "站": 40}


def test_split_ratios_are_proportions():
    assert split_by_ratio(101, {"中心": Decimal("0.6"), "站": Decimal("0.4")}) == split_by_ratio(
        101, {"中心": 3, "站": 2}
    )


def test_split_keeps_the_configured_order():
    assert list(split_by_ratio(100, {"乡镇": 40, "村": 60})) == ["乡镇", "村"]


def test_split_with_a_negative_ratio_is_an_error():
    with pytest.raises(SettlementInputError, match="拆分对象「站」的比例不能为负数"):
        split_by_ratio(100, {"中心": 60, "站": -40})


def test_split_with_all_ratios_zero_is_an_error():
    with pytest.raises(SettlementInputError, match="拆分比例全部为 0"):
        split_by_ratio(100, {"中心": 0, "站": 0})


def test_split_without_ratios_is_an_error():
    with pytest.raises(SettlementInputError, match="没有配置拆分比例"):
        split_by_ratio(100, {})


def test_split_with_a_float_ratio_is_an_error():
    with pytest.raises(SettlementInputError, match="拆分对象「中心」的比例不能使用浮点数"):
        split_by_ratio(100, {"中心": 0.6, "站": Decimal("0.4")})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- workload_attainment


def test_full_workload_gives_k_one():
    assert workload_attainment(60, 60) == Decimal("1")


def test_workload_attainment_is_capped_at_one_point_two_by_default():
    assert workload_attainment(90, 60) == Decimal("1.2")


def test_workload_attainment_cap_is_configurable():
    assert workload_attainment(90, 60, cap=Decimal("1.5")) == Decimal("1.5")


def test_workload_attainment_is_rounded_half_up_to_four_places():
    assert workload_attainment(5, 6) == Decimal("0.8333")


def test_workload_attainment_with_a_zero_standard_is_an_error():
    with pytest.raises(SettlementInputError, match="标准工作量必须大于 0"):
        workload_attainment(5, 0)


def test_workload_attainment_with_negative_work_done_is_an_error():
    with pytest.raises(SettlementInputError, match="完成工作量不能为负数"):
        workload_attainment(-1, 60)


def test_workload_attainment_with_a_non_positive_cap_is_an_error():
    with pytest.raises(SettlementInputError, match="工作量达标系数上限必须大于 0"):
        workload_attainment(1, 60, cap=0)


# --------------------------------------------------------------------------- distribute_team


def team_example():
    return [
        member("张三"),
        member("李四", k=Decimal("1.2"), y=Decimal("1.5")),
        member("王五", probation=True),
        member("赵六", k=Decimal("0.6"), c=Decimal("0.8"), a=Decimal("0.5")),
    ]


def test_team_distribution_keeps_the_reserve_and_splits_the_rest_by_kyca():
    result = distribute_team(10000, Decimal("0.10"), team_example())
    # Weights 1, 1.8, 0 and 0.24 share 9000: exact 2960.53, 5328.95, 0 and 710.53.
    assert (result.reserve_fen, [m.amount_fen for m in result.members]) == (
        1000,
        [2961, 5329, 0, 710],
    )


def test_team_distribution_ties_go_to_the_larger_weight():
    # 张三 (weight 1) and 赵六 (weight 0.24) have equal remainders 160/304; 张三 gets the fen.
    result = distribute_team(10000, Decimal("0.10"), team_example())
    amounts = {m.name: m.amount_fen for m in result.members}
    assert (amounts["张三"], amounts["赵六"]) == (2961, 710)


def test_member_weight_is_k_times_y_times_c_times_a():
    result = distribute_team(10000, Decimal("0.10"), team_example())
    assert [m.weight for m in result.members] == [
        Decimal("1"),
        Decimal("1.8"),
        Decimal("0"),
        Decimal("0.24"),
    ]


def test_probation_members_get_nothing_and_carry_no_weight():
    result = distribute_team(1000, 0, [member("甲"), member("乙", probation=True)])
    assert [(m.weight, m.amount_fen) for m in result.members] == [
        (Decimal("1"), 1000),
        (Decimal("0"), 0),
    ]


def test_reserve_is_rounded_half_up_to_the_fen():
    assert distribute_team(12345, Decimal("0.10"), [member()]).reserve_fen == 1235


def test_reserve_just_below_a_half_is_rounded_down():
    assert distribute_team(12344, Decimal("0.10"), [member()]).reserve_fen == 1234


def test_zero_reserve_rate_distributes_everything():
    assert distribute_team(12345, 0, [member()]).distributed_fen == 12345


def test_when_no_member_carries_weight_the_whole_amount_stays_in_the_reserve():
    result = distribute_team(
        10000, Decimal("0.10"), [member("甲", probation=True), member("乙", a=0)]
    )
    assert (result.configured_reserve_fen, result.reserve_fen, result.distributed_fen) == (
        1000,
        10000,
        0,
    )


def test_performance_coefficient_bounds_are_inclusive():
    result = distribute_team(
        100, 0, [member("甲", c=Decimal("0.8")), member("乙", c=Decimal("1.2"))]
    )
    assert [m.amount_fen for m in result.members] == [40, 60]


@given(
    amount=st.integers(0, 10**9),
    rate=st.decimals(min_value=0, max_value=1, places=3),
    coefficients=st.lists(
        st.tuples(
            st.decimals(min_value=0, max_value=Decimal("1.2"), places=2),
            st.decimals(min_value=Decimal("0.5"), max_value=3, places=2),
            st.decimals(min_value=Decimal("0.8"), max_value=Decimal("1.2"), places=2),
            st.decimals(min_value=0, max_value=1, places=2),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_reserve_plus_distributed_is_always_the_whole_amount(amount, rate, coefficients):
    members = [
        member(f"成员{i}", k, y, c, a, probation)
        for i, (k, y, c, a, probation) in enumerate(coefficients)
    ]
    result = distribute_team(amount, rate, members)
    assert result.reserve_fen + sum(m.amount_fen for m in result.members) == amount


def test_performance_coefficient_below_range_is_an_error():
    with pytest.raises(
        SettlementInputError, match="成员「张三」的个人绩效考评系数 c 必须在 0.8 到 1.2 之间"
    ):
        distribute_team(100, 0, [member(c=Decimal("0.79"))])


def test_performance_coefficient_above_range_is_an_error():
    with pytest.raises(SettlementInputError, match="个人绩效考评系数 c 必须在 0.8 到 1.2 之间"):
        distribute_team(100, 0, [member(c=Decimal("1.21"))])


def test_attendance_above_one_is_an_error():
    with pytest.raises(SettlementInputError, match="成员「张三」的出勤系数 a 必须在 0 到 1 之间"):
        distribute_team(100, 0, [member(a=Decimal("1.01"))])


def test_negative_attendance_is_an_error():
    with pytest.raises(SettlementInputError, match="出勤系数 a 必须在 0 到 1 之间"):
        distribute_team(100, 0, [member(a=-1)])


def test_negative_workload_attainment_is_an_error():
    with pytest.raises(SettlementInputError, match="成员「张三」的工作量达标系数 k 不能为负数"):
        distribute_team(100, 0, [member(k=-1)])


def test_zero_post_coefficient_is_an_error():
    with pytest.raises(SettlementInputError, match="成员「张三」的岗位系数 y 必须大于 0"):
        distribute_team(100, 0, [member(y=0)])


def test_missing_coefficient_is_an_error():
    with pytest.raises(SettlementInputError, match="缺少成员「张三」的工作量达标系数 k"):
        distribute_team(100, 0, [member(k=None)])


def test_reserve_rate_above_one_is_an_error():
    with pytest.raises(SettlementInputError, match="部门基金提取比例必须在 0 到 1 之间"):
        distribute_team(100, Decimal("1.5"), [member()])


def test_negative_reserve_rate_is_an_error():
    with pytest.raises(SettlementInputError, match="部门基金提取比例必须在 0 到 1 之间"):
        distribute_team(100, Decimal("-0.1"), [member()])


def test_boolean_reserve_rate_is_an_error():
    with pytest.raises(SettlementInputError, match="部门基金提取比例必须是数字，不能是布尔值"):
        distribute_team(100, True, [member()])


def test_fractional_team_amount_is_an_error():
    with pytest.raises(SettlementInputError, match="团队待分配金额必须是整数分"):
        distribute_team(Decimal("100.5"), 0, [member()])  # type: ignore[arg-type]


def test_duplicate_member_names_are_an_error():
    with pytest.raises(SettlementInputError, match="成员姓名重复：「张三」"):
        distribute_team(100, 0, [member(), member()])


def test_a_team_without_members_is_an_error():
    with pytest.raises(SettlementInputError, match="团队没有成员"):
        distribute_team(100, 0, [])


def test_a_non_boolean_probation_flag_is_an_error():
    with pytest.raises(SettlementInputError, match="成员「张三」的试用期标记必须是 true 或 false"):
        distribute_team(100, 0, [member(probation="否")])
