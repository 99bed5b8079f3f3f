"""Contracts: the one contract factory, and the households/contracts/imports world.

``make_contract`` writes a contract row as the app would leave it; ``World.sign`` signs through
the app's own service, for the tests of signing itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember, ServicePackage
from fdoctor.contracts.services import SignRequest, sign_contract
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import GridCell, OrgUnit
from tests.factories.households import make_household, make_resident
from tests.factories.org import Tree, make_cell, make_tree
from tests.factories.users import make_user

_codes = itertools.count(1)


def make_contract(
    household: Household,
    members: Iterable[Resident] | None,
    start: date,
    end: date,
    status: str = "active",
    *,
    terminated_on: date | None = None,
    removed: Iterable[Resident] = (),
    doctor: User | None = None,
) -> Contract:
    """A contract of the household's team covering ``members`` (None: every resident of the
    household). Members are active while the contract is; ``removed`` ones are on it but no
    longer active."""
    contract = Contract(
        code=f"QY-{next(_codes)}",
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
    gone = list(removed)
    people = list(household.residents if members is None else members)
    for person in [*people, *gone]:
        db.session.add(
            ContractMember(
                contract_id=contract.id,
                resident_id=person.id,
                is_active=status == "active" and person not in gone,
                county_id=household.county_id,
                institution_id=household.institution_id,
                team_id=household.team_id,
            )
        )
    db.session.flush()
    return contract


def signed_household(
    team: OrgUnit,
    members: int,
    start: date,
    end: date,
    status: str = "active",
    *,
    terminated_on: date | None = None,
) -> Household:
    """A household of ``members`` residents of ``team`` under one contract from ``start`` to
    ``end``."""
    household = make_household(team, members=members)
    make_contract(household, None, start, end, status, terminated_on=terminated_on)
    return household


def covering_contract(resident_id: int, day: date) -> Contract | None:
    """The contract of the resident whose term holds ``day`` (not terminated by then), the active
    one first, then the latest start: the one the app enters a service record under."""
    covering = db.session.scalars(
        select(Contract)
        .join(ContractMember, ContractMember.contract_id == Contract.id)
        .where(
            ContractMember.resident_id == resident_id,
            Contract.start_date <= day,
            Contract.end_date >= day,
        )
    ).all()
    covering = [c for c in covering if c.terminated_on is None or c.terminated_on > day]
    covering.sort(key=lambda c: (c.status != "active", -c.start_date.toordinal()))
    return covering[0] if covering else None


# --- the households/contracts/imports world ---------------------------------------------------

TODAY = date(2026, 3, 10)


@dataclass
class World:
    tree: Tree
    users: dict[str, User]
    cells: dict[str, GridCell]
    packages: dict[str, ServicePackage]
    households: dict[str, Household] = field(default_factory=dict)
    people: dict[str, Resident] = field(default_factory=dict)

    def sign(self, household: str, members: list[str], years: int, user: str = "doctor",
             start: date = TODAY, packages: dict[int, int | None] | None = None) -> Contract:  # fmt: skip
        """Sign a contract through the service (as ``user``, on the clock's today)."""
        home = self.households[household]
        request = SignRequest(
            resident_ids=[self.people[m].id for m in members],
            team_id=home.team_id,
            doctor_id=home.responsible_doctor_id,
            packages=packages or {},
            start=start,
            years=years,
        )
        return sign_contract(home, request, user=self.users[user])


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
    a1 = make_cell(tree.team, "G-T1-A1", "东街片区", "area")
    c1 = make_cell(tree.team, "G-T1-A1-C1", "幸福小区", "community", a1, tree.station)
    b1 = make_cell(tree.team, "G-T1-A1-C1-B1", "幸福小区1号楼", "building", c1, tree.station)
    c2 = make_cell(tree.team, "G-T1-A1-C2", "东关村", "community", a1)
    a2 = make_cell(tree.team2, "G-T2-A1", "西街片区", "area")
    c3 = make_cell(tree.team2, "G-T2-A1-C1", "和平小区", "community", a2)
    a3 = make_cell(tree.other_team, "G-X-A1", "城关片区", "area")
    c4 = make_cell(tree.other_team, "G-X-A1-C1", "城关村", "community", a3)
    packages = {
        "BASIC": ServicePackage(code="BASIC", name="基础包", kind="basic", fee_fen=0,
                                description="基本医疗和基本公共卫生服务"),
        "ELDERLY": ServicePackage(code="ELDERLY", name="老年人个性化包", kind="personalised",
                                  fee_fen=8000, description="年度体检加项、上门随访"),
        "CHRONIC": ServicePackage(code="CHRONIC", name="慢病个性化包", kind="personalised",
                                  fee_fen=12000, description="定期随访、长处方"),
    }  # fmt: skip
    db.session.add_all(packages.values())
    db.session.flush()
    cells = {"A1": a1, "C1": c1, "B1": b1, "C2": c2, "A2": a2, "C3": c3, "A3": a3, "C4": c4}
    world = World(tree, users, cells, packages)
    h1 = make_household(tree.team, cell=b1, code="H-T1-001", address="幸福小区1号楼101室",
                        doctor=users["doctor"])  # fmt: skip
    h2 = make_household(tree.team, cell=c2, code="H-T1-002", address="东关村12号",
                        doctor=users["doctor"])  # fmt: skip
    h3 = make_household(tree.team2, cell=c3, code="H-T2-001", address="和平小区3号楼",
                        doctor=users["doctor2"])  # fmt: skip
    h4 = make_household(tree.other_team, cell=c4, code="H-X-001", address="城关村8号",
                        doctor=users["other"])  # fmt: skip
    world.households = {"h1": h1, "h2": h2, "h3": h3, "h4": h4}
    world.people = {
        "elder": make_resident(h1, date(1955, 6, 1), name="张建国", sex="M", head=True),
        "wife": make_resident(h1, date(1985, 9, 12), name="李秀英", sex="F"),
        "son": make_resident(h1, date(1995, 2, 3), name="张小明", sex="M"),
        "fang": make_resident(
            h2, date(1990, 4, 5), name="王芳", sex="F", head=True, phone="13800001111"
        ),  # fmt: skip
        "team2": make_resident(h3, date(1980, 1, 1), name="赵强", sex="M", head=True),
        "foreign": make_resident(h4, date(1975, 7, 7), name="孙丽", sex="F", head=True),
    }
    return world


@pytest.fixture()
def world(app: object) -> Iterator[World]:
    """The world above, committed, with the clock frozen at TODAY (imported by the conftest of
    each test folder that uses it)."""
    with clock.frozen(TODAY):
        built = make_world()
        db.session.commit()
        yield built
