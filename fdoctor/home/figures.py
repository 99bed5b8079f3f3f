"""Figures for the home page and dashboards, each one aggregate query in the user's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class HomeFigures:
    signed_residents: int
    households: int
    residents: int
    active_contracts: int
    expiring_contracts: int
    expiring_until: date
    services_this_month: int
    month_start: date
    services_by_type: list[tuple[str, int]]


def home_figures(user: Any | None = None, today: date | None = None) -> HomeFigures:
    today = today or clock.today()
    month_start = today.replace(day=1)
    until = today + timedelta(days=EXPIRY_WARNING_DAYS)
    signed = db.session.scalar(
        select(func.count(ContractMember.id)).where(
            ContractMember.is_active, scope_clause(ContractMember, user)
        )
    )
    households = db.session.scalar(
        select(func.count(Household.id)).where(scope_clause(Household, user))
    )
    residents = db.session.scalar(
        select(func.count(Resident.id)).where(
            Resident.status == "active", scope_clause(Resident, user)
        )
    )
    active, expiring = db.session.execute(
        select(
            func.count(Contract.id),
            func.count(Contract.id).filter(Contract.end_date <= until),
        ).where(Contract.status == "active", scope_clause(Contract, user))
    ).one()
    by_type = db.session.execute(
        select(ServiceRecord.type, func.count(ServiceRecord.id))
        .where(
            ServiceRecord.service_date >= month_start,
            ServiceRecord.service_date <= today,
            ServiceRecord.verification != "false",
            scope_clause(ServiceRecord, user),
        )
        .group_by(ServiceRecord.type)
    ).all()
    counts = {t: n for t, n in by_type}
    ordered = [(SERVICE_TYPES[t][1], counts[t]) for t in SERVICE_TYPES if counts.get(t)]
    return HomeFigures(
        signed_residents=signed or 0,
        households=households or 0,
        residents=residents or 0,
        active_contracts=active or 0,
        expiring_contracts=expiring or 0,
        expiring_until=until,
        services_this_month=sum(counts.values()),
        month_start=month_start,
        services_by_type=ordered,
    )
