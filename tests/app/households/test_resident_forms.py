"""Adding and editing residents: the citizen ID rules, derived sex and birth date, duplicates,
tags with their dates, and the head of household."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Pregnancy, Resident
from fdoctor.households.services import ResidentInput, check_resident
from tests.conftest import AuthActions
from tests.factories.contracts import TODAY, World
from tests.factories.households import citizen_id

pytestmark = pytest.mark.db

NEW_ID = cid.make("410001", date(1992, 8, 15), 124)  # even sequence: a woman


def _form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "name": "刘梅",
        "citizen_id": NEW_ID,
        "sex": "",
        "birth_date": "",
        "phone": "13700001234",
        "relation": "女",
        "tags": [],
        "lmp_date": "",
        "tb_treatment_start": "",
    }
    data.update(overrides)
    return data


def _post(client: FlaskClient, world: World, token: str, **overrides: object) -> tuple[int, str]:
    h1 = world.households["h1"]
    response = client.post(f"/households/{h1.id}/residents/new", data=_form(token, **overrides))
    return response.status_code, response.get_data(as_text=True)


def _residents() -> int:
    return db.session.scalar(select(func.count(Resident.id))) or 0


def test_new_resident_gets_sex_and_birth_date_from_the_id(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, _ = _post(client, world, token)
    assert status == 302
    person = db.session.scalar(select(Resident).where(Resident.citizen_id == NEW_ID))
    assert person is not None
    assert (person.sex, person.birth_date, person.id_tail) == ("F", date(1992, 8, 15), NEW_ID[-6:])
    assert person.team_id == world.tree.team.id


def test_wrong_check_digit_is_refused_in_chinese(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    wrong = NEW_ID[:17] + ("0" if NEW_ID[17] != "0" else "1")
    before = _residents()
    status, html = _post(client, world, token, citizen_id=wrong)
    assert status == 422
    assert "身份证号校验位不正确" in html
    assert _residents() == before


def test_impossible_birth_date_in_the_id_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    first17 = "41000119920230124"  # 30 February
    status, html = _post(client, world, token, citizen_id=first17 + cid.check_char(first17))
    assert status == 422
    assert "不是有效日期" in html


def test_birth_date_in_the_future_is_refused() -> None:
    number = cid.make("410001", date(2027, 1, 1), 124)
    _, errors = check_resident(ResidentInput(name="甲", citizen_id=number), today=TODAY)
    assert "不合理" in errors["citizen_id"][0]


def test_entered_sex_must_match_the_id(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, sex="M")
    assert status == 422
    assert "性别与身份证号不符" in html


def test_entered_birth_date_must_match_the_id(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, birth_date="1992-08-16")
    assert status == 422
    assert "出生日期与身份证号不符" in html


def test_duplicate_id_names_the_household_where_the_person_is(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    fang = world.people["fang"]
    status, html = _post(client, world, token, citizen_id=fang.citizen_id)
    assert status == 422
    assert "H-T1-002" in html and "东关村12号" in html


def test_duplicate_id_out_of_scope_does_not_show_the_address(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    foreign = world.people["foreign"]
    status, html = _post(client, world, token, citizen_id=foreign.citizen_id)
    assert status == 422
    assert "管辖范围外的家庭 H-X-001" in html
    assert "城关村8号" not in html


def test_maternal_tag_needs_the_last_period_date(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, tags=["maternal"])
    assert status == 422
    assert "孕产妇须填写末次月经日期" in html


def test_maternal_resident_gets_a_pregnancy(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, _ = _post(client, world, token, tags=["maternal"], lmp_date="2026-01-05")
    assert status == 302
    person = db.session.scalar(select(Resident).where(Resident.citizen_id == NEW_ID))
    assert person is not None and person.tag_maternal
    lmp = db.session.scalar(select(Pregnancy.lmp_date).where(Pregnancy.resident_id == person.id))
    assert lmp == date(2026, 1, 5)


def test_maternal_tag_is_refused_for_a_man(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    man = citizen_id(date(1990, 1, 1), "M")
    status, html = _post(
        client, world, token, citizen_id=man, tags=["maternal"], lmp_date="2026-01-05"
    )
    assert status == 422
    assert "孕产妇标签只适用于女性" in html


def test_tuberculosis_needs_the_treatment_start(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, tags=["tuberculosis"])
    assert status == 422
    assert "肺结核患者须填写治疗开始日期" in html


def test_age_derived_tags_cannot_be_stored(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, tags=["elderly65"])
    assert status == 422
    assert "未知的人群标签" in html


def test_stored_tags_are_saved_and_age_tags_derived(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    old = citizen_id(date(1950, 3, 1), "M")
    status, _ = _post(client, world, token, citizen_id=old, tags=["hypertension", "poverty"])
    assert status == 302
    person = db.session.scalar(select(Resident).where(Resident.citizen_id == old))
    assert person is not None
    assert person.tags_on(TODAY) == ["elderly65", "hypertension", "poverty"]


def test_head_must_be_related_as_self(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, is_head="y", relation="女")
    assert status == 422
    assert "户主的“与户主关系”应为“本人”" in html


def test_a_second_self_in_a_household_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, token, is_head="y", relation="本人")
    assert status == 422
    assert "一户只能有一位“本人”" in html
    status, html = _post(client, world, token, relation="本人")
    assert status == 422
    assert "请勾选户主" in html
    h1 = world.households["h1"]
    selves = db.session.scalar(
        select(func.count(Resident.id)).where(
            Resident.household_id == h1.id, Resident.relation == "本人"
        )
    )
    assert selves == 1


def test_new_head_replaces_the_old_head(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    h1 = world.households["h1"]
    old = db.session.scalar(
        select(Resident).where(Resident.household_id == h1.id, Resident.is_head)
    )
    assert old is not None
    response = client.post(
        f"/households/residents/{old.id}/edit",
        data=_form(token, name=old.name, citizen_id=old.citizen_id, relation="父亲"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    status, _ = _post(client, world, token, is_head="y", relation="本人")
    assert status == 302
    h1 = world.households["h1"]
    heads = db.session.scalars(
        select(Resident.citizen_id).where(Resident.household_id == h1.id, Resident.is_head)
    ).all()
    assert heads == [NEW_ID]


def test_edit_resident_updates_phone_and_tags(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    wife = world.people["wife"]
    response = client.post(
        f"/households/residents/{wife.id}/edit",
        data=_form(
            token,
            name=wife.name,
            citizen_id=wife.citizen_id,
            relation="配偶",
            phone="13600002222",
            tags=["diabetes"],
        ),  # fmt: skip
    )
    assert response.status_code == 302
    db.session.expire_all()
    person = db.session.get(Resident, wife.id)
    assert person is not None and person.phone == "13600002222" and person.tag_diabetes


def test_doctor_cannot_add_resident_to_sibling_team_household(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    h3 = world.households["h3"]
    response = client.post(f"/households/{h3.id}/residents/new", data=_form(token))
    assert response.status_code == 404


def test_resident_form_shows_derived_birth_date(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    elder = world.people["elder"]
    html = client.get(f"/households/residents/{elder.id}/edit").get_data(as_text=True)
    assert "出生日期 1955-06-01，男，70岁" in html
