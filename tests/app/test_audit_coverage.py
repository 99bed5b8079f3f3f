"""Audit coverage: every table that decides money, points or access is audited, and sign-ins,
failed sign-ins and token use are logged with who did it."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select

from fdoctor.audit.models import AuditEntry
from fdoctor.audit.tables import AUDITED_TABLES, NOT_AUDITED
from fdoctor.audit.verify import verify
from fdoctor.auth.models import User
from fdoctor.auth.services import issue_api_token
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db

# The tables the trust review named: money, points and access.
MONEY_POINTS_ACCESS = {
    "user_account", "api_token", "org_unit", "population_figure", "pool_fund",
    "settlement_parameters", "post_coefficient", "institution_split", "member_rating",
    "workload_standard", "spot_check_draw", "spot_check_draw_item", "verification_sample",
    "verification_sample_item", "assessment_appeal", "assessment_appeal_item", "rectification",
    "suspicion_flag", "settlement", "settlement_line", "assessment", "assessment_item",
    "service_record", "contract", "contract_member", "resident", "household",
    "team_distribution", "distribution_objection", "distribution_settings",
}  # fmt: skip


def test_every_table_is_audited_or_left_out_with_a_reason(app: Flask) -> None:
    tables = {name for name in db.metadata.tables if name != "apscheduler_jobs"}
    unclassified = tables - AUDITED_TABLES - set(NOT_AUDITED)
    assert not unclassified, f"classify these tables in fdoctor/audit/tables.py: {unclassified}"
    assert not AUDITED_TABLES & set(NOT_AUDITED)
    assert not AUDITED_TABLES - tables, AUDITED_TABLES - tables
    assert all(reason.strip() for reason in NOT_AUDITED.values())


def test_every_money_points_and_access_table_is_audited() -> None:
    assert not MONEY_POINTS_ACCESS - AUDITED_TABLES, MONEY_POINTS_ACCESS - AUDITED_TABLES


def _entries(table: str, row_id: int | str, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.table_name == table, AuditEntry.row_id == str(row_id)
    )
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def test_a_role_change_names_who_made_it(app: Flask) -> None:
    tree = make_tree()
    admin = make_user("root1", "admin", None)
    target = make_user("doc7", "doctor", tree.team)
    db.session.commit()
    with app.test_request_context("/admin/users", environ_base={"REMOTE_ADDR": "10.0.0.9"}):
        login_user(admin)
        target.role = "team_leader"
        db.session.commit()
    last = _entries("user_account", target.id, "update")[-1]
    assert (last.username, last.user_id, last.ip) == ("root1", admin.id, "10.0.0.9")
    assert json.loads(last.before)["role"] == "doctor"
    assert json.loads(last.after)["role"] == "team_leader"


def test_a_password_change_is_logged_without_the_hash(app: Flask) -> None:
    tree = make_tree()
    user = make_user("doc8", "doctor", tree.team)
    db.session.commit()
    old_hash = user.password_hash
    user.set_password("Another2026x")
    db.session.commit()
    last = _entries("user_account", user.id, "update")[-1]
    for text in (last.before or "", last.after or ""):
        assert old_hash not in text and user.password_hash not in text
    before, after = (
        json.loads(last.before)["password_hash"],
        json.loads(last.after)["password_hash"],
    )
    assert before.startswith("hmac:") and after.startswith("hmac:") and before != after


def test_a_raw_password_hash_swap_is_caught(app: Flask) -> None:
    from sqlalchemy import text

    tree = make_tree()
    # Hashed afresh (each its own salt): the swap must change the victim's hash.
    victim = make_user("doc9", "doctor", tree.team, real_hash=True)
    other = make_user("doc10", "doctor", tree.team, real_hash=True)
    db.session.commit()
    db.session.execute(
        text("UPDATE user_account SET password_hash = :h WHERE id = :i"),
        {"h": other.password_hash, "i": victim.id},
    )
    db.session.commit()
    result = verify(db.session)
    assert f"user_account 第 {victim.id} 行被绕过系统修改（与审计记录不符）" in result.problems


def test_a_fund_change_names_who_made_it(client: FlaskClient, auth: AuthActions) -> None:
    from fdoctor.settlement.models import PoolFund

    tree = make_tree()
    make_user("city9", "city_admin", tree.city)
    db.session.commit()
    auth.login("city9", PASSWORD)
    year = clock.today().year
    response = client.post(
        f"/settlement/config?year={year}",
        data={
            "csrf_token": csrf_token(client, f"/settlement/config?year={year}"),
            "section": "funds",
            "year": str(year),
            f"fund_{tree.pool.id}": "1234567.89",
        },
    )
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    fund = db.session.scalars(select(PoolFund)).one()
    entry = _entries("pool_fund", fund.id, "create")[-1]
    assert entry.username == "city9"
    assert json.loads(entry.after)["fund_fen"] == 123456789
    assert verify(db.session).ok, verify(db.session).problems


def test_sign_ins_and_failed_sign_ins_are_logged(app: Flask, auth: AuthActions) -> None:
    tree = make_tree()
    user = make_user("doc11", "doctor", tree.team)
    db.session.commit()
    assert auth.on(app.test_client()).login("doc11", "wrong-password").status_code == 401
    assert auth.on(app.test_client()).login("nobody-here", "x").status_code == 401
    assert auth.on(app.test_client()).login("doc11", PASSWORD).status_code == 302
    failed = _entries("user_account", user.id, "login_failed")
    assert [json.loads(e.after)["why"] for e in failed] == ["用户名或密码错误"]
    unknown = _entries("user_account", "*", "login_failed")
    assert [json.loads(e.after)["username"] for e in unknown] == ["nobody-here"]
    (signed_in,) = _entries("user_account", user.id, "login")
    assert signed_in.username == "doc11" and signed_in.ip == "127.0.0.1"
    assert verify(db.session).ok, verify(db.session).problems


def test_token_use_is_logged_once_per_token_and_day(app: Flask) -> None:
    from fdoctor.auth.models import ApiToken

    tree = make_tree()
    user = make_user("doc12", "doctor", tree.team)
    day = date(2026, 5, 4)
    with clock.frozen(day):
        token = issue_api_token(user, "平板")
        db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
    with clock.frozen(day + timedelta(days=1)):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    row = db.session.scalars(select(ApiToken)).one()
    uses = _entries("api_token", row.id, "token_use")
    assert [json.loads(e.after)["day"] for e in uses] == ["2026-05-04", "2026-05-05"]
    assert uses[0].username == "doc12"
    assert verify(db.session).ok, verify(db.session).problems


def test_user_rows_written_before_auditing_are_adopted_once(app: Flask) -> None:
    from sqlalchemy import insert

    tree = make_tree()
    db.session.commit()
    db.session.execute(
        insert(User.__table__).values(
            id=999, username="legacy", display_name="legacy", password_hash="x", role="doctor",
            org_unit_id=tree.team.id, active=True, failed_logins=0, on_probation=False,
        )
    )  # fmt: skip
    db.session.commit()
    assert any("user_account 第 999 行未经系统写入" in p for p in verify(db.session).problems)
    runner = app.test_cli_runner()
    adopted = runner.invoke(args=["audit", "adopt"])
    assert "user_account：1 行已建立基线" in adopted.output
    assert verify(db.session).ok, verify(db.session).problems
    assert "无需纳入" in runner.invoke(args=["audit", "adopt"]).output
