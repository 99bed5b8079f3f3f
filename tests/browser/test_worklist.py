"""The doctor's work list in real Chromium: an overdue follow-up on the start page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask

from fdoctor.core import clock
from fdoctor.extensions import db
from tests.app.worklist.wiring import _wired_app, app  # noqa: F401 - fixtures
from tests.browser.conftest import browser_login, screenshot
from tests.factories.households import make_household
from tests.factories.surveys import add_record, add_resident, make_world
from tests.factories.users import PASSWORD

TODAY = date(2026, 10, 10)


@pytest.fixture()
def frozen_world(app: Flask) -> Iterator[dict[str, Any]]:  # noqa: F811 - the wired app
    with clock.frozen(TODAY):
        world = make_world()
        doctor = world.users["doctor"]
        home = make_household(world.tree.team, doctor=doctor)
        patient = add_resident(home, date(1958, 4, 2), "王建国", hypertension=True)
        add_record(patient, "hypertension_followup", date(2026, 5, 12), doctor)
        add_resident(home, date(1950, 3, 1), "李桂兰")
        db.session.commit()
        yield {"doctor": doctor, "patient": patient}


def test_doctor_opens_the_work_list_and_sees_an_overdue_follow_up(
    page: Any, live_server: str, frozen_world: dict[str, Any]
) -> None:
    browser_login(page, live_server, frozen_world["doctor"].username, PASSWORD)
    page.console_errors.clear()  # the login page's missing /favicon.ico is not this page's
    page.goto(f"{live_server}/worklist/")
    overdue = page.locator("#overdue .work-item")
    assert overdue.count() == 1
    assert "王建国" in overdue.first.inner_text()
    assert "高血压患者随访（2026年第3季度）" in overdue.first.inner_text()
    record = overdue.first.locator("a.record-btn")
    patient_id = frozen_world["patient"].id
    assert record.get_attribute("href").endswith(
        f"/services/tablet?resident={patient_id}&type=hypertension_followup"
    )
    assert "老年人健康体检（2026年）" in page.inner_text("#due")
    # Tablet-sized touch target, and the page's own script filters the list.
    assert record.bounding_box()["height"] >= 44
    page.fill("#worklist-filter", "李桂兰")
    assert not overdue.first.is_visible()
    page.fill("#worklist-filter", "")
    assert overdue.first.is_visible()
    assert page.failed_responses == [] and page.console_errors == []
    screenshot(page, "worklist-doctor-tablet")
