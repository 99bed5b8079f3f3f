"""Configuration forms (city) and the team leader's member ratings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.extensions import db
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import (
    InstitutionSplit,
    MemberRating,
    PoolFund,
    PostCoefficient,
    SettlementParameters,
    WorkloadStandard,
)
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db
CONFIG = f"/settlement/config?year={YEAR}"


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world(config=False, ratings=False)
    built.users["city"] = make_user("city-user", "city_admin", built["city"])
    db.session.commit()
    return built


def send(client: FlaskClient, username: str, path: str, data: dict[str, Any]) -> Any:
    AuthActions(client).login_as(username)
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def flashed(client: FlaskClient, response: Any) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_city_sets_pool_funds_in_yuan(world: Any, client: FlaskClient) -> None:
    pool = world["市区"]
    response = send(
        client,
        "city-user",
        CONFIG,
        {"section": "funds", "year": YEAR, f"fund_{pool.id}": "1,234,567.89"},
    )
    assert response.status_code == 302
    fund = db.session.scalar(select(PoolFund).where(PoolFund.pool_id == pool.id))
    assert (fund.year, fund.fund_fen) == (YEAR, 123_456_789)
    assert "1,234,567.89" in flashed(client, response)


def test_a_bad_fund_is_refused_and_nothing_is_saved(world: Any, client: FlaskClient) -> None:
    data = {
        "section": "funds",
        "year": YEAR,
        f"fund_{world['市区'].id}": "100",
        f"fund_{world['县市'].id}": "12.345",
    }
    response = send(client, "city-user", CONFIG, data)
    assert "最多保留 2 位小数" in flashed(client, response)
    assert db.session.scalar(select(func.count()).select_from(PoolFund)) == 0


def test_the_city_sets_rates_splits_posts_and_standards(world: Any, client: FlaskClient) -> None:
    send(client, "city-user", CONFIG, {"section": "parameters", "year": YEAR, "reserve_pct": "12.5",
                                       "preallocation_pct": "70", "attainment_cap": "1.5"})  # fmt: skip
    client.post(CONFIG, data={"section": "split", "year": YEAR, "institution_id": "", "centre": "60",
                              "stations": "40", "csrf_token": csrf_token(client, CONFIG)})  # fmt: skip
    client.post(CONFIG, data={"section": "post", "year": YEAR, "post": "全科医生", "coefficient": "1.2",
                              "csrf_token": csrf_token(client, CONFIG)})  # fmt: skip
    client.post(CONFIG, data={"section": "standard", "year": YEAR, "post": "", "services": "600",
                              "csrf_token": csrf_token(client, CONFIG)})  # fmt: skip
    params = db.session.scalar(select(SettlementParameters))
    assert (params.reserve_rate, params.preallocation_rate, params.attainment_cap) == (
        Decimal("0.125"), Decimal("0.7"), Decimal("1.5"))  # fmt: skip
    split = db.session.scalar(select(InstitutionSplit))
    assert (split.institution_id, split.centre_ratio, split.stations_ratio) == (None, 60, 40)
    assert db.session.scalar(select(PostCoefficient.coefficient)) == Decimal("1.2")
    standard = db.session.scalar(select(WorkloadStandard))
    assert (standard.year, standard.post, standard.standard_points) == (YEAR, "", 600)
    html = client.get(CONFIG).get_data(as_text=True)
    assert "全市默认" in html and "全科医生" in html


def test_a_config_row_can_be_deleted(world: Any, client: FlaskClient) -> None:
    send(
        client,
        "city-user",
        CONFIG,
        {"section": "post", "year": YEAR, "post": "护士", "coefficient": "1"},
    )
    row = db.session.scalar(select(PostCoefficient))
    client.post(CONFIG, data={"section": "post_delete", "year": YEAR, "row_id": row.id,
                              "csrf_token": csrf_token(client, CONFIG)})  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(PostCoefficient)) == 0


def test_a_zero_split_is_refused_in_chinese(world: Any, client: FlaskClient) -> None:
    response = send(client, "city-user", CONFIG, {"section": "split", "year": YEAR, "institution_id": "",
                                                  "centre": "0", "stations": "0"})  # fmt: skip
    assert "中心部分与站点部分的比例不能同时为 0" in flashed(client, response)


def test_the_team_leader_rates_the_members(world: Any, client: FlaskClient) -> None:
    users = world.users
    path = f"/settlement/ratings?year={YEAR}"
    response = send(client, "t1-leader", path, {
        "year": YEAR, f"c_{users['T1L'].id}": "1.1", f"c_{users['T1N'].id}": "0.95",
    })  # fmt: skip
    assert response.status_code == 302
    ratings = {r.user_id: (r.c, r.team_id) for r in db.session.scalars(select(MemberRating))}
    assert ratings == {
        users["T1L"].id: (Decimal("1.1"), world["T1"].id),
        users["T1N"].id: (Decimal("0.95"), world["T1"].id),
    }
    html = client.get(path).get_data(as_text=True)
    assert "t1-new" in html and "试用期" in html and 'value="0.95"' in html


def test_ratings_out_of_range_are_refused_and_nothing_is_saved(
    world: Any, client: FlaskClient
) -> None:
    users = world.users
    response = send(client, "t1-leader", f"/settlement/ratings?year={YEAR}", {
        "year": YEAR, f"c_{users['T1L'].id}": "1.0", f"c_{users['T1N'].id}": "1.5",
    })  # fmt: skip
    assert response.status_code == 422
    assert "「t1-nurse」的个人绩效考评系数 c不能大于 1.2" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(MemberRating)) == 0


def test_a_leader_cannot_rate_another_teams_member(world: Any, client: FlaskClient) -> None:
    other = world.users["T2N"]
    send(
        client,
        "t1-leader",
        f"/settlement/ratings?year={YEAR}",
        {"year": YEAR, f"c_{other.id}": "1"},
    )
    assert db.session.scalar(select(func.count()).select_from(MemberRating)) == 0


def test_ratings_freeze_once_the_years_settlement_is_reviewed(
    app: Flask, client: FlaskClient
) -> None:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    transition(settlement, "review", city)
    db.session.commit()
    leader = world.users["T1L"]
    response = send(client, "t1-leader", f"/settlement/ratings?year={YEAR}",
                    {"year": YEAR, f"c_{leader.id}": "0.8"})  # fmt: skip
    assert response.status_code == 422
    assert "2026 年度结算表已审核，成员系数不能再修改" in response.get_data(as_text=True)
    assert db.session.scalar(
        select(MemberRating.c).where(MemberRating.user_id == leader.id)
    ) == Decimal("1.0")
