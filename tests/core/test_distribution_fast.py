"""The team split's fast path (integers, remembered factors) against its general path.

``distribute_members`` first tries ``_distribute_decimal``, which takes only ordinary teams
(Decimal factors in range, plain names and flags) and otherwise answers None; the general path
then runs as before. Here the two give the same result, field for field and digit for digit,
and every team the general path refuses is left to it, so each refusal reads the same.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from assessments import distribution
from assessments.distribution import DistributionMember, distribute_members
from assessments.money import largest_remainder, split_scaled


def _decimal(low: int, high: int, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals from low to high in steps of 10 ** -places, written with trailing zeros added
    (extra ≥ 0) or taken away (normalized: ``1E+2``)."""

    def build(n: int, extra: int) -> Decimal:
        value = Decimal(n).scaleb(-places)
        if extra < 0:
            return value.normalize()
        return value.quantize(Decimal(1).scaleb(-places - extra))

    return st.builds(build, st.integers(low, high), st.integers(-1, 2))


NAMES = ["甲", "乙", "丙", "丁", "戊", "己"]
ORDINARY_RATES = [Decimal("0.1"), Decimal("0"), Decimal("1"), Decimal("0.15"), Decimal("0.100")]


def _member() -> st.SearchStrategy[DistributionMember]:
    return st.builds(
        DistributionMember,
        name=st.sampled_from(NAMES),
        k=_decimal(0, 15000, 4),
        y=_decimal(1, 30, 1),
        c=_decimal(80, 120, 2),
        a=_decimal(0, 10000, 4),
        probation=st.booleans(),
        leader=st.booleans(),
        deduction_points=st.sampled_from(
            [Decimal(0), Decimal("0.0"), Decimal("2.5"), Decimal(100), 0, 3]
        ),
    )


def _team() -> st.SearchStrategy[tuple[Any, ...]]:
    """An ordinary team: unique names, factors in range, an amount in fen, a rate."""
    members = st.lists(_member(), min_size=1, max_size=6, unique_by=lambda m: m.name)
    return st.tuples(st.integers(0, 10**8), members, st.sampled_from(ORDINARY_RATES), st.booleans())


# Values the general path refuses, or takes though the fast path does not (an int, a Decimal
# amount), by the place they are put in, one at a time, in an ordinary team.
ODD_FACTORS: list[Any] = [
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-0"),
    Decimal("0"),
    Decimal("-0.0001"),
    Decimal("0.7999"),
    Decimal("1.2001"),
    Decimal("1.0001"),
    Decimal("1E+500"),
    Decimal("1E-500"),
    Decimal("1E+1"),
    Fraction(1, 10),
    1,
    True,
    0.5,
    None,
]
ODD_VALUES: dict[str, list[Any]] = {
    "amount": [-1, Decimal(100), Decimal("100.5"), 1.0, True, None],
    "rate": [Decimal("1.5"), Decimal("NaN"), Decimal("-0.1"), Decimal("1.0001"), 0, None],
    "name": ["", " ", 1, None, "甲"],
    "k": ODD_FACTORS,
    "y": ODD_FACTORS,
    "c": ODD_FACTORS,
    "a": ODD_FACTORS,
    "probation": [0, 1, None, "否"],
    "deduction_points": [Decimal("-1"), Decimal("NaN"), Decimal("sNaN"), None, 0.5, -2],
}


@st.composite
def _odd_team(draw: st.DrawFn) -> tuple[Any, ...]:
    amount, members, rate, leaders_in_split = draw(_team())
    place = draw(st.sampled_from(["members", *ODD_VALUES]))
    value = draw(st.sampled_from(ODD_VALUES.get(place, [None])))
    if place == "amount":
        amount = value
    elif place == "rate":
        rate = value
    elif place == "members":
        members = []
    else:
        index = draw(st.integers(0, len(members) - 1))
        members[index] = replace(members[index], **{place: value})
    return amount, members, rate, leaders_in_split


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return repr(function(*args))
    except Exception as error:  # the refusal itself is what is compared
        return (type(error), str(error))


def _general(amount: Any, members: Any, rate: Any, leaders_in_split: bool) -> Any:
    return distribution._distribute_general(amount, members, rate, leaders_in_split)


@settings(max_examples=400)
@given(_team())
def test_an_ordinary_team_takes_the_fast_path_and_gets_the_general_result(
    team: tuple[Any, ...],
) -> None:
    fast = distribution._distribute_decimal(*team)
    assert fast is not None
    assert repr(fast) == repr(_general(*team))


@settings(max_examples=1000)
@given(_odd_team())
def test_any_team_gets_the_general_result_or_refusal(team: tuple[Any, ...]) -> None:
    amount, members, rate, leaders_in_split = team
    expected = _outcome(_general, *team)
    fast = distribution._distribute_decimal(*team)
    if isinstance(expected, tuple):  # refused: the fast path leaves it to the general path
        assert fast is None
    elif fast is not None:
        assert repr(fast) == expected
    got = _outcome(
        lambda: distribute_members(
            amount, members, reserve_rate=rate, leaders_in_split=leaders_in_split
        )
    )
    assert got == expected


@given(
    st.integers(0, 10**6),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=8),
    st.integers(1, 10**6),
)
def test_split_scaled_is_the_largest_remainder_of_the_scaled_weights(
    total: int, weights: list[int], scale: int
) -> None:
    keys = [f"单位{i % 3}" for i in range(len(weights))]
    expected = _outcome(largest_remainder, total, [Fraction(w, scale) for w in weights], keys)
    assert _outcome(split_scaled, total, weights, keys) == expected
