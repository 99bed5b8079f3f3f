"""Creating and editing households: grid cell in scope and a leaf, team, doctor, phone, code."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db


def _form(world: World, token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "team_id": world.tree.team.id,
        "grid_cell_id": world.cells["B1"].id,
        "address": "幸福小区1号楼202室",
        "phone": "13912345678",
        "responsible_doctor_id": world.users["doctor"].id,
        "code": "",
    }
    data.update(overrides)
    return data


def _count() -> int:
    return db.session.scalar(select(func.count(Household.id))) or 0


def test_doctor_creates_household_in_own_grid_cell(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post("/households/new", data=_form(world, token))
    assert response.status_code == 302
    household = db.session.scalar(
        select(Household).where(Household.address == "幸福小区1号楼202室")
    )
    assert household is not None
    assert household.team_id == world.tree.team.id
    assert household.grid_cell_id == world.cells["B1"].id
    assert household.station_id == world.tree.station.id  # taken from the grid cell
    assert household.responsible_doctor_id == world.users["doctor"].id
    assert re.fullmatch(r"410001-01-T1-H\d{5}", household.code)


def test_generated_household_codes_do_not_repeat(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    client.post("/households/new", data=_form(world, token, address="甲"))
    client.post("/households/new", data=_form(world, token, address="乙"))
    codes = db.session.scalars(select(Household.code).where(Household.address.in_(["甲", "乙"])))
    assert len(set(codes)) == 2


def test_grid_cell_of_another_team_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    before = _count()
    response = client.post(
        "/households/new", data=_form(world, token, grid_cell_id=world.cells["C3"].id)
    )
    assert response.status_code == 422
    assert "请选择您所管辖范围内的网格" in response.get_data(as_text=True)
    assert _count() == before


def test_grid_cell_must_be_the_lowest_level(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post(
        "/households/new", data=_form(world, token, grid_cell_id=world.cells["C1"].id)
    )
    assert response.status_code == 422
    assert "最末一级网格" in response.get_data(as_text=True)


def test_responsible_doctor_must_belong_to_the_team(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post(
        "/households/new", data=_form(world, token, responsible_doctor_id=world.users["doctor2"].id)
    )
    assert response.status_code == 422
    assert "责任医生须是该团队的医生" in response.get_data(as_text=True)


def test_doctor_cannot_pick_another_team(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post(
        "/households/new",
        data=_form(
            world,
            token,
            team_id=world.tree.team2.id,
            grid_cell_id=world.cells["C3"].id,
            responsible_doctor_id=world.users["doctor2"].id,
        ),  # fmt: skip
    )
    assert response.status_code == 422
    assert "请选择您所管辖的家庭医生团队" in response.get_data(as_text=True)


def test_bad_phone_is_refused(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post("/households/new", data=_form(world, token, phone="12345"))
    assert response.status_code == 422
    assert "联系电话格式不正确" in response.get_data(as_text=True)


def test_address_is_required(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post("/households/new", data=_form(world, token, address=""))
    assert response.status_code == 422
    assert "请填写家庭地址" in response.get_data(as_text=True)


def test_household_code_already_used_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post("/households/new", data=_form(world, token, code="H-T1-001"))
    assert response.status_code == 422
    assert "户编号 H-T1-001 已被使用" in response.get_data(as_text=True)


def test_centre_creates_household_in_a_team_it_picks(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["centre"])
    response = client.post(
        "/households/new",
        data=_form(
            world,
            token,
            team_id=world.tree.team2.id,
            grid_cell_id=world.cells["C3"].id,
            responsible_doctor_id=world.users["doctor2"].id,
            code="H-T2-NEW",
        ),  # fmt: skip
    )
    assert response.status_code == 302
    household = db.session.scalar(select(Household).where(Household.code == "H-T2-NEW"))
    assert household is not None and household.team_id == world.tree.team2.id


def test_county_auditor_may_not_create_households(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["county"])
    response = client.post("/households/new", data=_form(world, token))
    assert response.status_code == 403


def test_doctor_cannot_edit_household_of_sibling_team(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    h3 = world.households["h3"]
    response = client.post(f"/households/{h3.id}/edit", data=_form(world, token))
    assert response.status_code == 404


def test_centre_moves_household_and_its_residents_to_another_team(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["centre"])
    h1 = world.households["h1"]
    response = client.post(
        f"/households/{h1.id}/edit",
        data=_form(
            world,
            token,
            team_id=world.tree.team2.id,
            grid_cell_id=world.cells["C3"].id,
            responsible_doctor_id=world.users["doctor2"].id,
            code=h1.code,
        ),  # fmt: skip
    )
    assert response.status_code == 302
    teams = set(db.session.scalars(select(Resident.team_id).where(Resident.household_id == h1.id)))
    assert teams == {world.tree.team2.id}


def test_household_form_offers_the_grid_hierarchy(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    html = client.get("/households/new").get_data(as_text=True)
    # Only the lowest cells are choices, labelled with their path and carrying the chain.
    assert "东街片区 › 幸福小区 › 幸福小区1号楼" in html
    assert ">东街片区 › 幸福小区</option>" not in html
    assert "data-chain=" in html
    assert "和平小区" not in html  # team 2's grid is out of the doctor's scope
