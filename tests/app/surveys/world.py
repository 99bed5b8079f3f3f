"""A small hand-built world for the surveys, flags and work-list tests (on the empty database)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from itertools import count

from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import GridCell, OrgUnit
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord
from tests.conftest import csrf_token
from tests.factories import PASSWORD, Tree, make_grid, make_tree

_seq = count(1)


@dataclass
class World:
    tree: Tree
    users: dict[str, User] = field(default_factory=dict)


@cache
def _password_hash() -> str:
    return generate_password_hash(PASSWORD)


def add_user(username: str, role: str, unit: OrgUnit | None) -> User:
    """A user with the factories' password; the hash is computed once per run (scrypt is slow)."""
    user = User(
        username=username,
        display_name=username,
        password_hash=_password_hash(),
        role=role,
        org_unit_id=unit.id if unit else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def make_world() -> World:
    """The factory tree with one user per working role (team users in ``tree.team``)."""
    tree = make_tree()
    world = World(tree)
    world.users = {
        "doctor": add_user("doc1", "doctor", tree.team),
        "leader": add_user("lead1", "team_leader", tree.team),
        "doctor2": add_user("doc2", "doctor", tree.team2),
        "centre": add_user("centre1", "centre_admin", tree.institution),
        "county": add_user("county1", "county_auditor", tree.county),
        "other_county": add_user("county2", "county_auditor", tree.other_county),
        "city": add_user("city1", "city_admin", tree.city),
    }
    return world


def add_household(team: OrgUnit, doctor: User | None = None) -> Household:
    grid = db.session.scalar(select(GridCell).where(GridCell.team_id == team.id)) or make_grid(team)
    n = next(_seq)
    household = Household(
        code=f"W{team.code}-{n}",
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        grid_cell_id=grid.id,
        address=f"测试路{n}号",
        responsible_doctor_id=doctor.id if doctor else None,
    )
    db.session.add(household)
    db.session.flush()
    return household


def add_resident(
    household: Household,
    born: date = date(1960, 5, 1),
    name: str | None = None,
    **tags: bool,
) -> Resident:
    n = next(_seq)
    number = cid.make(f"41{n // 1000:04d}", born, n % 1000)
    resident = Resident(
        household_id=household.id,
        county_id=household.county_id,
        institution_id=household.institution_id,
        team_id=household.team_id,
        name=name or f"居民{n}",
        citizen_id=number,
        id_tail=number[-6:],
        sex=cid.parse(number).sex,
        birth_date=born,
        phone=f"139{n:08d}",
        is_head=True,
        **{f"tag_{tag}": value for tag, value in tags.items()},
    )
    db.session.add(resident)
    db.session.flush()
    return resident


def add_contract(
    household: Household,
    residents: list[Resident],
    start: date,
    end: date,
    status: str = "active",
    doctor: User | None = None,
    terminated_on: date | None = None,
) -> Contract:
    n = next(_seq)
    contract = Contract(
        code=f"QY{n:06d}",
        household_id=household.id,
        doctor_id=doctor.id if doctor else None,
        signed_on=start,
        start_date=start,
        end_date=end,
        status=status,
        terminated_on=terminated_on,
        county_id=household.county_id,
        institution_id=household.institution_id,
        team_id=household.team_id,
    )
    db.session.add(contract)
    db.session.flush()
    for resident in residents:
        db.session.add(
            ContractMember(
                contract_id=contract.id,
                resident_id=resident.id,
                is_active=status == "active",
                county_id=household.county_id,
                institution_id=household.institution_id,
                team_id=household.team_id,
            )
        )
    db.session.flush()
    return contract


def signed_residents(team: OrgUnit, n: int, start: date, end: date) -> list[Resident]:
    """``n`` residents of ``team``, each in a household of one, with an active contract."""
    residents = []
    for _ in range(n):
        household = add_household(team)
        resident = add_resident(household)
        add_contract(household, [resident], start, end)
        residents.append(resident)
    return residents


def bulk_signed(team: OrgUnit, n: int, start: date, end: date) -> list[Resident]:
    """``n`` signed residents of ``team`` in one household under one contract (fast)."""
    household = add_household(team)
    residents = []
    for _ in range(n):
        number = next(_seq)
        citizen = cid.make(f"41{number // 1000:04d}", date(1970, 1, 1), number % 1000)
        residents.append(
            Resident(
                household_id=household.id,
                county_id=household.county_id,
                institution_id=household.institution_id,
                team_id=household.team_id,
                name=f"居民{number}",
                citizen_id=citizen,
                id_tail=citizen[-6:],
                sex=cid.parse(citizen).sex,
                birth_date=date(1970, 1, 1),
            )
        )
    db.session.add_all(residents)
    db.session.flush()
    add_contract(household, residents, start, end)
    return residents


def add_record(
    resident: Resident,
    service_type: str,
    service_date: date,
    doctor: User,
    entered_at: datetime | None = None,
    entered_by: User | None = None,
    verification: str = "unverified",
    contract: Contract | None = None,
) -> ServiceRecord:
    record = ServiceRecord(
        client_uuid=str(uuid.uuid4()),
        resident_id=resident.id,
        contract_id=contract.id if contract else None,
        doctor_id=doctor.id,
        service_date=service_date,
        category=SERVICE_TYPES[service_type][0],
        type=service_type,
        entered_at=entered_at or datetime.combine(service_date, time(10, 0)),
        entered_by_id=(entered_by or doctor).id,
        verification=verification,
        county_id=resident.county_id,
        institution_id=resident.institution_id,
        team_id=resident.team_id,
    )
    db.session.add(record)
    db.session.flush()
    return record


def login_as(client: FlaskClient, user: User) -> str:
    """Log ``user`` in and return a CSRF token for their posts.

    The ``app`` fixture keeps one app context for the whole test, so what Flask-Login and
    Flask-WTF cache in ``g`` (the user, the CSRF token) outlives a request: it is cleared here,
    and a test that acts as several users logs each in just before acting as them.
    """
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return csrf_token(client, "/")
