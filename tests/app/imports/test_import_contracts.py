"""Importing contracts: members of the household, one active contract per resident, term limits,
packages, and the same file twice."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.contracts.models import Contract, ContractMember, ContractPackage
from fdoctor.extensions import db
from fdoctor.imports.models import ImportRun
from tests.app.imports.helpers import count, csv_bytes, upload, xlsx_bytes
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db

HEADER = ["协议编号", "户编号", "成员身份证号", "开始日期", "年限", "服务包", "基层首诊"]


def _rows(world: World) -> list[list[object]]:
    p = world.people
    return [
        HEADER,
        ["IMPQY-1", "H-T1-001", f"{p['elder'].citizen_id}、{p['wife'].citizen_id}", "2026-03-01", 1,
         "ELDERLY*1", "是"],
        ["IMPQY-2", "H-T1-002", p["fang"].citizen_id, date(2026, 2, 20), 3, "", "否"],
    ]  # fmt: skip


def test_contracts_import_with_members_and_packages(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, _ = upload(client, token, "contracts", xlsx_bytes(_rows(world)), "签约.xlsx")
    assert status == 302
    contract = db.session.scalar(select(Contract).where(Contract.code == "IMPQY-1"))
    assert contract is not None
    assert (contract.status, contract.first_contact) == ("active", True)
    assert contract.end_date == date(2027, 2, 28)
    assert contract.doctor_id == world.users["doctor"].id  # the household's doctor by default
    members = set(
        db.session.scalars(
            select(ContractMember.resident_id).where(
                ContractMember.contract_id == contract.id, ContractMember.is_active
            )
        )
    )
    assert members == {world.people["elder"].id, world.people["wife"].id}
    fees = sorted(
        db.session.scalars(
            select(ContractPackage.fee_fen).where(ContractPackage.contract_id == contract.id)
        )
    )
    assert fees == [0, 8000]


def test_same_contract_file_twice_creates_no_duplicates(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    content = csv_bytes(_rows(world))
    upload(client, token, "contracts", content, "签约.csv")
    before = (count(Contract), count(ContractMember), count(ContractPackage))
    status, _ = upload(client, token, "contracts", content, "签约.csv")
    assert status == 302
    assert (count(Contract), count(ContractMember), count(ContractPackage)) == before
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.unchanged_count == 2


def test_resident_already_under_an_active_contract_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    existing = world.sign("h2", ["fang"], 3)
    db.session.commit()
    token = auth.login_as(world.users["doctor"])
    before = count(Contract)
    status, html = upload(client, token, "contracts", csv_bytes(_rows(world)), "签约.csv")
    assert status == 422
    assert f"王芳 已有有效签约协议 {existing.code}" in html
    assert count(Contract) == before


def test_same_resident_in_two_rows_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows(world) + [
        ["IMPQY-3", "H-T1-002", world.people["fang"].citizen_id, "2026-03-01", 3, "", ""]
    ]
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert "王芳 已在第3行签约" in html


def test_term_outside_the_limits_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows(world)
    rows[1][4] = 5  # 张建国 is 70: key population, 1–3 years
    rows[2][4] = 1  # 王芳: general population, 3–5 years
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert (
        "<td>2</td><td>年限</td><td>签约成员中有重点人群或慢病高危人群（张建国），服务期应为1至3年</td>"
        in html
    )
    assert "<td>3</td><td>年限</td><td>签约成员均为一般人群，服务期应为3至5年</td>" in html


def test_member_must_belong_to_the_household(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows(world)
    rows[2][2] = world.people["son"].citizen_id
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert "不是户 H-T1-002 的成员" in html


def test_unknown_package_is_refused(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows(world)
    rows[1][5] = "VIP"
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert "服务包“VIP”不存在或已停用" in html


def test_household_out_of_scope_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows(world)
    rows[2][1:3] = ["H-T2-001", world.people["team2"].citizen_id]
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert "户编号 H-T2-001 不存在或不在您的管辖范围内" in html


def test_imported_contract_members_cannot_be_changed_by_a_new_import(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    upload(client, token, "contracts", csv_bytes(_rows(world)), "签约.csv")
    rows = _rows(world)
    rows[1][2] = world.people["elder"].citizen_id
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert "导入不能修改其家庭、成员或服务期" in html


def test_contract_already_over_is_imported_as_expired(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [HEADER, ["OLD-1", "H-T1-002", world.people["fang"].citizen_id, "2020-01-01", 3, "", ""]]
    status, _ = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 302
    contract = db.session.scalar(select(Contract).where(Contract.code == "OLD-1"))
    assert contract is not None and contract.status == "expired"
    assert not db.session.scalar(
        select(ContractMember.is_active).where(ContractMember.contract_id == contract.id)
    )


def test_a_package_the_members_do_not_fit_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows(world)
    rows[1][5] = "ELDERLY*2"  # 李秀英 is 40
    rows[2][5] = "CHRONIC"  # 王芳 has neither hypertension nor diabetes
    status, html = upload(client, token, "contracts", csv_bytes(rows), "签约.csv")
    assert status == 422
    assert "“老年人个性化包”仅适用于65岁及以上老年人" in html and "李秀英（女，40岁）" in html
    assert "“慢病个性化包”仅适用于高血压或糖尿病患者，所选成员均不符合：王芳" in html
    assert count(Contract) == 0
