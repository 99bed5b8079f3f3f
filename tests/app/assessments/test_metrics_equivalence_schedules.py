"""The care-schedule metrics (B4, B6) of the tuned ``compute_metrics`` equal the reference's on
a generated world that crowds the edges of the schedules.

Children born on the 28th–31st of a month and on 29 February (month arithmetic clamps), TB
treatments starting at month ends, pregnancies delivered, undelivered, delivered early or with a
delivery date before the LMP (no schedule), two pregnancies of one woman, residents in two
overlapping contracts, inactive or unsigned residents, and records on the day before, the first
day, the last day and the day after each window, in every verification state, some logged by
another team. Compared for every month of two years, for quarters and half years at every grain,
and judged on other days.
"""

from __future__ import annotations

import calendar
import random
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert

from assessments.care_schedule.dates import add_months
from fdoctor.assessments.metrics import GRAINS
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord
from tests.app.assessments.test_metrics_equivalence import assert_same
from tests.factories.contracts import make_contract
from tests.factories.households import make_household, make_pregnancy, make_resident
from tests.factories.org import make_tree
from tests.factories.users import team_doctor

pytestmark = pytest.mark.db

SCHEDULE_METRICS = ["key_population_services", "vaccination_special_care"]
VERIFICATIONS = ["unverified"] * 14 + ["confirmed"] * 3 + ["disputed", "false", "false"]
NEAR = (-1, 0, 1)


def _day(rng: random.Random, low: date, high: date) -> date:
    return low + timedelta(days=rng.randrange((high - low).days + 1))


def _month_end_heavy(rng: random.Random, low: date, high: date) -> date:
    """A day in ``low..high``, half the time on the 28th–31st of its month or 29 February."""
    day = _day(rng, low, high)
    if rng.random() < 0.5:
        last = calendar.monthrange(day.year, day.month)[1]
        day = day.replace(day=rng.randint(min(28, last), last))
    if rng.random() < 0.1:
        day = rng.choice([date(2020, 2, 29), date(2024, 2, 29), date(2021, 1, 31)])
    return day


class _Records:
    def __init__(self, rng: random.Random, teams: list[OrgUnit]) -> None:
        self.rng = rng
        self.teams = teams
        self.rows: list[dict[str, Any]] = []
        self.doctors = {team.id: team_doctor(team).id for team in teams}

    def add(self, person: Resident, home: Household, type_: str, day: date) -> None:
        rng = self.rng
        team = next(t for t in self.teams if t.id == home.team_id)
        if rng.random() < 0.15:
            team = rng.choice(self.teams)  # logged by another team: still the resident's
        who = self.doctors[team.id]
        self.rows.append(
            {
                "client_uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                "resident_id": person.id,
                "doctor_id": who,
                "station_id": home.station_id,
                "service_date": day,
                "category": SERVICE_TYPES[type_][0],
                "type": type_,
                "entered_at": datetime.combine(day, time(10, 0)),
                "entered_by_id": who,
                "verification": rng.choice(VERIFICATIONS),
                "county_id": team.county_id,
                "institution_id": team.institution_id,
                "team_id": team.id,
            }
        )

    def around(self, person: Resident, home: Household, type_: str, day: date) -> None:
        """Half the time, a record on the day before, on, or after ``day`` (a window edge)."""
        if self.rng.random() < 0.5:
            self.add(person, home, type_, day + timedelta(days=self.rng.choice(NEAR)))


def _populate(seed: int) -> None:
    rng = random.Random(seed)
    t = make_tree()
    teams = [t.team, t.team2, t.other_team]
    records = _Records(rng, teams)
    homes = [
        make_household(t.team, station=t.station),
        make_household(t.team, station=t.station),
        make_household(t.team),
        make_household(t.team2, station=t.station),  # a team2 household at the station
        make_household(t.team2),
        make_household(t.team2),
        make_household(t.other_team),
        make_household(t.other_team),
    ]
    for number in range(42):
        home = homes[number % len(homes)]
        people: list[Resident] = []
        for _ in range(rng.randint(2, 6)):
            kind = rng.random()
            tags: list[str] = []
            tb_start = None
            if kind < 0.55:
                born = _month_end_heavy(rng, date(2018, 6, 1), date(2026, 12, 31))
            elif kind < 0.8:
                born = _day(rng, date(1975, 1, 1), date(2002, 12, 31))
            else:
                born = _day(rng, date(1935, 1, 1), date(1962, 12, 31))
            if rng.random() < 0.2:
                tags.append("mental_severe")
            if rng.random() < 0.3:
                tags.append("tuberculosis")
                tb_start = _month_end_heavy(rng, date(2024, 3, 1), date(2026, 12, 31))
            status = "inactive" if rng.random() < 0.08 else "active"
            person = make_resident(home, born, *tags, status=status, tb_start=tb_start)
            people.append(person)
            _records_of(records, person, home)
        _contracts(rng, home, people, number)
    db.session.execute(insert(ServiceRecord), records.rows)
    db.session.commit()


def _records_of(records: _Records, person: Resident, home: Household) -> None:
    rng = records.rng
    born = person.birth_date
    if born >= date(2018, 1, 1):
        records.around(person, home, "child_checkup", born + timedelta(days=28))
        records.around(person, home, "child_checkup", born + timedelta(days=30))
        for months in range(0, 80):
            edge = add_months(born, months)
            records.around(person, home, "vaccination", edge)
            records.around(person, home, "child_checkup", edge)
            if rng.random() < 0.1:
                records.add(person, home, rng.choice(["vaccination", "child_checkup"]), edge)
    if person.tag_mental_severe:
        day = date(2024, 1, 1)
        while day <= date(2026, 12, 31):
            records.around(person, home, "mental_followup", day)
            if rng.random() < 0.5:
                records.add(person, home, "mental_followup", day + timedelta(days=40))
            day = add_months(day, 3)
    if person.tb_treatment_start is not None:
        for months in range(0, 8):
            records.around(
                person, home, "tb_followup", add_months(person.tb_treatment_start, months)
            )
    if date(1975, 1, 1) <= born <= date(2002, 12, 31) and rng.random() < 0.7:
        lmps = sorted({_day(rng, date(2024, 1, 1), date(2026, 12, 20)) for _ in range(2)})
        for lmp in lmps[: rng.choice([1, 1, 2])]:
            delivered = rng.choice(
                [
                    None,
                    lmp + timedelta(days=rng.randint(255, 295)),
                    lmp + timedelta(days=rng.randint(100, 200)),  # early
                    lmp + timedelta(days=16 * 7),  # on the first day of a window
                    lmp - timedelta(days=3),  # before the LMP: no schedule
                ]
            )
            make_pregnancy(person, lmp, delivered)
            edges = [
                lmp + timedelta(weeks=weeks, days=days)
                for weeks in (0, 12, 13, 16, 20, 21, 24, 25, 28, 36, 37, 40, 41)
                for days in (0, 6)
            ]
            if delivered is not None:
                edges += [delivered + timedelta(days=days) for days in (-1, 3, 7, 42, 56)]
            for edge in rng.sample(edges, len(edges) // 4):
                records.around(person, home, "maternal_visit", edge)
    for _ in range(rng.randint(0, 3)):  # the other scheduled types, anywhere
        records.add(
            person,
            home,
            rng.choice(["elderly_checkup", "vaccination", "maternal_visit", "mental_followup"]),
            _day(rng, date(2024, 1, 1), date(2026, 12, 31)),
        )


def _contracts(rng: random.Random, home: Household, people: list[Resident], number: int) -> None:
    choice = number % 7
    if choice == 0:
        return  # never signed
    if choice == 1:
        make_contract(home, people, date(2024, 1, 1), date(2024, 12, 31), status="renewed")
        make_contract(home, people, date(2025, 1, 1), date(2026, 12, 31))
    elif choice == 2:
        make_contract(
            home,
            people,
            date(2025, 3, 1),
            date(2027, 2, 28),
            status="terminated",
            terminated_on=_day(rng, date(2025, 6, 1), date(2026, 10, 1)),
        )
    elif choice == 3:
        make_contract(home, people[1:], date(2025, 1, 1), date(2026, 12, 31), removed=people[:1])
    elif choice == 4:
        # Two overlapping contracts: residents counted once.
        make_contract(home, people, date(2025, 1, 1), date(2026, 12, 31))
        make_contract(home, people[:2], date(2025, 7, 1), date(2026, 6, 30), status="expired")
    elif choice == 5:
        make_contract(home, people, date(2025, 5, 15), date(2026, 5, 14), status="expired")
    else:
        make_contract(home, people, date(2024, 6, 1), date(2026, 12, 31))


@pytest.fixture()
def world(app: Flask) -> None:
    _populate(seed=20260101)


def _month(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def test_every_month_of_two_years(world: None) -> None:
    due = 0
    for year in (2025, 2026):
        for month in range(1, 13):
            start, end = _month(year, month)
            result = assert_same("team", start, end, metrics=SCHEDULE_METRICS)
            due += sum(
                int(v[m].denominator or 0) for v in result.values() for m in SCHEDULE_METRICS
            )
    assert due > 200


def test_quarters_half_years_and_years_at_every_grain(world: None) -> None:
    periods = [
        (date(2025, 10, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 1, 1), date(2026, 6, 30)),
        (date(2025, 1, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 12, 31)),
    ]
    for grain in GRAINS:
        for start, end in periods:
            assert_same(grain, start, end)
        start, end = _month(2026, 2)
        assert_same(grain, start, end)


def test_judged_on_other_days_and_units_asked_by_id(world: None) -> None:
    for as_of in (date(2026, 5, 31), date(2026, 7, 15), date(2027, 1, 10)):
        assert_same("team", date(2026, 5, 1), date(2026, 5, 31), as_of=as_of)
        assert_same("institution", date(2026, 4, 1), date(2026, 6, 30), as_of=as_of)
    teams = sorted(db.session.scalars(db.select(OrgUnit.id).where(OrgUnit.kind == "team")))
    assert_same("team", date(2026, 3, 1), date(2026, 3, 31), unit_ids=teams[:2])
    assert_same("team", date(2026, 1, 1), date(2026, 6, 30), unit_ids=teams[1:])
