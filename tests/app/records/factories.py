"""Factories for service-record tests: a tree with signed residents, users, API helpers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from tests.conftest import login
from tests.factories import PASSWORD, Tree, make_household, make_tree

TODAY = date(2026, 6, 15)
TERM = (date(2026, 1, 1), date(2026, 12, 31))
_seq = [0]


def make_contract(
    household: Household,
    start: date = TERM[0],
    end: date = TERM[1],
    status: str = "active",
    members: list[Resident] | None = None,
) -> Contract:
    """A contract of ``household`` covering ``members`` (all residents by default)."""
    _seq[0] += 1
    contract = Contract(
        code=f"QY-{household.id}-{_seq[0]}",
        household_id=household.id,
        signed_on=start,
        start_date=start,
        end_date=end,
        status=status,
        county_id=household.county_id,
        institution_id=household.institution_id,
        team_id=household.team_id,
    )
    db.session.add(contract)
    db.session.flush()
    for person in members if members is not None else household.residents:
        db.session.add(
            ContractMember(
                contract_id=contract.id,
                resident_id=person.id,
                is_active=status == "active",
                county_id=household.county_id,
                institution_id=household.institution_id,
                team_id=household.team_id,
            )
        )
    db.session.flush()
    return contract


def signed_household(team: OrgUnit, members: int = 2, **contract: Any) -> Household:
    household = make_household(team, members=members)
    make_contract(household, **contract)
    return household


# Hashing with the production cost takes 0.4 s per user; these tests log in a lot.
_CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def make_user(username: str, role: str, unit: OrgUnit | None) -> User:
    """A user with a cheaply hashed PASSWORD (role and unit as ``tests.factories.make_user``)."""
    user = User(
        username=username,
        display_name=username,
        role=role,
        org_unit_id=unit.id if unit is not None else None,
        password_hash=_CHEAP_HASH,
    )
    db.session.add(user)
    db.session.flush()
    return user


@dataclass
class World:
    tree: Tree
    doctor: User
    leader: User
    centre: User
    county: User
    sibling_doctor: User  # team2, same institution
    foreign_doctor: User  # another county
    home: Household  # signed, in the doctor's team
    sibling_home: Household
    foreign_home: Household

    @property
    def resident(self) -> Resident:
        return self.home.residents[0]


def make_world() -> World:
    tree = make_tree()
    world = World(
        tree=tree,
        doctor=make_user("doc1", "doctor", tree.team),
        leader=make_user("lead1", "team_leader", tree.team),
        centre=make_user("centre1", "centre_admin", tree.institution),
        county=make_user("county1", "county_auditor", tree.county),
        sibling_doctor=make_user("doc2", "doctor", tree.team2),
        foreign_doctor=make_user("doc9", "doctor", tree.other_team),
        home=signed_household(tree.team),
        sibling_home=signed_household(tree.team2),
        foreign_home=signed_household(tree.other_team),
    )
    db.session.commit()
    return world


def record(resident: Resident | int | None, type_: str = "consultation", day: date = TODAY,
           **fields: Any) -> dict[str, Any]:  # fmt: skip
    """A new record's payload with a fresh client id."""
    resident_id = resident.id if isinstance(resident, Resident) else resident
    payload: dict[str, Any] = {
        "client_uuid": str(uuid.uuid4()),
        "type": type_,
        "service_date": day.isoformat(),
        "entered_at": f"{day.isoformat()}T10:00:00",
    }
    if resident_id is not None:
        payload["resident_id"] = resident_id
    payload.update(fields)
    return payload


def bp_record(resident: Resident, sbp: int = 132, dbp: int = 84, **fields: Any) -> dict[str, Any]:
    return record(resident, "hypertension_followup", systolic_bp=sbp, diastolic_bp=dbp, **fields)


class Device(FlaskClient):
    """A test client that never borrows another client's logged-in user.

    The ``app`` fixture keeps one app context open for the whole test and requests reuse it, so
    Flask-Login's cached user and Flask-WTF's CSRF token in ``g`` would carry over from one
    client to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


def device(app: Flask) -> Device:
    return Device(app, app.response_class, use_cookies=True)


def api_login(client: FlaskClient, user: User) -> str:
    """Log in and return the CSRF token for the X-CSRFToken header."""
    assert login(client, user.username, PASSWORD).status_code == 302
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    return str(response.get_json()["csrf_token"])


def post_batch(client: FlaskClient, token: str, records: list[dict[str, Any]],
               device_id: str | None = "tablet-test") -> Any:  # fmt: skip
    body: dict[str, Any] = {"records": records}
    if device_id is not None:
        body["device_id"] = device_id
    return client.post("/api/v1/services/batch", json=body, headers={"X-CSRFToken": token})


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(response.get_json()["results"])
