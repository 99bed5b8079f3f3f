"""The tablet page as served (the browser tests drive it), its service worker, and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fdoctor.core import clock
from fdoctor.records.drafts import SPECIFIC_FIELDS, parse_draft
from fdoctor.records.models import SERVICE_TYPES
from fdoctor.records.sync import upload_batch
from tests.conftest import AuthActions
from tests.factories.records import TODAY, World, make_world

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _page(app: Flask, username: str) -> str:
    client: FlaskClient = app.test_client()
    AuthActions(client).login_as(username)
    response = client.get("/services/tablet")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_tablet_page_carries_the_csrf_token_and_the_doctors_team(app: Flask, world: World) -> None:
    html = _page(app, "doc1")
    assert re.search(r'<meta name="csrf-token" content="[^"]{20,}">', html)
    assert f'data-team-id="{world.tree.team.id}"' in html
    assert 'data-api="/api/v1"' in html and 'data-sw="/services/sw.js"' in html
    assert (
        f'<option value="{world.tree.institution.id}">{world.tree.institution.name}</option>'
        in html
    )
    assert html.count('class="btn btn-outline-primary type-btn"') == len(SERVICE_TYPES)
    assert 'id="team_id"' not in html  # a doctor's events belong to the doctor's team


def test_tablet_page_has_no_inline_script_or_style(app: Flask, world: World) -> None:
    html = _page(app, "doc1")
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)


def test_centre_admin_picks_the_team_of_an_event(app: Flask, world: World) -> None:
    html = _page(app, "centre1")
    assert 'id="team_id"' in html
    assert world.tree.team.name in html and world.tree.team2.name in html
    assert world.tree.other_team.name not in html


def test_service_worker_is_served_fresh_to_anyone(client: FlaskClient) -> None:
    response = client.get("/services/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "fdoctor-tablet-v" in response.get_data(as_text=True)


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_keys = st.sampled_from(
    ["client_uuid", "type", "service_date", "resident_id", "team_id", "notes", "entered_at",
     "other_institution_id", "other_institution_name", *SPECIFIC_FIELDS]
)  # fmt: skip
_payloads = st.dictionaries(_keys, _values, max_size=8).map(
    lambda d: {"type": "consultation", **d}
) | st.builds(
    lambda t, extra: {"type": t, "service_date": "2026-06-01", **extra},
    st.sampled_from(sorted(SERVICE_TYPES)),
    st.dictionaries(_keys, _values, max_size=6),
)


@given(_payloads)
@settings(max_examples=300, deadline=None)
def test_parsing_never_fails_on_any_payload(payload: dict[str, Any]) -> None:
    draft, errors = parse_draft(payload, TODAY)
    assert (draft is None) == bool(errors)
    assert all(isinstance(m, str) and m for m in errors.values())


@given(st.lists(st.one_of(_payloads, _values), max_size=6))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_upload_answers_every_item_whatever_it_holds(world: World, items: list[Any]) -> None:
    with clock.frozen(TODAY):
        got = upload_batch(world.doctor, "fuzz", items)
    assert len(got) == len(items)
    assert all(r.status in {"created", "duplicate", "invalid"} for r in got)
