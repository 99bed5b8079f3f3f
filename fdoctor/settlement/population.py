"""Signed population P (签约人口): the residents under contract on a day, per county,
institution and team, in one grouped query.

Signed population P of a unit for year Y is counted as of 31 December of Y: the residents
covered (``ContractMember``) by a contract with ``start_date <= 12-31 <= end_date`` that was not
terminated on or before that day (a ``terminated`` contract counts only when its
``terminated_on`` is later), each resident once. ``ContractMember.is_active`` only says "now",
so the dates decide. The pre-allocation for year Y, made during Y, counts as of 31 December
of Y−1, the last year-end known.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, distinct, func, or_, select

from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import dialect
from fdoctor.extensions import db


def signed_population(as_of: date, column: str) -> dict[int, int]:
    """Residents under contract on ``as_of`` per county / institution / team (one grouped query)."""
    col = getattr(ContractMember, column)
    rows = db.session.execute(
        select(col, func.count(distinct(ContractMember.resident_id)))
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(_signed_on(as_of))
        .group_by(col)
    ).all()
    return {unit_id: count for unit_id, count in rows if unit_id is not None}


_POPULATION_LEVELS = ("county", "institution", "team")


def signed_population_by_level(as_of: date) -> dict[str, dict[int, int]]:
    """``signed_population`` for counties, institutions and teams at once.

    On PostgreSQL one scan with ``GROUPING SETS`` (the counts are the same as three grouped
    queries: each set counts distinct residents in its own groups); elsewhere three queries.
    """
    if not dialect.is_postgresql():
        return {level: signed_population(as_of, f"{level}_id") for level in _POPULATION_LEVELS}
    columns = [getattr(ContractMember, f"{level}_id") for level in _POPULATION_LEVELS]
    # grouping(county, institution, team) sets a bit for each column left out of the row's set.
    bits = {0b011: "county", 0b101: "institution", 0b110: "team"}
    rows: Any = db.session.execute(
        select(
            func.grouping(*columns),
            *columns,
            func.count(distinct(ContractMember.resident_id)),
        )
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(_signed_on(as_of))
        .group_by(func.grouping_sets(*columns))
    ).all()
    result: dict[str, dict[int, int]] = {level: {} for level in _POPULATION_LEVELS}
    for grouping, county_id, institution_id, team_id, count in rows:
        level = bits[grouping]
        unit_id = {"county": county_id, "institution": institution_id, "team": team_id}[level]
        if unit_id is not None:
            result[level][unit_id] = count
    return result


def _signed_on(as_of: date) -> Any:
    """Contracts in force on ``as_of`` (see the module's docstring)."""
    return and_(
        Contract.start_date <= as_of,
        Contract.end_date >= as_of,
        or_(
            Contract.status != "terminated",
            and_(Contract.terminated_on.is_not(None), Contract.terminated_on > as_of),
        ),
    )
