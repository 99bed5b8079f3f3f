"""The team split's pages in Chromium: the centre's attendance table on a tablet, and the team
fund as a member sees it on a phone (screenshots in tests/artifacts/screenshots/)."""

from __future__ import annotations

from typing import Any

from tests.app.settlement.test_team_split import world  # noqa: F401 - the fixture
from tests.browser.conftest import browser_login, screenshot
from tests.factories.settlement import YEAR
from tests.factories.users import PASSWORD

PHONE = {"width": 390, "height": 844}


def test_the_centre_enters_a_month_in_one_table(
    page: Any,
    live_server: str,
    world: dict[str, Any],  # noqa: F811
) -> None:
    wang, li = world["people"]["王医生"], world["people"]["李医生"]
    browser_login(page, live_server, "centre", PASSWORD)
    page.goto(f"{live_server}/teamsplit/attendance?month={YEAR}-05")
    page.fill(f"input[name='days_due_{wang.id}']", "22")
    page.fill(f"input[name='days_worked_{wang.id}']", "20")
    page.fill(f"input[name='days_due_{li.id}']", "22")
    page.fill(f"input[name='days_worked_{li.id}']", "20")
    page.fill(f"input[name='sick_days_{li.id}']", "3")
    page.click("#attendance-form button[type=submit]")
    page.wait_for_selector(".alert-danger")
    assert "之和不能多于应出勤天数（22）" in page.inner_text(".alert-danger")
    # What was typed is kept; nothing is saved until every row is right.
    assert page.input_value(f"input[name='days_worked_{wang.id}']") == "20"
    page.fill(f"input[name='sick_days_{li.id}']", "2")
    page.click("#attendance-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    screenshot(page, "teamsplit-attendance-tablet")
    # The refused save answers 422 on purpose; nothing else may fail (inline styles, scripts).
    assert [e for e in page.console_errors if "favicon" not in e and "422" not in e] == []


def test_a_member_sees_the_team_fund_on_a_phone(
    page: Any,
    live_server: str,
    world: dict[str, Any],  # noqa: F811
) -> None:
    page.set_viewport_size(PHONE)
    browser_login(page, live_server, "sun", PASSWORD)
    page.goto(f"{live_server}/teamsplit/fund")
    assert "一团队 · 部门基金" in page.inner_text("h1")
    assert page.inner_text("#fund-balance").strip() == "0.00 元"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    screenshot(page, "teamsplit-fund-phone")
