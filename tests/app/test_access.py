"""Every route with every role: allowed (200), forbidden by role (403), out of scope (404).

Expectations are written by hand per area in ``tests/app/access/*.py`` (never read from the
views), so a view that loses its guard fails here; a route without an entry fails
``test_every_route_has_expectations``.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask import Flask, url_for

from tests.app import access
from tests.app.access.base import ROLES, WHICH, Expect
from tests.conftest import AuthActions, csrf_token

pytestmark = pytest.mark.db


def _collect() -> tuple[dict[str, Expect], set[str]]:
    expectations: dict[str, Expect] = {}
    special: set[str] = set()
    for info in pkgutil.iter_modules(access.__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"tests.app.access.{info.name}")
        for endpoint, expect in getattr(module, "EXPECTATIONS", {}).items():
            assert endpoint not in expectations, f"{endpoint} listed twice"
            expectations[endpoint] = expect
        special |= set(getattr(module, "SPECIAL", set()))
    return expectations, special


EXPECTATIONS, SPECIAL = _collect()


def test_every_route_has_expectations(demo_app: Flask) -> None:
    endpoints = {rule.endpoint for rule in demo_app.url_map.iter_rules()}
    missing = endpoints - set(EXPECTATIONS) - SPECIAL
    assert not missing, f"routes without access expectations: {sorted(missing)}"
    stale = set(EXPECTATIONS) - endpoints
    assert not stale, f"expectations for routes that do not exist: {sorted(stale)}"


@pytest.mark.parametrize("role", ROLES)
def test_role_walks_every_route(demo_app: Flask, role: str) -> None:
    client = demo_app.test_client()
    assert AuthActions(client).login(role).status_code == 302
    token = csrf_token(client, "/")
    failures = []
    with demo_app.test_request_context():
        for endpoint, expect in EXPECTATIONS.items():
            for which in WHICH if expect.args else (None,):
                kwargs = expect.args(which) if expect.args and which else {}
                url = url_for(endpoint, **kwargs)
                if role not in expect.roles:
                    wanted = 403
                elif which is not None and role not in expect.sees[which]:
                    wanted = 404
                else:
                    wanted = 200
                if expect.method == "POST":
                    if wanted == 200:
                        continue  # allowed POSTs change data: tested in the area's own tests
                    got = client.post(url, data={"csrf_token": token}).status_code
                else:
                    got = client.get(url).status_code
                if got != wanted:
                    failures.append(
                        f"{role} {expect.method} {url} ({which}): expected {wanted}, got {got}"
                    )
    assert not failures, "\n".join(failures)


def test_anonymous_is_sent_to_login_everywhere_but_health(demo_app: Flask) -> None:
    client = demo_app.test_client()
    with demo_app.test_request_context():
        for endpoint, expect in EXPECTATIONS.items():
            if expect.method != "GET":
                continue
            kwargs = expect.args("own") if expect.args else {}
            response = client.get(url_for(endpoint, **kwargs))
            if endpoint in {"home.healthz", "home.favicon", "api.openapi"} or endpoint.startswith(
                "public."
            ):
                assert response.status_code == 200, endpoint
            elif endpoint.startswith("api."):
                assert response.status_code == 401, endpoint
            else:
                assert response.status_code == 302, endpoint
                assert "/login" in response.headers["Location"]
