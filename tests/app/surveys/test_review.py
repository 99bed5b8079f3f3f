"""The review queue (存疑复核): disputed records are confirmed or found false, with a reason;
and the per-team verification report (coverage, false-record rate)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from assessments.periods import Period
from assessments.tiers import Level
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.calls import record_call, records_to_check
from fdoctor.surveys.models import RecordReview, VerificationSampleItem
from fdoctor.surveys.report import verification_report
from fdoctor.surveys.review import review_record
from fdoctor.surveys.samples import draw_sample
from tests.conftest import AuthActions
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_record, add_resident, bulk_signed, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _record(world: World, verification: str = "disputed", team: str = "team") -> ServiceRecord:
    resident = add_resident(make_household(getattr(world.tree, team)))
    record = add_record(
        resident, "home_visit", date(2026, 8, 1), world.users["doctor"], verification=verification
    )
    db.session.commit()
    return record


def _decide(app: Flask, world: World, who: str, record: ServiceRecord, **fields: str) -> str:
    client = app.test_client()
    token = AuthActions(client).login_as(world.users[who])
    response = client.post(
        f"/surveys/review/{record.id}", data={"csrf_token": token, **fields}, follow_redirects=True
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_centre_confirms_a_disputed_record(app: Flask, world: World) -> None:
    record = _record(world)
    html = _decide(app, world, "centre", record, decision="confirmed")
    assert "已核实属实" in html
    db.session.expire_all()
    assert record.verification == "confirmed"
    review = db.session.scalar(select(RecordReview))
    assert review is not None and (review.decision, review.reviewed_by_id) == (
        "confirmed",
        world.users["centre"].id,
    )


def test_marking_a_record_false_needs_a_reason(app: Flask, world: World) -> None:
    record = _record(world)
    html = _decide(app, world, "centre", record, decision="false", reason="  ")
    assert "认定虚假须填写理由" in html
    db.session.expire_all()
    assert record.verification == "disputed"
    assert db.session.scalar(select(RecordReview)) is None


def test_the_county_marks_a_disputed_record_false_with_its_reason(app: Flask, world: World) -> None:
    record = _record(world)
    _decide(app, world, "county", record, decision="false", reason="居民及家属均称当日无人上门")
    db.session.expire_all()
    assert record.verification == "false"
    review = db.session.scalar(select(RecordReview))
    assert review is not None and review.reason == "居民及家属均称当日无人上门"
    assert review.team_id == world.tree.team.id


def test_only_disputed_records_can_be_reviewed(app: Flask, world: World) -> None:
    record = _record(world, verification="unverified")
    html = _decide(app, world, "centre", record, decision="false", reason="试图直接认定")
    assert "不在待复核状态" in html
    db.session.expire_all()
    assert record.verification == "unverified"


def test_the_queue_lists_the_disputed_records_in_scope(world: World, auth: AuthActions) -> None:
    disputed = _record(world)
    unverified = _record(world, verification="unverified")
    client = auth.client_for(world.users["centre"])
    html = client.get("/surveys/review").get_data(as_text=True)
    assert f'id="record-{disputed.id}"' in html
    assert f'id="record-{unverified.id}"' not in html
    outsider = auth.client_for(world.users["other_county"])
    assert f'id="record-{disputed.id}"' not in outsider.get("/surveys/review").get_data(
        as_text=True
    )


def test_a_record_of_another_county_is_not_found(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    record = _record(world)
    token = auth.login_as(world.users["other_county"])
    response = client.post(
        f"/surveys/review/{record.id}", data={"csrf_token": token, "decision": "confirmed"}
    )
    assert response.status_code == 404


def test_the_report_gives_coverage_and_the_false_record_rate(world: World) -> None:
    tree = world.tree
    start, end = date(2026, 1, 1), date(2027, 12, 31)
    residents = bulk_signed(tree.team, 3, start, end)
    lone = make_household(tree.team)
    talker = add_resident(lone)
    make_contract(lone, [talker], start, end)
    records = [
        add_record(talker, "home_visit", date(2026, 7, 6 + i), world.users["doctor"])
        for i in range(3)
    ]
    sample, _ = draw_sample(
        tree.institution, Level.L2, Period.parse("2026-Q3"), world.users["centre"]
    )
    items = {
        i.resident_id: i
        for i in db.session.scalars(
            select(VerificationSampleItem).where(VerificationSampleItem.sample_id == sample.id)
        )
    }
    centre = world.users["centre"]
    picked = records_to_check(items[talker.id])
    assert {r.id for r in picked} == {r.id for r in records}
    answers = {picked[0].id: "not_received", picked[1].id: "received", picked[2].id: "received"}
    record_call(
        items[talker.id],
        centre,
        outcome="done",
        satisfaction=80,
        knows_doctor=True,
        answers=answers,
    )
    record_call(items[residents[0].id], centre, outcome="done", satisfaction=100, knows_doctor=True)
    record_call(items[residents[1].id], centre, outcome="unreachable")
    review_record(picked[0], "false", "核实为虚假", centre)
    (row,) = [r for r in verification_report([sample.id]) if r.team_id == tree.team.id]
    assert (row.sampled, row.called, row.unreachable) == (4, 2, 1)
    assert (row.checked, row.not_received, row.false_records) == (3, 1, 1)
    assert row.coverage == 0.5
    assert row.false_rate == pytest.approx(1 / 3)


def test_a_false_record_cannot_be_reviewed_again(world: World) -> None:
    from fdoctor.surveys.errors import SurveyError

    record = _record(world)
    review_record(record, "false", "虚假", world.users["centre"])
    with pytest.raises(SurveyError) as raised:
        review_record(record, "confirmed", "", world.users["county"])
    assert raised.value.status == 409
