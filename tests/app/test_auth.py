"""Login, throttling, CSRF, open redirects and the ``flask users create`` command."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db


def _run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_cli_creates_first_admin_without_unit(app: Flask) -> None:
    code, output = _run(
        app, "users", "create", "--username", "root", "--password", "Lantern-42x", "--role", "admin"
    )
    assert code == 0, output
    assert "已创建用户 root" in output
    user = db.session.scalar(select(User).where(User.username == "root"))
    assert user is not None and user.org_unit_id is None and user.check_password("Lantern-42x")


def test_cli_requires_unit_for_other_roles(app: Flask) -> None:
    code, output = _run(
        app, "users", "create", "--username", "doc", "--password", "Lantern-42x", "--role", "doctor"
    )
    assert code != 0 and "--unit" in output


def test_cli_rejects_unknown_unit_and_wrong_kind(app: Flask) -> None:
    tree = make_tree()
    db.session.commit()
    code, output = _run(
        app,
        "users",
        "create",
        "--username",
        "doc",
        "--password",
        "Lantern-42x",
        "--role",
        "doctor",
        "--unit",
        "NOPE",
    )
    assert code != 0 and "机构编码 NOPE 不存在" in output
    code, output = _run(
        app,
        "users",
        "create",
        "--username",
        "doc",
        "--password",
        "Lantern-42x",
        "--role",
        "doctor",
        "--unit",
        tree.county.code,
    )
    assert code != 0 and "不能挂在" in output
    code, output = _run(
        app,
        "users",
        "create",
        "--username",
        "doc",
        "--password",
        "Lantern-42x",
        "--role",
        "doctor",
        "--unit",
        tree.team.code,
    )
    assert code == 0, output


@pytest.mark.parametrize(
    ("password", "message"), [("short1", "至少8位"), ("onlyletters", "至少三种")]
)
def test_cli_enforces_password_policy(app: Flask, password: str, message: str) -> None:
    code, output = _run(
        app, "users", "create", "--username", "root", "--password", password, "--role", "admin"
    )
    assert code != 0 and message in output
    assert db.session.scalar(select(User.id)) is None


def _login_setup(app: Flask) -> None:
    tree = make_tree()
    make_user("doc", "doctor", tree.team)
    db.session.commit()


def test_login_and_logout(client: FlaskClient, app: Flask, auth: AuthActions) -> None:
    _login_setup(app)
    response = auth.login("doc", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/worklist/"  # doctors start on their work list
    assert client.get("/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_in_chinese(app: Flask, auth: AuthActions) -> None:
    _login_setup(app)
    response = auth.login("doc", "wrong-password1")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_five_failures_lock_the_account_for_fifteen_minutes(app: Flask, auth: AuthActions) -> None:
    _login_setup(app)
    start = datetime(2026, 3, 2, 9, 0, 0)
    with clock.frozen(start):
        for _ in range(5):
            auth.login("doc", "wrong-password1")
        locked = auth.login("doc", PASSWORD)
        assert locked.status_code == 401
        assert "锁定" in locked.get_data(as_text=True)
    with clock.frozen(start + timedelta(minutes=14)):
        assert auth.login("doc", PASSWORD).status_code == 401
    with clock.frozen(start + timedelta(minutes=16)):
        assert auth.login("doc", PASSWORD).status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, app: Flask) -> None:
    _login_setup(app)
    response = client.post("/login", data={"username": "doc", "password": PASSWORD})
    assert response.status_code == 400
    assert "安全令牌" in response.get_data(as_text=True)


def test_login_never_redirects_off_site(client: FlaskClient, app: Flask) -> None:
    _login_setup(app)
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "doc", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/worklist/"


def test_pages_carry_security_headers(client: FlaskClient, app: Flask) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_refuses_to_start_without_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from fdoctor import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": ""})
