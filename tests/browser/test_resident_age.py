"""The resident form's live ID preview: a birth date after today is an error, never a negative age."""

from __future__ import annotations

from datetime import date
from typing import Any

from fdoctor.core import citizen_id as cid
from tests.browser.conftest import browser_login
from tests.factories.contracts import World, world  # noqa: F401 - world is a fixture
from tests.factories.users import PASSWORD


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
    page.wait_for_function(
        "() => document.querySelector('#id-derived').innerText.includes('晚于今天')"
    )
    preview = page.inner_text("#id-derived")
    assert "晚于今天" in preview and "-" not in preview.split("，")[-1]
    page.fill("#citizen_id", cid.make("410001", date(today.year - 30, 1, 1), 123))
    page.wait_for_function("() => document.querySelector('#id-derived').innerText.includes('30岁')")


def test_a_long_name_is_not_cut_but_refused_with_a_message(
    page: Any,
    live_server: str,
    world: World,  # noqa: F811
) -> None:
    h1 = world.households["h1"]
    browser_login(page, live_server, "doc1", PASSWORD)
    page.goto(f"{live_server}/households/{h1.id}/residents/new")
    assert page.get_attribute("#name", "maxlength") is None
    long_name = "欧阳" * 30  # 60 characters; the limit is 50
    page.fill("#name", long_name)
    assert page.input_value("#name") == long_name  # nothing cut off
    assert page.inner_text("#name-length") == "最多50个字，当前60个字，请删减"
    assert "is-invalid" in page.get_attribute("#name", "class")
    page.fill("#citizen_id", cid.make("410001", date(1990, 1, 1), 123))
    page.fill("#relation", "子")
    page.click("#submit")
    page.wait_for_selector("text=姓名不能超过50个字")
    page.fill("#name", "欧阳明")
    assert page.inner_text("#name-length") == ""
