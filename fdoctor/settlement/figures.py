"""How the settlement writes and reads its figures: exact decimal texts, scores, yuan typed by a
user, the sheet kinds' labels and the years the configuration accepts."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from assessments.memo import Memo
from assessments.money import exact_decimal, to_fraction
from fdoctor.core.query import YEAR_RANGE
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.models import SETTLEMENT_KINDS


def dtext(value: Decimal | int) -> str:
    """A number as its shortest plain decimal text (0.1000 → "0.1", 60.00 → "60").

    Equal numbers have the same text (60, 60.0 and 60.00 all give "60"), so the texts of the
    values seen are kept (``assessments.memo``): a city's settlement writes some 28,000, most of
    them a few coefficients and standards over and over. The key holds the type: True equals 1
    but only 1 is a number here (``to_fraction`` refuses a bool).
    """
    try:
        key = (type(value), value)
        known = _TEXTS.get(key)
    except TypeError:  # unhashable (a signalling NaN): refused by to_fraction, uncached
        return _dtext(value)
    if known is not None:
        return known
    return _TEXTS.keep(key, _dtext(value))


def _dtext(value: Decimal | int) -> str:
    return format(exact_decimal(to_fraction(value, "数值")), "f")


_TEXTS: Memo[tuple[type, Decimal | int], str] = Memo()


_HUNDREDTH = Decimal("0.01")


def score_text(value: Decimal) -> str:
    return str(Decimal(value).quantize(_HUNDREDTH))


def kind_label(kind: str) -> str:
    return SETTLEMENT_KINDS.get(kind, kind)


def parse_number(
    text: str | None,
    label: str,
    *,
    places: int,
    low: Decimal | None = None,
    high: Decimal | None = None,
    positive: bool = False,
) -> Decimal:
    """Parse a decimal typed by a user; Chinese message on anything wrong."""
    raw = (text or "").strip().replace(",", "").replace("，", "")
    if not raw:
        raise SettlementError(f"请填写{label}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettlementError(f"{label}必须是数字：{raw}") from None
    if not value.is_finite():
        raise SettlementError(f"{label}必须是有限的数字：{raw}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise SettlementError(f"{label}最多保留 {places} 位小数：{raw}")
    if positive and value <= 0:
        raise SettlementError(f"{label}必须大于 0：{raw}")
    if low is not None and value < low:
        raise SettlementError(f"{label}不能小于 {low}：{raw}")
    if high is not None and value > high:
        raise SettlementError(f"{label}不能大于 {high}：{raw}")
    return value


def parse_yuan(text: str | None, label: str) -> int:
    """Yuan with at most two decimals → fen (exact)."""
    value = parse_number(text, label, places=2, low=Decimal(0), high=Decimal("1e12"))
    return int(value * 100)


# --------------------------------------------------------------------------- parameters


def check_year(year: int) -> None:
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise SettlementError(f"年度不正确：{year}")
