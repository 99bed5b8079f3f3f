"""Households, residents, citizen IDs and pregnancies."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date

from fdoctor.auth.models import User
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Household, Pregnancy, Resident
from fdoctor.org.models import GridCell, OrgUnit
from tests.factories.org import team_cell

_numbers = itertools.count(1)


def citizen_id(born: date, sex: str | None = None) -> str:
    """A valid ID no other test resident of the run has; odd sequence for men, even for women
    (alternating when ``sex`` is not given)."""
    n = next(_numbers)
    male = n % 2 == 1 if sex is None else sex == "M"
    sequence = 2 * n + int(male)
    return cid.make(f"41{sequence // 1000:04d}", born, sequence % 1000)


def make_household(
    team: OrgUnit,
    *,
    cell: GridCell | None = None,
    code: str | None = None,
    address: str = "东街1号",
    doctor: User | None = None,
    station: OrgUnit | None = None,
    members: int = 0,
) -> Household:
    """A household of ``team`` in ``cell`` (the team's first grid cell by default), at ``station``
    (the cell's by default), with ``members`` residents of assorted ages, the first its head."""
    cell = cell or team_cell(team)
    n = next(_numbers)
    household = Household(
        code=code or f"H{team.code}-{n}",
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        grid_cell_id=cell.id,
        station_id=station.id if station else cell.station_id,
        address=address,
        responsible_doctor_id=doctor.id if doctor else None,
    )
    db.session.add(household)
    db.session.flush()
    for i in range(members):
        make_resident(household, date(1950 + (n + i) % 60, 1 + i, 10), head=i == 0)
    return household


def make_resident(
    household: Household,
    born: date = date(1960, 5, 1),
    *tags: str,
    name: str | None = None,
    sex: str | None = None,
    head: bool = False,
    status: str = "active",
    phone: str | None = None,
    number: str | None = None,
    tb_start: date | None = None,
) -> Resident:
    """A resident of ``household`` born on ``born``, with ``tags`` (``"hypertension"``, …); the
    citizen ID is new unless ``number`` is given, and the sex is the ID's."""
    person = _resident(household, born, number or citizen_id(born, sex), name)
    person.phone, person.status, person.tb_treatment_start = phone, status, tb_start
    person.is_head, person.relation = head, "本人" if head else "配偶"
    person.set_tags(set(tags))
    db.session.add(person)
    db.session.flush()
    return person


def make_residents(household: Household, born: Iterable[date]) -> list[Resident]:
    """Residents of ``household`` born on each day of ``born``, added in one flush (fast)."""
    people = [_resident(household, day, citizen_id(day)) for day in born]
    db.session.add_all(people)
    db.session.flush()
    return people


def _resident(household: Household, born: date, number: str, name: str | None = None) -> Resident:
    return Resident(
        household_id=household.id,
        county_id=household.county_id,
        institution_id=household.institution_id,
        team_id=household.team_id,
        name=name or f"居民{next(_numbers)}",
        citizen_id=number,
        id_tail=number[-6:],
        sex=cid.parse(number).sex,
        birth_date=born,
    )


def make_pregnancy(person: Resident, lmp: date, delivered: date | None = None) -> Pregnancy:
    row = Pregnancy(
        resident_id=person.id, county_id=person.county_id, lmp_date=lmp, delivery_date=delivered
    )
    db.session.add(row)
    db.session.flush()
    return row
