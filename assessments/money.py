"""Money in integer fen (分) and the largest-remainder split.

Every amount in fdoctor is an ``int`` number of fen; yuan (元) appear only when printing.
No float ever takes part in a money decision: weights are converted to exact
``fractions.Fraction`` values (``Fraction(Decimal("91.5"))`` is exact), and every share is
compared as a fraction.

Largest-remainder method (最大余额法)
------------------------------------
To split ``total`` fen over weights ``w_1 … w_n`` (``W = Σ w_i > 0``):

1. each part's exact value is ``total × w_i / W`` (a fraction);
2. each part first gets the floor of its exact value;
3. the ``L = total − Σ floors`` leftover fen (``0 ≤ L < n``) go one each to the ``L`` parts with
   the largest fractional remainders.

The parts add up exactly to ``total`` and each part is within strictly less than one fen of its
exact value. A part with weight 0 has remainder 0 and so never receives a leftover fen.

Tie rule (stable and independent of input order when names are unique)
-----------------------------------------------------------------------
When two parts have equal fractional remainders, the leftover fen goes first to

1. the part with the **larger weight**; then
2. the part whose **key (name) sorts first in ascending Unicode code-point order** (Python's
   ``str`` ordering; for Chinese names this is neither pinyin nor stroke order, e.g.
   ``"丙" < "乙" < "甲"``, but it is the same on every machine and locale); then
3. the part that comes **first in the input** (only reachable when keys are missing or repeated).

Scaling every weight by the same positive constant changes neither the remainders nor the order
of the weights, so it changes no part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import cast

from assessments.memo import Memo

__all__ = [
    "SettlementInputError",
    "Weight",
    "exact_decimal",
    "exact_fraction",
    "fen_to_decimal_yuan",
    "fraction_of",
    "fraction_sum",
    "largest_remainder",
    "round_half_up",
    "split_scaled",
    "times_whole",
    "to_fraction",
    "whole_less",
    "yuan",
]

Weight = Decimal | int | Fraction
# Largest decimal exponent accepted in either direction (see ``to_fraction``).
MAX_EXPONENT = 100


class SettlementInputError(ValueError):
    """Input to the settlement arithmetic is invalid; the message is user-facing Chinese."""


def to_fraction(value: object, label: str) -> Fraction:
    """Convert an exact number (int, Decimal, Fraction) to a Fraction, refusing anything else.

    ``label`` names the value in the Chinese error message, e.g. ``"「魏都区」的权重"``.
    """
    kind = type(value)
    if kind is Fraction:  # the common cases first (a Fraction is immutable: no copy needed)
        return cast(Fraction, value)
    if kind is int:
        return Fraction(cast(int, value))
    if kind is Decimal:
        exact = exact_fraction(cast(Decimal, value))
        if exact is not None:
            return exact
    if isinstance(value, bool):
        raise SettlementInputError(f"{label}必须是数字，不能是布尔值：{value}")
    if isinstance(value, float):
        raise SettlementInputError(f"{label}不能使用浮点数，请使用整数或 Decimal：{value!r}")
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise SettlementInputError(f"{label}必须是有限的数字：{value}")
        # Fraction(Decimal("1E+999999999")) would build a huge integer; no input needs that.
        if not -MAX_EXPONENT <= int(value.as_tuple().exponent) <= MAX_EXPONENT:
            raise SettlementInputError(f"{label}的数量级超出范围：{value}")
        return Fraction(value)
    raise SettlementInputError(f"{label}必须是数字：{value!r}")


def exact_fraction(value: Decimal) -> Fraction | None:
    """``Fraction(value)`` of a finite Decimal within the accepted exponents, else None (then
    ``to_fraction`` names the problem). The hot path of the settlement arithmetic: the few
    distinct factors of a city's members are converted once (both are immutable)."""
    known = _FRACTIONS.get(value)
    if known is not None:
        return known
    if not value.is_finite():
        return None
    if not -MAX_EXPONENT <= int(value.as_tuple().exponent) <= MAX_EXPONENT:
        return None
    numerator, denominator = value.as_integer_ratio()
    return _FRACTIONS.keep(value, Fraction(numerator, denominator))


# Conversions remembered (both kinds are immutable).
_FRACTIONS: Memo[Decimal, Fraction] = Memo()


def largest_remainder(
    total_fen: int,
    weights: Sequence[Weight],
    keys: Sequence[str] | None = None,
) -> list[int]:
    """Split ``total_fen`` in proportion to ``weights`` so the parts add up exactly.

    Parts are returned in input order. ``keys`` (usually the names) take part only in the tie
    rule described in the module docstring. A zero total with zero weights gives all zeros; a
    positive total with zero total weight is an error.
    """
    if isinstance(total_fen, bool) or not isinstance(total_fen, int):
        raise SettlementInputError(f"待分配金额必须是整数分：{total_fen!r}")
    if total_fen < 0:
        raise SettlementInputError(f"待分配金额不能为负数：{total_fen}")
    if keys is not None and len(keys) != len(weights):
        raise SettlementInputError(f"权重个数（{len(weights)}）与名称个数（{len(keys)}）不一致")

    exact_weights: list[Fraction] = []
    for position, weight in enumerate(weights):
        if type(weight) is Fraction and weight.numerator >= 0:
            exact_weights.append(weight)  # the common case, without a label
            continue
        label = f"「{keys[position]}」的权重" if keys is not None else f"第 {position + 1} 个权重"
        value = to_fraction(weight, label)
        if value < 0:
            raise SettlementInputError(f"{label}不能为负数：{weight}")
        exact_weights.append(value)

    # Every weight over one common denominator: the exact parts, their floors and remainders are
    # then integer arithmetic (all remainders share the denominator ``total_weight``, so they
    # compare as their numerators; so do the weights). Scaling every weight by the same
    # positive constant changes no part (see the module docstring).
    common = _common_denominator(exact_weights)
    scaled = [value.numerator * (common // value.denominator) for value in exact_weights]
    return split_scaled(total_fen, scaled, keys)


def split_scaled(total_fen: int, scaled: Sequence[int], keys: Sequence[str] | None) -> list[int]:
    """``largest_remainder`` of weights already checked and over one common denominator.

    ``scaled`` are the weights' numerators over that denominator (ints ≥ 0), ``total_fen`` an
    int ≥ 0 and ``keys`` as many as the weights: the caller has checked them. The parts are
    ``largest_remainder``'s for the weights themselves (scaling changes no part).
    """
    total_weight = sum(scaled)
    if total_weight == 0:
        if total_fen == 0:
            return [0] * len(scaled)
        raise SettlementInputError(f"权重总和为 0，无法按比例分配 {total_fen} 分")

    parts: list[int] = []
    remainders: list[int] = []
    for weight in scaled:
        floor, remainder = divmod(total_fen * weight, total_weight)
        parts.append(floor)
        remainders.append(remainder)

    leftover = total_fen - sum(parts)
    if not leftover:
        return parts  # the floors add up: no tie to break
    order = sorted(
        range(len(parts)),
        key=lambda i: (
            -remainders[i],
            -scaled[i],
            keys[i] if keys is not None else "",
            i,
        ),
    )
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def _common_denominator(values: Sequence[Fraction]) -> int:
    """The least common multiple of the fractions' denominators."""
    common = 1
    for value in values:
        denominator = value.denominator
        if common % denominator:
            common = common // math.gcd(common, denominator) * denominator
    return common


def fraction_sum(values: Sequence[Fraction]) -> Fraction:
    """``sum(values, Fraction(0))`` over one common denominator: the same Fraction, made once
    instead of once an addition. Anything but Fractions is summed as ``sum`` sums it."""
    if not all(type(value) is Fraction for value in values):
        return sum(values, Fraction(0))
    common = _common_denominator(values)
    return Fraction(
        sum(value.numerator * (common // value.denominator) for value in values), common
    )


def times_whole(value: Fraction, whole: int) -> Fraction:
    """``value * whole``, made from the integers (the same Fraction, without the operator's
    dispatch: the cascade works out one for every member)."""
    return Fraction(value.numerator * whole, value.denominator)


def whole_less(whole: int, value: Fraction) -> Fraction:
    """``whole - value``, made from the integers (the same Fraction; see ``times_whole``)."""
    denominator = value.denominator
    return Fraction(whole * denominator - value.numerator, denominator)


def fraction_of(value: Decimal) -> Fraction:
    """``Fraction(value)``: remembered (``exact_fraction``) for a finite Decimal in range."""
    exact = exact_fraction(value) if value.is_finite() else None
    return exact if exact is not None else Fraction(value)


def round_half_up(value: Fraction, places: int = 0) -> Fraction:
    """Round to ``places`` decimal places, halves away from zero (四舍五入)."""
    scale = 10**places
    numerator, denominator = value.numerator, value.denominator
    # floor(|value| × scale + 1/2), in integers: (2·|n|·scale + d) // (2·d).
    rounded = (2 * abs(numerator) * scale + denominator) // (2 * denominator)
    return Fraction(rounded if numerator >= 0 else -rounded, scale)


def exact_decimal(value: Fraction) -> Decimal:
    """The Decimal equal to ``value``, in its shortest form (``Fraction(27375, 100)`` → 273.75).

    Only fractions whose denominator has no prime factors other than 2 and 5 have one; any
    product or sum of Decimals qualifies.
    """
    denominator = value.denominator
    if denominator == 1:
        return Decimal(value.numerator)
    key = (value.numerator, denominator)
    known = _DECIMALS.get(key)
    if known is not None:
        return known
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise ValueError(f"{value} has no finite decimal expansion")
    places = max(twos, fives)
    integer = value.numerator * (10**places // value.denominator)
    while places > 0 and integer % 10 == 0:
        integer //= 10
        places -= 1
    result = Decimal(f"{integer}E-{places}") if places else Decimal(integer)
    return _DECIMALS.keep(key, result)


# The settlement writes the same few factors (y, c, a, k of its members) tens of thousands of
# times: their Decimals are remembered, by (numerator, denominator).
_DECIMALS: Memo[tuple[int, int], Decimal] = Memo()


def yuan(fen: int) -> str:
    """Format fen as yuan with thousands separators: ``123456`` → ``"1,234.56"``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def fen_to_decimal_yuan(fen: int) -> Decimal:
    """Exact yuan as a Decimal with two places: ``123456`` → ``Decimal("1234.56")``."""
    return Decimal(f"{fen}E-2")
