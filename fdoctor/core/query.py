"""Query-string parsing: a malformed year, period or month is a clear 400, never another value.

Every view reading a year, period or month from ``request.args`` goes through these helpers, so a
link such as ``?year=abc`` is refused with a Chinese message instead of silently showing the
current year.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import BadRequest

from assessments.periods import Period, PeriodError

YEAR_RANGE = (2000, 2100)


class QueryArgError(BadRequest):
    """A query parameter is malformed; ``description`` is the user-facing Chinese message."""


def year_arg(default: int, name: str = "year") -> int:
    """The ``name`` query parameter as a year in 2000–2100, or ``default`` when absent/empty."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not YEAR_RANGE[0] <= int(text) <= YEAR_RANGE[1]:
        raise QueryArgError(
            f"参数 {name} 的值“{text}”不是有效年份，应为 {YEAR_RANGE[0]}–{YEAR_RANGE[1]} 之间的四位数字。"
        )
    return int(text)


def period_arg(name: str = "period") -> str | None:
    """The ``name`` query parameter as a canonical period text (e.g. ``2026-Q1``), or None."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return str(Period.parse(text))
    except PeriodError:
        raise QueryArgError(
            f"参数 {name} 的值“{text}”不是有效周期，应形如 2026-03、2026-Q1、2026-H1 或 2026。"
        ) from None


def month_arg(default: date, name: str = "month") -> date:
    """The ``name`` query parameter (``YYYY-MM``) as the month's first day, or ``default``."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        year, month = (int(x) for x in text.split("-"))
        if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
            raise ValueError(text)
        return date(year, month, 1)
    except ValueError:
        raise QueryArgError(f"参数 {name} 的值“{text}”不是有效月份，应形如 2026-03。") from None


def init_app(app: Flask) -> None:
    @app.errorhandler(QueryArgError)
    def bad_query(exc: QueryArgError) -> Any:
        message = exc.description or "请求参数有误。"
        if request.path.startswith("/api/"):
            return {"error": message, "status": 400}, 400
        return render_template("errors/error.html", code=400, message=message), 400
