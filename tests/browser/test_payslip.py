"""A member's pay slip on a phone (390 × 844): everything readable without sideways scrolling,
the team's published list included; the screenshot is kept in tests/artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fdoctor.distribution import services
from fdoctor.extensions import db
from fdoctor.settlement.models import SettlementLine
from tests.app.distribution.conftest import Locked, locked  # noqa: F401 - fixture
from tests.app.settlement.conftest import (  # noqa: F401 - fixtures
    _after_the_settled_year,
    _empty_tables_despite_lock_triggers,
)
from tests.browser.conftest import browser_login, screenshot
from tests.factories.users import PASSWORD

PHONE = {"width": 390, "height": 844}


def test_a_member_reads_their_slip_on_a_phone(
    browser: Any,
    live_server: str,
    locked: Locked,  # noqa: F811
) -> None:
    distribution = services.propose(locked.sheet, locked.world["T1"], locked.leader, "")
    services.confirm(distribution, locked.nurse, "")
    db.session.commit()
    line = db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.user_id == locked.nurse.id, SettlementLine.level == "member"
        )
    )
    assert line is not None

    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        browser_login(page, live_server, "t1-nurse", PASSWORD)
        page.goto(f"{live_server}/distribution/slips")
        page.click(f"a[href='/distribution/slips/{line.id}']")
        page.wait_for_selector("#slip-factors")
        assert "元" in page.inner_text("#slip-amount")
        assert "出勤系数 a" in page.inner_text("#slip-factors")
        assert "t1-leader" in page.inner_text("#team-list")
        assert "公示中" in page.inner_text("#slip-status")
        # Nothing wider than the phone: no sideways scrolling.
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        path = screenshot(page, "payslip-phone")
        assert path.stat().st_size > 10_000
        # The team's page, where a member objects during the 公示, fits the phone as well.
        page.goto(f"{live_server}/distribution/{locked.sheet.id}/team/{locked.world['T1'].id}")
        page.fill("#object-text", "我的出勤天数有误")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "distribution-team-phone")
        page.click("#object-form button[type=submit]")
        page.wait_for_selector("#objections")
        assert "我的出勤天数有误" in page.inner_text("#objections")
        assert not errors, errors
    finally:
        context.close()
