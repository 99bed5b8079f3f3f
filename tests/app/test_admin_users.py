"""User administration in the browser: creating users and changing their role, unit and post,
each audited; refusals in Chinese (unknown unit, a role that does not fit the unit, a weak
password, changing or disabling oneself) that write nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.audit.models import AuditEntry
from fdoctor.auth.models import User
from fdoctor.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.factories.org import Tree, make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db

NEW_PASSWORD = "Quarry-57wing"


@pytest.fixture()
def tree(app: Flask) -> Tree:
    built = make_tree()
    make_user("root", "admin", built.city)
    make_user("doc", "doctor", built.team)
    make_user("centre", "centre_admin", built.institution)
    db.session.commit()
    return built


def _post(client: FlaskClient, url: str, data: dict[str, str], token_from: str) -> Any:
    return client.post(url, data={"csrf_token": csrf_token(client, token_from), **data})


def _create(client: FlaskClient, **fields: str) -> Any:
    data = {
        "username": "newdoc",
        "display_name": "王医生",
        "role": "doctor",
        "unit_code": "410001-01-T1",
        "post": "全科医生",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        **fields,
    }
    return _post(client, "/admin/users/new", data, "/admin/users/new")


def _entries(row_id: int, action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.table_name == "user_account",
                AuditEntry.row_id == str(row_id),
                AuditEntry.action == action,
            )
            .order_by(AuditEntry.id)
        )
    )


def _user(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def _creations() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.table_name == "user_account", AuditEntry.action == "create")
        )
        or 0
    )


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_the_admin_creates_a_user_who_can_sign_in_and_is_audited(
    tree: Tree, app: Flask, auth: AuthActions
) -> None:
    admin = auth.client_for("root")
    assert "新建用户" in admin.get("/admin/users").get_data(as_text=True)
    response = _create(admin, on_probation="y")
    assert response.status_code == 302
    assert "已创建用户 newdoc（家庭医生/村医）" in admin.get("/admin/users").get_data(as_text=True)
    user = _user("newdoc")
    assert user is not None and user.org_unit_id == tree.team.id and user.role == "doctor"
    assert user.post == "全科医生" and user.on_probation and user.display_name == "王医生"
    assert auth.on(app.test_client()).login("newdoc", NEW_PASSWORD).status_code == 302
    [entry] = _entries(user.id, "create")
    assert entry.username == "root"
    after = json.loads(entry.after or "{}")
    assert after["role"] == "doctor" and after["org_unit_id"] == tree.team.id
    # Created whole in one entry: no later update set the probation.
    assert after["on_probation"] is True
    assert all(json.loads(e.before or "{}")["on_probation"] for e in _entries(user.id, "update"))
    # The password's hash is kept out of the trail (a keyed digest stands in for it).
    assert after["password_hash"] != user.password_hash and NEW_PASSWORD not in (entry.after or "")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"unit_code": "NO-SUCH"}, "机构编码 NO-SUCH 不存在"),
        ({"role": "county_auditor"}, "角色“县区卫健局”不能挂在“家庭医生团队”类机构下"),
        ({"role": "wizard"}, "未知角色：wizard"),
        ({"password": "password1", "confirm": "password1"}, "至少三种"),
        ({"confirm": "Another-57wing"}, "两次输入的密码不一致"),
        ({"username": "doc"}, "用户名 doc 已存在"),
        ({"username": "a b"}, "用户名须为3-64位字母"),
        ({"unit_code": ""}, "除系统管理员外，用户须指定所属机构编码"),
        ({"display_name": ""}, "请输入姓名"),
    ],
)
def test_a_refused_creation_says_why_in_chinese_and_writes_nothing(
    tree: Tree, fields: dict[str, str], message: str, auth: AuthActions
) -> None:
    admin = auth.client_for("root")
    users, creations = _count(), _creations()
    response = _create(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _count() == users and _creations() == creations


def test_the_admin_moves_a_user_to_another_role_and_unit_and_their_sessions_end(
    tree: Tree, app: Flask, auth: AuthActions
) -> None:
    doc = _user("doc")
    assert doc is not None
    signed_in = app.test_client()
    assert auth.on(signed_in).login("doc", PASSWORD).status_code == 302
    admin = auth.client_for("root")
    url = f"/admin/users/{doc.id}/edit"
    form = admin.get(url).get_data(as_text=True)
    assert "编辑用户：doc" in form and 'value="410001-01-T1"' in form
    response = _post(
        admin,
        url,
        {"display_name": "李团队长", "role": "team_leader", "unit_code": "410001-01-T2",
         "post": "全科医生"},
        url,
    )  # fmt: skip
    assert response.status_code == 302
    assert "已保存用户 doc 的资料" in admin.get("/admin/users").get_data(as_text=True)
    moved = _user("doc")
    assert moved is not None and moved.role == "team_leader" and moved.org_unit_id == tree.team2.id
    assert moved.display_name == "李团队长" and moved.post == "全科医生"
    # The old session carried the old permissions and scope: it no longer signs anyone in.
    assert signed_in.get("/").status_code == 302
    [entry] = [e for e in _entries(doc.id, "update") if '"role"' in (e.before or "")][-1:]
    before, after = json.loads(entry.before or "{}"), json.loads(entry.after or "{}")
    assert (before["role"], after["role"]) == ("doctor", "team_leader")
    assert (before["org_unit_id"], after["org_unit_id"]) == (tree.team.id, tree.team2.id)
    assert entry.username == "root"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"unit_code": "NO-SUCH"}, "机构编码 NO-SUCH 不存在"),
        (
            {"role": "centre_admin"},
            "角色“社区卫生服务中心/乡镇卫生院”不能挂在“家庭医生团队”类机构下",
        ),
        ({"display_name": " "}, "请输入姓名"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(
    tree: Tree, fields: dict[str, str], message: str, auth: AuthActions
) -> None:
    doc = _user("doc")
    assert doc is not None
    admin = auth.client_for("root")
    url = f"/admin/users/{doc.id}/edit"
    data = {"display_name": "doc", "role": "doctor", "unit_code": "410001-01-T1", **fields}
    response = _post(admin, url, data, url)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    same = _user("doc")
    assert same is not None and same.role == "doctor" and same.org_unit_id == tree.team.id
    assert not _entries(doc.id, "update")


def test_the_admin_cannot_change_their_own_role_or_unit(tree: Tree, auth: AuthActions) -> None:
    root = _user("root")
    assert root is not None
    admin = auth.client_for("root")
    url = f"/admin/users/{root.id}/edit"
    data = {"display_name": "root", "role": "city_admin", "unit_code": "C"}
    response = _post(admin, url, data, url)
    assert response.status_code == 400
    assert "不能修改自己的角色或所属机构" in response.get_data(as_text=True)
    assert (_user("root") or root).role == "admin"
    # Their own display name they may change.
    renamed = _post(admin, url, {**data, "role": "admin", "display_name": "管理员"}, url)
    assert renamed.status_code == 302 and (_user("root") or root).display_name == "管理员"


def test_disabling_and_enabling_are_audited(tree: Tree, app: Flask, auth: AuthActions) -> None:
    doc = _user("doc")
    assert doc is not None
    admin = auth.client_for("root")
    post = _post(admin, f"/admin/users/{doc.id}/active", {"active": "0"}, "/admin/users")
    assert post.status_code == 302
    assert auth.on(app.test_client()).login("doc", PASSWORD).status_code == 401
    [disabled] = _entries(doc.id, "disable")
    assert disabled.username == "root"
    changes = [
        (json.loads(e.before or "{}")["active"], json.loads(e.after or "{}")["active"], e.username)
        for e in _entries(doc.id, "update")
    ]
    assert (True, False, "root") in changes
    _post(admin, f"/admin/users/{doc.id}/active", {"active": "1"}, "/admin/users")
    assert len(_entries(doc.id, "enable")) == 1
    assert auth.on(app.test_client()).login("doc", PASSWORD).status_code == 302


def test_a_centre_admin_may_neither_create_nor_edit(tree: Tree, auth: AuthActions) -> None:
    doc = _user("doc")
    assert doc is not None
    centre = auth.client_for("centre")
    assert centre.get("/admin/users/new").status_code == 403
    assert centre.get(f"/admin/users/{doc.id}/edit").status_code == 403
    before = _count()
    assert _create(centre).status_code in (400, 403)
    assert _count() == before
