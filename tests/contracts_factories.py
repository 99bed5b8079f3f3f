"""Factories for the household, contract and import tests: a small world with a three-level grid,
users of every writing role, service packages, and residents with chosen ages and tags."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import pytest
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ServicePackage
from fdoctor.contracts.services import SignRequest, sign_contract
from fdoctor.core import citizen_id as cid
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import GridCell, OrgUnit
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, Tree, make_tree

TODAY = date(2026, 3, 10)


@cache
def _password_hash() -> str:
    # Hashing is deliberately slow; every test user shares one hash of factories.PASSWORD.
    return generate_password_hash(PASSWORD)


def make_user(username: str, role: str, unit: OrgUnit | None) -> User:
    user = User(username=username, display_name=username, role=role,
                org_unit_id=unit.id if unit else None, password_hash=_password_hash())  # fmt: skip
    db.session.add(user)
    db.session.flush()
    return user


def add_cell(team: OrgUnit, code: str, name: str, kind: str, parent: GridCell | None = None,
             station: OrgUnit | None = None) -> GridCell:  # fmt: skip
    cell = GridCell(
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        station_id=station.id if station else None,
    )
    db.session.add(cell)
    db.session.flush()
    return cell


_seq = [100]


def citizen_id(born: date, sex: str = "M", region: str = "410001") -> str:
    """A valid, unique ID: odd sequence for men, even for women."""
    _seq[0] += 2
    sequence = _seq[0] + (1 if sex == "M" else 0)
    return cid.make(region, born, sequence % 1000)


def add_household(team: OrgUnit, cell: GridCell, code: str, address: str = "东街1号",
                  doctor: User | None = None) -> Household:  # fmt: skip
    household = Household(
        code=code,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        grid_cell_id=cell.id,
        station_id=cell.station_id,
        address=address,
        responsible_doctor_id=doctor.id if doctor else None,
    )
    db.session.add(household)
    db.session.flush()
    return household


def add_resident(household: Household, name: str, born: date, sex: str = "M",
                 tags: set[str] | None = None, head: bool = False, number: str | None = None,
                 phone: str | None = None) -> Resident:  # fmt: skip
    number = number or citizen_id(born, sex)
    person = Resident(
        household_id=household.id,
        county_id=household.county_id,
        institution_id=household.institution_id,
        team_id=household.team_id,
        name=name,
        citizen_id=number,
        id_tail=number[-6:],
        sex=sex,
        birth_date=born,
        phone=phone,
        relation="本人" if head else "配偶",
        is_head=head,
        status="active",
    )
    person.set_tags(tags or set())
    db.session.add(person)
    db.session.flush()
    return person


@dataclass
class World:
    tree: Tree
    users: dict[str, User]
    cells: dict[str, GridCell]
    packages: dict[str, ServicePackage]
    households: dict[str, Household] = field(default_factory=dict)
    people: dict[str, Resident] = field(default_factory=dict)


def make_world() -> World:
    """Team 1 has area A1 → community C1 → building B1 (and community C2 without buildings);
    team 2 and the other county's team each have one area with a community.

    Households: ``h1`` in B1 with 张建国 (70, elderly head) and 李秀英 (40, general) and 张小明 (30,
    general); ``h2`` in C2 with 王芳 (35, general, phone 13800001111). ``h3`` in team 2, ``h4`` in
    the other county.
    """
    tree = make_tree()
    users = {
        "doctor": make_user("doc1", "doctor", tree.team),
        "leader": make_user("lead1", "team_leader", tree.team),
        "doctor2": make_user("doc2", "doctor", tree.team2),
        "centre": make_user("centre1", "centre_admin", tree.institution),
        "county": make_user("county1", "county_auditor", tree.county),
        "city": make_user("city1", "city_admin", tree.city),
        "other": make_user("other1", "doctor", tree.other_team),
    }
    a1 = add_cell(tree.team, "G-T1-A1", "东街片区", "area")
    c1 = add_cell(tree.team, "G-T1-A1-C1", "幸福小区", "community", a1, tree.station)
    b1 = add_cell(tree.team, "G-T1-A1-C1-B1", "幸福小区1号楼", "building", c1, tree.station)
    c2 = add_cell(tree.team, "G-T1-A1-C2", "东关村", "community", a1)
    a2 = add_cell(tree.team2, "G-T2-A1", "西街片区", "area")
    c3 = add_cell(tree.team2, "G-T2-A1-C1", "和平小区", "community", a2)
    a3 = add_cell(tree.other_team, "G-X-A1", "城关片区", "area")
    c4 = add_cell(tree.other_team, "G-X-A1-C1", "城关村", "community", a3)
    packages = {
        "BASIC": ServicePackage(
            code="BASIC",
            name="基础包",
            kind="basic",
            fee_fen=0,
            description="基本医疗和基本公共卫生服务",
        ),  # fmt: skip
        "ELDERLY": ServicePackage(
            code="ELDERLY",
            name="老年人个性化包",
            kind="personalised",
            fee_fen=8000,
            description="年度体检加项、上门随访",
        ),  # fmt: skip
        "CHRONIC": ServicePackage(
            code="CHRONIC",
            name="慢病个性化包",
            kind="personalised",
            fee_fen=12000,
            description="定期随访、长处方",
        ),  # fmt: skip
    }
    db.session.add_all(packages.values())
    db.session.flush()
    world = World(tree, users, {"A1": a1, "C1": c1, "B1": b1, "C2": c2, "A2": a2, "C3": c3,
                                "A3": a3, "C4": c4}, packages)  # fmt: skip
    h1 = add_household(tree.team, b1, "H-T1-001", "幸福小区1号楼101室", users["doctor"])
    h2 = add_household(tree.team, c2, "H-T1-002", "东关村12号", users["doctor"])
    h3 = add_household(tree.team2, c3, "H-T2-001", "和平小区3号楼", users["doctor2"])
    h4 = add_household(tree.other_team, c4, "H-X-001", "城关村8号", users["other"])
    world.households = {"h1": h1, "h2": h2, "h3": h3, "h4": h4}
    world.people = {
        "elder": add_resident(h1, "张建国", date(1955, 6, 1), "M", head=True),
        "wife": add_resident(h1, "李秀英", date(1985, 9, 12), "F"),
        "son": add_resident(h1, "张小明", date(1995, 2, 3), "M"),
        "fang": add_resident(h2, "王芳", date(1990, 4, 5), "F", head=True, phone="13800001111"),
        "team2": add_resident(h3, "赵强", date(1980, 1, 1), "M", head=True),
        "foreign": add_resident(h4, "孙丽", date(1975, 7, 7), "F", head=True),
    }
    return world


def sign(world: World, household: str, members: list[str], years: int, user: str = "doctor",
         start: date = TODAY, packages: dict[int, int | None] | None = None) -> Contract:  # fmt: skip
    """Sign a contract through the service (as ``user``, on the clock's today)."""
    h = world.households[household]
    u = world.users[user]
    request = SignRequest(
        resident_ids=[world.people[m].id for m in members],
        team_id=h.team_id,
        doctor_id=h.responsible_doctor_id,
        packages=packages or {},
        start=start,
        years=years,
    )
    return sign_contract(h, request, user=u)


# --- fixtures (imported by the conftest of each test folder) --------------------------------


@pytest.fixture()
def world(app: object) -> Iterator[World]:
    """The world above, committed, with the clock frozen at TODAY."""
    with clock.frozen(TODAY):
        built = make_world()
        db.session.commit()
        yield built


def log_in(client: FlaskClient, world: World, who: str) -> str:
    """Log ``who`` in; return a CSRF token for the following posts."""
    response = login(client, world.users[who].username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_token(client, "/")
