"""After signing: both paper copies signed, renewal, termination with a reason, and expiry."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.contracts.services import (
    ContractError,
    SignRequest,
    expire_contracts,
    renew_contract,
    terminate_contract,
)
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.contracts import TODAY, World

pytestmark = pytest.mark.db


def _signed(world: World, members: list[str] | None = None, years: int = 1) -> Contract:
    contract = world.sign("h1", members or ["elder", "wife"], years)
    assert isinstance(contract, Contract)
    db.session.commit()
    return contract


def _active_members(contract_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(ContractMember.resident_id).where(
                ContractMember.contract_id == contract_id, ContractMember.is_active
            )
        )
    )


def _renewal(world: World, old: Contract, start: date, years: int = 1) -> SignRequest:
    return SignRequest(
        resident_ids=[m.resident_id for m in old.members],
        team_id=old.team_id,
        doctor_id=old.doctor_id,
        start=start,
        years=years,
    )


# --- paper copies ---------------------------------------------------------------------------


def test_both_copies_signed_are_recorded(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    contract = _signed(world)
    token = auth.login_as(world.users["doctor"])
    response = client.post(f"/contracts/{contract.id}/copies", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Contract, contract.id)
    assert saved is not None
    assert saved.copies_signed == 2
    assert saved.copies_signed_at == datetime(2026, 3, 10, 9, 0, 0)


def test_copies_are_not_recorded_twice(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    contract = _signed(world)
    token = auth.login_as(world.users["doctor"])
    client.post(f"/contracts/{contract.id}/copies", data={"csrf_token": token})
    with clock.frozen(TODAY + timedelta(days=1)):
        client.post(f"/contracts/{contract.id}/copies", data={"csrf_token": token})
        html = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert "两份协议已登记签字，无需重复登记" in html
    db.session.expire_all()
    saved = db.session.get(Contract, contract.id)
    assert saved is not None and saved.copies_signed_at == datetime(2026, 3, 10, 9, 0, 0)


def test_contract_page_offers_the_agreement_download(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    contract = _signed(world)
    auth.login_as(world.users["county"])
    html = client.get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert f"/contracts/{contract.id}/agreement.pdf" in html
    assert "续约" not in html and "登记：两份协议均已签字" not in html  # read-only role


# --- termination ----------------------------------------------------------------------------


def test_termination_needs_a_reason(client: FlaskClient, world: World, auth: AuthActions) -> None:
    contract = _signed(world)
    token = auth.login_as(world.users["doctor"])
    response = client.post(
        f"/contracts/{contract.id}/terminate", data={"csrf_token": token, "reason": " "}
    )
    assert response.status_code == 422
    assert "请填写解约原因" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).status == "active"  # type: ignore[union-attr]


def test_termination_ends_the_contract_and_its_memberships(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    contract = _signed(world)
    token = auth.login_as(world.users["doctor"])
    response = client.post(
        f"/contracts/{contract.id}/terminate",
        data={"csrf_token": token, "reason": "迁往外地居住"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Contract, contract.id)
    assert saved is not None
    assert (saved.status, saved.terminated_on, saved.termination_reason) == (
        "terminated",
        TODAY,
        "迁往外地居住",
    )
    assert _active_members(contract.id) == set()


def test_terminated_contract_cannot_be_terminated_again(world: World) -> None:
    contract = _signed(world)
    terminate_contract(contract, "迁出", today=TODAY)
    with pytest.raises(ContractError, match="不能解约"):
        terminate_contract(contract, "再次", today=TODAY)


def test_terminated_resident_can_sign_again(world: World) -> None:
    contract = _signed(world, ["elder"])
    terminate_contract(contract, "更换团队", today=TODAY)
    again = world.sign("h1", ["elder"], 1)
    assert isinstance(again, Contract) and again.status == "active"


# --- renewal --------------------------------------------------------------------------------


def test_renewal_makes_a_new_contract_and_moves_the_members(world: World) -> None:
    old = _signed(world)
    start = old.end_date + timedelta(days=1)
    with clock.frozen(old.end_date - timedelta(days=10)):
        new = renew_contract(old, _renewal(world, old, start), world.users["doctor"])
    db.session.commit()
    assert new.renewed_from_id == old.id
    assert old.status == "renewed"
    assert new.start_date == start
    assert _active_members(old.id) == set()
    assert _active_members(new.id) == {world.people["elder"].id, world.people["wife"].id}


def test_renewal_outside_the_term_limits_changes_nothing(world: World) -> None:
    old = _signed(world)
    start = old.end_date + timedelta(days=1)
    with (
        clock.frozen(old.end_date - timedelta(days=10)),
        pytest.raises(ContractError, match="1至3年"),
    ):
        renew_contract(old, _renewal(world, old, start, years=5), world.users["doctor"])
    db.session.rollback()
    assert db.session.get(Contract, old.id).status == "active"  # type: ignore[union-attr]
    assert _active_members(old.id) == {world.people["elder"].id, world.people["wife"].id}


def test_renewal_of_a_terminated_contract_is_refused(world: World) -> None:
    old = _signed(world)
    terminate_contract(old, "迁出", today=TODAY)
    with pytest.raises(ContractError, match="不能续约"):
        renew_contract(old, _renewal(world, old, TODAY), world.users["doctor"], today=TODAY)


def test_renewal_page_starts_from_the_old_contract(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    old = _signed(world)
    auth.login_as(world.users["doctor"])
    html = client.get(f"/contracts/{old.id}/renew").get_data(as_text=True)
    assert f'value="{(old.end_date + timedelta(days=1)).isoformat()}"' in html
    assert "确认续约" in html


def test_renewal_through_the_page(client: FlaskClient, world: World, auth: AuthActions) -> None:
    old = _signed(world)
    token = auth.login_as(world.users["doctor"])
    response = client.post(
        f"/contracts/{old.id}/renew",
        data={
            "csrf_token": token,
            "members": [world.people["elder"].id, world.people["wife"].id],
            "team_id": old.team_id,
            "doctor_id": old.doctor_id,
            "start_date": (old.end_date + timedelta(days=1)).isoformat(),
            "years": "2",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contract, old.id).status == "renewed"  # type: ignore[union-attr]


# --- expiry ---------------------------------------------------------------------------------


def test_expiry_marks_contracts_past_their_last_day(world: World) -> None:
    contract = _signed(world)
    assert expire_contracts(contract.end_date) == 0  # the last day is still covered
    assert expire_contracts(contract.end_date + timedelta(days=1)) == 1
    db.session.commit()
    saved = db.session.get(Contract, contract.id)
    assert saved is not None and saved.status == "expired"
    assert _active_members(contract.id) == set()


def test_expiry_is_idempotent(world: World) -> None:
    contract = _signed(world)
    later = contract.end_date + timedelta(days=5)
    assert expire_contracts(later) == 1
    db.session.commit()
    stamp = db.session.get(Contract, contract.id).updated_at  # type: ignore[union-attr]
    with clock.frozen(TODAY + timedelta(days=3)):  # a later run would stamp a later time
        assert expire_contracts(later) == 0
    db.session.commit()
    assert db.session.get(Contract, contract.id).updated_at == stamp  # type: ignore[union-attr]


def test_expiry_leaves_terminated_and_renewed_contracts_alone(world: World) -> None:
    stopped = _signed(world, ["elder"])
    terminate_contract(stopped, "迁出", today=TODAY)
    db.session.commit()
    assert expire_contracts(TODAY + timedelta(days=800)) == 0
    assert db.session.get(Contract, stopped.id).status == "terminated"  # type: ignore[union-attr]


def test_expired_resident_can_sign_again(world: World) -> None:
    contract = _signed(world, ["elder"])
    expire_contracts(contract.end_date + timedelta(days=1))
    db.session.commit()
    with clock.frozen(contract.end_date + timedelta(days=1)):
        again = world.sign("h1", ["elder"], 1, start=contract.end_date + timedelta(days=1))
    assert isinstance(again, Contract)
