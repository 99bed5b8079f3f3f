"""The settlement's decimal texts: the shortest form, the same text for equal numbers whether
or not it was seen before, and the same refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessments.money import SettlementInputError
from fdoctor.settlement.figures import _dtext, dtext


def test_shortest_text_of_equal_numbers() -> None:
    assert [dtext(v) for v in (Decimal("60.00"), 60, Decimal("60"), Decimal("6E+1"))] == ["60"] * 4
    assert dtext(Decimal("0.1000")) == "0.1"
    assert dtext(Decimal("-0.00")) == "0"


def test_a_bool_or_a_float_is_refused_even_after_its_equal_number() -> None:
    assert dtext(1) == "1"
    with pytest.raises(SettlementInputError, match="布尔值"):
        dtext(True)  # type: ignore[arg-type]
    with pytest.raises(SettlementInputError, match="浮点数"):
        dtext(1.0)  # type: ignore[arg-type]


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**6), max_value=10**6
    )
)
def test_the_kept_text_is_the_text(value: Decimal) -> None:
    assert dtext(value) == _dtext(value)
    assert dtext(value) == dtext(value)
