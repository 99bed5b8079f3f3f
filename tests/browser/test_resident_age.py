"""The resident form's live ID preview: a birth date after today is an error, never a negative age."""

from __future__ import annotations

from datetime import date
from typing import Any

from fdoctor.core import citizen_id as cid
from tests.browser.conftest import browser_login
from tests.contracts_factories import World, world  # noqa: F401 - world is a fixture
from tests.factories import PASSWORD


def test_a_future_birth_date_in_the_id_is_an_error_not_a_negative_age(
    page: Any,
    live_server: str,
    world: World,  # noqa: F811
) -> None:
    h1 = world.households["h1"]
    browser_login(page, live_server, "doc1", PASSWORD)
    page.goto(f"{live_server}/households/{h1.id}/residents/new")
    today = date.fromisoformat(page.get_attribute("#resident-form", "data-today"))
    page.fill("#citizen_id", cid.make("410001", today.replace(year=today.year + 4), 123))
    preview = page.inner_text("#id-derived")
    assert "晚于今天" in preview and "-" not in preview.split("，")[-1]
    page.fill("#citizen_id", cid.make("410001", date(today.year - 30, 1, 1), 123))
    assert "30岁" in page.inner_text("#id-derived")
