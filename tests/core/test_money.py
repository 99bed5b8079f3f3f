"""Integer fen and the largest-remainder split (assessments.money)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessments.money import (
    SettlementInputError,
    exact_decimal,
    fen_to_decimal_yuan,
    largest_remainder,
    round_half_up,
    yuan,
)

# --------------------------------------------------------------------------- hand-computed


def test_exact_division_needs_no_leftover():
    assert largest_remainder(100, [1, 1, 2]) == [25, 25, 50]


def test_hundred_fen_over_three_equal_weights_gives_the_extra_fen_to_the_first_key_in_unicode_order():
    # "丙" (U+4E19) < "乙" (U+4E59) < "甲" (U+7532): code points, not the traditional order.
    assert largest_remainder(100, [1, 1, 1], ["甲", "乙", "丙"]) == [33, 33, 34]


def test_equal_remainders_go_to_the_larger_weight_before_the_key():
    # Exact parts 0.5 and 1.5: equal remainders, and the larger weight wins although "a" < "b".
    assert largest_remainder(2, [1, 3], ["a", "b"]) == [0, 2]


def test_equal_remainders_and_weights_without_keys_go_by_input_position():
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]


def test_repeated_keys_fall_back_to_input_position():
    assert largest_remainder(100, [1, 1, 1], ["x", "x", "x"]) == [34, 33, 33]


def test_largest_remainder_wins_the_leftover_fen():
    # Exact parts 500.5, 375.375, 125.125.
    assert largest_remainder(1001, [240, 180, 60]) == [501, 375, 125]


def test_zero_weight_gets_no_leftover_fen():
    assert largest_remainder(1, [0, 1, 1], ["a", "b", "c"]) == [0, 1, 0]


def test_decimal_weights_are_split_exactly():
    # 0.1 and 0.2 are exact as Decimals: the shares are exactly 1/3 and 2/3.
    assert largest_remainder(3, [Decimal("0.1"), Decimal("0.2")]) == [1, 2]


def test_fraction_weights_are_accepted():
    assert largest_remainder(10, [Fraction(1, 3), Fraction(2, 3)]) == [3, 7]


def test_zero_total_with_zero_weights_gives_zeros():
    assert largest_remainder(0, [0, 0]) == [0, 0]


def test_no_weights_and_zero_total_gives_an_empty_split():
    assert largest_remainder(0, []) == []


# --------------------------------------------------------------------------- errors


def test_positive_total_with_zero_total_weight_is_an_error():
    with pytest.raises(SettlementInputError, match="权重总和为 0"):
        largest_remainder(100, [0, 0])


def test_positive_total_with_no_weights_is_an_error():
    with pytest.raises(SettlementInputError, match="权重总和为 0"):
        largest_remainder(100, [])


def test_negative_weight_is_an_error_naming_the_key():
    with pytest.raises(SettlementInputError, match="「乙」的权重不能为负数"):
        largest_remainder(100, [1, -1], ["甲", "乙"])


def test_negative_weight_without_keys_names_the_position():
    with pytest.raises(SettlementInputError, match="第 2 个权重不能为负数"):
        largest_remainder(100, [1, -1])


def test_negative_total_is_an_error():
    with pytest.raises(SettlementInputError, match="待分配金额不能为负数"):
        largest_remainder(-1, [1])


def test_fractional_total_is_an_error():
    with pytest.raises(SettlementInputError, match="待分配金额必须是整数分"):
        largest_remainder(Decimal("12.5"), [1])  # type: ignore[arg-type]


def test_boolean_total_is_an_error():
    with pytest.raises(SettlementInputError, match="待分配金额必须是整数分"):
        largest_remainder(True, [1])


def test_float_weight_is_an_error():
    with pytest.raises(SettlementInputError, match="不能使用浮点数"):
        largest_remainder(100, [0.5, 1])  # type: ignore[list-item]


def test_boolean_weight_is_an_error():
    with pytest.raises(SettlementInputError, match="不能是布尔值"):
        largest_remainder(100, [True, 1])


def test_nan_weight_is_an_error():
    with pytest.raises(SettlementInputError, match="有限的数字"):
        largest_remainder(100, [Decimal("NaN"), 1])


def test_weight_with_a_huge_exponent_is_an_error():
    with pytest.raises(SettlementInputError, match="数量级超出范围"):
        largest_remainder(100, [Decimal("1E+999999999"), 1])


def test_keys_of_another_length_are_an_error():
    with pytest.raises(SettlementInputError, match="不一致"):
        largest_remainder(100, [1, 1], ["甲"])


# --------------------------------------------------------------------------- formatting


def test_yuan_formats_with_thousands_separators_and_two_places():
    assert yuan(123456) == "1,234.56"


def test_yuan_formats_small_amounts_with_a_leading_zero():
    assert yuan(5) == "0.05"


def test_yuan_formats_negative_amounts_with_a_leading_minus():
    assert yuan(-123456789) == "-1,234,567.89"


def test_fen_to_decimal_yuan_is_exact_with_two_places():
    assert str(fen_to_decimal_yuan(123456)) == "1234.56"


def test_fen_to_decimal_yuan_of_zero_keeps_two_places():
    assert str(fen_to_decimal_yuan(0)) == "0.00"


def test_round_half_up_rounds_halves_away_from_zero():
    assert (round_half_up(Fraction(5, 2)), round_half_up(Fraction(-5, 2))) == (3, -3)


def test_round_half_up_keeps_the_requested_places():
    assert round_half_up(Fraction(12345, 100000), 4) == Fraction(1235, 10000)


def test_exact_decimal_gives_the_shortest_form():
    assert str(exact_decimal(Fraction(27375, 100))) == "273.75"


def test_exact_decimal_refuses_a_non_terminating_fraction():
    with pytest.raises(ValueError):
        exact_decimal(Fraction(1, 3))


# --------------------------------------------------------------------------- properties

totals = st.integers(min_value=0, max_value=10**12)
decimal_weights = st.decimals(
    min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False
)
weight_lists = st.lists(st.one_of(decimal_weights, st.integers(0, 10**7)), min_size=1).filter(
    lambda weights: sum(weights) > 0
)


@given(total=totals, weights=weight_lists)
def test_parts_always_add_up_to_the_total(total, weights):
    assert sum(largest_remainder(total, weights)) == total


@given(total=totals, weights=weight_lists)
def test_every_part_is_strictly_within_one_fen_of_its_exact_value(total, weights):
    exact_total = sum(Fraction(w) for w in weights)
    parts = largest_remainder(total, weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * Fraction(weight) / exact_total) < 1


@given(total=totals, weights=weight_lists)
def test_every_part_is_the_floor_or_the_ceiling_of_its_exact_value(total, weights):
    exact_total = sum(Fraction(w) for w in weights)
    parts = largest_remainder(total, weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = total * Fraction(weight) / exact_total
        assert exact.__floor__() <= part <= exact.__ceil__()


@st.composite
def named_weights_and_permutation(draw):
    names = draw(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=12, unique=True))
    weights = draw(
        st.lists(
            st.sampled_from([0, 1, 2, 3, Decimal("0.5"), Decimal("91.5")]),
            min_size=len(names),
            max_size=len(names),
        ).filter(lambda ws: sum(ws) > 0)
    )
    order = draw(st.permutations(range(len(names))))
    return names, weights, order


@given(total=st.integers(0, 10**6), case=named_weights_and_permutation())
def test_permuting_the_input_does_not_change_any_named_part(total, case):
    names, weights, order = case
    before = dict(zip(names, largest_remainder(total, weights, names), strict=True))
    permuted_names = [names[i] for i in order]
    permuted_weights = [weights[i] for i in order]
    after = dict(
        zip(
            permuted_names,
            largest_remainder(total, permuted_weights, permuted_names),
            strict=True,
        )
    )
    assert after == before


@given(
    total=totals,
    weights=weight_lists,
    factor=st.one_of(
        st.integers(1, 10**6),
        st.decimals(min_value=Decimal("0.01"), max_value=10**4, places=2),
    ),
)
def test_scaling_all_weights_by_a_constant_changes_nothing(total, weights, factor):
    scaled = [Fraction(w) * Fraction(factor) for w in weights]
    assert largest_remainder(total, scaled) == largest_remainder(total, weights)
