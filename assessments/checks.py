"""How the settlement arithmetic checks its inputs: every refusal is a ``SettlementInputError``
whose Chinese message names the field (``label``), e.g. ``缺少「魏都区」的签约人口``.

The checks of ``assessments.settlement`` (pools, pre-allocation, fixed splits, the team split);
each takes the value as given and returns it exact (an ``int`` or a ``Fraction``).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from assessments.memo import Memo
from assessments.money import SettlementInputError, exact_fraction, to_fraction

__all__ = [
    "SCORE_MAX",
    "SCORE_MIN",
    "check_factor",
    "check_name",
    "check_number",
    "check_rate",
    "check_score",
    "check_unique",
    "check_whole",
]

SCORE_MIN, SCORE_MAX = Fraction(0), Fraction(100)


def check_name(value: object, label: str) -> str:
    if value is None:
        raise SettlementInputError(f"缺少{label}")
    if not isinstance(value, str):
        raise SettlementInputError(f"{label}必须是文字：{value!r}")
    if not value.strip():
        raise SettlementInputError(f"{label}不能为空")
    return value


def check_whole(value: object, label: str, unit: str) -> int:
    """A whole, non-negative number (fen or persons); integral Decimals are accepted."""
    if value is None:
        raise SettlementInputError(f"缺少{label}")
    exact = to_fraction(value, label)
    if exact.denominator != 1:
        raise SettlementInputError(f"{label}必须是整数{unit}，不能有小数：{value}")
    if exact < 0:
        raise SettlementInputError(f"{label}不能为负数：{value}")
    return exact.numerator


def check_number(value: object, label: str) -> Fraction:
    if value is None:
        raise SettlementInputError(f"缺少{label}")
    return to_fraction(value, label)


def check_factor(value: object, who: str, what: str) -> Fraction:
    """``check_number(value, who + what)``, the label joined only when it is needed (a refusal)."""
    if type(value) is Decimal:
        exact = exact_fraction(value)
        if exact is not None:
            return exact
    return check_number(value, who + what)


def check_rate(value: object, label: str) -> Fraction:
    rate = check_number(value, label)
    if not 0 <= rate <= 1:
        raise SettlementInputError(f"{label}必须在 0 到 1 之间：{value}")
    return rate


def check_score(value: object, label: str) -> Fraction:
    """A score from 0 to 100 with two places at most; a Decimal accepted once is remembered."""
    decimal = value if type(value) is Decimal and value.is_finite() else None
    if decimal is not None:
        known = _SCORES.get(decimal)
        if known is not None:
            return known
    score = check_number(value, label)
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise SettlementInputError(f"{label}必须在 0 到 100 之间：{value}")
    if (score * 100).denominator != 1:
        raise SettlementInputError(f"{label}最多保留两位小数：{value}")
    if decimal is not None:
        _SCORES.keep(decimal, score)
    return score


# Decimal scores accepted, by value (which alone decides): a city's units and teams share a few
# thousand. A refusal is never remembered.
_SCORES: Memo[Decimal, Fraction] = Memo()


def check_unique(name: str, seen: set[str], message: str) -> None:
    if name in seen:
        raise SettlementInputError(message)
    seen.add(name)
