"""Tablet fixes: the work list's link preselects, the status tells the truth about the roster, an
upload is not followed by a records download, and a server rejection is shown in red."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from tests.browser.conftest import browser_login, screenshot
from tests.browser.test_tablet import _open_tablet, _pick, _records, team_world  # noqa: F401
from tests.factories.users import PASSWORD


def test_the_work_list_link_opens_the_tablet_on_the_resident_and_type(
    page: Any,
    live_server: str,
    team_world: dict[str, Any],  # noqa: F811
) -> None:
    browser_login(page, live_server, "tabletdoc", PASSWORD)
    resident_id, name, _ = team_world["people"][1]
    page.goto(f"{live_server}/services/tablet?resident={resident_id}&type=hypertension_followup")
    page.wait_for_selector("#tablet[data-ready='true']")
    page.wait_for_selector(f"#selected-resident:has-text('{name}')")
    page.wait_for_selector("#record-form:not(.d-none)")
    assert page.inner_text("#type-chosen-label") == "高血压随访"
    assert page.locator("#systolic_bp").is_visible()


def test_online_without_the_roster_is_not_shown_as_ready(
    page: Any,
    live_server: str,
    team_world: dict[str, Any],  # noqa: F811
) -> None:
    browser_login(page, live_server, "tabletdoc", PASSWORD)
    page.route("**/api/**/residents*", lambda route: route.abort())
    page.goto(f"{live_server}/services/tablet")
    page.wait_for_selector("#tablet[data-ready='true']")
    page.wait_for_selector("#snapshot-state:has-text('居民名单尚未下载')")
    badge = page.inner_text("#net-state")
    assert badge != "在线" and "未下载" in badge
    assert page.locator("#download-roster").is_visible()
    page.unroute("**/api/**/residents*")
    page.click("#download-roster")
    page.wait_for_selector("#snapshot-state:has-text('居民名单 4 人')")
    assert page.inner_text("#net-state") == "在线"
    assert not page.locator("#download-roster").is_visible()


def test_an_upload_is_not_followed_by_a_records_download(
    page: Any,
    live_server: str,
    app: Flask,
    team_world: dict[str, Any],  # noqa: F811
) -> None:
    browser_login(page, live_server, "tabletdoc", PASSWORD)
    _open_tablet(page, live_server)
    page.wait_for_load_state("networkidle")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(f"{r.method} {r.url}"))
    _pick(page, team_world["people"][0][1])
    page.click(".type-btn[data-type='hypertension_followup']")
    page.fill("#systolic_bp", "130")
    page.fill("#diastolic_bp", "80")
    page.click("#save-record")
    page.wait_for_selector(".queue-item[data-state='done']")
    page.wait_for_load_state("networkidle")
    assert any(s.startswith("POST") and "/services/batch" in s for s in seen)
    downloads = [s for s in seen if s.startswith("GET") and "/api/" in s and "/services?" in s]
    assert downloads == []
    assert len(_records(app)) == 1
    assert page.locator(".recent-item").count() == 1  # the list is kept from the batch's answer


def test_an_upload_the_server_rejects_is_shown_in_red_with_the_reason(
    page: Any,
    live_server: str,
    app: Flask,
    team_world: dict[str, Any],  # noqa: F811
) -> None:
    browser_login(page, live_server, "tabletdoc", PASSWORD)
    _open_tablet(page, live_server)
    reason = "该居民的签约已解约，不能记录服务"
    page.route(
        "**/api/**/services/batch",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps(
                {"results": [{"status": "invalid", "errors": {"resident_id": reason}}]}
            ),
        ),
    )
    _pick(page, team_world["people"][0][1])
    page.click(".type-btn[data-type='hypertension_followup']")
    page.fill("#systolic_bp", "130")
    page.fill("#diastolic_bp", "80")
    page.click("#save-record")
    page.wait_for_selector(".queue-item[data-state='invalid']")
    toast = page.locator("#saved-toast")
    page.wait_for_selector(f"#saved-toast:has-text('{reason}')")
    classes = toast.get_attribute("class")
    assert "alert-danger" in classes and "alert-success" not in classes
    assert "text-danger" in page.get_attribute("#sync-message", "class")
    screenshot(page, "tablet-upload-rejected")
    assert _records(app) == []
