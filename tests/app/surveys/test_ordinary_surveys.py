"""Ordinary satisfaction surveys (入户 / 自助) recorded outside any verification sample."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.surveys.models import SurveyResponse
from tests.conftest import AuthActions
from tests.factories.households import make_household
from tests.factories.surveys import World, add_resident, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        world = make_world()
        db.session.commit()
        yield world


def _resident(world: World, team: str = "team") -> Resident:
    resident = add_resident(make_household(getattr(world.tree, team)), name="张秀英")
    db.session.commit()
    return resident


def _post(app: Flask, world: World, who: str, resident: Resident, **fields: str) -> tuple[int, str]:
    client = app.test_client()
    token = AuthActions(client).login_as(world.users[who])
    response = client.post(
        f"/surveys/new?resident={resident.id}", data={"csrf_token": token, **fields}
    )
    return response.status_code, response.get_data(as_text=True)


def test_a_team_leader_records_a_home_visit_survey(app: Flask, world: World) -> None:
    resident = _resident(world)
    status, _ = _post(
        app, world, "leader", resident,
        channel="visit", surveyed_on="2026-10-09", satisfaction="100", knows_doctor="yes",
    )  # fmt: skip
    assert status == 302
    response = db.session.scalar(select(SurveyResponse))
    assert response is not None
    assert (response.channel, response.period, response.sample_item_id) == (
        "visit",
        "2026-Q4",
        None,
    )
    assert (response.satisfaction, response.knows_doctor) == (100, True)
    assert response.team_id == world.tree.team.id
    assert response.surveyor_id == world.users["leader"].id


def test_a_survey_without_a_grade_is_refused_in_chinese(app: Flask, world: World) -> None:
    resident = _resident(world)
    status, html = _post(
        app, world, "centre", resident, channel="self", surveyed_on="2026-10-09", knows_doctor="no"
    )
    assert status == 400 and "请选择满意度" in html
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 0


def test_a_survey_dated_in_the_future_is_refused(app: Flask, world: World) -> None:
    resident = _resident(world)
    status, html = _post(
        app, world, "centre", resident,
        channel="visit", surveyed_on="2026-10-11", satisfaction="80", knows_doctor="yes",
    )  # fmt: skip
    assert status == 400 and "不能晚于今天" in html


def test_a_malformed_date_is_refused(app: Flask, world: World) -> None:
    resident = _resident(world)
    status, html = _post(
        app, world, "centre", resident,
        channel="visit", surveyed_on="10/09/2026", satisfaction="80", knows_doctor="yes",
    )  # fmt: skip
    assert status == 400 and "调查日期格式" in html


def test_a_leader_cannot_survey_a_resident_of_another_team(app: Flask, world: World) -> None:
    resident = _resident(world, "team2")
    status, _ = _post(
        app, world, "leader", resident,
        channel="visit", surveyed_on="2026-10-09", satisfaction="80", knows_doctor="yes",
    )  # fmt: skip
    assert status == 404


def test_the_resident_search_lists_matches_in_scope(world: World, auth: AuthActions) -> None:
    _resident(world)
    _resident(world, "team2")
    client = auth.client_for(world.users["leader"])
    html = client.get("/surveys/new?q=张秀英").get_data(as_text=True)
    assert html.count("?resident=") == 1
