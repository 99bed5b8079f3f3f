"""Who must act next (待办): the settlement's missing inputs by unit and role, on the settlement
page and on each responsible person's home page; assessments waiting for a team leader."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete

from fdoctor.assessments.models import Assessment
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.settlement.models import PoolFund
from tests.conftest import AuthActions
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db

# In January after YEAR: last year's settlement is due, its inputs are listed as to-dos.
TODAY = date(YEAR + 1, 1, 15)
_GROUP = re.compile(
    r'<div class="todo-group[^"]*" data-unit="([^"]+)" data-role="([^"]+)">(.*?)</ul>', re.S
)


@pytest.fixture(autouse=True)
def _in_january() -> Iterator[None]:
    with clock.frozen(TODAY):
        yield


def _people(world: Any) -> None:
    for username, role, unit in (
        ("city-user", "city_admin", "city"),
        ("finance-user", "finance", "city"),
        ("centre-user", "centre_admin", "甲一"),
    ):
        world.users[username] = make_user(username, role, world[unit])


def _groups(html: str) -> dict[tuple[str, str], str]:
    return {(unit, role): body for unit, role, body in _GROUP.findall(html)}


def _l1(team: Any, status: str, total: str | None) -> Assessment:
    """The team's December self-check, assessed by the team itself, due on 5 January."""
    l1 = Assessment(
        level="L1", period=f"{YEAR}-12", unit_id=team.id, assessor_unit_id=team.id,
        county_id=team.county_id, institution_id=team.institution_id, team_id=team.id,
        index_code=f"city-{YEAR}", status=status, revision=1, is_current=True,
        total=Decimal(total) if total else None, opened_at=datetime(YEAR + 1, 1, 1, 2, 0),
        due_on=date(YEAR + 1, 1, 5),
    )  # fmt: skip
    db.session.add(l1)
    db.session.flush()
    return l1


@pytest.fixture()
def world(app: Flask) -> Any:
    """The settlement test city with one pool's fund missing and no member ratings."""
    built = build_world(ratings=False)
    _people(built)
    db.session.execute(delete(PoolFund).where(PoolFund.pool_id == built["县市"].id))
    db.session.commit()
    return built


def test_a_missing_fund_shows_on_the_city_and_finance_home_with_a_link(
    world: Any, app: Flask, auth: AuthActions
) -> None:
    text = f"结算池「县市」未配置 {YEAR} 年度资金"
    city = auth.client_for("city-user").get("/").get_data(as_text=True)
    group = _groups(city)[("测试市", "city_admin")]
    assert text in group
    assert f'href="/settlement/config?year={YEAR}#funds">去处理</a>' in group
    finance = auth.client_for("finance-user").get("/").get_data(as_text=True)
    group = _groups(finance)[("测试市", "finance")]
    assert text in group and f'href="/funds?year={YEAR}">去处理</a>' in group
    # The finance officer's link opens, and shows the pool without a fund.
    funds = app.test_client()
    auth.on(funds).login_as("finance-user")
    page = funds.get(f"/funds?year={YEAR}").get_data(as_text=True)
    assert "县市" in page and "未配置" in page and "10,000.00" in page
    # A team leader is not asked for the fund, only for the ratings of their own team.
    leader = auth.client_for("t1-leader").get("/").get_data(as_text=True)
    assert text not in leader
    assert list(_groups(leader)) == [("甲一中心团队", "team_leader")]


def test_a_team_leader_sees_their_members_to_rate_with_the_ratings_page(
    world: Any, auth: AuthActions
) -> None:
    html = auth.client_for("t1-leader").get("/").get_data(as_text=True)
    group = _groups(html)[("甲一中心团队", "team_leader")]
    assert "团队「甲一中心团队」有 2 名成员未录入 2026 年度个人绩效考评系数 c" in group
    assert f'href="/settlement/ratings?year={YEAR}">去处理</a>' in group
    assert "甲二中心团队" not in html


def test_a_teams_unsubmitted_l1_shows_on_its_leaders_home_only(
    world: Any, auth: AuthActions
) -> None:
    l1 = _l1(world["T1"], "draft", None)
    db.session.commit()
    own = auth.client_for("t1-leader").get("/").get_data(as_text=True)
    group = _groups(own)[("甲一中心团队", "team_leader")]
    assert (
        f"月度自查 {YEAR}-12 · 甲一中心团队：评分并提交（已逾期，应于 {YEAR + 1}-01-05 前完成）"
        in (group)
    )
    assert f'href="/assessments/{l1.id}"' in group
    assert "开启一级考核" not in group  # opened already
    other = auth.client_for("t3-leader").get("/").get_data(as_text=True)
    assert f"/assessments/{l1.id}" not in other and "甲一中心团队" not in other
    # The other team's own December has not been opened at all: its leader is asked to.
    group = _groups(other)[("甲二中心团队", "team_leader")]
    assert f"开启一级考核 · 月度自查 {YEAR}-12（1 个单位尚未开启）" in group
    assert f'href="/assessments/?level=L1&amp;period={YEAR}-12">去处理</a>' in group


def test_the_settlement_page_groups_missing_inputs_by_unit_and_role(
    world: Any, auth: AuthActions
) -> None:
    html = auth.client_for("city-user").get(f"/settlement/?year={YEAR}").get_data(as_text=True)
    status = html[html.index('id="status-settlement"') :]
    groups = _groups(status)
    assert f"结算池「县市」未配置 {YEAR} 年度资金" in groups[("测试市", "city_admin")]
    assert f"结算池「县市」未配置 {YEAR} 年度资金" in groups[("测试市", "finance")]
    # One group per team whose members are not rated, for that team's leader.
    teams = {unit for unit, role in groups if role == "team_leader"}
    assert teams == {
        "甲一中心团队", "甲一站团队", "甲二中心团队", "乙一中心团队", "丙一卫生院团队",
        "丙一村卫生室团队",
    }  # fmt: skip
    assert "甲二中心团队」有 1 名成员未录入" in groups[("甲二中心团队", "team_leader")]
    assert "甲一中心团队" not in groups[("甲二中心团队", "team_leader")]


def test_missing_scores_are_the_assessors_to_do(auth: AuthActions) -> None:
    world = build_world(scores=False)
    _people(world)
    world.users["county-user"] = make_user("county-user", "county_auditor", world["甲区"])
    db.session.commit()
    html = auth.client_for("city-user").get(f"/settlement/?year={YEAR}").get_data(as_text=True)
    groups = _groups(html[html.index('id="status-settlement"') :])
    assert "「甲区」缺少 2026 年度市级考核（L4）" in groups[("测试市", "city_admin")]
    assert "「甲一中心」缺少 2026-H2 年终考核（L3）" in groups[("甲区", "county_auditor")]
    assert (
        "「甲一中心团队」（甲一中心）缺少 2026 年度季度考核（L2）"
        in groups[("甲一中心", "centre_admin")]
    )
    county = auth.client_for("county-user").get("/").get_data(as_text=True)
    mine = _groups(county)
    assert list(mine) == [("甲区", "county_auditor")]
    assert "甲一中心" in mine[("甲区", "county_auditor")] and "乙一中心" not in county
    assert "/assessments/?level=L3&amp;period=2026-H2" in mine[("甲区", "county_auditor")]


def test_a_published_quarter_waits_for_the_team_leaders_acknowledgement(
    world: Any, auth: AuthActions
) -> None:
    published = world.assessments["L2 T1 Q1"]
    html = auth.client_for("t1-leader").get("/").get_data(as_text=True)
    group = _groups(html)[("甲一中心团队", "team_leader")]
    assert f"{YEAR}-Q1 · 甲一中心团队：查看结果并确认" in group
    assert f'href="/assessments/{published.id}"' in group


def test_nothing_to_do_says_so(auth: AuthActions) -> None:
    world = build_world(scores=False)
    _people(world)
    _l1(world["T1"], "acknowledged", "90")
    db.session.commit()
    html = auth.client_for("t1-leader").get("/").get_data(as_text=True)
    assert "目前没有需要您处理的事项" in html and "todo-group" not in html
