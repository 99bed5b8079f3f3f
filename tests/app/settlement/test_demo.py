"""The full cascade on the demo city (许昌市), loaded into the empty ``app`` database.

The demo has no published assessments yet, so the test publishes one score per county (L4),
institution (L3 year-end) and team (L2, three quarters so far), configures the funds, split,
posts and standard, rates every member, and checks that every level adds up exactly.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.demo.generator import load_demo
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.build import build_settlement, preview
from fdoctor.settlement.models import SettlementLine
from fdoctor.settlement.population import signed_population
from tests.conftest import DEMO_ANCHOR, DEMO_SEED, AuthActions
from tests.factories.settlement import prepare_demo_settlement

pytestmark = pytest.mark.db
YEAR = 2026


@pytest.fixture()
def demo(app: Flask) -> None:
    load_demo(seed=DEMO_SEED, anchor=DEMO_ANCHOR)
    db.session.commit()


@pytest.fixture()
def demo_world(demo: None) -> dict[str, Any]:
    return prepare_demo_settlement(YEAR)


def test_the_demo_city_settles_and_every_level_adds_up_exactly(demo_world: dict[str, Any]) -> None:
    settlement, changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert changed
    outputs = preview(YEAR, "settlement")[1]
    assert preview(YEAR, "settlement")[2] == settlement.sha256  # unchanged inputs, same hash
    children: dict[str, list[int]] = defaultdict(list)
    for line in outputs:
        if line["parent"]:
            children[line["parent"]].append(line["entitled_fen"])
    lines = {line["key"]: line for line in outputs}
    for parent, parts in children.items():
        assert sum(parts) == lines[parent]["entitled_fen"], parent
    levels = defaultdict(int)
    for line in outputs:
        levels[line["level"]] += 1
    teams = db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "team")).all()
    assert levels["pool"] == 2 and levels["county"] == 6 and levels["team"] == len(teams)
    assert levels["reserve"] == len(teams)
    assert levels["member"] >= len(demo_world["members"])  # probation members get a 0 line
    assert settlement.total_fen == sum(987_654_321 + i for i in range(2))
    for line in outputs:
        if line["rounding_adjustment"] is not None:
            assert abs(Decimal(eval_fraction(line["rounding_adjustment"]))) < 1, line["key"]


def test_the_demo_city_sheet_pages_render_for_the_city(
    demo_world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    settlement, _ = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert auth.login("city").status_code == 302
    html = client.get(f"/settlement/{settlement.id}").get_data(as_text=True)
    assert "魏都区" in html and "部门基金" in html
    member = db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id, SettlementLine.level == "member"
        )
    )
    page = client.get(f"/settlement/{settlement.id}/line/{member.id}")
    assert page.status_code == 200 and "k × y × c × a" in page.get_data(as_text=True)
    assert client.get(f"/settlement/{settlement.id}/export/team.pdf").status_code == 200


def eval_fraction(text: str) -> Decimal:
    numerator, _, denominator = text.partition("/")
    return Decimal(numerator) / Decimal(denominator or 1)


def test_signed_population_of_the_demo_matches_the_contract_dates(demo: None) -> None:
    from fdoctor.contracts.models import Contract, ContractMember

    as_of = date(YEAR, 12, 31)
    rows = db.session.execute(
        select(
            ContractMember.resident_id,
            ContractMember.is_active,
            Contract.start_date,
            Contract.end_date,
            Contract.status,
            Contract.terminated_on,
        ).join(Contract, Contract.id == ContractMember.contract_id)
    ).all()
    # Indicator A1's definition: the term holds the day; active with the member on it, renewed or
    # expired, or terminated later than the day.
    counted = {
        resident for resident, on, start, end, status, stopped in rows
        if start <= as_of <= end and (
            (status == "active" and on) or status in ("renewed", "expired")
            or (status == "terminated" and stopped is not None and stopped > as_of))
    }  # fmt: skip
    assert sum(signed_population(as_of, "county_id").values()) == len(counted)


def test_the_sheet_page_of_the_whole_city_takes_a_fixed_number_of_queries(
    demo_world: dict[str, Any], client: FlaskClient, count_queries: Any, auth: AuthActions
) -> None:
    settlement, _ = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert auth.login("city").status_code == 302
    with count_queries() as counter:
        assert client.get(f"/settlement/{settlement.id}").status_code == 200
    assert counter.count <= 8, counter.count
