"""Residents as verifiers (issue 16 item 4): a signed, expiring, single-purpose link opens a page
where the resident confirms or denies their visits and rates the service; one answer per quarter,
rate-limited; forged and expired links refused; the QR code on the agreement and the receipt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from fdoctor.confirm import services
from fdoctor.confirm.links import make_token
from fdoctor.confirm.models import ResidentAnswer
from fdoctor.contracts.models import Contract
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import SurveyRecordCheck, SurveyResponse
from tests.conftest import AuthActions
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_record, add_resident, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 11, 20)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _signed(world: World) -> tuple[Contract, Resident, Resident, list[ServiceRecord]]:
    household = make_household(world.tree.team)
    first, second = add_resident(household), add_resident(household)
    contract = make_contract(household, [first, second], date(2026, 1, 1), date(2026, 12, 31))
    doctor = world.users["doctor"]
    visits = [
        add_record(first, "home_visit", date(2026, 11, 2), doctor, contract=contract),
        add_record(first, "hypertension_followup", date(2026, 10, 9), doctor, contract=contract),
        add_record(first, "health_education", date(2026, 5, 1), doctor, contract=contract),  # old
    ]
    db.session.commit()
    return contract, first, second, visits


def _token(contract: Contract, resident: Resident | None = None, days: int = 30) -> str:
    with clock.frozen(TODAY):
        return make_token(contract.id, resident.id if resident else None, TODAY + timedelta(days))


def _csrf(client: FlaskClient, url: str) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, url)


def test_the_page_lists_recent_visits_and_takes_one_answer(app: Flask, world: World) -> None:
    contract, first, _, visits = _signed(world)
    client = app.test_client()
    url = f"/r/{_token(contract, first)}"
    with clock.frozen(TODAY):
        page = client.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        assert services.mask_name(first.name) in html and first.name not in html
        assert f'data-record="{visits[0].id}"' in html and f'data-record="{visits[1].id}"' in html
        assert f'data-record="{visits[2].id}"' not in html  # more than 90 days ago
        token = _csrf(client, url)
        answer = {
            "csrf_token": token,
            f"visit-{visits[0].id}": "received",
            f"visit-{visits[1].id}": "not_received",
            "knows": "yes",
            "satisfaction": "80",
        }
        done = client.post(url, data=answer)
        again = client.post(url, data=answer)
    assert done.status_code == 200 and "感谢您的参与" in done.get_data(as_text=True)
    assert again.status_code == 409  # refused: the page says it is done, nothing more is written
    assert "本季度您已于" in again.get_data(as_text=True)
    response = db.session.scalar(
        select(SurveyResponse).where(SurveyResponse.resident_id == first.id)
    )
    assert response is not None
    assert (response.channel, response.period, response.satisfaction, response.knows_doctor) == (
        "self",
        "2026-Q4",
        80,
        True,
    )
    checks = dict(
        db.session.execute(
            select(SurveyRecordCheck.service_record_id, SurveyRecordCheck.answer).where(
                SurveyRecordCheck.response_id == response.id
            )
        ).all()
    )
    assert checks == {visits[0].id: "received", visits[1].id: "not_received"}
    db.session.expire_all()
    assert db.session.get(ServiceRecord, visits[0].id).verification == "confirmed"
    assert db.session.get(ServiceRecord, visits[1].id).verification == "disputed"  # to review
    assert db.session.scalar(select(func.count(ResidentAnswer.id))) == 1


def test_a_second_answer_in_the_quarter_is_refused_by_the_service(app: Flask, world: World) -> None:
    contract, first, _, visits = _signed(world)
    answer = {v.id: "received" for v in visits[:2]}
    with app.test_request_context(), clock.frozen(TODAY):
        services.submit(contract, first, checks=answer, satisfaction=100, knows_doctor=True)
        db.session.commit()
        with pytest.raises(services.AnswerError) as refused:
            services.submit(contract, first, checks=answer, satisfaction=20, knows_doctor=False)
    assert refused.value.status == 409 and "本季度您已提交过" in str(refused.value)
    db.session.rollback()
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 1


def test_incomplete_or_invalid_answers_write_nothing(app: Flask, world: World) -> None:
    contract, first, _, visits = _signed(world)
    with app.test_request_context(), clock.frozen(TODAY):
        for checks, grade, knows, message in [
            ({visits[0].id: "received"}, 100, True, "请逐条确认"),
            ({v.id: "received" for v in visits[:2]}, 90, True, "请选择对家庭医生服务的评价"),
            ({v.id: "received" for v in visits[:2]}, 100, None, "是否知道自己的家庭医生"),
            ({v.id: "maybe" for v in visits[:2]}, 100, True, "回答无效"),
            ({v.id: "received" for v in visits}, 100, True, "请逐条确认"),  # an old visit
        ]:
            with pytest.raises(services.AnswerError, match=message):
                services.submit(
                    contract, first, checks=checks, satisfaction=grade, knows_doctor=knows
                )
            db.session.rollback()
    assert db.session.scalar(select(func.count(SurveyResponse.id))) == 0
    assert db.session.scalar(select(func.count(ResidentAnswer.id))) == 0


def test_forged_altered_expired_and_foreign_links_are_refused(app: Flask, world: World) -> None:
    contract, first, _, _ = _signed(world)
    good = _token(contract, first)
    with app.app_context():
        other_purpose = URLSafeSerializer(app.config["SECRET_KEY"], salt="another-purpose").dumps(
            {"c": contract.id, "r": first.id, "x": "2027-01-01"}
        )
        wrong_key = URLSafeSerializer("x" * 40, salt="fdoctor.resident-confirm.v1").dumps(
            {"c": contract.id, "r": first.id, "x": "2027-01-01"}
        )
    stranger = add_resident(make_household(world.tree.team))
    db.session.commit()
    client = app.test_client()
    with clock.frozen(TODAY):
        for token in (good[:-2] + "xx", other_purpose, wrong_key):
            page = client.get(f"/r/{token}")
            assert page.status_code == 404 and "链接无效" in page.get_data(as_text=True)
        assert client.get(f"/r/{good}").status_code == 200
        # a link for the contract's members does not open another resident's page
        members_link = _token(contract)
        assert client.get(f"/r/{members_link}?m={stranger.id}").status_code == 404
        assert client.get(f"/r/{members_link}?m={first.id}").status_code == 200
    with clock.frozen(TODAY + timedelta(days=31)):
        expired = client.get(f"/r/{good}")
    assert expired.status_code == 404 and "过期" in expired.get_data(as_text=True)


def test_a_contract_link_lets_the_resident_pick_themselves(app: Flask, world: World) -> None:
    contract, first, second, _ = _signed(world)
    client = app.test_client()
    with clock.frozen(TODAY):
        html = client.get(f"/r/{_token(contract)}").get_data(as_text=True)
    assert services.mask_name(first.name) in html and services.mask_name(second.name) in html
    assert f"m={first.id}" in html and f"m={second.id}" in html


def test_answers_from_one_address_are_rate_limited(app: Flask, world: World) -> None:
    contract, first, _, _ = _signed(world)
    client = app.test_client()
    url = f"/r/{_token(contract, first)}"
    with clock.frozen(TODAY):
        token = _csrf(client, url)
        statuses = [
            client.post(url, data={"csrf_token": token}).status_code
            for _ in range(services.HITS_PER_HOUR + 1)
        ]
    assert statuses[: services.HITS_PER_HOUR] == [400] * services.HITS_PER_HOUR  # incomplete
    assert statuses[-1] == 429
    with clock.frozen(TODAY):
        page = client.post(url, data={"csrf_token": token}).get_data(as_text=True)
    assert "提交过于频繁" in page


def test_receipt_shows_a_qr_code_to_the_team_and_the_agreement_carries_one(
    client: FlaskClient, app: Flask, world: World, auth: AuthActions
) -> None:
    contract, first, _, visits = _signed(world)
    with clock.frozen(TODAY):
        auth.login_as(world.users["doctor"])
        receipt = client.get(f"/r/receipt/{visits[0].id}")
        html = receipt.get_data(as_text=True)
        pdf = client.get(f"/contracts/{contract.id}/agreement.pdf")
    assert receipt.status_code == 200 and 'src="data:image/svg+xml;base64,' in html
    assert "/r/" in html
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    with clock.frozen(TODAY):
        other_team, city = app.test_client(), app.test_client()
        auth.on(other_team).login_as(world.users["doctor2"])  # another team: not in scope
        assert other_team.get(f"/r/receipt/{visits[0].id}").status_code == 404
        auth.on(city).login_as(world.users["city"])  # not a role that hands out receipts
        assert city.get(f"/r/receipt/{visits[0].id}").status_code == 403
