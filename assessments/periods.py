"""Assessment periods (考核周期): a month, quarter, half-year or year, its text and its dates.

Periods
-------
A ``Period`` is a kind (``PeriodKind``) and a number within its year: the month (1–12), quarter
(1–4) or half (1–2); always 1 for a year. Which kind each assessment level uses, and when it opens
and is due, is the tier calendar's (``assessments.tiers``).

* Period text: ``2026-03`` (``2026-3`` is accepted too), ``2026-Q1`` (``q`` accepted), ``2026-H1``,
  ``2026``; years 1900–2999. ``str(period)`` always gives the canonical form.
* The second half (H2) is the year-end assessment's period: its metrics **cover the whole year**
  (1 January – 31 December, 12 months), while H1 covers January – June. ``Period.start``/``end``
  are always the period's own calendar range; ``Period.covers``/``months`` are what metrics use.

Nothing is judged before its period ends
----------------------------------------
``first_judgeable_day(period)`` is the day after the period ends; ``ensure_period_ended`` raises
``PeriodNotEnded`` (a ``PeriodError`` naming that day) before it. The web app applies it, with its
clock's today, wherever a level is opened, the L4 spot check drawn, a verification sample drawn or
a settlement built, and to every period job that reads its period's records (scheduled or run by
hand with ``--period``/``--date``; ``flag_overdue`` acts on its run day and is exempt).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "Period",
    "PeriodError",
    "PeriodKind",
    "PeriodNotEnded",
    "ensure_period_ended",
    "first_judgeable_day",
    "last_day_of_month",
]

MIN_YEAR = 1900
MAX_YEAR = 2999


class PeriodError(ValueError):
    """A period is malformed or does not fit the level; the message is user-facing Chinese."""


class PeriodNotEnded(PeriodError):
    """A period is to be judged (opened, drawn, sampled, settled) before it has ended.

    ``first_day`` is the first day it may be judged; the message is user-facing Chinese.
    """

    def __init__(self, period: Period, first_day: date, action: str) -> None:
        super().__init__(f"{period} 尚未结束，最早可于 {first_day.isoformat()} {action}。")
        self.period = period
        self.first_day = first_day


class PeriodKind(StrEnum):
    """The length of an assessment period."""

    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def count_per_year(self) -> int:
        """How many periods of this kind a year has (12, 4, 2, 1)."""
        return _PER_YEAR[self]

    @property
    def length_months(self) -> int:
        """Calendar length of one period in months (1, 3, 6, 12)."""
        return 12 // _PER_YEAR[self]


_KIND_LABELS = {
    PeriodKind.MONTH: "月度",
    PeriodKind.QUARTER: "季度",
    PeriodKind.HALF: "半年",
    PeriodKind.YEAR: "年度",
}
_PER_YEAR = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.HALF: 2, PeriodKind.YEAR: 1}
_FORMAT_HINT = {
    PeriodKind.MONTH: "2026-03",
    PeriodKind.QUARTER: "2026-Q1",
    PeriodKind.HALF: "2026-H1",
    PeriodKind.YEAR: "2026",
}


def last_day_of_month(year: int, month: int) -> date:
    """The last day of ``month`` in ``year``."""
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class Period:
    """One assessment period (考核周期).

    ``number`` is the month (1–12), quarter (1–4) or half (1–2); it is always 1 for a year.
    Periods order by their calendar start, then by length.
    """

    kind: PeriodKind
    year: int
    number: int = 1

    def __post_init__(self) -> None:
        kind = PeriodKind(self.kind)
        object.__setattr__(self, "kind", kind)
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise PeriodError(f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间，收到 {self.year}")
        if not 1 <= self.number <= kind.count_per_year:
            raise PeriodError(_NUMBER_ERRORS[kind].format(number=self.number))

    # ---------------------------------------------------------------- construction

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        return cls(PeriodKind.MONTH, year, month)

    @classmethod
    def of_quarter(cls, year: int, quarter: int) -> Period:
        return cls(PeriodKind.QUARTER, year, quarter)

    @classmethod
    def of_half(cls, year: int, half: int) -> Period:
        return cls(PeriodKind.HALF, year, half)

    @classmethod
    def of_year(cls, year: int) -> Period:
        return cls(PeriodKind.YEAR, year, 1)

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        """The period of ``kind`` whose calendar range contains ``day``."""
        kind = PeriodKind(kind)
        return cls(kind, day.year, (day.month - 1) // kind.length_months + 1)

    @classmethod
    def parse(cls, text: str, expect: PeriodKind | None = None) -> Period:
        """Parse ``2026-03``, ``2026-Q1``, ``2026-H1`` or ``2026``.

        With ``expect``, a period of another kind is refused (e.g. a month given to an L2 job).
        """
        cleaned = text.strip().upper()
        match = _PERIOD_RE.fullmatch(cleaned)
        if match is None:
            raise PeriodError(
                f"无法识别的考核周期「{text}」：应为 2026-03（月）、2026-Q1（季度）、"
                "2026-H1（半年）或 2026（年度）"
            )
        year = int(match["year"])
        if match["month"] is not None:
            period = cls(PeriodKind.MONTH, year, int(match["month"]))
        elif match["quarter"] is not None:
            period = cls(PeriodKind.QUARTER, year, int(match["quarter"]))
        elif match["half"] is not None:
            period = cls(PeriodKind.HALF, year, int(match["half"]))
        else:
            period = cls(PeriodKind.YEAR, year, 1)
        if expect is not None and period.kind != expect:
            expect = PeriodKind(expect)
            raise PeriodError(
                f"需要{expect.label}周期（如 {_FORMAT_HINT[expect]}），收到「{text}」"
            )
        return period

    # ---------------------------------------------------------------- text

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.number:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}-Q{self.number}"
        if self.kind is PeriodKind.HALF:
            return f"{self.year}-H{self.number}"
        return f"{self.year}"

    @property
    def label(self) -> str:
        """Chinese label, e.g. ``2026年3月``, ``2026年第1季度``, ``2026年下半年（年终）``."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}年{self.number}月"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}年第{self.number}季度"
        if self.kind is PeriodKind.HALF:
            return f"{self.year}年上半年" if self.number == 1 else f"{self.year}年下半年（年终）"
        return f"{self.year}年度"

    # ---------------------------------------------------------------- dates

    @property
    def first_month(self) -> int:
        return (self.number - 1) * self.kind.length_months + 1

    @property
    def start(self) -> date:
        """First day of the period's own calendar range."""
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        """Last day (inclusive) of the period's own calendar range."""
        return last_day_of_month(self.year, self.first_month + self.kind.length_months - 1)

    @property
    def is_year_end(self) -> bool:
        """True for the H2 half-year, whose assessment is the year-end one (年终考核)."""
        return self.kind is PeriodKind.HALF and self.number == 2

    @property
    def covers(self) -> tuple[date, date]:
        """The inclusive date range the metrics of this period cover (H2 covers the whole year)."""
        if self.is_year_end:
            return date(self.year, 1, 1), date(self.year, 12, 31)
        return self.start, self.end

    @property
    def months(self) -> int:
        """Number of months covered, to turn per-month targets into period targets."""
        return 12 if self.is_year_end else self.kind.length_months

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the period's own calendar range (not ``covers``)."""
        return self.start <= day <= self.end

    def previous(self) -> Period:
        return self._shift(-1)

    def next(self) -> Period:
        return self._shift(1)

    def _shift(self, steps: int) -> Period:
        per_year = self.kind.count_per_year
        index = self.year * per_year + (self.number - 1) + steps
        return Period(self.kind, index // per_year, index % per_year + 1)

    # ---------------------------------------------------------------- ordering

    def _sort_key(self) -> tuple[date, date]:
        return self.start, self.end

    def __lt__(self, other: Period) -> bool:
        return self._sort_key() < other._sort_key()

    def __le__(self, other: Period) -> bool:
        return self._sort_key() <= other._sort_key()

    def __gt__(self, other: Period) -> bool:
        return self._sort_key() > other._sort_key()

    def __ge__(self, other: Period) -> bool:
        return self._sort_key() >= other._sort_key()


_PERIOD_RE = re.compile(
    r"(?P<year>\d{4})(?:-(?:(?P<month>\d{1,2})|Q(?P<quarter>\d)|H(?P<half>\d)))?"
)
_NUMBER_ERRORS = {
    PeriodKind.MONTH: "月份应在 1–12 之间，收到 {number}",
    PeriodKind.QUARTER: "季度应为 Q1–Q4，收到 Q{number}",
    PeriodKind.HALF: "半年应为 H1（上半年）或 H2（下半年），收到 H{number}",
    PeriodKind.YEAR: "年度周期的序号只能是 1，收到 {number}",
}


# -------------------------------------------------------------------- judging after the end


def first_judgeable_day(period: Period) -> date:
    """The first day ``period`` may be judged: the day after its calendar range ends.

    The one rule for every level, draw, verification sample and settlement (SPEC 5): nothing is
    opened, drawn, sampled or settled for a period while its records can still be entered.
    """
    return period.end + timedelta(days=1)


def ensure_period_ended(period: Period, today: date, action: str = "开启") -> None:
    """Raise ``PeriodNotEnded`` when ``today`` is before ``first_judgeable_day(period)``.

    ``action`` completes the message (``开启``, ``抽样``, ``生成结算表`` …).
    """
    first_day = first_judgeable_day(period)
    if today < first_day:
        raise PeriodNotEnded(period, first_day, action)
