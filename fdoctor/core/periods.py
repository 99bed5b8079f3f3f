"""The app's one period parser: the core's ``Period.parse`` with the refusal of the caller's area.

``parse_period("2026-Q1", Level.L2, error=SurveyError)`` gives the period, or raises
``error(message)`` with the core's Chinese message when the text is malformed or of another kind
than the one expected. Views that only show a period (or answer a bad one their own way) call
``Period.parse`` directly; query-string arguments go through ``fdoctor.core.query.period_arg``.
"""

from __future__ import annotations

from collections.abc import Callable

from assessments.periods import Period, PeriodError, PeriodKind
from assessments.tiers import level_tier


def parse_period(
    text: str | None,
    expect: PeriodKind | str | None = None,
    *,
    error: Callable[[str], Exception],
) -> Period:
    """``text`` as a period. ``expect``: its kind, or an assessment level (``"L2"``, ``Level.L3``,
    the spot check's ``"L4S"``) whose tier's kind it must have; None takes any kind."""
    try:
        return Period.parse(text or "", expect=_kind(expect))
    except PeriodError as exc:
        raise error(str(exc)) from None


def _kind(expect: PeriodKind | str | None) -> PeriodKind | None:
    if expect is None or isinstance(expect, PeriodKind):
        return expect
    return level_tier(expect).period_kind
