"""The tablet keeps a visit's evidence (form time, consented location, signature) while offline."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.browser.conftest import browser_login, screenshot
from tests.browser.test_tablet import _open_tablet, _pick, _records, team_world  # noqa: F401
from tests.factories.users import PASSWORD

QUEUED_PAYLOADS = """async () => {
  const db = await new Promise((ok, ko) => {
    const r = indexedDB.open('fdoctor-tablet', 1); r.onsuccess = () => ok(r.result); r.onerror = ko;
  });
  const ops = await new Promise((ok, ko) => {
    const r = db.transaction('ops').objectStore('ops').getAll(); r.onsuccess = () => ok(r.result);
    r.onerror = ko;
  });
  return ops.filter((o) => o.state === 'pending').map((o) => o.payload);
}"""


def _sign(page: Any) -> None:
    page.click("#sign-toggle")
    page.locator("#sign-pad").scroll_into_view_if_needed()
    box = page.locator("#sign-pad").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 30, y + 100)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(x + 30 + step * 18, y + 100 - (step % 4) * 12)
    page.mouse.up()
    page.wait_for_selector("#sign-state:has-text('居民已签名')")


def test_an_offline_visit_keeps_its_signature_location_and_form_time_until_uploaded(
    page: Any,
    live_server: str,
    app: Flask,
    team_world: dict[str, Any],  # noqa: F811
) -> None:
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 34.7466, "longitude": 113.6253, "accuracy": 20})
    browser_login(page, live_server, "tabletdoc", PASSWORD)
    _open_tablet(page, live_server)
    page.wait_for_selector("#tablet[data-sw-state='ready']")

    page.context.route("**/api/v1/**", lambda route: route.abort("internetdisconnected"))
    page.context.set_offline(True)
    page.wait_for_selector("#net-state:has-text('离线')")
    _, name, _ = team_world["people"][0]
    _pick(page, name)
    page.click(".type-btn[data-type='hypertension_followup']")
    page.check("#geo-consent")  # the doctor agrees once; the tablet remembers it
    page.fill("#systolic_bp", "134")
    page.fill("#diastolic_bp", "82")
    _sign(page)
    screenshot(page, "tablet-signature")
    page.click("#save-record")
    page.wait_for_selector("#queue-count:has-text('待上传 1 条')")

    page.reload()  # the queue, with its evidence, is read back from IndexedDB
    page.wait_for_selector("#tablet[data-ready='true']")
    assert page.evaluate("document.getElementById('geo-consent').checked")
    [payload] = page.evaluate(QUEUED_PAYLOADS)
    assert payload["form_opened_at"] <= payload["entered_at"]
    assert payload["location"]["latitude"] == 34.7466
    assert payload["resident_signature"].startswith("M")
    assert _records(app) == []

    page.context.unroute("**/api/v1/**")
    page.context.set_offline(False)
    page.wait_for_selector("#queue-count:has-text('待上传 0 条')", timeout=20_000)
    [stored] = _records(app)
    assert stored.systolic_bp == 134
    assert stored.resident_signature == payload["resident_signature"]
    assert float(stored.latitude) == 34.7466 and float(stored.longitude) == 113.6253
    assert stored.location_accuracy_m == 20
    assert stored.form_seconds is not None and 0 <= stored.form_seconds < 600
    assert stored.clock_skew_seconds is not None and abs(stored.clock_skew_seconds) < 60
    assert stored.uploaded_at is not None and stored.uploaded_at >= stored.entered_at


def test_without_consent_no_location_is_sent(
    page: Any,
    live_server: str,
    app: Flask,
    team_world: dict[str, Any],  # noqa: F811
) -> None:
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 34.7466, "longitude": 113.6253})
    browser_login(page, live_server, "tabletdoc", PASSWORD)
    _open_tablet(page, live_server)
    _, name, _ = team_world["people"][1]
    _pick(page, name)
    page.click(".type-btn[data-type='home_visit']")
    page.click("#save-record")
    page.wait_for_selector(".queue-item[data-state='done']")
    [stored] = _records(app)
    assert stored.latitude is None and stored.resident_signature is None
    assert stored.form_seconds is not None
