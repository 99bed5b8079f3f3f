"""The cascade's shortcuts give what the arithmetic they stand for gives.

Scores checked once are remembered by value (``check_score``, a team's published L2 scores in
hundredths), a few Fraction operations are made from their integers (``times_whole``,
``whole_less``, ``fraction_of``, ``fraction_sum``), the team and management splits carry their
total weight, ``approx`` pads its digits itself and ``unique_keys`` counts names only when one
repeats. Each is held here to the plain computation or its definition, refusals included.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from assessments.cascade.groups import figure, unique_keys
from assessments.cascade.inputs import PublishedScore, TeamInput
from assessments.cascade.teams import team_mean
from assessments.cascade.text import approx
from assessments.checks import check_score
from assessments.distribution import LeaderInput, management_share
from assessments.money import (
    SettlementInputError,
    exact_decimal,
    fraction_of,
    fraction_sum,
    round_half_up,
    times_whole,
    to_fraction,
    whole_less,
)


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return repr(function(*args))
    except Exception as error:  # the refusal itself is what is compared
        return (type(error), str(error))


ODD_SCORES: list[Any] = [
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-0.01"),
    Decimal("100.01"),
    Decimal("87.125"),
    Decimal("-0"),
    Decimal("1E+2"),
    Decimal("1E+500"),
    100,
    True,
    87.5,
    None,
]


def _score() -> st.SearchStrategy[Any]:
    hundredths = st.builds(
        lambda n, extra: Decimal(n).scaleb(-2).quantize(Decimal(1).scaleb(-2 - extra)),
        st.integers(0, 10000),
        st.integers(0, 2),
    )
    return st.one_of(hundredths, hundredths, st.sampled_from(ODD_SCORES))


def _plain_check_score(value: Any, label: str) -> Fraction:
    score = to_fraction(value, label) if value is not None else None
    if score is None:
        raise SettlementInputError(f"缺少{label}")
    if not 0 <= score <= 100:
        raise SettlementInputError(f"{label}必须在 0 到 100 之间：{value}")
    if (score * 100).denominator != 1:
        raise SettlementInputError(f"{label}最多保留两位小数：{value}")
    return score


@settings(max_examples=300)
@given(_score())
def test_a_remembered_score_is_the_checked_score(value: Any) -> None:
    expected = _outcome(_plain_check_score, value, "得分")
    for _ in range(2):
        assert _outcome(check_score, value, "得分") == expected


def _plain_team_mean(team: TeamInput, year: int) -> Any:
    """``team_mean`` as it was: each score a Fraction, the mean their Fraction sum ÷ n."""
    values = []
    for score in team.l2:
        value = to_fraction(score.value, f"团队「{team.name}」{score.period} 的季度考核得分")
        if not 0 <= value <= 100 or 100 % value.denominator:
            raise SettlementInputError(
                f"团队「{team.name}」{score.period} 的季度考核得分必须在 0 到 100 之间、"
                f"最多两位小数：{score.value}"
            )
        values.append(value)
    exact = sum(values, Fraction(0)) / len(values)
    shown = exact_decimal(round_half_up(exact, 2)).quantize(Decimal("0.01"))
    return exact, shown, figure(exact)


@settings(max_examples=300)
@given(st.lists(_score(), min_size=1, max_size=4))
def test_a_team_mean_in_hundredths_is_the_fraction_mean(values: list[Any]) -> None:
    scores = tuple(
        PublishedScore("L2", f"2026-Q{q}", q, 1, value) for q, value in enumerate(values, 1)
    )
    team = TeamInput(1, "T1", "团队甲", "centre", 100, scores, ())
    expected = _outcome(_plain_team_mean, team, 2026)
    for _ in range(2):
        got = _outcome(lambda: _mean_parts(team_mean(team, 2026)))
        assert got == expected


def _mean_parts(mean: Any) -> tuple[Any, ...]:
    return mean.value, mean.shown, mean.text


fractions = st.fractions(max_denominator=10**12)


@given(fractions, st.integers(-(10**9), 10**9))
def test_fraction_helpers_are_the_operators(value: Fraction, whole: int) -> None:
    assert repr(times_whole(value, whole)) == repr(value * whole)
    assert repr(whole_less(whole, value)) == repr(whole - value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6))
def test_fraction_of_is_the_fraction(value: Decimal) -> None:
    assert repr(fraction_of(value)) == repr(Fraction(value))


def test_the_management_share_carries_its_total_weight() -> None:
    share = management_share(
        100_000,
        Decimal("0.05"),
        [
            LeaderInput("甲", "T1", Decimal("87.25"), Decimal("1.2")),
            LeaderInput("乙", "T2", Decimal("90.00"), Decimal("0.9")),
            LeaderInput("丙", "T3", Decimal("80.00"), probation=True),
        ],
    )
    assert share.total_weight == sum((Fraction(s.weight) for s in share.leaders), Fraction(0))
    assert share.total_weight == Fraction("104.7") + Fraction(81)


def _plain_approx(value: Fraction, places: int, sign: bool) -> str:
    """``approx`` by its definition: half-up to ``places``, written as ``exact_decimal`` writes
    it with thousands separators, ``≈`` when that is not the value itself."""
    rounded = round_half_up(value, places)
    text = f"{exact_decimal(rounded):,}"
    if sign and value > 0:
        text = "+" + text
    return text if rounded == value else f"≈{text}"


@settings(max_examples=500)
@given(
    st.one_of(
        st.fractions(max_denominator=10**9),
        st.builds(Fraction, st.integers(-(10**15), 10**15), st.sampled_from([1, 2, 8, 10**6])),
    ),
    st.sampled_from([0, 2, 6, 8]),
    st.booleans(),
)
def test_approx_is_its_definition(value: Fraction, places: int, sign: bool) -> None:
    assert approx(value, places, sign) == _plain_approx(value, places, sign)


@given(st.lists(st.sampled_from(["甲", "乙", "丙", "甲乙"]), max_size=6))
def test_unique_keys_are_the_names_with_codes_on_repeats(names: list[str]) -> None:
    codes = [f"U{i}" for i in range(len(names))]
    expected = [
        f"{n}（{c}）" if names.count(n) > 1 else n for n, c in zip(names, codes, strict=True)
    ]
    assert unique_keys(names, codes) == expected


@given(st.lists(st.one_of(fractions, st.integers(-5, 5).map(Fraction)), max_size=8))
def test_fraction_sum_is_the_sum(values: list[Fraction]) -> None:
    assert repr(fraction_sum(values)) == repr(sum(values, Fraction(0)))
    assert repr(fraction_sum([*values, 0.5])) == repr(sum([*values, 0.5], Fraction(0)))
