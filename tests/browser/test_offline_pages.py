"""The doctor's most-used pages open offline, read-only, from the last online visit."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import browser_login, screenshot

# Each page and its rows of data.
PAGES = {
    "/worklist/": ".work-item",
    "/households/": "table tbody tr",
    "/contracts/": "table tbody tr",
}


def test_work_list_households_and_contracts_open_offline_read_only(
    page: Any, live_demo: str
) -> None:
    browser_login(page, live_demo, "doctor")
    page.goto(f"{live_demo}/worklist/")
    page.wait_for_selector("html[data-pages-sw='registered']")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # controlled from here on
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    online: dict[str, tuple[int, str]] = {}
    for path, selector in PAGES.items():  # the online visits that keep a copy
        page.goto(f"{live_demo}{path}")
        rows = page.locator(selector)
        online[path] = (rows.count(), rows.first.inner_text())
        assert online[path][0] > 0
        assert not page.locator("#offline-banner").count()

    # Cut the network at both layers (offline emulation does not cover the worker's own fetches).
    page.context.route("**/*", lambda route: route.abort("internetdisconnected"))
    page.context.set_offline(True)
    for path, selector in PAGES.items():
        response = page.goto(f"{live_demo}{path}")
        assert response is not None and response.from_service_worker
        assert response.status == 200
        rows = page.locator(selector)
        assert (rows.count(), rows.first.inner_text()) == online[path]
        banner = page.inner_text("#offline-banner")
        assert "当前离线，只读" in banner and "联网时保存的内容" in banner
        enabled = page.locator("main form :is(input, select, button):not([disabled])")
        assert enabled.count() == 0
        screenshot(page, "offline" + path.replace("/", "-").rstrip("-"))
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(f"{live_demo}/services/")  # a page not kept offline is not served from the cache
    page.context.unroute("**/*")
    page.context.set_offline(False)


def test_signing_out_clears_the_pages_kept_for_offline_reading(page: Any, live_demo: str) -> None:
    """On a shared tablet the next user must not open the previous user's residents offline."""
    browser_login(page, live_demo, "doctor")
    page.goto(f"{live_demo}/worklist/")
    page.wait_for_selector("html[data-pages-sw='registered']")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.goto(f"{live_demo}/households/")  # kept by the worker
    kept = "() => caches.keys().then((n) => n.filter((x) => x.startsWith('fdoctor-pages-')))"
    names = page.evaluate(kept)
    assert names, "the page was not kept for offline reading"
    count = f"() => caches.open('{names[0]}').then((c) => c.keys()).then((k) => k.length)"
    assert page.evaluate(count) > 0
    with page.expect_navigation():
        page.click("#logout-form button[type=submit]")
    assert "/login" in page.url
    # The login page's static files may be cached again; no page with residents is kept.
    pages_kept = """async () => {
        const kept = [];
        for (const name of await caches.keys()) {
            if (!name.startsWith('fdoctor-pages-')) continue;
            const cache = await caches.open(name);
            for (const request of await cache.keys()) kept.push(new URL(request.url).pathname);
        }
        return kept.filter((path) => !path.startsWith('/static/'));
    }"""
    assert page.evaluate(pages_kept) == []
