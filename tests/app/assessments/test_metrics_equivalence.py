"""The tuned ``compute_metrics`` gives exactly what the reference implementation gives.

``metrics_reference`` is ``compute_metrics`` as it stood before it was tuned for city scale
(issue #7): B4 and B6 evaluated resident by resident with ``care_schedule.due.due_items``. Every
``MetricValue`` (numerator, denominator, value, detail, drill) of every unit must be identical, on
the demo city (read-only) at every grain for periods of every assessment level.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import fields
from datetime import date
from typing import Any

import pytest
from flask import Flask

from fdoctor.assessments.metrics import GRAINS, compute_metrics
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from tests.app.assessments import metrics_reference


def as_plain(result: dict[int, dict[str, Any]]) -> dict[int, dict[str, tuple[str, ...]]]:
    """Every field of every MetricValue as its repr: ``Decimal('0.5')`` differs from
    ``Decimal('0.500000')``."""
    return {
        unit: {
            metric: tuple(repr(getattr(mv, f.name)) for f in fields(mv))
            for metric, mv in values.items()
        }
        for unit, values in result.items()
    }


def assert_same(
    grain: str,
    start: date,
    end: date,
    as_of: date | None = None,
    unit_ids: Sequence[int] | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[int, Any]:
    expected = metrics_reference.compute_metrics(grain, start, end, as_of, unit_ids, metrics)
    actual = compute_metrics(grain, start, end, as_of, unit_ids, metrics)
    assert list(actual) == list(expected)
    plain_actual, plain_expected = as_plain(actual), as_plain(expected)
    for unit in expected:
        assert plain_actual[unit] == plain_expected[unit], (grain, start, end, unit)
    return actual


SCHEDULES = ["key_population_services", "vaccination_special_care"]


@pytest.fixture()
def demo(demo_app: Flask) -> Iterator[None]:
    with demo_app.app_context():
        yield
        db.session.rollback()


# (start, end) of periods the demo city (anchored 2026-11-20) has records in: L1 months (one
# ending a quarter, so mental follow-ups fall due; February, so B3 judges the previous year), an
# L2 quarter, the L3 half years (H2 covers the whole year) and an L4 year.
PERIODS = [
    (date(2026, 10, 1), date(2026, 10, 31)),
    (date(2026, 3, 1), date(2026, 3, 31)),
    (date(2026, 2, 1), date(2026, 2, 28)),
    (date(2026, 7, 1), date(2026, 9, 30)),
    (date(2026, 1, 1), date(2026, 6, 30)),
    (date(2026, 1, 1), date(2026, 12, 31)),
]


@pytest.mark.parametrize("grain", GRAINS)
def test_every_unit_of_every_grain_is_unchanged(demo: None, grain: str) -> None:
    due = 0
    for start, end in PERIODS:
        result = assert_same(grain, start, end)
        assert result
        for values in result.values():
            due += int(values["vaccination_special_care"].denominator or 0)
            due += int(values["key_population_services"].denominator or 0)
    assert due > 0  # the care schedules were exercised


def test_care_schedules_of_every_team_month_are_unchanged(demo: None) -> None:
    for month in range(1, 13):
        last = calendar.monthrange(2026, month)[1]
        assert_same("team", date(2026, month, 1), date(2026, month, last), metrics=SCHEDULES)


def test_judged_on_another_day_is_unchanged(demo: None) -> None:
    assert_same("team", date(2026, 10, 1), date(2026, 10, 31), as_of=date(2026, 11, 20))
    assert_same("county", date(2026, 4, 1), date(2026, 6, 30), as_of=date(2026, 9, 1))


@pytest.mark.parametrize("grain", ["team", "station", "institution", "county"])
def test_units_asked_by_id_are_unchanged(demo: None, grain: str) -> None:
    ids = sorted(
        db.session.scalars(
            db.select(OrgUnit.id).where(OrgUnit.kind == grain, OrgUnit.active.is_(True))
        )
    )
    some = ids[::3] or ids
    result = assert_same(grain, date(2026, 9, 1), date(2026, 9, 30), unit_ids=some)
    assert sorted(result) == some
