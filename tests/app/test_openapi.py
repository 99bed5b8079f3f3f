"""The OpenAPI description covers every /api/v1/ route and is valid enough for tools."""

from __future__ import annotations

import re

import pytest
from flask import Flask

pytestmark = pytest.mark.db


def test_openapi_lists_every_api_route(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
    }
    assert routes == documented
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method == "parameters":
                continue
            assert "responses" in operation and "operationId" in operation, (path, method)
