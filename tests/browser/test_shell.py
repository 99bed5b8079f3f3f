"""The web shell in real Chromium: login, the home page's real figures, assets served locally."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.extensions import db
from fdoctor.home.figures import home_figures
from tests.browser.conftest import browser_login, screenshot


def test_doctor_logs_in_and_sees_home_figures_of_own_team(
    page: Any, live_demo: str, demo_app: Flask
) -> None:
    browser_login(page, live_demo, "doctor")
    assert page.url.endswith("/worklist/")  # the doctor's start page on the tablet
    page.goto(f"{live_demo}/")
    with demo_app.app_context():
        doctor = db.session.scalar(select(User).where(User.username == "doctor"))
        expected = home_figures(doctor)
    assert page.inner_text("#fig-signed") == f"{expected.signed_residents:,}"
    assert page.inner_text("#fig-services") == f"{expected.services_this_month:,}"
    assert page.inner_text("#fig-expiring") == f"{expected.expiring_contracts:,}"
    assert expected.signed_residents > 0
    assert "家庭医生/村医" in page.inner_text("#current-user")
    # Bootstrap came from the app itself and applied: the navbar is styled, nothing failed.
    assert page.evaluate("getComputedStyle(document.querySelector('.navbar')).display") == "flex"
    assert page.failed_responses == [] and page.console_errors == []
    screenshot(page, "home-doctor-tablet")


def test_wrong_password_shows_chinese_error(page: Any, live_demo: str) -> None:
    page.goto(f"{live_demo}/login")
    page.fill("#username", "doctor")
    page.fill("#password", "wrong-password1")
    page.click("#submit")
    assert "用户名或密码错误" in page.inner_text("main")


def test_narrow_screen_menu_opens_with_bundled_script(page: Any, live_demo: str) -> None:
    page.set_viewport_size({"width": 800, "height": 1280})
    browser_login(page, live_demo, "city")
    assert not page.is_visible("a.nav-link:has-text('结算')")
    page.click(".navbar-toggler")
    page.wait_for_selector("a.nav-link:has-text('结算')", state="visible")
    assert page.console_errors == []


def test_city_admin_searches_residents_and_sees_masked_ids(page: Any, live_demo: str) -> None:
    browser_login(page, live_demo, "city")
    page.goto(f"{live_demo}/households/?q=%E7%8E%8B")  # 王
    rows = page.locator("#resident-table tbody tr")
    assert rows.count() > 0
    first_id = rows.first.locator("td.font-monospace").inner_text()
    assert "**********" in first_id
    screenshot(page, "residents-city-tablet")
