"""The main menu fits: no label wraps at 1280×800 (or 1024 wide), grouped by area in dropdowns."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import browser_login, screenshot

ROLES = ["doctor", "leader", "centre", "county", "city", "finance", "admin"]

_LABEL_LINES = """() => Array.from(document.querySelectorAll('.fd-nav > .nav-item > .nav-link')).map((a) => {
  const style = getComputedStyle(a);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
  const inner = a.getBoundingClientRect().height - parseFloat(style.paddingTop)
    - parseFloat(style.paddingBottom);
  return {text: a.textContent.trim(), lines: Math.round(inner / line),
          top: Math.round(a.getBoundingClientRect().top)};
})"""


@pytest.mark.parametrize("width", [1280, 1024])
@pytest.mark.parametrize("role", ROLES)
def test_no_menu_label_wraps(page: Any, live_demo: str, role: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    browser_login(page, live_demo, role)
    labels = page.evaluate(_LABEL_LINES)
    assert labels, "the menu shows no links"
    assert [x["text"] for x in labels if x["lines"] != 1] == []
    assert len({x["top"] for x in labels}) == 1, labels  # one row of menu items
    if width == 1280 and role in ("leader", "city"):
        screenshot(page, f"nav-{role}-1280")


def test_a_dropdown_opens_and_leads_to_its_pages(page: Any, live_demo: str) -> None:
    browser_login(page, live_demo, "leader")
    page.click(".fd-nav .dropdown-toggle:has-text('服务')")
    page.wait_for_selector(".dropdown-menu.show a:has-text('录入服务')")
    screenshot(page, "nav-leader-dropdown")
    page.click(".dropdown-menu.show a:has-text('服务记录')")
    page.wait_for_url("**/services/")
    assert page.console_errors == [] or all("favicon" in e for e in page.console_errors)
