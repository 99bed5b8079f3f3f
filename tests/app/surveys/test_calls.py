"""Verification calls (回访): the picked records, one transaction for the response, the checks and
the records' states, and nothing written when any part fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from assessments.periods import Period
from assessments.tiers import Level
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.calls import records_to_check
from fdoctor.surveys.models import SurveyRecordCheck, SurveyResponse, VerificationSampleItem
from fdoctor.surveys.samples import draw_sample
from tests.conftest import AuthActions
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_record, add_resident, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)
START, END = date(2026, 1, 1), date(2027, 12, 31)


@dataclass
class Called:
    world: World
    resident: Resident
    records: list[ServiceRecord]  # five of the team's records in 2026-Q3
    item: VerificationSampleItem


@pytest.fixture()
def called(app: Flask) -> Iterator[Called]:
    with clock.frozen(TODAY):
        world = make_world()
        household = make_household(world.tree.team)
        resident = add_resident(household)
        make_contract(household, [resident], START, END)
        doctor = world.users["doctor"]
        records = [
            add_record(resident, "hypertension_followup", date(2026, 7, 1 + 7 * i), doctor)
            for i in range(5)
        ]
        add_record(resident, "hypertension_followup", date(2026, 6, 20), doctor)  # Q2
        other_team = add_record(resident, "consultation", date(2026, 8, 3), world.users["doctor2"])
        other_team.team_id = world.tree.team2.id
        sample, _ = draw_sample(
            world.tree.institution, Level.L2, Period.parse("2026-Q3"), world.users["centre"]
        )
        item = db.session.scalar(
            select(VerificationSampleItem).where(VerificationSampleItem.sample_id == sample.id)
        )
        assert item is not None and item.resident_id == resident.id
        db.session.commit()
        yield Called(world, resident, records, item)


def _answers(records: list[ServiceRecord], *answers: str) -> dict[str, str]:
    return {f"check_{r.id}": a for r, a in zip(records, answers, strict=True)}


def _post_call(app: Flask, called: Called, data: dict[str, str]) -> tuple[int, str]:
    client = app.test_client()
    token = AuthActions(client).login_as(called.world.users["centre"])
    response = client.post(
        f"/surveys/items/{called.item.id}/call", data={"csrf_token": token, **data}
    )
    return response.status_code, response.get_data(as_text=True)


def test_three_of_the_teams_records_in_the_period_are_picked_the_same_every_time(
    called: Called,
) -> None:
    picked = records_to_check(called.item)
    assert len(picked) == 3
    assert {r.id for r in picked} <= {r.id for r in called.records}
    assert [r.id for r in records_to_check(called.item)] == [r.id for r in picked]


def test_the_call_page_lists_the_picked_records(
    client: FlaskClient, called: Called, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        auth.login_as(called.world.users["centre"])
        html = client.get(f"/surveys/items/{called.item.id}/call").get_data(as_text=True)
    for record in records_to_check(called.item):
        assert f'data-record="{record.id}"' in html
    assert html.count('class="record-check') == 3


def test_a_call_saves_the_answers_and_disputes_the_record_not_received(
    app: Flask, called: Called
) -> None:
    first, second, third = records_to_check(called.item)
    with clock.frozen(TODAY):
        status, _ = _post_call(
            app,
            called,
            {
                "outcome": "done",
                "channel": "phone",
                "satisfaction": "80",
                "knows_doctor": "yes",
                **_answers([first, second, third], "not_received", "received", "unsure"),
            },
        )
    assert status == 302
    db.session.expire_all()
    response = db.session.scalar(select(SurveyResponse))
    assert response is not None
    assert (response.satisfaction, response.knows_doctor, response.channel) == (80, True, "phone")
    assert (response.period, response.sample_item_id, response.team_id) == (
        "2026-Q3",
        called.item.id,
        called.world.tree.team.id,
    )
    answers = dict(
        db.session.execute(
            select(SurveyRecordCheck.service_record_id, SurveyRecordCheck.answer)
        ).all()
    )
    assert answers == {first.id: "not_received", second.id: "received", third.id: "unsure"}
    states = {r.id: r.verification for r in (first, second, third)}
    assert states == {first.id: "disputed", second.id: "confirmed", third.id: "unverified"}
    assert called.item.status == "done"


def test_a_failing_check_leaves_nothing_written(app: Flask, called: Called) -> None:
    picked = records_to_check(called.item)
    with clock.frozen(TODAY):
        status, html = _post_call(
            app,
            called,
            {
                "outcome": "done",
                "satisfaction": "100",
                "knows_doctor": "no",
                **_answers(picked, "not_received", "not_received", "perhaps"),
            },
        )
    assert status == 400
    assert "回答无效" in html
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 0
    assert db.session.scalar(select(func.count(SurveyRecordCheck.id))) == 0
    assert {r.verification for r in picked} == {"unverified"}
    assert called.item.status == "pending"


def test_every_picked_record_must_be_answered(app: Flask, called: Called) -> None:
    picked = records_to_check(called.item)
    with clock.frozen(TODAY):
        status, html = _post_call(
            app,
            called,
            {
                "outcome": "done",
                "satisfaction": "100",
                "knows_doctor": "yes",
                **_answers(picked[:2], "received", "received"),
            },
        )
    assert status == 400 and "请逐条回答" in html
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 0


def test_a_call_without_a_grade_is_refused_in_chinese(app: Flask, called: Called) -> None:
    picked = records_to_check(called.item)
    with clock.frozen(TODAY):
        status, html = _post_call(
            app,
            called,
            {"outcome": "done", "knows_doctor": "yes", **_answers(picked, *["received"] * 3)},
        )
    assert status == 400 and "请选择满意度" in html


def test_an_unreachable_resident_is_marked_without_a_response(app: Flask, called: Called) -> None:
    with clock.frozen(TODAY):
        status, _ = _post_call(app, called, {"outcome": "unreachable"})
    assert status == 302
    db.session.expire_all()
    assert called.item.status == "unreachable"
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 0


def test_a_done_call_cannot_be_recorded_twice(app: Flask, called: Called) -> None:
    picked = records_to_check(called.item)
    data = {
        "outcome": "done",
        "satisfaction": "60",
        "knows_doctor": "yes",
        **_answers(picked, *["received"] * 3),
    }
    with clock.frozen(TODAY):
        assert _post_call(app, called, data)[0] == 302
        status, html = _post_call(app, called, data)
    assert status == 409 and "不能重复登记" in html
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 1


def test_a_done_call_shows_its_answers(app: Flask, called: Called, auth: AuthActions) -> None:
    picked = records_to_check(called.item)
    with clock.frozen(TODAY):
        _post_call(
            app,
            called,
            {
                "outcome": "done",
                "satisfaction": "20",
                "knows_doctor": "no",
                **_answers(picked, "not_received", "received", "received"),
            },
        )
        client = auth.client_for(called.world.users["county"])
        html = client.get(f"/surveys/items/{called.item.id}/call").get_data(as_text=True)
    assert 'id="call-result"' in html and "不满意" in html and "未接受" in html


def test_a_county_auditor_of_another_county_cannot_open_the_call(
    client: FlaskClient, called: Called, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        auth.login_as(called.world.users["other_county"])
        assert client.get(f"/surveys/items/{called.item.id}/call").status_code == 404
