"""The settlement reads signed population P from the running figures of the year's last month
(``signed_population`` of ``YYYY-12``), and counts the contracts the same way when the month has
not been counted yet."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import update

from fdoctor.extensions import db
from fdoctor.settlement.build import preview
from fdoctor.settlement.population import signed_population, signed_population_by_level
from fdoctor.tallies.models import SignedPopulation
from fdoctor.tallies.services import rebuild_month
from tests.factories.settlement import YEAR

pytestmark = pytest.mark.db


def _team_population(world: Any) -> dict[str, int]:
    lines = {line["key"]: line for line in preview(YEAR, "settlement")[1]}
    return {t: lines[f"team:{world[t].id}"]["signed_population"] for t in ("T1", "T2", "T4")}


def test_the_month_end_figures_equal_the_count_from_the_contracts(world: Any) -> None:
    as_of = date(YEAR, 12, 31)
    counted = signed_population_by_level(as_of)  # no figures for the month yet: counted
    assert sum(counted["team"].values()) > 0
    written = rebuild_month(f"{YEAR}-12")
    assert written["signed_population"] == sum(len(units) for units in counted.values())
    assert signed_population_by_level(as_of) == counted
    assert signed_population(as_of, "county_id") == counted["county"]


def test_the_build_reads_p_from_the_year_end_figures(world: Any) -> None:
    assert _team_population(world) == {"T1": 4, "T2": 2, "T4": 5}
    rebuild_month(f"{YEAR}-12")
    assert _team_population(world) == {"T1": 4, "T2": 2, "T4": 5}
    # The stored figure is what the sheet uses (changed here behind the job's back to tell the
    # two sources apart).
    db.session.execute(
        update(SignedPopulation)
        .where(SignedPopulation.period == f"{YEAR}-12", SignedPopulation.unit_id == world["T1"].id)
        .values(signed=40)
    )
    assert _team_population(world)["T1"] == 40


def test_another_month_s_figures_are_not_used_for_the_year_end(world: Any) -> None:
    rebuild_month(f"{YEAR}-11")
    db.session.execute(update(SignedPopulation).values(signed=999))
    assert _team_population(world) == {"T1": 4, "T2": 2, "T4": 5}


def test_a_day_that_is_not_a_month_end_is_counted_from_the_contracts(world: Any) -> None:
    rebuild_month(f"{YEAR}-12")
    db.session.execute(update(SignedPopulation).values(signed=999))
    assert 999 not in signed_population(date(YEAR, 12, 30), "team_id").values()
