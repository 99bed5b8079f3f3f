"""Surveys: answers and complaints, and the world of the surveys, flags and work-list tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import Complaint, SurveyResponse
from tests.factories.contracts import make_contract
from tests.factories.households import make_household, make_resident, make_residents
from tests.factories.org import Tree, make_tree
from tests.factories.records import make_record
from tests.factories.users import make_user

_phones = itertools.count(1)


def make_survey(
    person: Resident, day: date, satisfaction: int | None, knows: bool | None
) -> SurveyResponse:
    """A phone survey's answer of ``person`` on ``day`` (in that day's quarter)."""
    response = SurveyResponse(
        resident_id=person.id,
        period=f"{day.year}-Q{(day.month - 1) // 3 + 1}",
        surveyed_on=day,
        channel="phone",
        satisfaction=satisfaction,
        knows_doctor=knows,
        created_at=datetime.combine(day, time(9, 0)),
        county_id=person.county_id,
        institution_id=person.institution_id,
        team_id=person.team_id,
    )
    db.session.add(response)
    db.session.flush()
    return response


def make_complaint(team: OrgUnit, day: date, status: str = "verified") -> Complaint:
    row = Complaint(
        received_on=day,
        channel="电话",
        content="服务态度差",
        status=status,
        created_at=datetime.combine(day, time(9, 0)),
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(row)
    db.session.flush()
    return row


# --- the surveys world ------------------------------------------------------------------------


@dataclass
class World:
    tree: Tree
    users: dict[str, User] = field(default_factory=dict)


def make_world() -> World:
    """The factory tree with one user per working role (team users in ``tree.team``)."""
    tree = make_tree()
    world = World(tree)
    world.users = {
        "doctor": make_user("doc1", "doctor", tree.team),
        "leader": make_user("lead1", "team_leader", tree.team),
        "doctor2": make_user("doc2", "doctor", tree.team2),
        "centre": make_user("centre1", "centre_admin", tree.institution),
        "county": make_user("county1", "county_auditor", tree.county),
        "other_county": make_user("county2", "county_auditor", tree.other_county),
        "city": make_user("city1", "city_admin", tree.city),
    }
    return world


def add_resident(
    household: Household,
    born: date = date(1960, 5, 1),
    name: str | None = None,
    **tags: bool,
) -> Resident:
    """A resident the surveys can reach: the head of ``household``, with a phone of their own."""
    on = [tag for tag, value in tags.items() if value]
    phone = f"139{next(_phones):08d}"
    return make_resident(household, born, *on, name=name, head=True, phone=phone)


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
    """A record of ``resident`` by ``doctor``, under no contract unless ``contract`` names one."""
    return make_record(
        service_type, service_date, resident, doctor=doctor, entered=entered_at,
        entered_by=entered_by, verification=verification, contract=contract,
    )  # fmt: skip


def bulk_signed(team: OrgUnit, n: int, start: date, end: date) -> list[Resident]:
    """``n`` signed residents of ``team`` in one household under one contract (fast)."""
    household = make_household(team)
    residents = make_residents(household, [date(1970, 1, 1)] * n)
    make_contract(household, residents, start, end)
    return residents
