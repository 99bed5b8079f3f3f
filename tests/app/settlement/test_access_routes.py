"""Every role on the routes of one settlement sheet: allowed (200), refused by role (403),
outside the scope (404). The demo has no sheet, so these are walked here on the test city."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import SettlementLine
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db

SHEET_ROLES = {"centre", "county", "city", "finance"}
# Which logins see a line of 甲区's 甲一中心 ("own"), of 甲区's 甲二中心 ("sibling") and of 乙区.
SEES = {
    "own": SHEET_ROLES,
    "sibling": {"county", "city", "finance"},
    "foreign": {"city", "finance"},
}


@pytest.fixture()
def sheet(app: Flask) -> dict[str, Any]:
    world = build_world()
    logins = {
        "doctor": world.users["T1N"],
        "leader": world.users["T1L"],
        "centre": make_user("centre-user", "centre_admin", world["甲一"]),
        "county": make_user("county-user", "county_auditor", world["甲区"]),
        "city": make_user("city-user", "city_admin", world["city"]),
        "finance": make_user("finance-user", "finance", world["city"]),
        "admin": make_user("admin-user", "admin", None),
    }
    settlement, _ = build_settlement(YEAR, "settlement", logins["city"])
    db.session.commit()

    def line(level: str, unit: str) -> int:
        return db.session.scalar(
            select(SettlementLine.id).where(
                SettlementLine.settlement_id == settlement.id,
                SettlementLine.level == level,
                SettlementLine.unit_id == world[unit].id,
            )
        )

    lines = {
        "own": line("team", "T1"),
        "sibling": line("institution", "甲二"),
        "foreign": line("county", "乙区"),
    }
    return {"settlement": settlement, "logins": logins, "lines": lines}


def _status(client: FlaskClient, method: str, path: str) -> int:
    if method == "POST":
        return client.post(path, data={"csrf_token": csrf_token(client, "/")}).status_code
    return client.get(path).status_code


@pytest.mark.parametrize(
    "role", ["doctor", "leader", "centre", "county", "city", "finance", "admin"]
)
def test_every_role_on_the_sheet_routes(
    client: FlaskClient, sheet: dict[str, Any], role: str, auth: AuthActions
) -> None:
    assert auth.login(sheet["logins"][role].username, PASSWORD).status_code == 302
    sid = sheet["settlement"].id
    failures = []
    checks: list[tuple[str, str, int]] = [
        ("GET", f"/settlement/{sid}", 200 if role in SHEET_ROLES else 403),
        ("GET", f"/settlement/{sid}/export/settlement.pdf", 200 if role in SHEET_ROLES else 403),
        ("GET", f"/settlement/{sid}/export/team.xlsx", 200 if role in SHEET_ROLES else 403),
    ]
    for which, line_id in sheet["lines"].items():
        wanted = 403 if role not in SHEET_ROLES else 200 if role in SEES[which] else 404
        checks.append(("GET", f"/settlement/{sid}/line/{line_id}", wanted))
    if role not in {"city", "finance"}:  # allowed transitions change the sheet: test_pages
        checks.append(("POST", f"/settlement/{sid}/transition", 403))
    for method, path, wanted in checks:
        got = _status(client, method, path)
        if got != wanted:
            failures.append(f"{role} {method} {path}: expected {wanted}, got {got}")
    assert not failures, "\n".join(failures)


def test_a_sheet_that_does_not_exist_is_404(
    client: FlaskClient, sheet: dict[str, Any], auth: AuthActions
) -> None:
    assert auth.login("city-user", PASSWORD).status_code == 302
    assert client.get("/settlement/999999").status_code == 404
    assert client.get(f"/settlement/{sheet['settlement'].id}/line/999999").status_code == 404
