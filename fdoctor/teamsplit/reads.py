"""What the settlement reads of the team split's sources, one grouped query per kind.

* attendance: each member's days of the year up to the as-of month, summed in the database;
* workload points: the running tallies (``fdoctor.tallies.models.ServiceTally``, the sum of
  ``counting`` over the year's months up to the as-of date) by (doctor, team, county, type),
  priced with the county's point table — never a scan of the service records;
* deductions: each member's points of the year, by (member, team);
* the institutions' leader rules.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from assessments.workload import (
    DEFAULT_POINT_TABLE,
    PointTable,
    adapt_point_table,
    workload_points,
)
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.tallies.models import NO_TEAM, ServiceTally
from fdoctor.teamsplit.models import (
    LEAVE_COLUMNS,
    AttendanceRecord,
    LeaderRule,
    MemberDeduction,
    PointValue,
)


def year_months(year: int, as_of: date) -> list[str]:
    """The months of ``year`` up to the month of ``as_of`` ("YYYY-MM")."""
    last = 12 if as_of.year > year else as_of.month
    return [f"{year:04d}-{m:02d}" for m in range(1, last + 1)]


def attendance_totals_by_member(year: int, as_of: date) -> dict[int, dict[str, Any]]:
    """Each member's attendance of the year up to ``as_of``, summed over the months, as JSON:
    ``{"months": n, "days_due": …, "days_worked": …, "leave_days": {kind: days}}``.

    One grouped statement: at city scale the database sums every member's every month (some
    80,000 rows) and hands back one row per member. Each month was checked when it was entered
    (the table's constraints: whole days ≥ 0, worked + leave ≤ due), so the sums hold the same
    bounds; ``assessments.attendance.attendance_from_totals`` checks them again.
    """
    months = year_months(year, as_of)
    if not months:
        return {}
    kinds = list(LEAVE_COLUMNS)
    leave_sums = [func.sum(getattr(AttendanceRecord, LEAVE_COLUMNS[kind])) for kind in kinds]
    rows = db.session.execute(
        select(
            AttendanceRecord.user_id,
            func.count(),
            func.sum(AttendanceRecord.days_due),
            func.sum(AttendanceRecord.days_worked),
            *leave_sums,
        )
        .where(AttendanceRecord.month.in_(months))
        .group_by(AttendanceRecord.user_id)
    )
    return {
        user_id: {
            "months": count,
            "days_due": int(due or 0),
            "days_worked": int(worked or 0),
            "leave_days": {kind: int(n) for kind, n in zip(kinds, leave, strict=True) if n},
        }
        for user_id, count, due, worked, *leave in rows
    }


def attendance_months_of(year: int, as_of: date, user_ids: list[int]) -> dict[int, set[str]]:
    """The months of the year (up to ``as_of``) each of these members has a record for: read
    only for members short of months, to name the months they lack."""
    out: dict[int, set[str]] = defaultdict(set)
    months = year_months(year, as_of)
    if not months or not user_ids:
        return out
    for user_id, month in db.session.execute(
        select(AttendanceRecord.user_id, AttendanceRecord.month).where(
            AttendanceRecord.month.in_(months), AttendanceRecord.user_id.in_(user_ids)
        )
    ):
        out[user_id].add(month)
    return out


def point_tables() -> dict[int | None, PointTable]:
    """The city's default table (key None) and every county's adapted table (by county id)."""
    overrides: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for county_id, service_type, points in db.session.execute(
        select(PointValue.county_id, PointValue.service_type, PointValue.points)
    ):
        overrides[county_id][service_type] = points
    tables: dict[int | None, PointTable] = {None: DEFAULT_POINT_TABLE}
    if overrides:
        names = dict(
            db.session.execute(
                select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(list(overrides)))
            ).all()
        )
        for county_id, values in overrides.items():
            tables[county_id] = adapt_point_table(
                DEFAULT_POINT_TABLE,
                {t: v for t, v in values.items() if t in DEFAULT_POINT_TABLE.points},
                code=f"county-{county_id}",
                name=f"{names.get(county_id, '')}工作量点数表",
            )
    return tables


def table_for(tables: dict[int | None, PointTable], county_id: int | None) -> PointTable:
    return tables.get(county_id) or tables[None]


@dataclass
class Workload:
    """A member's counting records in a team over the period, by point table and type."""

    records: int = 0
    counts: dict[int | None, dict[str, int]] = field(default_factory=dict)
    tables: dict[int | None, PointTable] = field(default_factory=dict)
    unknown_types: set[str] = field(default_factory=set)

    @property
    def points(self) -> Decimal:
        """``Σ count × points`` per table (``assessments.workload.workload_points``)."""
        return sum(
            (workload_points(counts, self.tables[key]) for key, counts in self.counts.items()),
            Decimal(0),
        )

    @property
    def table_names(self) -> str:
        return "、".join(sorted(t.name for t in self.tables.values()))


def workload_by_member(
    year: int, as_of: date, tables: dict[int | None, PointTable]
) -> dict[tuple[int, int | None], Workload]:
    """Counting records and points by (doctor, team) from the tallies of the year's months."""
    months = year_months(year, as_of)
    out: dict[tuple[int, int | None], Workload] = {}
    if not months:
        return out
    rows = db.session.execute(
        select(
            ServiceTally.doctor_id,
            ServiceTally.team_key,
            ServiceTally.county_id,
            ServiceTally.type,
            func.sum(ServiceTally.counting),
        )
        .where(ServiceTally.period.in_(months))
        .group_by(
            ServiceTally.doctor_id, ServiceTally.team_key, ServiceTally.county_id, ServiceTally.type
        )
    ).all()
    for doctor_id, team_key, county_id, service_type, counting in rows:
        count = int(counting or 0)
        if not count:
            continue
        team_id = None if team_key == NO_TEAM else team_key
        work = out.setdefault((doctor_id, team_id), Workload())
        key = county_id if county_id in tables else None
        table = tables[key]
        work.records += count
        if service_type not in table.points:
            work.unknown_types.add(service_type)
            continue
        work.tables[key] = table
        counts = work.counts.setdefault(key, {})
        counts[service_type] = counts.get(service_type, 0) + count
    return out


def deductions_by_member(year: int) -> dict[tuple[int, int | None], tuple[Decimal, int]]:
    """The year's deduction points and their count by (member, team)."""
    rows = db.session.execute(
        select(
            MemberDeduction.user_id,
            MemberDeduction.team_id,
            func.sum(MemberDeduction.points),
            func.count(),
        )
        .where(
            MemberDeduction.decided_on >= date(year, 1, 1),
            MemberDeduction.decided_on <= date(year, 12, 31),
        )
        .group_by(MemberDeduction.user_id, MemberDeduction.team_id)
    ).all()
    return {(u, t): (Decimal(points or 0), int(n)) for u, t, points, n in rows}


def leader_rules() -> dict[int, LeaderRule]:
    return {r.institution_id: r for r in db.session.scalars(select(LeaderRule))}
