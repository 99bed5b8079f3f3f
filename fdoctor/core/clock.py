"""The one clock of the app.

The whole deployment runs in one timezone (Asia/Shanghai), so dates and times are stored as naive
local time. Tests freeze the clock with :func:`frozen` instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_frozen: datetime | None = None


def now() -> datetime:
    """Current local time, naive, to the second."""
    if _frozen is not None:
        return _frozen
    return datetime.now(CHINA_TZ).replace(tzinfo=None, microsecond=0)


def today() -> date:
    return now().date()


@contextmanager
def frozen(at: datetime | date) -> Iterator[None]:
    """Freeze :func:`now` at a fixed moment (tests, and jobs run by hand for a past period)."""
    global _frozen
    previous = _frozen
    _frozen = at if isinstance(at, datetime) else datetime(at.year, at.month, at.day, 9, 0, 0)
    try:
        yield
    finally:
        _frozen = previous
