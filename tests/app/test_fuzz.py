"""Bad input never crashes and never half-writes: Hypothesis throws generated form fields and JSON
bodies at every POST/PUT route, as every role, and the app must answer without a 500 and leave the
database consistent (audit chain intact, no resident in two active contracts).

The field names of each form are read from the page that shows it, so new forms are fuzzed
without listing them here.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fdoctor.audit.verify import verify
from fdoctor.contracts.models import ContractMember
from fdoctor.extensions import db
from tests.conftest import DEMO_PASSWORD, AuthActions, csrf_token

pytestmark = pytest.mark.db
ROLES = ["doctor", "leader", "centre", "county", "city", "finance", "admin"]
_NAME = re.compile(r'name="([A-Za-z_][\w\-\[\]]*)"')
_SKIP = {"auth.logout", "auth.login"}

# Shapes that once gave a 500 or a half-write: NUL, doubled signs, the ends of the calendar,
# 30-digit numbers, markup and a citizen ID typed in full-width digits.
HOSTILE_TEXT = ["a\x00b", "\x00", "--1", "²", "0001-01-01", "9999-12-31", "9999-12",
                "1" + "0" * 30, "<b>粗</b><img src=/etc/hostname>", "４１０００１１９９９０１０１１２３４"]  # fmt: skip

values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=3).map(str),
    st.sampled_from(
        ["", "0", "-1", "y", "on", "2026-02-30", "410001199901011234", "' OR 1=1 --", "<script>"]
    ),
    st.sampled_from(HOSTILE_TEXT),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_TEXT + ["\ud800", "前\udfff后", "0001-01-01T00:00:00+14:00"])
    | st.sampled_from([10**30, -(10**30), 2**63]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=15,
)
# A JSON body as sent: a generated value, or brackets nested up to 100,000 deep.
json_bodies = st.one_of(
    json_values.map(json.dumps),
    st.integers(min_value=2, max_value=100_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=2, max_value=100_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
)
# Query strings for every page: paging, years, ids, periods and search terms.
QUERY_NAMES = ["page", "year", "pool", "unit", "team", "cell", "resident", "period", "month", "q",
               "since", "cursor", "after_id", "limit", "level", "status", "view", "kind"]  # fmt: skip


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
    assert AuthActions(client).login(role, DEMO_PASSWORD).status_code == 302
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
            body = data.draw(json_bodies)
            response = client.open(
                url,
                method=method,
                data=body,
                content_type="application/json",
                headers={"X-CSRFToken": token},
            )
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


def _pages(app: Flask) -> list[tuple[str, list[str]]]:
    """(rule, argument names) of every page that answers GET."""
    return sorted(
        (rule.rule, sorted(rule.arguments))
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
        and rule.endpoint not in _SKIP | {"static", "auth.logout"}
    )


@pytest.mark.parametrize("role", ["doctor", "centre", "city", "finance"])
def test_no_page_crashes_on_generated_query_strings(world: Flask, role: str) -> None:
    client = world.test_client()
    assert AuthActions(client).login(role, DEMO_PASSWORD).status_code == 302
    pages = _pages(world)

    @settings(
        max_examples=120,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        page=st.sampled_from(pages),
        ident=st.integers(min_value=0, max_value=60),
        query=st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=4),
    )
    def fuzz(page: tuple[str, list[str]], ident: int, query: dict[str, str]) -> None:
        url = _url(page[0], page[1], ident)
        response = client.get(url, query_string=query)
        assert response.status_code < 500, f"GET {url} {query!r} → {response.status_code}"

    fuzz()
