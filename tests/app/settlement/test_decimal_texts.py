"""The gathered inputs' decimal texts are converted once each (``cascade._decimal``): the same
Decimal as ``Decimal(text)``, digit for digit, and what is no number is refused as before."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdoctor.settlement.cascade import _decimal


@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.sampled_from(["0", "-0", "0.90", "1E+2", "87.250", "NaN", "Infinity", "-sNaN"]),
        st.integers(-(10**30), 10**30),
    )
)
def test_a_text_converted_once_is_its_decimal(value: Any) -> None:
    first, second = _decimal(value), _decimal(value)
    expected = Decimal(value)
    assert repr(first) == repr(second) == repr(expected)
    if isinstance(value, str) and expected.is_finite():
        assert second is first


@pytest.mark.parametrize("text", ["", "abc", "1,5", "0.9.1"])
def test_a_text_that_is_no_number_is_refused_every_time(text: str) -> None:
    for _ in range(2):
        with pytest.raises(InvalidOperation):
            _decimal(text)
