"""Keeping the tallies in step with the records, and rebuilding a month from a scan.

Deltas, not recounts: a record that is stored adds one to its tally row, one whose date, type,
doctor, unit or verification changes moves one from its old row to its new one. Every path that
writes a record applies its deltas in its own transaction: the tablet upload's bulk insert calls
``record_rows_inserted`` (one statement for the batch), and every ORM write (edits, survey and
flag verdicts, conflict resolution) passes the session's ``before_flush`` hook installed by
``install``. The deltas are grouped in Python and applied as one
``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`` (SQLite ≥ 3.24 and PostgreSQL).

``rebuild_month`` replaces a month's tallies and signed populations with a scan; the job
``rebuild_tallies`` runs it for the last month, and it repairs a month after a raw bulk load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import case, delete, event, func, inspect, literal, select
from sqlalchemy.orm import Session

from fdoctor.core import dialect
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.tallies.models import NO_TEAM, ServiceTally, SignedPopulation

# Verification states that count (SPEC 4, 6; ``fdoctor.assessments.metrics.COUNTING``).
COUNTING_STATES = ("unverified", "confirmed")
# The record columns a tally depends on.
KEY_COLUMNS = ("service_date", "doctor_id", "team_id", "type", "institution_id", "county_id")
_WATCHED = (*KEY_COLUMNS, "verification")

Key = tuple[str, int, int, str, int, int]  # period, doctor, team_key, type, institution, county
Deltas = dict[Key, list[int]]  # key -> [counting, false_count]


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _add(deltas: Deltas, values: Mapping[str, Any], sign: int) -> None:
    state = values.get("verification") or "unverified"  # the column's default
    counting = 1 if state in COUNTING_STATES else 0
    false = 1 if state == "false" else 0
    if not counting and not false:
        return
    key: Key = (
        month_of(values["service_date"]),
        values["doctor_id"],
        values["team_id"] if values["team_id"] is not None else NO_TEAM,
        values["type"],
        values["institution_id"],
        values["county_id"],
    )
    entry = deltas.setdefault(key, [0, 0])
    entry[0] += sign * counting
    entry[1] += sign * false


_TALLY_KEY = ("period", "doctor_id", "team_key", "type", "institution_id", "county_id")
_TALLY_COLUMNS = (*_TALLY_KEY, "counting", "false_count")
_upserts: dict[str, Any] = {}


def _upsert(connection: Any) -> Any:
    """The delta statement, built once per dialect and cached (compiled once by SQLAlchemy).

    PostgreSQL: the rows travel as one JSON array (``fdoctor.core.bulk.recordset``), one
    statement whatever their number; SQLite: the statement executed for each row (in-process).
    """
    engine = dialect.name(connection)
    stmt = _upserts.get(engine)
    if stmt is None:
        table = ServiceTally.__table__
        stmt = dialect.insert_for(table, connection)
        if engine == dialect.POSTGRESQL:
            from fdoctor.core.bulk import recordset

            stmt = stmt.from_select(list(_TALLY_COLUMNS), recordset(table, _TALLY_COLUMNS))
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_TALLY_KEY),
            set_={
                "counting": table.c.counting + stmt.excluded.counting,
                "false_count": table.c.false_count + stmt.excluded.false_count,
            },
        )
        _upserts[engine] = stmt
    return stmt


def apply_deltas(connection: Any, deltas: Deltas) -> None:
    """Add the deltas to their tally rows in one statement (rows created as needed)."""
    rows = [
        {"period": k[0], "doctor_id": k[1], "team_key": k[2], "type": k[3],
         "institution_id": k[4], "county_id": k[5], "counting": d[0], "false_count": d[1]}
        for k, d in sorted(deltas.items())  # one lock order for concurrent uploads
        if d[0] or d[1]
    ]  # fmt: skip
    if not rows:
        return
    if dialect.is_postgresql(connection):
        from fdoctor.core.bulk import encode_rows

        connection.execute(_upsert(connection), {"rows": encode_rows(rows)})
    else:
        connection.execute(_upsert(connection), rows)


def record_rows_inserted(connection: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    """Tally records just inserted in bulk (each row holds the record's columns)."""
    deltas: Deltas = {}
    for row in rows:
        _add(deltas, row, +1)
    apply_deltas(connection, deltas)


# --------------------------------------------------------------------------- ORM writes


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    deltas: Deltas = {}
    changed: dict[int, dict[str, Any]] = {}  # record id -> new values of watched columns
    gone: list[int] = []
    for obj in session.new:
        if isinstance(obj, ServiceRecord):
            _add(deltas, {c: getattr(obj, c) for c in _WATCHED}, +1)
    for obj in session.dirty:
        if not isinstance(obj, ServiceRecord):
            continue
        state = inspect(obj)
        if state.identity is None:
            continue
        attrs = state.attrs
        news = {}
        for name in _WATCHED:
            history = attrs[name].history
            if history.added:
                news[name] = history.added[0]
        if news:
            changed[state.identity[0]] = news
    for obj in session.deleted:
        if isinstance(obj, ServiceRecord) and inspect(obj).identity is not None:
            gone.append(inspect(obj).identity[0])
    if changed or gone:
        # The stored values are the old ones: read them rather than trusting attribute history,
        # which lacks the old value of an attribute that was expired when it was set.
        table = ServiceRecord.__table__
        connection = session.connection()
        ids = list(changed) + gone
        for i in range(0, len(ids), 500):
            old_rows = connection.execute(
                select(table.c.id, *(table.c[c] for c in _WATCHED)).where(
                    table.c.id.in_(ids[i : i + 500])
                )
            ).mappings()
            for old in old_rows:
                _add(deltas, old, -1)
                news = changed.get(old["id"])
                if news is not None:
                    _add(deltas, {**old, **news}, +1)
    if deltas:
        apply_deltas(session.connection(), deltas)


def install(session_class: Any) -> None:
    event.listen(session_class, "before_flush", _before_flush)


# --------------------------------------------------------------------------- scans


def _month_bounds(period: str) -> tuple[date, date]:
    year, month = (int(part) for part in period.split("-"))
    start = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return start, date.fromordinal(following.toordinal() - 1)


def scan_service_tallies(period: str) -> Any:
    """The month's tallies from ``service_record`` (a SELECT; groups that count nothing left out)."""
    start, end = _month_bounds(period)
    r = ServiceRecord
    counting = func.sum(case((r.verification.in_(COUNTING_STATES), 1), else_=0))
    false = func.sum(case((r.verification == "false", 1), else_=0))
    team_key = func.coalesce(r.team_id, NO_TEAM)
    return (
        select(
            literal(period).label("period"),
            r.doctor_id,
            team_key.label("team_key"),
            r.type,
            r.institution_id,
            r.county_id,
            counting.label("counting"),
            false.label("false_count"),
        )
        .where(r.service_date >= start, r.service_date <= end)
        .group_by(r.doctor_id, team_key, r.type, r.institution_id, r.county_id)
        .having(func.sum(case((r.verification.in_((*COUNTING_STATES, "false")), 1), else_=0)) > 0)
    )


def count_signed_population(as_of: date) -> list[tuple[str, int, int]]:
    """(level, unit id, residents signed on ``as_of``) of every team, institution and county,
    counted from the contracts (``metrics`` A1's definition; three grouped queries)."""
    from fdoctor.assessments.metrics.predicates import _member_in_force
    from fdoctor.contracts.models import Contract, ContractMember

    counts: list[tuple[str, int, int]] = []
    for level, column in (
        ("team", ContractMember.team_id),
        ("institution", ContractMember.institution_id),
        ("county", ContractMember.county_id),
    ):
        counted = db.session.execute(
            select(column, func.count(func.distinct(ContractMember.resident_id)))
            .join(Contract, Contract.id == ContractMember.contract_id)
            .where(_member_in_force(as_of), column.is_not(None))
            .group_by(column)
        ).all()
        counts += [(level, unit_id, signed) for unit_id, signed in counted]
    return counts


def _signed_population_rows(period: str) -> list[dict[str, Any]]:
    _start, as_of = _month_bounds(period)
    return [
        {"period": period, "unit_id": unit_id, "level": level, "signed": signed}
        for level, unit_id, signed in count_signed_population(as_of)
    ]


def rebuild_service_tallies() -> int:
    """Replace every month's service tallies with one grouped scan of all records (after a bulk
    load, e.g. the demo city); the caller commits. Returns the number of tally rows."""
    connection = db.session.connection()
    dialect.lock_table_exclusive(connection, "service_tally")
    tally = ServiceTally.__table__
    connection.execute(delete(tally))
    r = ServiceRecord
    period = dialect.month_text(r.service_date, connection)
    team_key = func.coalesce(r.team_id, NO_TEAM)
    scan = (
        select(
            period,
            r.doctor_id,
            team_key,
            r.type,
            r.institution_id,
            r.county_id,
            func.sum(case((r.verification.in_(COUNTING_STATES), 1), else_=0)),
            func.sum(case((r.verification == "false", 1), else_=0)),
        )
        .where(r.verification.in_((*COUNTING_STATES, "false")))
        .group_by(period, r.doctor_id, team_key, r.type, r.institution_id, r.county_id)
    )
    connection.execute(
        tally.insert().from_select(
            ["period", "doctor_id", "team_key", "type", "institution_id", "county_id",
             "counting", "false_count"],
            scan,
        )
    )  # fmt: skip
    return int(connection.execute(select(func.count()).select_from(tally)).scalar_one())


def rebuild_month(period: str) -> dict[str, int]:
    """Replace the month's tallies and signed populations with a scan (idempotent; the caller
    commits). Returns the number of rows written of each."""
    _month_bounds(period)  # a malformed period fails here, before anything is deleted
    connection = db.session.connection()
    # Uploads that add deltas wait until the scan's figures are committed, and a rebuild
    # waits for uploads in progress: no delta is counted twice or lost.
    dialect.lock_table_exclusive(connection, "service_tally")
    tally = ServiceTally.__table__
    connection.execute(delete(tally).where(tally.c.period == period))
    scan = scan_service_tallies(period)
    connection.execute(
        tally.insert().from_select(
            ["period", "doctor_id", "team_key", "type", "institution_id", "county_id",
             "counting", "false_count"],
            scan,
        )
    )  # fmt: skip
    tallies = connection.execute(
        select(func.count()).select_from(tally).where(tally.c.period == period)
    ).scalar_one()
    population = SignedPopulation.__table__
    connection.execute(delete(population).where(population.c.period == period))
    rows = _signed_population_rows(period)
    if rows:
        connection.execute(population.insert(), rows)
    return {"tallies": int(tallies), "signed_population": len(rows)}
