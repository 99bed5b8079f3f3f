"""How the cascade writes exact numbers in its lines and explanations.

Fractions are written exactly (``"2562/5051"``); ``approx`` writes a decimal that is exact when
it terminates within the places asked for and marked ``≈`` otherwise. These are the only places
where a figure of the sheet is rounded for reading; no amount is ever computed from this text.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from assessments.money import exact_decimal

__all__ = ["approx", "exact_text", "frac", "num", "parse_frac"]


def frac(value: Fraction) -> str:
    """An exact fraction as text: ``"2562/5051"`` or ``"7"``."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def parse_frac(text: str | None) -> Fraction | None:
    """The fraction written by ``frac`` (or a decimal), or None for None."""
    return None if text is None else Fraction(text)


def exact_text(value: Fraction) -> str:
    """A fraction as its exact decimal when it has one (``"8713.5"``), else as ``frac`` does."""
    try:
        return str(exact_decimal(value))
    except ValueError:
        return frac(value)


def approx(value: Fraction, places: int = 6, sign: bool = False) -> str:
    """A fraction as a decimal: exact when it terminates within ``places``, else ``≈`` rounded.

    Rounded half-up like ``round_half_up`` and written like ``exact_decimal`` (shortest form,
    thousands separators), in integers: it runs for every figure of every line.
    """
    numerator, denominator = value.numerator, value.denominator
    scale = 10**places
    scaled = abs(numerator) * scale
    rounded = (2 * scaled + denominator) // (2 * denominator)
    if rounded and rounded * 10**6 < scale:
        # Below 0.000001 a Decimal writes itself in scientific notation ("5E-7"): let it.
        text = f"{exact_decimal(Fraction(-rounded if numerator < 0 else rounded, scale)):,}"
    else:
        whole, rest = divmod(rounded, scale)
        digits = str(rest).rjust(places, "0").rstrip("0") if rest else ""
        text = f"{whole:,}.{digits}" if digits else f"{whole:,}"
        if numerator < 0 and rounded:
            text = "-" + text
    if sign and numerator > 0:
        text = "+" + text
    return text if rounded * denominator == scaled else f"≈{text}"


def num(value: Decimal | int) -> str:
    """A whole number or exact decimal with thousands separators."""
    return f"{value:,}"
