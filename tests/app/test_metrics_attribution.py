"""Records and signings are counted for the unit they belong to (issue 14), both implementations.

Period 2026-Q1, judged as of 2026-03-31.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import Flask

from fdoctor.assessments.metrics import compute_metrics, metric_records_query
from fdoctor.extensions import db
from tests.app.assessments import metrics_reference
from tests.factories.contracts import make_contract
from tests.factories.households import make_household, make_resident
from tests.factories.org import make_tree

pytestmark = pytest.mark.db

START, END = date(2026, 1, 1), date(2026, 3, 31)
IMPLEMENTATIONS = (compute_metrics, metrics_reference.compute_metrics)


def test_a2_counts_a_resident_signed_by_another_team_for_that_team_only(app: Flask) -> None:
    """A hypertensive resident of T2's household signed by a contract of T1 (a centre may sign
    for any of its teams): A1 counts the signing for T1, the contract's team; A2 must not count
    it for T2 as well. T2: key population 1 (the resident), signed by T2 0 → 0; T1: no key
    population of its own → None; the institution holds both teams: 1/1."""
    t = make_tree()
    home = make_household(t.team2)
    person = make_resident(home, date(1970, 1, 1), "hypertension")
    deal = make_contract(home, [person], date(2025, 6, 1), date(2027, 5, 31))
    for row in (deal, *deal.members):
        row.team_id = t.team.id
    db.session.commit()
    for compute in IMPLEMENTATIONS:
        teams = compute("team", START, END, metrics=["signing_coverage", "key_population_signing"])
        assert teams[t.team.id]["signing_coverage"].numerator == Decimal(1)
        assert teams[t.team2.id]["signing_coverage"].numerator == Decimal(0)
        a2 = teams[t.team2.id]["key_population_signing"]
        assert (a2.numerator, a2.denominator, a2.value) == (Decimal(0), Decimal(1), Decimal(0))
        assert teams[t.team.id]["key_population_signing"].value is None
        inst = compute("institution", START, END, metrics=["key_population_signing"])
        assert inst[t.institution.id]["key_population_signing"].value == Decimal(1)
    drill = metric_records_query("key_population_signing", "team", t.team2.id, START, END)
    assert drill is not None and db.session.scalars(drill).all() == []
    drill = metric_records_query(
        "key_population_signing", "institution", t.institution.id, START, END
    )
    assert drill is not None and db.session.scalars(drill).all() == [person]
