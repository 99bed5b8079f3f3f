"""Service records, and the records world: a tree with signed residents, users, API helpers.

``make_record`` writes a record row as the app would leave it; ``record`` and ``bp_record`` are a
tablet's payloads for the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord
from tests.factories.contracts import covering_contract, signed_household
from tests.factories.org import Tree, make_tree
from tests.factories.users import make_user, team_doctor

COVERING: Any = object()  # make_record(): the contract the app would enter the record under


def make_record(
    type_: str,
    day: date,
    person: Resident | None = None,
    *,
    team: OrgUnit | None = None,
    doctor: User | None = None,
    entered: datetime | None = None,
    entered_by: User | None = None,
    verification: str = "unverified",
    station: OrgUnit | None = None,
    contract: Contract | None = COVERING,
    systolic: int | None = None,
    diastolic: int | None = None,
    glucose: str | None = None,
    received: datetime | None = None,
) -> ServiceRecord:
    """A service record of ``person`` (or of nobody) by ``team`` (the person's by default).

    Like the app: entered by its doctor (the team's by default) the same day at 10:00 unless
    ``entered`` says otherwise, at the person's household's station unless ``station`` names one,
    and under the contract whose term holds the day (the active one first) unless ``contract``
    names one (or None).
    """
    assert team is not None or person is not None, "a record needs a team or a person"
    scope = team or person
    doctor = doctor or team_doctor(team or db.session.get(OrgUnit, person.team_id))  # type: ignore[union-attr,arg-type]
    if contract is COVERING:
        contract = covering_contract(person.id, day) if person is not None else None
    if station is None and person is not None:
        home = db.session.get(Household, person.household_id)
        station_id = home.station_id if home else None
    else:
        station_id = station.id if station else None
    row = ServiceRecord(
        client_uuid=str(uuid.uuid4()),
        resident_id=person.id if person else None,
        doctor_id=doctor.id,
        station_id=station_id,
        service_date=day,
        category=SERVICE_TYPES[type_][0],
        type=type_,
        systolic_bp=systolic,
        diastolic_bp=diastolic,
        fasting_glucose=Decimal(glucose) if glucose else None,
        referral_received_at=received,
        entered_at=entered or datetime.combine(day, time(10, 0)),
        entered_by_id=(entered_by or doctor).id,
        verification=verification,
        contract_id=contract.id if contract is not None else None,
        county_id=scope.county_id,  # type: ignore[union-attr]
        institution_id=scope.institution_id,  # type: ignore[union-attr]
        team_id=team.id if team else person.team_id,  # type: ignore[union-attr]
    )
    db.session.add(row)
    db.session.flush()
    return row


def late(day: date, days: int) -> datetime:
    """Entered ``days`` days after the service date, at 00:00."""
    return datetime.combine(day + timedelta(days=days), time(0, 0))


# --- the records world ------------------------------------------------------------------------

TODAY = date(2026, 6, 15)
TERM = (date(2026, 1, 1), date(2026, 12, 31))


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
        home=signed_household(tree.team, 2, *TERM),
        sibling_home=signed_household(tree.team2, 2, *TERM),
        foreign_home=signed_household(tree.other_team, 2, *TERM),
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


def post_batch(client: FlaskClient, token: str, records: list[dict[str, Any]],
               device_id: str | None = "tablet-test") -> Any:  # fmt: skip
    body: dict[str, Any] = {"records": records}
    if device_id is not None:
        body["device_id"] = device_id
    return client.post("/api/v1/services/batch", json=body, headers={"X-CSRFToken": token})


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(response.get_json()["results"])
