"""A team leader runs one monthly self-check (L1) through the whole workflow in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from assessments.tiers import Level, period_to_open
from fdoctor.assessments.models import Assessment
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.app.assessments.conftest import remove_locked_assessments
from tests.browser.conftest import browser_login, screenshot
from tests.factories.households import make_household
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user


@pytest.fixture()
def clean_assessments(app: Flask) -> Iterator[None]:
    yield
    remove_locked_assessments()  # published rows are locked by triggers; the shared clean-up cannot


def test_team_leader_opens_scores_submits_publishes_and_acknowledges_an_l1(
    page: Any, live_server: str, app: Flask, clean_assessments: None
) -> None:
    tree = make_tree()
    make_user("leader1", "team_leader", tree.team)
    make_household(tree.team, members=2)
    db.session.commit()
    period = str(period_to_open(Level.L1, clock.today()))
    page.on("dialog", lambda dialog: dialog.accept())
    # The browser's own /favicon.ico request 404s (the app has no icon yet): not a page error.
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico")
            and errors.append(m.text)
        ),
    )

    browser_login(page, live_server, "leader1", PASSWORD)
    page.goto(f"{live_server}/assessments/")
    # The form offers the leader's level only, and ended months only, the latest first.
    assert page.locator("#open-level option").evaluate_all("o => o.map(x => x.value)") == ["L1"]
    offered = page.locator("#open-period option").evaluate_all("o => o.map(x => x.value)")
    assert offered[0] == period and len(offered) == 12
    assert page.input_value("#open-period") == period
    page.select_option("#open-level", "L1")
    page.select_option("#open-period", period)
    with page.expect_navigation():
        page.click("#open-submit")
    assert "新开启 1 份" in page.inner_text("main")
    assert "已开启" in page.inner_text("#assessment-status")

    inputs = page.locator("input.points-input")
    assert inputs.count() >= 2  # A4 and B2 at least: the manual indicators
    for n in range(inputs.count()):
        field = inputs.nth(n)
        field.fill(field.get_attribute("max") or "0")
    page.fill("#points-A4", "2")
    page.fill("#reason-A4", "签约服务公示栏未按月更新")
    with page.expect_navigation():
        page.click("#btn-save")
    assert "评分已保存" in page.inner_text("main")
    assert "评分中" in page.inner_text("#assessment-status")

    for button, status in (
        ("#btn-submit", "已提交"),
        ("#btn-publish", "已公示"),
        ("#btn-acknowledge", "已确认"),
    ):
        with page.expect_navigation():
            page.click(button)
        assert status in page.inner_text("#assessment-status")
    assert "签约服务公示栏未按月更新" in page.inner_text("#item-A4")
    assert page.inner_text("#assessment-total") not in ("", "—")
    assert page.failed_responses == [] and errors == []
    screenshot(page, "assessment-l1-acknowledged")

    db.session.expire_all()
    done = db.session.scalar(select(Assessment).where(Assessment.unit_id == tree.team.id))
    assert done is not None and done.status == "acknowledged" and done.period == period
    assert done.total is not None and done.acknowledged_at is not None


def test_team_leader_dashboard_draws_this_months_progress_chart(page: Any, live_demo: str) -> None:
    browser_login(page, live_demo, "leader")
    page.goto(f"{live_demo}/assessments/dashboard")
    page.wait_for_selector("#dashboard-chart[data-chart-ready='1']")
    assert "本月进度" in page.inner_text("#dashboard-title")
    assert page.locator("#dashboard-table tbody tr").count() >= 10
    assert page.failed_responses == []
    screenshot(page, "assessment-dashboard-team")
