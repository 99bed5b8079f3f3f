"""Corrections after lock in Chromium: the locked sheet names its corrections and where they
went; the next settlement shows them as adjustment lines and what is paid."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask

from fdoctor.core import clock
from fdoctor.core.signals import score_revised
from fdoctor.extensions import db
from tests.app.settlement.conftest import (  # noqa: F401 - fixtures used by name
    _after_the_settled_year,
    _empty_tables_despite_lock_triggers,
)
from tests.app.settlement.test_corrections import (
    NEXT,
    _configure_next_year,
    _counted_record,
    _find_false,
    _lock,
)
from tests.browser.conftest import browser_login, screenshot
from tests.factories.assessments import supersede
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import PASSWORD, make_user


def test_both_sheets_show_and_explain_the_corrections(
    page: Any, live_server: str, app: Flask
) -> None:
    from fdoctor.settlement.build import build_settlement

    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    world.users["city"] = city
    locked, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    _lock(locked, city, finance)
    score_revised.send(supersede(world.assessments["L4 乙区"], world["乙区"], "90"), user=city)
    _find_false(world, _counted_record(world, "T4L"))
    _configure_next_year(world)
    with clock.frozen(date(NEXT + 1, 1, 15)):
        sheet, _ = build_settlement(NEXT, "settlement", city)
        db.session.commit()
        browser_login(page, live_server, "city-user", PASSWORD)
        page.goto(f"{live_server}/settlement/{sheet.id}")
        annex = page.locator(".correction-annex").first.inner_text()
        assert "往年更正调整" in annex and "应付合计" in annex and "经复核认定虚假" in annex
        assert "265.64" in annex  # 乙区's +26,564 fen from the appeal
        screenshot(page, "settlement-corrections-carried")
        page.goto(f"{live_server}/settlement/{locked.id}")
        annex = page.locator(".correction-annex").first.inner_text()
        assert "锁定后更正" in annex and f"{NEXT} 年度结算表" in annex
        screenshot(page, "settlement-corrections-locked")
    assert not page.console_errors
