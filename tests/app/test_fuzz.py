"""Bad input never crashes and never half-writes: Hypothesis throws generated form fields and JSON
bodies at every POST/PUT route, as every role, and the app must answer without a 500 and leave the
database consistent (audit chain intact, no resident in two active contracts).

The field names of each form are read from the page that shows it, so new forms are fuzzed
without listing them here.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fdoctor.audit.services import verify
from fdoctor.contracts.models import ContractMember
from fdoctor.extensions import db
from tests.conftest import DEMO_PASSWORD, csrf_token, login

pytestmark = pytest.mark.db
ROLES = ["doctor", "leader", "centre", "county", "city", "finance", "admin"]
_NAME = re.compile(r'name="([A-Za-z_][\w\-\[\]]*)"')
_SKIP = {"auth.logout", "auth.login"}

values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=3).map(str),
    st.sampled_from(
        ["", "0", "-1", "y", "on", "2026-02-30", "410001199901011234", "' OR 1=1 --", "<script>"]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=15,
)


@pytest.fixture(scope="module")
def world(_migrated_app: Flask) -> Any:
    from fdoctor.demo.generator import load_demo

    with _migrated_app.app_context():
        load_demo(seed=7, anchor=date(2026, 11, 20), scale="small")
        db.session.commit()
    yield _migrated_app
    from tests.conftest import empty_all_tables

    empty_all_tables(_migrated_app)


def _targets(app: Flask) -> list[tuple[str, str, list[str]]]:
    """(endpoint, method, argument names) for every route that changes data."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in _SKIP or rule.endpoint == "static":
            continue
        for method in ("POST", "PUT"):
            if method in (rule.methods or set()):
                found.append((rule.rule, method, sorted(rule.arguments)))
    return sorted(found)


def _url(rule: str, args: list[str], ident: int) -> str:
    url = rule
    for arg in args:
        value = "00000000-0000-4000-8000-000000000000" if "uuid" in arg else str(ident)
        url = re.sub(rf"<(?:\w+:)?{arg}>", value, url)
    return url


def _field_names(client: Any, url: str) -> list[str]:
    page = client.get(url)
    if page.status_code != 200 or not page.mimetype.startswith("text/html"):
        return []
    return sorted(set(_NAME.findall(page.get_data(as_text=True))) - {"csrf_token"})


def _consistent() -> None:
    doubled = db.session.scalar(
        select(func.count()).select_from(
            select(ContractMember.resident_id)
            .where(ContractMember.is_active)
            .group_by(ContractMember.resident_id)
            .having(func.count() > 1)
            .subquery()
        )
    )
    assert doubled == 0
    result = verify(db.session)
    assert result.ok, result.problems[:3]


@pytest.mark.parametrize("role", ROLES)
def test_no_route_crashes_on_generated_input(world: Flask, role: str) -> None:
    client = world.test_client()
    assert login(client, role, DEMO_PASSWORD).status_code == 302
    token = csrf_token(client, "/")
    targets = _targets(world)
    forms: dict[str, list[str]] = {}

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        target=st.sampled_from(targets),
        ident=st.integers(min_value=0, max_value=60),
        data=st.data(),
    )
    def fuzz(target: tuple[str, str, list[str]], ident: int, data: Any) -> None:
        rule, method, args = target
        url = _url(rule, args, ident)
        if url.startswith("/api/"):
            body = data.draw(json_values)
            response = client.open(url, method=method, json=body, headers={"X-CSRFToken": token})
        else:
            page_url = re.sub(r"/(submit|score|publish|[a-z_]+)$", "", url)
            names = forms.setdefault(
                page_url, _field_names(client, url) or _field_names(client, page_url)
            )
            fields = (
                data.draw(st.dictionaries(st.sampled_from(names), values, max_size=len(names)))
                if names
                else {}
            )
            response = client.open(url, method=method, data={**fields, "csrf_token": token})
        assert response.status_code < 500, f"{method} {url} → {response.status_code}"

    fuzz()
    with world.app_context():
        _consistent()
