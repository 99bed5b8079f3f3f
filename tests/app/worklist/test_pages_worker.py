"""The offline pages' service worker script: public (it holds no data), allowed to control the
site, revalidated on every fetch so a new version reaches the tablets."""

from __future__ import annotations

from flask import Flask


def test_the_pages_worker_is_public_and_may_control_the_site(app: Flask) -> None:
    response = app.test_client().get("/worklist/pages-sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "fdoctor-pages-" in response.get_data(as_text=True)
