"""Small factories for the metric tests: households, residents, contracts, records, surveys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Household, Pregnancy, Resident
from fdoctor.org.models import GridCell, OrgUnit, PopulationFigure
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord
from fdoctor.surveys.models import Complaint, SurveyResponse
from tests.factories import make_grid

_seq = [0]


def _next() -> int:
    _seq[0] += 1
    return _seq[0]


def _scope(team: OrgUnit) -> dict[str, int | None]:
    return {
        "county_id": team.county_id,
        "institution_id": team.institution_id,
        "team_id": team.id,
    }


def doctor(team: OrgUnit) -> User:
    """The team's doctor (created on first use; no password needed here)."""
    user = db.session.scalar(select(User).where(User.org_unit_id == team.id))
    if user is None:
        user = User(
            username=f"doc{_next()}",
            display_name="医生",
            password_hash="!",
            role="doctor",
            org_unit_id=team.id,
        )
        db.session.add(user)
        db.session.flush()
    return user


def household(team: OrgUnit, station: OrgUnit | None = None) -> Household:
    cell = db.session.scalar(select(GridCell).where(GridCell.team_id == team.id))
    if cell is None:
        cell = make_grid(team)
    home = Household(
        code=f"MH{_next()}",
        grid_cell_id=cell.id,
        station_id=station.id if station else None,
        address="测试街1号",
        **_scope(team),
    )
    db.session.add(home)
    db.session.flush()
    return home


def resident(
    home: Household,
    born: date,
    *tags: str,
    status: str = "active",
    tb_start: date | None = None,
) -> Resident:
    number = cid.make("410001", born, _next() % 1000)
    person = Resident(
        household_id=home.id,
        name=f"居民{_seq[0]}",
        citizen_id=number,
        id_tail=number[-6:],
        sex=cid.parse(number).sex,
        birth_date=born,
        status=status,
        tb_treatment_start=tb_start,
        county_id=home.county_id,
        institution_id=home.institution_id,
        team_id=home.team_id,
    )
    person.set_tags(set(tags))
    db.session.add(person)
    db.session.flush()
    return person


def contract(
    home: Household,
    members: Iterable[Resident],
    start: date,
    end: date,
    status: str = "active",
    terminated_on: date | None = None,
    removed: Iterable[Resident] = (),
) -> Contract:
    """A contract of the household's team; ``removed`` members are no longer active in it."""
    team = db.session.get(OrgUnit, home.team_id)
    assert team is not None
    deal = Contract(
        code=f"QY{_next()}",
        household_id=home.id,
        signed_on=start,
        start_date=start,
        end_date=end,
        status=status,
        terminated_on=terminated_on,
        **_scope(team),
    )
    db.session.add(deal)
    db.session.flush()
    gone = {r.id for r in removed}
    for person in [*members, *removed]:
        db.session.add(
            ContractMember(
                contract_id=deal.id,
                resident_id=person.id,
                is_active=status == "active" and person.id not in gone,
                **_scope(team),
            )
        )
    db.session.flush()
    return deal


_COVERING = object()  # record(): the contract the app would enter the record under


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


def record(
    team: OrgUnit,
    type_: str,
    day: date,
    person: Resident | None = None,
    *,
    verification: str = "unverified",
    entered: datetime | None = None,
    station: OrgUnit | None = None,
    systolic: int | None = None,
    diastolic: int | None = None,
    glucose: str | None = None,
    received: datetime | None = None,
    contract: Contract | None | object = _COVERING,
) -> ServiceRecord:
    """A service record; entered the same day at 10:00 unless ``entered`` says otherwise. Like
    the app, a record of a resident is entered under the contract whose term holds the day (the
    active one first), unless ``contract`` names one (or None)."""
    who = doctor(team)
    if contract is _COVERING:
        contract = covering_contract(person.id, day) if person is not None else None
    assert contract is None or isinstance(contract, Contract)
    if station is None and person is not None:
        home = db.session.get(Household, person.household_id)
        station_id = home.station_id if home else None
    else:
        station_id = station.id if station else None
    row = ServiceRecord(
        client_uuid=str(uuid.uuid4()),
        resident_id=person.id if person else None,
        doctor_id=who.id,
        station_id=station_id,
        service_date=day,
        category=SERVICE_TYPES[type_][0],
        type=type_,
        systolic_bp=systolic,
        diastolic_bp=diastolic,
        fasting_glucose=Decimal(glucose) if glucose else None,
        referral_received_at=received,
        entered_at=entered or datetime.combine(day, time(10, 0)),
        entered_by_id=who.id,
        verification=verification,
        contract_id=contract.id if contract is not None else None,
        **_scope(team),
    )
    db.session.add(row)
    db.session.flush()
    return row


def figure(unit: OrgUnit, year: int, count: int, category: str = "registered") -> None:
    db.session.add(
        PopulationFigure(
            org_unit_id=unit.id,
            county_id=unit.county_id,
            year=year,
            category=category,
            count=count,
        )
    )
    db.session.flush()


def survey(
    person: Resident, day: date, satisfaction: int | None, knows: bool | None
) -> SurveyResponse:
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


def complaint(team: OrgUnit, day: date, status: str = "verified") -> Complaint:
    row = Complaint(
        received_on=day,
        channel="电话",
        content="服务态度差",
        status=status,
        created_at=datetime.combine(day, time(9, 0)),
        **_scope(team),
    )
    db.session.add(row)
    db.session.flush()
    return row


def pregnancy(person: Resident, lmp: date, delivered: date | None = None) -> Pregnancy:
    row = Pregnancy(
        resident_id=person.id, county_id=person.county_id, lmp_date=lmp, delivery_date=delivered
    )
    db.session.add(row)
    db.session.flush()
    return row


def late(day: date, days: int) -> datetime:
    """Entered ``days`` days after the service date, at 00:00."""
    return datetime.combine(day + timedelta(days=days), time(0, 0))
