"""Token-authenticated API calls: stateless (no session cookie), the token looked up once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fdoctor.auth.services import issue_api_token
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.records import TODAY, World, bp_record, make_world, results
from tests.factories.users import PASSWORD

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


@pytest.fixture()
def token(world: World) -> str:
    value = issue_api_token(world.doctor, "平板1")
    db.session.commit()
    return value


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def test_token_upload_gets_no_session_cookie(client: FlaskClient, world: World, token: str) -> None:
    response = client.post(
        "/api/v1/services/batch", json={"records": [bp_record(world.resident)]},
        headers=_bearer(token),
    )  # fmt: skip
    assert [r["status"] for r in results(response)] == ["created"]
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    me = client.get("/api/v1/me", headers=_bearer(token))
    assert me.status_code == 200 and "Set-Cookie" not in me.headers


def test_a_session_cookie_never_stands_in_for_the_token(
    client: FlaskClient, world: World, token: str, auth: AuthActions
) -> None:
    assert auth.login(world.leader.username, PASSWORD).status_code == 302
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 200
    assert response.get_json()["username"] == world.doctor.username  # the token's user
    assert "Set-Cookie" not in response.headers  # the session is neither read nor refreshed
    # The cookie alone still logs the page user in.
    assert client.get("/api/v1/me").get_json()["username"] == world.leader.username


def test_token_upload_looks_the_token_up_once_with_the_users_unit(
    client: FlaskClient, world: World, token: str
) -> None:
    payload = bp_record(world.resident)
    db.session.expunge_all()  # the test shares the app's session: start cold
    with _statements() as seen:
        response = client.post(
            "/api/v1/services/batch", json={"records": [payload]}, headers=_bearer(token)
        )
    assert [r["status"] for r in results(response)] == ["created"]
    # Reads only: the day's first use of a token also marks it used (its audited token_use).
    token_reads = [s for s in seen if "api_token" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(token_reads) == 1
    # The user and the user's unit come in that same query, not as lazy loads afterwards.
    assert "org_unit" in token_reads[0]
    user_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT user_account".upper())]
    assert user_reads == token_reads


def test_a_bad_token_gets_401_even_on_reads_that_need_a_login(
    client: FlaskClient, world: World, token: str
) -> None:
    assert client.get("/api/v1/me", headers=_bearer("forged")).status_code == 401
    response = client.post("/api/v1/services/batch", json={"records": []},
                           headers=_bearer("forged"))  # fmt: skip
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


def test_a_page_login_still_gets_its_session_cookie(world: World, auth: AuthActions) -> None:
    response = auth.login(world.doctor.username, PASSWORD)
    assert response.status_code == 302
    assert "session=" in response.headers.get("Set-Cookie", "")
