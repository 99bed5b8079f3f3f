"""Resident identity card numbers (居民身份证号码, GB 11643-1999).

18 characters: 6-digit region code, 8-digit birth date, 3-digit sequence (odd = male) and an
ISO 7064 MOD 11-2 check character (0-9 or X). Pure functions, no Flask.

Every number is normalised (:func:`normalize`) before it is checked, stored or looked up, so that
the same person typed with full-width digits (``４１１００２…``), spaces or a lower-case ``x`` is
the same string, and the uniqueness index sees one person once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from fdoctor.core.errors import UserFacingError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# ASCII only: Python's \d would also accept full-width and other Unicode digits.
_PATTERN = re.compile(r"^[0-9]{17}[0-9X]$")
# Province-level codes of GB/T 2260 (the first two digits of every region code): Beijing to Inner
# Mongolia, Liaoning to Heilongjiang, Shanghai to Shandong, Henan to Hainan, Chongqing to Tibet,
# Shaanxi to Xinjiang, Taiwan, Hong Kong and Macao.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65", "71", "81", "82"}
)


class CitizenIdError(UserFacingError):
    """A citizen ID that is not valid; the message is for the user, in Chinese."""


@dataclass(frozen=True)
class CitizenId:
    number: str
    region: str
    birth_date: date
    sex: str  # "M" or "F"

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


def check_char(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalize(raw: str | None) -> str:
    """The canonical form of a typed number: NFKC (full-width digits and letters become ASCII),
    every kind of space removed, ``x`` upper-cased."""
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(text.split()).upper()


def parse(raw: str, today: date | None = None) -> CitizenId:
    """Validate and decode a citizen ID; raise :class:`CitizenIdError` with a Chinese message."""
    number = normalize(raw)
    if len(number) != 18:
        raise CitizenIdError(f"身份证号应为18位，当前为{len(number)}位")
    if not _PATTERN.match(number):
        raise CitizenIdError("身份证号前17位应为数字，最后一位为数字或X")
    if number[:2] not in PROVINCE_CODES:
        raise CitizenIdError(f"身份证号前两位 {number[:2]} 不是有效的省级行政区划代码，请核对")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise CitizenIdError(f"身份证号中的出生日期 {number[6:14]} 不是有效日期") from None
    if born.year < 1900 or (today is not None and born > today):
        raise CitizenIdError(f"身份证号中的出生日期 {born.isoformat()} 不合理")
    expected = check_char(number[:17])
    if number[17] != expected:
        raise CitizenIdError("身份证号校验位不正确，请核对后重新输入")
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return CitizenId(number=number, region=number[:6], birth_date=born, sex=sex)


def is_valid(raw: str) -> bool:
    try:
        parse(raw)
    except CitizenIdError:
        return False
    return True


def make(region: str, born: date, sequence: int) -> str:
    """Build a valid number (demo data and tests)."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def mask(number: str | None) -> str:
    """Show the first 4 and last 4 characters: ``4110**********123X``."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def derived_tags(born: date, day: date) -> set[str]:
    """Age-derived key-population tags: ``elderly65`` and ``child0_6`` (under 7)."""
    age = age_on(born, day)
    tags: set[str] = set()
    if age >= 65:
        tags.add("elderly65")
    if age <= 6:
        tags.add("child0_6")
    return tags
