"""One person is one citizen ID, however it is typed: full-width digits, spaces and a lower-case
``x`` are normalised before every check, unknown province codes are refused, and tags that
contradict the ID are refused — through the form, the imports and the search."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.households.search import classify
from tests.app.imports.helpers import count, csv_bytes, upload
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db

_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def full_width(number: str) -> str:
    return number.translate(_FULL_WIDTH)


def _form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "name": "王芳",
        "citizen_id": "",
        "sex": "",
        "birth_date": "",
        "phone": "",
        "relation": "本人",
        "is_head": "",
        "tags": [],
        "lmp_date": "",
        "tb_treatment_start": "",
    }
    data.update(overrides)
    return data


def _register(client: FlaskClient, world: World, household: str, token: str, **fields: object):
    h = world.households[household]
    response = client.post(f"/households/{h.id}/residents/new", data=_form(token, **fields))
    return response.status_code, response.get_data(as_text=True)


def _active_contracts_of(person: Resident) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ContractMember)
            .where(ContractMember.resident_id == person.id, ContractMember.is_active)
        )
        or 0
    )


# --- the pure normalisation ------------------------------------------------------------------


def test_full_width_digits_spaces_and_lower_x_give_the_ascii_number() -> None:
    number = cid.make("411002", date(1949, 12, 31), 6)
    assert number.endswith("X")
    typed = " " + full_width(number[:6]) + "\u3000" + number[6:17] + "x "
    assert cid.normalize(typed) == number
    assert cid.parse(typed).number == number
    assert cid.parse(full_width(number)).number == number


def test_other_unicode_digits_are_not_a_citizen_id() -> None:
    number = cid.make("411002", date(1980, 1, 1), 11)
    arabic_indic = number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(cid.CitizenIdError, match="前17位应为数字"):
        cid.parse(arabic_indic)


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "38", "47", "55", "60", "70", "99"])
def test_unknown_province_code_is_refused(province: str) -> None:
    number = cid.make(province + "1002", date(1980, 1, 1), 11)
    with pytest.raises(cid.CitizenIdError, match="不是有效的省级行政区划代码"):
        cid.parse(number)


@pytest.mark.parametrize("province", sorted(cid.PROVINCE_CODES))
def test_every_real_province_code_is_accepted(province: str) -> None:
    assert cid.is_valid(cid.make(province + "0101", date(1980, 1, 1), 11))


# --- the form ------------------------------------------------------------------------------


def test_full_width_id_is_the_same_person_and_a_second_registration_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    """The attack: the person under contract in one county registered again in another county
    with full-width digits, to sign a second active contract there."""
    fang = world.people["fang"]
    world.sign("h2", ["fang"], 3)
    db.session.commit()
    token = auth.login_as(world.users["other"])  # a doctor of the other county
    before = count(Resident)
    status, html = _register(client, world, "h4", token, citizen_id=full_width(fang.citizen_id))
    assert status == 422
    assert "身份证号已登记在您管辖范围外的家庭 H-T1-002 中" in html
    assert count(Resident) == before
    assert _active_contracts_of(fang) == 1


def test_a_new_resident_typed_in_full_width_is_stored_in_ascii(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    number = cid.make("410001", date(1949, 12, 31), 2)
    assert number.endswith("X")
    status, _ = _register(client, world, "h2", token, name="陈红", relation="母亲",
                          citizen_id=" " + full_width(number[:-1]) + "x")  # fmt: skip
    assert status == 302
    person = db.session.scalar(select(Resident).where(Resident.name == "陈红"))
    assert person is not None
    assert (person.citizen_id, person.id_tail) == (number, number[-6:])


def test_unknown_area_code_is_refused_by_the_form(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    number = cid.make("991002", date(1980, 1, 1), 12)
    status, html = _register(client, world, "h2", token, relation="女", citizen_id=number)
    assert status == 422
    assert "前两位 99 不是有效的省级行政区划代码" in html


@pytest.mark.parametrize(("born", "lmp"), [(date(1962, 1, 1), "2026-01-05"),
                                           (date(2013, 1, 1), "2026-01-05")])  # fmt: skip
def test_maternal_tag_outside_child_bearing_age_is_refused(
    client: FlaskClient, world: World, born: date, lmp: str, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    number = cid.make("410001", born, 124)  # even: a woman
    status, html = _register(client, world, "h2", token, relation="女", citizen_id=number,
                             tags=["maternal"], lmp_date=lmp)  # fmt: skip
    assert status == 422
    assert "孕产妇标签与身份证号不符" in html
    assert "15至55岁" in html


def test_maternal_tag_at_a_plausible_age_is_accepted(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    number = cid.make("410001", date(1985, 1, 1), 124)
    status, _ = _register(client, world, "h2", token, relation="女", citizen_id=number,
                          tags=["maternal"], lmp_date="2026-01-05")  # fmt: skip
    assert status == 302


# --- the imports ---------------------------------------------------------------------------

RESIDENT_HEADER = ["姓名", "身份证号", "户编号", "与户主关系", "人群标签", "末次月经日期"]


def test_import_matches_a_full_width_id_to_the_person_already_registered(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    fang = world.people["fang"]
    token = auth.login_as(world.users["doctor"])
    before = count(Resident)
    rows = [RESIDENT_HEADER, ["王芳", full_width(fang.citizen_id), "H-T1-002", "本人", "", ""]]
    status, _ = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 302
    assert count(Resident) == before  # updated, not a second person


def test_import_into_another_county_with_a_full_width_id_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    fang = world.people["fang"]
    token = auth.login_as(world.users["other"])
    before = count(Resident)
    rows = [RESIDENT_HEADER, ["王芳", full_width(fang.citizen_id), "H-X-001", "女", "", ""]]
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "身份证号已登记在您管辖范围外的家庭 H-T1-002 中" in html
    assert count(Resident) == before


@pytest.mark.parametrize(
    ("born", "sex_seq", "tags", "lmp", "message"),
    [
        (date(1962, 3, 1), 124, "孕产妇", "2026-01-05", "孕产妇标签与身份证号不符"),
        (date(1990, 3, 1), 123, "孕产妇", "2026-01-05", "孕产妇标签只适用于女性"),
        (date(1990, 3, 1), 123, "0-6岁儿童", "", "不属于“0-6岁儿童”"),
        (date(2020, 3, 1), 123, "65岁及以上老年人", "", "不属于“65岁及以上老年人”"),
    ],
)
def test_import_refuses_tags_that_contradict_the_id(
    client: FlaskClient,
    world: World,
    born: date,
    sex_seq: int,
    tags: str,
    lmp: str,
    message: str,
    auth: AuthActions,
) -> None:
    token = auth.login_as(world.users["doctor"])
    number = cid.make("410001", born, sex_seq)
    before = count(Resident)
    rows = [RESIDENT_HEADER, ["某某", number, "H-T1-002", "女", tags, lmp]]
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert message in html
    assert count(Resident) == before


def test_import_refuses_an_unknown_area_code(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [RESIDENT_HEADER, ["某某", cid.make("001002", date(1980, 1, 1), 11), "H-T1-002",
                              "父亲", "", ""]]  # fmt: skip
    status, html = upload(client, token, "residents", csv_bytes(rows), "居民.csv")
    assert status == 422
    assert "前两位 00 不是有效的省级行政区划代码" in html


def test_contract_import_finds_a_full_width_member_and_refuses_a_second_contract(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    fang = world.people["fang"]
    existing = world.sign("h2", ["fang"], 3)
    db.session.commit()
    token = auth.login_as(world.users["doctor"])
    before = count(Contract)
    rows = [
        ["协议编号", "户编号", "成员身份证号", "开始日期", "年限", "服务包", "基层首诊"],
        ["IMPQY-9", "H-T1-002", full_width(fang.citizen_id).lower(), "2026-03-01", 1, "", "否"],
    ]
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert f"王芳 已有有效签约协议 {existing.code}" in html
    assert count(Contract) == before
    assert _active_contracts_of(fang) == 1


# --- the search ----------------------------------------------------------------------------


def test_search_finds_the_person_by_a_full_width_id(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    fang = world.people["fang"]
    term = classify(full_width(fang.citizen_id))
    assert (term.kind, term.value) == ("citizen_id", fang.citizen_id)
    auth.login_as(world.users["doctor"])
    html = client.get("/households/", query_string={"q": full_width(fang.citizen_id)}).get_data(
        as_text=True
    )
    assert "按身份证号查找" in html and "共 1 人" in html and "王芳" in html
