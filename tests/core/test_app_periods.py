"""The app's one period parser (``fdoctor.core.periods``): the core's parse, the area's refusal."""

from __future__ import annotations

import pytest

from assessments.periods import Period, PeriodKind
from assessments.tiers import Level
from fdoctor.core.periods import parse_period


class Refused(ValueError):
    pass


@pytest.mark.parametrize(
    ("text", "expect", "wanted"),
    [
        ("2026-03", "L1", Period(PeriodKind.MONTH, 2026, 3)),
        (" 2026-q2 ", Level.L2, Period(PeriodKind.QUARTER, 2026, 2)),
        ("2026-H1", "L3", Period(PeriodKind.HALF, 2026, 1)),
        ("2025", "L4S", Period(PeriodKind.YEAR, 2025, 1)),  # the spot check follows L4
        ("2026-Q3", PeriodKind.QUARTER, Period(PeriodKind.QUARTER, 2026, 3)),
        ("2026-11", None, Period(PeriodKind.MONTH, 2026, 11)),
    ],
)
def test_a_period_of_the_expected_kind_is_parsed(
    text: str, expect: PeriodKind | str | None, wanted: Period
) -> None:
    assert parse_period(text, expect, error=Refused) == wanted


@pytest.mark.parametrize(
    ("text", "expect", "message"),
    [
        ("2026-13", None, "月份应在 1–12 之间，收到 13"),
        ("2026-3月", None, "无法识别的考核周期「2026-3月」"),
        (None, "L2", "无法识别的考核周期「」"),
        ("2026-03", "L2", "需要季度周期（如 2026-Q1），收到「2026-03」"),
        ("2026-Q1", PeriodKind.YEAR, "需要年度周期（如 2026），收到「2026-Q1」"),
    ],
)
def test_a_bad_period_raises_the_callers_error_with_the_core_message(
    text: str | None, expect: PeriodKind | str | None, message: str
) -> None:
    with pytest.raises(Refused) as caught:
        parse_period(text, expect, error=Refused)
    assert str(caught.value).startswith(message)
