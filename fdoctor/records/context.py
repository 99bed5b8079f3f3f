"""What a batch's drafts need from the database, read in bulk (the second step of validation).

:func:`load_context` reads the residents in the user's scope, their contract terms, the named
institutions, the teams of events without a resident and the same-day records of every draft in a
few queries, never one per record; :func:`~fdoctor.records.placing.place` then checks each draft
against it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import aliased

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import dialect
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.drafts import Draft
from fdoctor.records.models import ServiceRecord

CONTRACT_OK_STATUSES = frozenset({"active", "renewed", "expired", "terminated"})


@dataclass(frozen=True)
class ResidentInfo:
    id: int
    name: str
    county_id: int
    institution_id: int
    team_id: int | None
    station_id: int | None


@dataclass(frozen=True)
class ContractTerm:
    id: int
    start: date
    end: date
    status: str
    terminated_on: date | None

    def covers(self, day: date) -> bool:
        if self.status not in CONTRACT_OK_STATUSES or not self.start <= day <= self.end:
            return False
        return self.status != "terminated" or (
            self.terminated_on is not None and day <= self.terminated_on
        )


@dataclass(frozen=True)
class TeamInfo:
    """A team that holds an event without a single resident (health education)."""

    id: int
    county_id: int
    institution_id: int
    station_id: int | None  # the team's parent when that is a station


@dataclass
class Context:
    """What a batch's drafts need from the database, read in bulk."""

    residents: dict[int, ResidentInfo] = field(default_factory=dict)
    contracts: dict[int, list[ContractTerm]] = field(default_factory=dict)
    institutions: dict[int, str] = field(default_factory=dict)
    teams: dict[int, TeamInfo] = field(default_factory=dict)
    # (resident, type, day) -> ids of stored records, for the duplicate warning.
    same_day: dict[tuple[int, str, date], set[int]] = field(default_factory=dict)
    user_team_id: int | None = None


_residents_statements: dict[str, Any] = {}


def _residents_statement() -> Any:
    """Residents by id with their station and contract terms, built once per dialect.

    Each request only adds the user's scope to it; the ids are one parameter (an array on
    PostgreSQL, an expanding IN list on SQLite).
    """
    engine = dialect.name()
    stmt = _residents_statements.get(engine)
    if stmt is None:
        if engine == dialect.POSTGRESQL:
            wanted = Resident.id == any_(bindparam("resident_ids", type_=ARRAY(BigInteger)))
        else:
            wanted = Resident.id.in_(bindparam("resident_ids", expanding=True))
        stmt = (
            select(
                Resident.id,
                Resident.name,
                Resident.county_id,
                Resident.institution_id,
                Resident.team_id,
                Household.station_id,
                Contract.id,
                Contract.start_date,
                Contract.end_date,
                Contract.status,
                Contract.terminated_on,
            )
            .join(Household, Household.id == Resident.household_id)
            .outerjoin(ContractMember, ContractMember.resident_id == Resident.id)
            .outerjoin(Contract, Contract.id == ContractMember.contract_id)
            .where(wanted)
        )
        _residents_statements[engine] = stmt
    return stmt


def load_context(drafts: Iterable[Draft], user: Any) -> Context:
    """Read residents (in the user's scope), contracts, institutions and same-day records."""
    drafts = list(drafts)
    ctx = Context()
    unit = getattr(user, "org_unit", None)
    if unit is not None and unit.kind == "team":
        ctx.user_team_id = unit.id
    resident_ids = {d.resident_id for d in drafts if d.resident_id is not None}
    if resident_ids:
        # The residents in scope and their contract terms, one query (a row per contract).
        rows = db.session.execute(
            _residents_statement().where(scope_clause(Resident, user)),
            {"resident_ids": list(resident_ids)},
        ).all()
        for row in rows:
            resident_id = row[0]
            if resident_id not in ctx.residents:
                ctx.residents[resident_id] = ResidentInfo(*row[:6])
            if row[6] is not None:
                ctx.contracts.setdefault(resident_id, []).append(ContractTerm(*row[6:]))
    if ctx.residents:
        keys = {(d.resident_id, d.type, d.service_date) for d in drafts
                if d.resident_id in ctx.residents}  # fmt: skip
        ctx.same_day = _same_day(keys)
    institution_ids = {d.other_institution_id for d in drafts if d.other_institution_id}
    if institution_ids:
        ctx.institutions = dict(
            db.session.execute(
                select(OrgUnit.id, OrgUnit.name).where(
                    OrgUnit.id.in_(institution_ids),
                    OrgUnit.kind == "institution",
                    OrgUnit.active,
                )
            ).all()
        )
    team_ids = {
        d.team_id or ctx.user_team_id
        for d in drafts
        if d.resident_id is None and (d.team_id or ctx.user_team_id)
    }
    if team_ids:
        # The parent's kind comes in the same query (a team under a station records the station).
        parent = aliased(OrgUnit)
        teams = db.session.execute(
            select(OrgUnit.id, OrgUnit.county_id, OrgUnit.institution_id, parent.id, parent.kind)
            .outerjoin(parent, parent.id == OrgUnit.parent_id)
            .where(
                OrgUnit.id.in_(team_ids),
                OrgUnit.kind == "team",
                scope_clause(OrgUnit, user),
            )
        ).all()
        ctx.teams = {
            team_id: TeamInfo(
                team_id, county_id, institution_id, parent_id if parent_kind == "station" else None
            )
            for team_id, county_id, institution_id, parent_id, parent_kind in teams
            if county_id is not None and institution_id is not None  # always, for a team
        }
    return ctx


def _same_day(keys: set[tuple[Any, str, date]]) -> dict[tuple[int, str, date], set[int]]:
    """Ids of stored records with exactly these (resident, type, day), one query.

    Only the keys asked for are read (the resident/type/date index answers each), so the cost does
    not grow with how many records the residents already have around those days. On PostgreSQL
    the keys travel as one JSON parameter; SQLite gets a row-value IN list.
    """
    if not keys:
        return {}
    columns = (ServiceRecord.resident_id, ServiceRecord.type, ServiceRecord.service_date)
    if dialect.is_postgresql():
        payload = _KEYS_ENCODER.encode([{"r": r, "t": t, "d": d.isoformat()} for r, t, d in keys])
        stmt, params = _same_day_pg(), {"keys": payload}
    else:
        stmt = select(ServiceRecord.id, *columns).where(tuple_(*columns).in_(sorted(keys)))
        params = {}
    grouped: dict[tuple[int, str, date], set[int]] = defaultdict(set)
    for record_id, resident_id, stype, day in db.session.execute(stmt, params):
        grouped[(resident_id, stype, day)].add(record_id)
    return dict(grouped)


_KEYS_ENCODER = json.JSONEncoder(separators=(",", ":"))
_same_day_statement: Any = None


def _same_day_pg() -> Any:
    """The PostgreSQL look-up of _same_day, built once: the keys are one JSON parameter."""
    global _same_day_statement
    if _same_day_statement is None:
        columns = (ServiceRecord.resident_id, ServiceRecord.type, ServiceRecord.service_date)
        wanted = (
            func.jsonb_to_recordset(cast(bindparam("keys", type_=Text), JSONB))
            .table_valued(column("r", BigInteger), column("t", String), column("d", Date))
            .render_derived(name="k", with_types=True)
        )
        _same_day_statement = select(ServiceRecord.id, *columns).where(
            tuple_(*columns).in_(select(wanted.c.r, wanted.c.t, wanted.c.d))
        )
    return _same_day_statement


def same_day_ids(draft: Draft, ctx: Context) -> set[int]:
    """Stored records of the same resident, type and day (the duplicate warning)."""
    if draft.resident_id is None:
        return set()
    return ctx.same_day.get((draft.resident_id, draft.type, draft.service_date), set())
