"""Sessions that end server-side, login throttling under parallel requests, timing of unknown
users, the lockout message, the password policy, and no-store caching for signed-in pages."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from fdoctor.audit.models import AuditEntry
from fdoctor.auth import services as auth_services
from fdoctor.auth.models import User
from fdoctor.auth.services import (
    LOCK_MINUTES,
    MAX_FAILED_LOGINS,
    UserError,
    check_password_policy,
    lock_minutes_left,
)
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import DEMO_PASSWORD, AuthActions, csrf_token
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db

NEW_PASSWORD = "Harbour-88x"


def _users() -> dict[str, User]:
    tree = make_tree()
    users = {
        # Hashed the production way: the timing test compares its hash with the dummy one.
        "doc": make_user("doc", "doctor", tree.team, real_hash=True),
        "root": make_user("root", "admin", tree.city),
        "centre": make_user("centre", "centre_admin", tree.institution),
    }
    db.session.commit()
    return users


def _copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def _post(client: FlaskClient, url: str, data: dict[str, str] | None = None) -> Any:
    token = csrf_token(client, "/")
    return client.post(url, data={"csrf_token": token, **(data or {})})


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


# --- sessions end on the server --------------------------------------------------------------


def test_a_copied_cookie_stops_working_after_logout(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    _users()
    assert auth.login("doc", PASSWORD).status_code == 302
    copy = _copy_of(client, app)
    assert _signed_in(copy)
    assert _post(client, "/logout").status_code == 302
    response = copy.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_own_password_change_ends_other_sessions_and_keeps_this_one(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    _users()
    auth.login("doc", PASSWORD)
    other_device = app.test_client()
    auth.on(other_device).login("doc", PASSWORD)
    response = _post(
        client,
        "/account/password",
        {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _signed_in(client)
    assert not _signed_in(other_device)
    assert auth.on(app.test_client()).login("doc", PASSWORD).status_code == 401
    assert auth.on(app.test_client()).login("doc", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("Wrong-pass-1", NEW_PASSWORD, NEW_PASSWORD, "当前密码不正确"),
        (PASSWORD, NEW_PASSWORD, "Harbour-88y", "两次输入的新密码不一致"),
        (PASSWORD, "password1", "password1", "至少三种"),
        (PASSWORD, "Password1", "Password1", "过于常见"),
    ],
)
def test_own_password_change_refuses_in_chinese(
    client: FlaskClient,
    app: Flask,
    current: str,
    new: str,
    confirm: str,
    message: str,
    auth: AuthActions,
) -> None:
    _users()
    auth.login("doc", PASSWORD)
    response = _post(
        client, "/account/password", {"current": current, "new": new, "confirm": confirm}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "doc"))
    assert user is not None and user.check_password(PASSWORD) and user.session_version == 0


def test_disabling_ends_sessions_and_enabling_does_not_revive_them(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    users = _users()
    doc_id = users["doc"].id
    auth.login("doc", PASSWORD)
    admin = app.test_client()
    auth.on(admin).login("root", PASSWORD)
    assert _post(admin, f"/admin/users/{doc_id}/active", {"active": "0"}).status_code == 302
    assert not _signed_in(client)
    assert auth.on(app.test_client()).login("doc", PASSWORD).status_code == 401
    assert _post(admin, f"/admin/users/{doc_id}/active", {"active": "1"}).status_code == 302
    assert not _signed_in(client)  # the old cookie stays dead
    assert auth.on(app.test_client()).login("doc", PASSWORD).status_code == 302
    actions = db.session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.table_name == "user_account", AuditEntry.row_id == str(doc_id))
        .order_by(AuditEntry.id)
    ).all()
    # The account's row changes are audited too ("update"); the two decisions are named events.
    assert [a for a in actions if a in ("disable", "enable")] == ["disable", "enable"]
    assert "update" in actions


def test_a_cookie_without_session_version_signs_nobody_in(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    _users()
    auth.login("doc", PASSWORD)
    with client.session_transaction() as session:
        user_id, _, _version = session["_user_id"].partition(":")
        session["_user_id"] = user_id  # the shape of a cookie from before session versions
    assert not _signed_in(client)


# --- lockout ---------------------------------------------------------------------------------


def test_parallel_guesses_get_at_most_five_password_checks(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _users()
    checks: list[str] = []
    real_check = auth_services.check_password_hash

    def counting_check(pwhash: str, password: str) -> bool:
        checks.append(password)
        return real_check(pwhash, password)

    monkeypatch.setattr(auth_services, "check_password_hash", counting_check)
    threads_count = 16
    clients = [app.test_client() for _ in range(threads_count)]
    tokens = [csrf_token(c) for c in clients]
    barrier = threading.Barrier(threads_count)
    answers: list[str] = []

    def guess(i: int) -> None:
        barrier.wait()
        response = clients[i].post(
            "/login",
            data={"username": "doc", "password": f"Guess-{i:03d}x", "csrf_token": tokens[i]},
        )
        answers.append(f"{response.status_code} {response.get_data(as_text=True)}")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == threads_count
    assert all(a.startswith("401 ") for a in answers)
    assert len(checks) == MAX_FAILED_LOGINS
    assert sum("用户名或密码错误" in a for a in answers) == MAX_FAILED_LOGINS - 1
    assert sum(f"账号锁定{LOCK_MINUTES}分钟" in a for a in answers) == 1
    assert sum("账号已锁定" in a for a in answers) == threads_count - MAX_FAILED_LOGINS
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "doc"))
    assert user is not None and user.locked_until is not None and user.failed_logins == 0


def test_a_missing_user_costs_the_same_hash_check_as_a_present_one(
    app: Flask, monkeypatch: pytest.MonkeyPatch, auth: AuthActions
) -> None:
    _users()
    checked: list[str] = []
    real_check = auth_services.check_password_hash

    def counting_check(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])  # the method and its cost parameters
        return real_check(pwhash, password)

    monkeypatch.setattr(auth_services, "check_password_hash", counting_check)
    missing = auth.login("nobody", "Wrong-pass-1")
    present = auth.login("doc", "Wrong-pass-1")
    assert missing.status_code == present.status_code == 401
    assert "用户名或密码错误" in missing.get_data(as_text=True)
    assert "用户名或密码错误" in present.get_data(as_text=True)
    # One check each, against hashes made the same way (same algorithm and work factor).
    assert len(checked) == 2
    assert checked[0] == checked[1] == generate_password_hash("x").split("$", 1)[0]


def test_lock_message_counts_whole_minutes_up_to_the_lock(app: Flask, auth: AuthActions) -> None:
    _users()
    start = datetime(2026, 3, 2, 9, 0, 0)
    with clock.frozen(start):
        for _ in range(MAX_FAILED_LOGINS):
            last = auth.login("doc", "Wrong-pass-1")
        assert f"账号锁定{LOCK_MINUTES}分钟" in last.get_data(as_text=True)
    expected = [
        (timedelta(0), 15),
        (timedelta(seconds=1), 15),
        (timedelta(seconds=59), 15),
        (timedelta(seconds=60), 14),
        (timedelta(minutes=14), 1),
        (timedelta(minutes=14, seconds=59), 1),
    ]
    for offset, minutes in expected:
        with clock.frozen(start + offset):
            text = auth.login("doc", PASSWORD).get_data(as_text=True)
            assert f"请{minutes}分钟后再试" in text, (offset, text)
    with clock.frozen(start + timedelta(minutes=15)):
        assert auth.login("doc", PASSWORD).status_code == 302


def test_lock_minutes_never_exceed_the_lock() -> None:
    now = datetime(2026, 3, 2, 9, 0, 0)
    assert lock_minutes_left(now + timedelta(minutes=LOCK_MINUTES), now) == LOCK_MINUTES
    assert lock_minutes_left(now + timedelta(minutes=LOCK_MINUTES, seconds=30), now) == 15
    assert lock_minutes_left(now + timedelta(seconds=1), now) == 1


# --- password policy -------------------------------------------------------------------------

WEAK = [
    ("Short-1", "至少8位"),
    ("1234567890", "全是数字"),
    ("password1", "至少三种"),
    ("alllowercaseletters", "至少三种"),
    ("Password1", "过于常见"),
    ("Passw0rd!", "过于常见"),
    ("1Qaz2wsx!", "过于常见"),
    ("Woaini-520", "过于常见"),
    ("Kestrel-doc7", "用户名"),
]


@pytest.mark.parametrize(("password", "message"), WEAK)
def test_policy_refuses_weak_passwords(password: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_password_policy(password, "doc")


@pytest.mark.parametrize("password", [PASSWORD, NEW_PASSWORD, DEMO_PASSWORD, "绿色-Lantern-9"])
def test_policy_accepts_strong_passwords_and_the_demo_one(password: str) -> None:
    check_password_policy(password, "doctor")


@pytest.mark.parametrize(("password", "message"), WEAK[2:5])
def test_cli_refuses_weak_passwords(app: Flask, password: str, message: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--username", "root", "--password", password, "--role", "admin"]
    )
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(User.id)) is None


# --- administrator: unlock and reset ---------------------------------------------------------


def _lock(client: FlaskClient) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        AuthActions(client).login("doc", "Wrong-pass-1")
    assert "账号已锁定" in AuthActions(client).login("doc", PASSWORD).get_data(as_text=True)


def test_admin_sees_the_lock_and_unlocks_it(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    users = _users()
    doc_id = users["doc"].id
    _lock(client)
    admin = app.test_client()
    auth.on(admin).login("root", PASSWORD)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "锁定至" in page and f"/admin/users/{doc_id}/unlock" in page
    response = _post(admin, f"/admin/users/{doc_id}/unlock")
    assert response.status_code == 302
    assert "已解除 doc 的登录锁定" in admin.get("/admin/users").get_data(as_text=True)
    assert auth.login("doc", PASSWORD).status_code == 302
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "unlock", AuditEntry.row_id == str(doc_id))
    )
    assert entry is not None and entry.username == "root"


def test_admin_resets_a_password_which_ends_the_users_sessions(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    users = _users()
    doc_id = users["doc"].id
    auth.login("doc", PASSWORD)
    admin = app.test_client()
    auth.on(admin).login("root", PASSWORD)
    url = f"/admin/users/{doc_id}/password"
    assert "重置密码：doc" in admin.get(url).get_data(as_text=True)
    weak = _post(admin, url, {"new": "password1", "confirm": "password1"})
    assert weak.status_code == 400 and "至少三种" in weak.get_data(as_text=True)
    assert _signed_in(client)
    response = _post(admin, url, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert not _signed_in(client)
    assert auth.on(app.test_client()).login("doc", PASSWORD).status_code == 401
    assert auth.on(app.test_client()).login("doc", NEW_PASSWORD).status_code == 302
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "password_reset", AuditEntry.row_id == str(doc_id)
        )
    )
    assert entry is not None and entry.username == "root"
    assert NEW_PASSWORD not in (entry.after or "")


def test_admin_reset_also_lifts_a_lock(client: FlaskClient, app: Flask, auth: AuthActions) -> None:
    users = _users()
    _lock(client)
    admin = app.test_client()
    auth.on(admin).login("root", PASSWORD)
    url = f"/admin/users/{users['doc'].id}/password"
    assert _post(admin, url, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert auth.login("doc", NEW_PASSWORD).status_code == 302


def test_centre_admin_sees_users_but_may_not_unlock_or_reset(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    users = _users()
    auth.login("centre", PASSWORD)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "doc" in page and "重置密码" not in page
    doc_id = users["doc"].id
    assert _post(client, f"/admin/users/{doc_id}/unlock").status_code == 403
    assert client.get(f"/admin/users/{doc_id}/password").status_code == 403


def test_admin_cannot_disable_own_account(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    users = _users()
    auth.login("root", PASSWORD)
    response = _post(client, f"/admin/users/{users['root'].id}/active", {"active": "0"})
    assert response.status_code == 302
    assert "不能在这里修改自己的账号" in client.get("/admin/users").get_data(as_text=True)
    assert _signed_in(client)


# --- caching ---------------------------------------------------------------------------------


def _no_store(response: Any) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("doc", "/"),
        ("doc", "/households/"),
        ("doc", "/services/"),
        ("doc", "/account/password"),
        ("doc", "/imports/residents/template.xlsx"),
        ("doc", "/api/v1/me"),
        ("root", "/admin/users"),
        ("doc", "/no-such-page"),
    ],
)
def test_signed_in_responses_are_never_stored(
    client: FlaskClient, app: Flask, username: str, path: str, auth: AuthActions
) -> None:
    _users()
    auth.login(username, PASSWORD)
    response = client.get(path)
    assert response.status_code in {200, 404}, path
    assert _no_store(response), path


def test_static_assets_and_anonymous_pages_stay_cacheable(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    _users()
    assert not _no_store(client.get("/login"))
    auth.login("doc", PASSWORD)
    for path in ("/static/css/app.css", "/favicon.ico"):
        with client.get(path) as response:
            assert response.status_code == 200, path
            assert not _no_store(response), path


def test_cli_unlocks_and_resets_for_a_locked_out_administrator(
    client: FlaskClient, app: Flask, auth: AuthActions
) -> None:
    users = _users()
    for _ in range(MAX_FAILED_LOGINS):
        auth.login("root", "Wrong-pass-1")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "unlock", "--username", "root"])
    assert result.exit_code == 0 and "已解除 root 的登录锁定" in result.output
    assert auth.login("root", PASSWORD).status_code == 302
    weak = runner.invoke(args=["users", "password", "--username", "root", "--password", "admin123"])
    assert weak.exit_code != 0 and "至少三种" in weak.output
    result = runner.invoke(
        args=["users", "password", "--username", "root", "--password", NEW_PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert not _signed_in(client)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.row_id == str(users["root"].id),
            AuditEntry.action.in_(("unlock", "password_reset")),
        )
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["unlock", "password_reset"]
    assert all((e.username or "").startswith("cli") for e in entries)


def test_a_lockout_is_audited_and_the_chain_still_verifies(app: Flask, auth: AuthActions) -> None:
    """The counters are written by single UPDATEs (atomic under parallel guesses); each one is
    still an audit entry, so a lockout is on record and verify finds the row as logged."""
    from fdoctor.audit.verify import verify

    users = _users()
    for _ in range(MAX_FAILED_LOGINS):
        auth.login("doc", "Wrong-pass-1")
    db.session.expire_all()
    locked = db.session.get(User, users["doc"].id)
    assert locked is not None and locked.locked_until is not None
    updates = db.session.scalars(
        select(AuditEntry.after)
        .where(
            AuditEntry.table_name == "user_account",
            AuditEntry.row_id == str(users["doc"].id),
            AuditEntry.action == "update",
        )
        .order_by(AuditEntry.id)
    ).all()
    assert len(updates) == MAX_FAILED_LOGINS + 1  # five counts, then the lock
    assert '"locked_until":null' not in (updates[-1] or "")
    result = verify(db.session)
    assert result.ok, result.problems
