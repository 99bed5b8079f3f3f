"""Signed population P (签约人口) of the counties, institutions and teams on a year's last day,
read from the running figures (``fdoctor.tallies``: ``signed_population`` of period ``YYYY-12``).

A unit's P is the residents signed on that day by its contracts, each resident once, by the
definition of indicator A1 (``fdoctor.assessments.metrics.predicates._member_in_force``): the
contract's term holds the day, and it is active with the member still on it, renewed or
expired (its term decides), or terminated later than the day. The settlement of year Y counts on
31 December of Y; the pre-allocation for Y on 31 December of Y−1, the last year-end known.

The figures of a month end are written by the ``rebuild_tallies`` job (``rebuild_month``) once
the month is over. Before the job has run for that month there are no rows: P is then counted
from the contracts with the same definition (``count_signed_population``), so a sheet's figures
never depend on whether the job ran, only its speed does.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.tallies.models import SignedPopulation
from fdoctor.tallies.services import count_signed_population, month_of

LEVELS = ("county", "institution", "team")


def signed_population_by_level(as_of: date) -> dict[str, dict[int, int]]:
    """P by level (``county`` / ``institution`` / ``team``) and unit id, on ``as_of``.

    A month end reads the month's running figures (one small query); any other day, or a month
    end the job has not counted yet, counts the contracts (three grouped queries).
    """
    result: dict[str, dict[int, int]] = {level: {} for level in LEVELS}
    if as_of.day == monthrange(as_of.year, as_of.month)[1]:
        rows = db.session.execute(
            select(SignedPopulation.level, SignedPopulation.unit_id, SignedPopulation.signed).where(
                SignedPopulation.period == month_of(as_of)
            )
        ).all()
        if rows:
            for level, unit_id, signed in rows:
                if level in result:
                    result[level][unit_id] = signed
            return result
    for level, unit_id, signed in count_signed_population(as_of):
        result[level][unit_id] = signed
    return result


def signed_population(as_of: date, column: str) -> dict[int, int]:
    """P on ``as_of`` of one level, named by the column (``county_id``, ``institution_id``,
    ``team_id``)."""
    return signed_population_by_level(as_of)[column.removesuffix("_id")]
