"""Browser fixtures: the demo app served on a local port, driven by Debian's headless Chromium."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
TABLET = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _buffered(app: Any) -> Any:
    """Read each response whole and close it before sending.

    Werkzeug's development server skips closing the response when the browser drops the
    connection mid-send (a favicon abandoned by a page that moved on), leaving the static
    file open; the ResourceWarning then fails a test at random. Test responses are small.
    """

    def middleware(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return middleware


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()


@pytest.fixture(scope="session")
def live_demo(demo_app: Flask) -> Iterator[str]:
    with LiveServer(demo_app) as server:
        yield server.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Let page.context.route() see requests a service worker makes (the offline tablet tests cut
    # the API off at the network layer; Chromium's offline emulation alone leaks through the SW).
    os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup (installs Debian's chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh tablet-sized page that records console errors and failed requests."""
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.failed_responses = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.on(
        "response", lambda r: r.status >= 400 and pg.failed_responses.append(f"{r.status} {r.url}")
    )
    yield pg
    context.close()


def screenshot(pg: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def browser_login(pg: Any, base: str, username: str, password: str = "Demo2026") -> None:
    pg.goto(f"{base}/login")
    pg.fill("#username", username)
    pg.fill("#password", password)
    pg.click("#submit")
    pg.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture()
def live_server(app: Flask) -> Iterator[str]:
    """The app on the empty test database, served for one test (set data up with factories)."""
    with LiveServer(app) as server:
        yield server.url
