"""Complaints (投诉): recorded against a team and optionally a doctor, then verified or rejected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.surveys.models import Complaint
from tests.conftest import AuthActions
from tests.factories.surveys import World, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        world = make_world()
        db.session.commit()
        yield world


def _complaint(team: OrgUnit, status: str = "open") -> Complaint:
    complaint = Complaint(
        received_on=date(2026, 10, 1),
        channel="电话投诉",
        content="签约后家庭医生从未上门随访",
        status=status,
        created_at=datetime(2026, 10, 1, 9),
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(complaint)
    db.session.commit()
    return complaint


def _post(app: Flask, world: World, who: str, path: str, **fields: object) -> tuple[int, str]:
    client = app.test_client()
    token = AuthActions(client).login_as(world.users[who])
    response = client.post(path, data={"csrf_token": token, **fields}, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def test_the_centre_records_a_complaint_against_a_team_and_doctor(app: Flask, world: World) -> None:
    doctor = world.users["doctor"]
    status, html = _post(
        app, world, "centre", "/surveys/complaints/new",
        received_on="2026-10-09", channel="12345市民热线", complainant="王女士",
        content="预约的上门服务没有按时到达", team_id=world.tree.team.id, doctor_id=doctor.id,
    )  # fmt: skip
    assert status == 200 and "投诉已登记" in html
    complaint = db.session.scalar(select(Complaint))
    assert complaint is not None
    assert (complaint.status, complaint.team_id, complaint.doctor_id) == (
        "open",
        world.tree.team.id,
        doctor.id,
    )
    assert (complaint.institution_id, complaint.recorded_by_id) == (
        world.tree.institution.id,
        world.users["centre"].id,
    )


def test_a_doctor_of_another_team_is_refused(app: Flask, world: World) -> None:
    status, html = _post(
        app, world, "centre", "/surveys/complaints/new",
        received_on="2026-10-09", channel="电话投诉", content="态度差",
        team_id=world.tree.team.id, doctor_id=world.users["doctor2"].id,
    )  # fmt: skip
    assert status == 400 and "所选医生不属于被投诉的团队" in html
    assert db.session.scalar(select(func.count(Complaint.id))) == 0


def test_a_team_outside_the_scope_is_refused(app: Flask, world: World) -> None:
    status, html = _post(
        app, world, "centre", "/surveys/complaints/new",
        received_on="2026-10-09", channel="电话投诉", content="态度差",
        team_id=world.tree.other_team.id,
    )  # fmt: skip
    assert status == 400 and "请选择被投诉的家庭医生团队" in html


def test_a_complaint_without_content_is_refused(app: Flask, world: World) -> None:
    status, html = _post(
        app, world, "county", "/surveys/complaints/new",
        received_on="2026-10-09", channel="电话投诉", content=" ", team_id=world.tree.team.id,
    )  # fmt: skip
    assert status == 400 and "请填写投诉内容" in html


def test_the_centre_verifies_a_complaint_with_its_resolution(app: Flask, world: World) -> None:
    complaint = _complaint(world.tree.team)
    _, html = _post(
        app, world, "centre", f"/surveys/complaints/{complaint.id}/resolve",
        decision="verified", resolution="经核实属实，已责令整改",
    )  # fmt: skip
    assert "已处理：属实" in html
    db.session.expire_all()
    assert (complaint.status, complaint.resolution) == ("verified", "经核实属实，已责令整改")
    assert complaint.resolved_by_id == world.users["centre"].id
    assert complaint.resolved_at == datetime(2026, 10, 10, 9, 0)


def test_the_county_rejects_a_complaint(app: Flask, world: World) -> None:
    complaint = _complaint(world.tree.team2)
    _post(
        app, world, "county", f"/surveys/complaints/{complaint.id}/resolve",
        decision="rejected", resolution="经调查不属实",
    )  # fmt: skip
    db.session.expire_all()
    assert complaint.status == "rejected"


def test_a_resolution_text_is_required(app: Flask, world: World) -> None:
    complaint = _complaint(world.tree.team)
    _, html = _post(
        app, world, "centre", f"/surveys/complaints/{complaint.id}/resolve", decision="verified"
    )
    assert "请填写处理结果" in html
    db.session.expire_all()
    assert complaint.status == "open"


def test_a_resolved_complaint_is_not_resolved_again(app: Flask, world: World) -> None:
    complaint = _complaint(world.tree.team, status="rejected")
    _, html = _post(
        app, world, "centre", f"/surveys/complaints/{complaint.id}/resolve",
        decision="verified", resolution="改判",
    )  # fmt: skip
    assert "已处理（不属实），不能重复处理" in html
    db.session.expire_all()
    assert complaint.status == "rejected"


@pytest.mark.parametrize(("who", "wanted"), [("doctor", 403), ("leader", 403), ("city", 403)])
def test_only_the_centre_and_county_resolve_complaints(
    client: FlaskClient, world: World, who: str, wanted: int, auth: AuthActions
) -> None:
    complaint = _complaint(world.tree.team)
    token = auth.login_as(world.users[who])
    response = client.post(
        f"/surveys/complaints/{complaint.id}/resolve",
        data={"csrf_token": token, "decision": "verified", "resolution": "x"},
    )
    assert response.status_code == wanted


@pytest.mark.parametrize("who", ["centre", "county"])
def test_a_complaint_outside_the_scope_is_not_found(
    client: FlaskClient, world: World, who: str, auth: AuthActions
) -> None:
    complaint = _complaint(world.tree.other_team)
    token = auth.login_as(world.users[who])
    response = client.post(
        f"/surveys/complaints/{complaint.id}/resolve",
        data={"csrf_token": token, "decision": "verified", "resolution": "x"},
    )
    assert response.status_code == 404


def test_the_list_filters_by_status_and_offers_resolving_open_ones(
    world: World, auth: AuthActions
) -> None:
    open_one = _complaint(world.tree.team)
    done = _complaint(world.tree.team, status="verified")
    client = auth.client_for(world.users["centre"])
    html = client.get("/surveys/complaints?status=open").get_data(as_text=True)
    assert f'id="complaint-{open_one.id}"' in html and f'id="complaint-{done.id}"' not in html
    assert f"/surveys/complaints/{open_one.id}/resolve" in html
