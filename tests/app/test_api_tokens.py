"""API authentication: per-user bearer tokens, scoped like pages; idle sessions expire."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fdoctor.auth.services import issue_api_token, revoke_api_tokens
from fdoctor.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db


def _doctor_token(app: Flask) -> tuple[object, str]:
    tree = make_tree()
    doctor = make_user("doc", "doctor", tree.team)
    token = issue_api_token(doctor, "平板1")
    db.session.commit()
    return doctor, token


def test_bearer_token_authenticates_as_its_user(app: Flask) -> None:
    _doctor, token = _doctor_token(app)
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["username"] == "doc"


def test_token_upload_needs_no_csrf_because_no_cookie_is_involved(app: Flask) -> None:
    _doctor, token = _doctor_token(app)
    response = app.test_client().post(
        "/api/v1/services/batch", json={"records": []}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.get_json()["results"] == []


def test_unknown_and_revoked_tokens_are_refused(app: Flask) -> None:
    doctor, token = _doctor_token(app)
    client = app.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    revoke_api_tokens(doctor)
    db.session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "令牌" in response.get_json()["error"] or "登录" in response.get_json()["error"]


def test_bad_token_never_falls_back_to_the_session_without_csrf(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    _doctor_token(app)
    auth.login("doc", PASSWORD)
    response = client.post(
        "/api/v1/services/batch", json={"records": []}, headers={"Authorization": "Bearer forged"}
    )
    assert response.status_code == 401


def test_token_user_is_scoped_like_pages(app: Flask) -> None:
    _doctor, token = _doctor_token(app)
    response = app.test_client().get(
        "/api/v1/residents", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.get_json()["residents"] == []  # the doctor's team has no residents here


def test_only_the_token_hash_is_stored(app: Flask) -> None:
    from sqlalchemy import select

    from fdoctor.auth.models import ApiToken

    _doctor, token = _doctor_token(app)
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored[0]) == 64


def test_idle_session_expires_after_its_lifetime(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch, auth: AuthActions
) -> None:
    _doctor_token(app)
    auth.login("doc", PASSWORD)
    assert client.get("/").status_code == 200
    csrf_token(client, "/")
    later = time.time() + app.permanent_session_lifetime.total_seconds() + 60
    monkeypatch.setattr(time, "time", lambda: later)  # the signed cookie's timestamp is now too old
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
