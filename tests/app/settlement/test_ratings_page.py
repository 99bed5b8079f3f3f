"""The team leader rates the whole team on one page; each bad row is marked where it is."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.extensions import db
from fdoctor.settlement.models import MemberRating
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import PASSWORD

pytestmark = pytest.mark.db
PATH = f"/settlement/ratings?year={YEAR}"


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world(config=False, ratings=False, scores=False)
    db.session.commit()
    return built


def test_one_table_for_the_whole_team_and_errors_per_row(
    world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    users = world.users
    leader, nurse = users["T1L"], users["T1N"]
    assert auth.login("t1-leader", PASSWORD).status_code == 302
    html = client.get(PATH).get_data(as_text=True)
    for member in (leader, nurse):  # every rated member has a row with its c (a comes from days)
        assert f'id="member-{member.id}"' in html
        assert f'name="c_{member.id}"' in html and f'name="a_{member.id}"' not in html
    response = client.post(PATH, data={
        "csrf_token": csrf_token(client, PATH), "year": YEAR,
        f"c_{leader.id}": "1.5", f"c_{nurse.id}": "0.5",
    })  # fmt: skip
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "未保存：2 名成员的系数有误" in html
    row = html[html.index(f'id="member-{nurse.id}"') :].split("</tr>")[0]
    assert "table-danger" in row and row.count("is-invalid") == 1
    assert "「t1-nurse」的个人绩效考评系数 c不能小于 0.8：0.5" in row
    leader_row = html[html.index(f'id="member-{leader.id}"') :].split("</tr>")[0]
    assert "个人绩效考评系数 c不能大于 1.2：1.5" in leader_row
    assert leader_row.count("is-invalid") == 1
    assert 'value="0.5"' in row  # what was typed stays
    assert db.session.scalar(select(func.count()).select_from(MemberRating)) == 0

    response = client.post(PATH, data={
        "csrf_token": csrf_token(client, PATH), "year": YEAR,
        f"c_{leader.id}": "1.0", f"c_{nurse.id}": "0.9",
    })  # fmt: skip
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存 2 名成员的 2026 年度个人系数" in page
    assert db.session.scalar(select(func.count()).select_from(MemberRating)) == 2
