"""A3's drill-down page: each contract in force with the service that made it effective."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from fdoctor.assessments.models import Assessment
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.assessments import PERIOD, World
from tests.factories.contracts import make_contract
from tests.factories.households import make_household

pytestmark = pytest.mark.db


def test_the_a3_page_shows_the_service_that_made_each_contract_effective(
    app: Flask, world: World, auth: AuthActions
) -> None:
    # A second household of the team, signed, never served: in force but not effective.
    idle = make_household(world.tree.team, members=1)
    unserved = make_contract(idle, None, date(2025, 9, 1), date(2027, 8, 31))
    db.session.commit()
    open_assessments("L1", PERIOD)
    db.session.commit()
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L1", Assessment.unit_id == world.tree.team.id)
    )
    assert a is not None
    a3 = next(i for i in a.items if i.code == "A3")
    assert (a3.numerator, a3.denominator) == (1, 2)
    html = (
        auth.client_for(world.user("leader"))
        .get(f"/assessments/{a.id}/items/A3/records")
        .get_data(as_text=True)
    )
    assert "在约协议及使其有效的服务" in html and "共 2 条记录" in html
    # The served household's contract: its latest consultation (17 March) by doc1.
    assert "2026-03-17" in html and "门诊/咨询" in html and "doc1" in html
    # The idle one: no service made it effective.
    assert unserved.code in html and "无：协议期内没有本团队计入的服务" in html
