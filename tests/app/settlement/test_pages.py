"""Settlement pages: index, build, the cascade with its explainer, approval, exports, scope."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import Settlement, SettlementLine
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def logins(world: Any) -> dict[str, Any]:
    users = {
        "city": make_user("city-user", "city_admin", world["city"]),
        "finance": make_user("finance-user", "finance", world["city"]),
        "county": make_user("county-user", "county_auditor", world["甲区"]),
        "centre": make_user("centre-user", "centre_admin", world["甲一"]),
    }
    world.users.update(users)
    return users


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world()
    logins(built)
    db.session.commit()
    return built


@pytest.fixture()
def built(world: Any) -> Settlement:
    settlement, _ = build_settlement(YEAR, "settlement", world.users["city"])
    db.session.commit()
    return settlement


def line_of(settlement: Settlement, level: str, unit_id: int) -> SettlementLine:
    line = db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.level == level,
            SettlementLine.unit_id == unit_id,
        )
    )
    assert line is not None
    return line


def post(
    client: FlaskClient, path: str, data: dict[str, Any], token_from: str = "/settlement/"
) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from)})


def test_the_index_lists_what_is_missing_to_compute(client: FlaskClient, auth: AuthActions) -> None:
    world = build_world(scores=False)
    logins(world)
    db.session.commit()
    auth.login_as("city-user")
    html = client.get(f"/settlement/?year={YEAR}").get_data(as_text=True)
    assert "县（市、区）「甲区」缺少 2026 年度市级考核（L4）的已公示得分" in html
    assert "暂不能计算" in html


def test_the_city_builds_a_draft_from_the_index(
    world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("city-user")
    response = post(client, "/settlement/build", {"year": YEAR, "kind": "settlement"})
    settlement = db.session.scalar(select(Settlement))
    assert settlement is not None and settlement.status == "draft"
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/settlement/{settlement.id}"
    )


def test_building_with_missing_scores_saves_nothing(client: FlaskClient, auth: AuthActions) -> None:
    world = build_world(scores=False)
    logins(world)
    db.session.commit()
    auth.login_as("city-user")
    response = post(client, "/settlement/build", {"year": YEAR, "kind": "settlement"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Settlement)) == 0
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "无法计算" in html


def test_the_detail_shows_each_pool_with_every_figure_linked_to_its_explainer(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("city-user")
    html = client.get(f"/settlement/{built.id}").get_data(as_text=True)
    assert built.sha256 in html
    for name in ("市区", "甲区", "乙区", "甲一中心", "甲一中心团队", "t1-nurse", "部门基金"):
        assert name in html, name
    assert f"?pool={world['县市'].id}" in html and "丙县" not in html  # the other pool: its tab
    county = line_of(built, "county", world["甲区"].id)
    assert f'href="/settlement/{built.id}/line/{county.id}#amount">6,694.21</a>' in html
    other = client.get(f"/settlement/{built.id}?pool={world['县市'].id}").get_data(as_text=True)
    assert "丙一卫生院团队" in other and "甲一中心团队" not in other


def test_the_explainer_fills_in_the_formula_sources_and_rounding(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    county = line_of(built, "county", world["甲区"].id)
    auth.login_as("city-user")
    html = client.get(f"/settlement/{built.id}/line/{county.id}").get_data(as_text=True)
    assert "P × S = 9 × 90.00 = 810" in html
    assert "份额 = 810 ÷ Σ(P × S) 1,210 = 81/121" in html
    assert "精确值 -59/121 分" in html
    assessment = world.assessments["L4 甲区"]
    assert f"/assessments/{assessment.id}" in html and "第 2 版" in html
    assert "2026-12-31 当日有效签约的居民人数" in html
    # Its children: the two institutions, which add up to the county.
    assert 'id="children-total">6,694.21<' in html


def test_a_county_auditor_sees_only_the_own_county(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("county-user")
    html = client.get(f"/settlement/{built.id}").get_data(as_text=True)
    assert "甲一中心" in html and "甲二中心团队" in html
    assert "乙区" not in html and "丙县" not in html and "市区" not in html
    other = line_of(built, "county", world["乙区"].id)
    assert client.get(f"/settlement/{built.id}/line/{other.id}").status_code == 404
    pool = db.session.scalar(select(SettlementLine).where(SettlementLine.level == "pool"))
    assert client.get(f"/settlement/{built.id}/line/{pool.id}").status_code == 404


def test_a_centre_admin_sees_only_the_own_institution(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("centre-user")
    html = client.get(f"/settlement/{built.id}").get_data(as_text=True)
    assert "甲一中心团队" in html and "甲一站团队" in html
    assert "甲二中心" not in html and "甲区" not in html
    sibling = line_of(built, "institution", world["甲二"].id)
    assert client.get(f"/settlement/{built.id}/line/{sibling.id}").status_code == 404


def test_action_buttons_follow_role_and_state(
    built: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("city-user")
    city = client.get(f"/settlement/{built.id}").get_data(as_text=True)
    assert "审核通过" in city and "重新计算草稿" in city
    auth.logout()
    auth.login_as("finance-user")
    finance = client.get(f"/settlement/{built.id}").get_data(as_text=True)
    assert "审核通过" not in finance and ">锁定<" not in finance


def test_the_sheet_is_reviewed_approved_and_locked_through_the_pages(
    built: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    page = f"/settlement/{built.id}"
    auth.login_as("city-user")
    assert post(client, f"{page}/transition", {"action": "review"}, page).status_code == 302
    auth.logout()
    auth.login_as("finance-user")
    assert post(client, f"{page}/transition", {"action": "approve"}, page).status_code == 302
    assert post(client, f"{page}/transition", {"action": "lock"}, page).status_code == 302
    db.session.expire_all()
    assert db.session.get(Settlement, built.id).status == "locked"
    response = post(client, f"{page}/transition", {"action": "return"}, page)
    assert "结算表已锁定，不能再做任何变更" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_a_forbidden_transition_is_refused_in_chinese(
    built: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("finance-user")
    page = f"/settlement/{built.id}"
    response = post(client, f"{page}/transition", {"action": "lock"}, page)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "不能锁定（须先经市卫健委审核、市财政局批准）" in html
    db.session.expire_all()
    assert db.session.get(Settlement, built.id).status == "draft"


def test_the_sheets_download_as_pdf_and_excel(
    built: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("finance-user")
    pdf = client.get(f"/settlement/{built.id}/export/settlement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["X-Settlement-SHA256"] == built.sha256
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "结算表" in text and "15,000.00" in text
    xlsx = client.get(f"/settlement/{built.id}/export/team.xlsx")
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["分配表", "输入数据"]
    assert client.get(f"/settlement/{built.id}/export/nonsense.pdf").status_code == 404
    assert client.get(f"/settlement/{built.id}/export/settlement.doc").status_code == 404


def test_settlement_pages_carry_no_inline_script_or_style(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("city-user")
    county = line_of(built, "county", world["甲区"].id)
    for path in (
        "/settlement/",
        f"/settlement/{built.id}",
        f"/settlement/{built.id}/line/{county.id}",
        "/settlement/config",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " style=" not in html and " onclick=" not in html, path
