"""Simulation (模拟测算) in Chromium: the finance officer opens a draft, raises a pool's fund by
10 % and the reserve rate, and sees every county and institution beside the draft."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import SettlementLine
from tests.app.settlement.test_pages import logins
from tests.browser.conftest import browser_login, screenshot
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import PASSWORD

pytestmark = pytest.mark.db


@pytest.fixture()
def draft(app: Flask) -> tuple[Any, Any]:
    world = build_world()
    logins(world)
    with clock.frozen(date(YEAR + 1, 1, 15)):
        settlement, _ = build_settlement(YEAR, "settlement", world.users["city"])
    db.session.commit()
    return world, settlement


def test_a_simulation_beside_its_draft(page: Any, live_server: str, draft: tuple[Any, Any]) -> None:
    world, settlement = draft
    lines = db.session.scalar(select(func.count(SettlementLine.id)))
    browser_login(page, live_server, "finance-user", PASSWORD)
    page.goto(f"{live_server}/settlement/{settlement.id}")
    page.click("#simulate-link")
    page.wait_for_selector("#simulation-form")
    page.fill(f"#fund_{world['市区'].id}", "11000")
    page.fill("#reserve_pct", "12")
    page.click("button[value=simulate]")
    page.wait_for_selector("#simulation-lines")
    county = page.locator(f"#simulation-lines tr[data-unit='{world['甲区'].id}']").inner_text()
    assert "6,694.21" in county and "7,363.64" in county and "+66,943" in county
    assert "+10.00%" in county
    other = page.locator(f"#simulation-lines tr[data-unit='{world['丙县'].id}']").inner_text()
    assert "+" not in other
    assert "成员" in page.inner_text("#simulation-summary")
    screenshot(page, "settlement-simulation")
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SettlementLine.id))) == lines
    assert [e for e in page.console_errors if "Failed to load resource" not in e] == []
