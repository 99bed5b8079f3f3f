"""Signing a household: members, team and doctor, packages and fees, term limits, the code, and
at most one active contract per resident (checked, and guarded by the database index)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fdoctor.contracts.models import Contract, ContractMember, ContractPackage
from fdoctor.contracts.services import (
    ContractConflict,
    ContractError,
    SignRequest,
    end_date_for,
    execute_signing,
    prepare_signing,
    term_limits,
)
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.contracts import TODAY, World

pytestmark = pytest.mark.db


def _form(world: World, token: str, members: list[str], **overrides: object) -> dict[str, object]:
    h1 = world.households["h1"]
    data: dict[str, object] = {
        "csrf_token": token,
        "members": [world.people[m].id for m in members],
        "team_id": h1.team_id,
        "doctor_id": world.users["doctor"].id,
        "packages": [],
        "start_date": TODAY.isoformat(),
        "years": "1",
    }
    data.update(overrides)
    return data


def _post(client: FlaskClient, world: World, data: dict[str, object]) -> tuple[int, str]:
    response = client.post(f"/contracts/new/{world.households['h1'].id}", data=data)
    return response.status_code, response.get_data(as_text=True)


def _contracts() -> int:
    return db.session.scalar(select(func.count(Contract.id))) or 0


def test_doctor_signs_chosen_members_with_packages(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    elderly = world.packages["ELDERLY"].id
    data = _form(world, token, ["elder", "wife"], packages=[elderly], **{f"persons_{elderly}": "1"})
    data["first_contact"] = "y"
    status, _ = _post(client, world, data)
    assert status == 302
    contract = db.session.scalar(select(Contract))
    assert contract is not None
    assert re.fullmatch(r"QY4100012026\d{5}", contract.code)
    assert contract.status == "active" and contract.first_contact
    assert (contract.start_date, contract.end_date) == (TODAY, date(2027, 3, 9))
    members = db.session.scalars(
        select(ContractMember.resident_id).where(ContractMember.is_active)
    ).all()
    assert set(members) == {world.people["elder"].id, world.people["wife"].id}
    fees = dict(
        db.session.execute(select(ContractPackage.package_id, ContractPackage.fee_fen)).all()
    )
    assert fees == {world.packages["BASIC"].id: 0, elderly: 8000}


def test_personalised_fee_defaults_to_every_member(world: World) -> None:
    chronic = world.packages["CHRONIC"].id
    world.people["elder"].tag_hypertension = world.people["wife"].tag_diabetes = True
    contract = world.sign("h1", ["elder", "wife"], 1, packages={chronic: None})
    assert isinstance(contract, Contract)
    fee = db.session.scalar(
        select(ContractPackage.fee_fen).where(ContractPackage.package_id == chronic)
    )
    assert fee == 2 * 12000


def test_signing_needs_at_least_one_member(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, _form(world, token, []))
    assert status == 422
    assert "请至少选择一名签约成员" in html
    assert _contracts() == 0


def test_key_population_term_over_three_years_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, _form(world, token, ["elder", "wife"], years="4"))
    assert status == 422
    assert "重点人群或慢病高危人群（张建国），服务期应为1至3年" in html
    assert _contracts() == 0


def test_general_population_term_under_three_years_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, _form(world, token, ["wife", "son"], years="2"))
    assert status == 422
    assert "签约成员均为一般人群，服务期应为3至5年" in html


def test_chronic_disease_counts_as_high_risk(world: World) -> None:
    son = world.people["son"]
    assert term_limits([son], TODAY) == (3, 5)
    son.set_tags({"hypertension"})
    assert term_limits([son], TODAY) == (1, 3)


@pytest.mark.parametrize(("members", "years"), [(["elder"], 3), (["wife"], 3), (["wife"], 5)])
def test_terms_inside_the_limits_are_accepted(world: World, members: list[str], years: int) -> None:
    contract = world.sign("h1", members, years)
    assert isinstance(contract, Contract)
    assert contract.end_date == end_date_for(TODAY, years)


def test_resident_under_an_active_contract_is_refused_naming_it(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    first = world.sign("h1", ["elder"], 1)
    assert isinstance(first, Contract)
    db.session.commit()
    token = auth.login_as(world.users["doctor"])
    status, html = _post(client, world, _form(world, token, ["elder", "wife"]))
    assert status == 409
    assert f"张建国已有有效签约协议 {first.code}" in html
    assert _contracts() == 1


def test_form_marks_members_already_signed(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    first = world.sign("h1", ["elder"], 1)
    assert isinstance(first, Contract)
    db.session.commit()
    auth.login_as(world.users["doctor"])
    html = client.get(f"/contracts/new/{world.households['h1'].id}").get_data(as_text=True)
    assert f"张建国（已签约 {first.code}）" in html


def test_doctor_must_belong_to_the_chosen_team(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    data = _form(world, token, ["elder"], doctor_id=world.users["doctor2"].id)
    status, html = _post(client, world, data)
    assert status == 422
    assert "签约责任医生须是所选团队的医生" in html


def test_start_date_far_in_the_past_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    start = (TODAY - timedelta(days=31)).isoformat()
    status, html = _post(client, world, _form(world, token, ["elder"], start_date=start))
    assert status == 422
    assert "服务开始日期应在" in html


def test_more_package_persons_than_members_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    elderly = world.packages["ELDERLY"].id
    data = _form(world, token, ["elder"], packages=[elderly], **{f"persons_{elderly}": "2"})
    status, html = _post(client, world, data)
    assert status == 422
    assert "“老年人个性化包”的服务人数应为1至1人" in html


def test_member_of_another_household_is_refused(world: World) -> None:
    h1 = world.households["h1"]
    request = SignRequest(
        resident_ids=[world.people["fang"].id],
        team_id=h1.team_id,
        doctor_id=h1.responsible_doctor_id,
        start=TODAY,
        years=3,
    )
    with pytest.raises(ContractError, match="不属于该家庭"):
        prepare_signing(h1, request, world.users["doctor"], today=TODAY)


def test_county_auditor_may_not_sign(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["county"])
    status, _ = _post(client, world, _form(world, token, ["elder"]))
    assert status == 403


def test_doctor_cannot_sign_sibling_team_household(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    h3 = world.households["h3"]
    response = client.post(f"/contracts/new/{h3.id}", data=_form(world, token, ["team2"]))
    assert response.status_code == 404


def test_codes_count_up_within_county_and_year(world: World) -> None:
    first = world.sign("h1", ["elder"], 1)
    second = world.sign("h2", ["fang"], 3)
    assert isinstance(first, Contract) and isinstance(second, Contract)
    assert (first.code, second.code) == ("QY410001202600001", "QY410001202600002")


def test_database_refuses_a_second_active_membership(world: World) -> None:
    first = world.sign("h1", ["elder"], 1)
    assert isinstance(first, Contract)
    db.session.commit()
    db.session.add(
        ContractMember(
            contract_id=first.id,
            resident_id=world.people["elder"].id,
            county_id=first.county_id,
            institution_id=first.institution_id,
            team_id=first.team_id,
            is_active=True,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_concurrent_signing_loses_with_a_chinese_error(world: World) -> None:
    """Two requests sign 张建国 at once: both pass the checks, the second write is refused by
    the partial unique index and translated, naming the contract that won."""
    h1 = world.households["h1"]
    request = SignRequest(
        resident_ids=[world.people["elder"].id],
        team_id=h1.team_id,
        doctor_id=h1.responsible_doctor_id,
        start=TODAY,
        years=1,
    )
    plan = prepare_signing(h1, request, world.users["doctor"], today=TODAY)
    # End this request's read transaction: SQLite lets a writer in only on a fresh snapshot
    # (PostgreSQL does not care). The plan keeps what the checks decided.
    db.session.commit()
    # The other request, in its own session and transaction, signs and commits first.
    with Session(db.engine) as other:
        rival = Contract(
            code="QY-RIVAL-1",
            household_id=h1.id,
            doctor_id=h1.responsible_doctor_id,
            signed_on=TODAY,
            start_date=TODAY,
            end_date=end_date_for(TODAY, 1),
            status="active",
            county_id=h1.county_id,
            institution_id=h1.institution_id,
            team_id=h1.team_id,
        )
        other.add(rival)
        other.flush()
        other.add(
            ContractMember(
                contract_id=rival.id,
                resident_id=world.people["elder"].id,
                county_id=h1.county_id,
                institution_id=h1.institution_id,
                team_id=h1.team_id,
                is_active=True,
            )
        )
        other.commit()
    with pytest.raises(ContractConflict, match="张建国已有有效签约协议 QY-RIVAL-1"):
        execute_signing(plan, world.users["doctor"])
    codes = db.session.scalars(select(Contract.code)).all()
    assert codes == ["QY-RIVAL-1"]  # nothing of the losing signing was kept


def test_a_package_is_refused_for_members_it_is_not_for(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    elderly = world.packages["ELDERLY"].id
    data = _form(world, token, ["elder", "wife"], packages=[elderly], **{f"persons_{elderly}": "2"})
    status, html = _post(client, world, data)
    assert status == 422
    assert "“老年人个性化包”仅适用于65岁及以上老年人" in html
    assert "李秀英（女，40岁）" in html and "张建国（" not in html
    chronic = world.packages["CHRONIC"].id
    data = _form(world, token, ["wife"], packages=[chronic], years="3")
    status, html = _post(client, world, data)
    assert status == 422
    assert "“慢病个性化包”仅适用于高血压或糖尿病患者，所选成员均不符合：李秀英" in html
    assert _contracts() == 0
