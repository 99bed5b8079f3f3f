"""The tallies equal a scan of the records: after random uploads, edits, verdicts and late entries
(Hypothesis, derandomized), after a rebuild, and after an upload is sent again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, func, select, update

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.records.sync import upload_batch
from fdoctor.scheduler.jobs import run_job
from fdoctor.surveys.review import review_record
from fdoctor.tallies.models import ServiceTally, SignedPopulation
from fdoctor.tallies.services import rebuild_month, rebuild_service_tallies
from tests.factories.records import TODAY, World, make_world, record

pytestmark = pytest.mark.db

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
TYPES = ["consultation", "home_visit", "prescription_review"]
STATES = ["unverified", "confirmed", "disputed", "false"]


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _tallies() -> set[tuple[Any, ...]]:
    """The tally rows that count something."""
    t = ServiceTally
    rows = db.session.execute(
        select(t.period, t.doctor_id, t.team_key, t.type, t.institution_id, t.county_id,
               t.counting, t.false_count)
        .where((t.counting != 0) | (t.false_count != 0))
    ).all()  # fmt: skip
    return {tuple(row) for row in rows}


def _scan() -> set[tuple[Any, ...]]:
    """The same figures by a GROUP BY over service_record, month by month."""
    r = ServiceRecord
    found: set[tuple[Any, ...]] = set()
    for period in MONTHS:
        year, month = (int(p) for p in period.split("-"))
        start = date(year, month, 1)
        end = date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)
        team = func.coalesce(r.team_id, 0)
        rows = db.session.execute(
            select(
                r.doctor_id, team, r.type, r.institution_id, r.county_id,
                func.sum(case((r.verification.in_(("unverified", "confirmed")), 1), else_=0)),
                func.sum(case((r.verification == "false", 1), else_=0)),
            )
            .where(r.service_date >= start, r.service_date < end)
            .group_by(r.doctor_id, team, r.type, r.institution_id, r.county_id)
        ).all()  # fmt: skip
        found |= {(period, *row[:5], int(row[5]), int(row[6])) for row in rows if row[5] or row[6]}
    return found


def _upload(user: Any, payloads: list[dict[str, Any]]) -> list[Any]:
    with clock.frozen(TODAY):
        got = upload_batch(user, "tablet", payloads)
        db.session.commit()
        return got


def _day(month: int, day: int) -> date:
    """A day of 2026 no later than TODAY (a record of the future is refused)."""
    return min(date(2026, month, day), TODAY)


def _payloads(
    world: World, doctor: int, entries: list[tuple[int, int, int]]
) -> list[dict[str, Any]]:
    home = world.home if doctor == 0 else world.sibling_home
    out = []
    for type_index, month, day in entries:
        served = _day(month, day)
        payload = record(home.residents[0], TYPES[type_index], served)
        if month < TODAY.month:  # a late entry: entered now for a past month
            payload["entered_at"] = f"{TODAY.isoformat()}T09:00:00"
        out.append(payload)
    return out


def _records() -> list[ServiceRecord]:
    return list(db.session.scalars(select(ServiceRecord).order_by(ServiceRecord.id)))


def _apply(world: World, op: tuple[Any, ...]) -> None:
    kind = op[0]
    doctors = [world.doctor, world.sibling_doctor]
    if kind == "upload":
        _, doctor, entries, replay = op
        payloads = _payloads(world, doctor, entries)
        results = _upload(doctors[doctor], payloads)
        assert all(r.status == "created" for r in results), results
        if replay:  # the tablet sends the same batch again: nothing is counted twice
            before = _tallies()
            again = _upload(doctors[doctor], payloads)
            assert all(r.status == "duplicate" for r in again)
            assert _tallies() == before
        return
    records = _records()
    if not records:
        return
    target = records[op[1] % len(records)]
    db.session.expire_all()  # what a new request sees: nothing loaded yet
    if kind == "tablet_edit":
        _, _, month, day = op
        owner = world.doctor if target.doctor_id == world.doctor.id else world.sibling_doctor
        edit = {"op": "update", "client_uuid": target.client_uuid,
                "edit_uuid": str(uuid.uuid4()), "base_version": target.version,
                "service_date": _day(month, day).isoformat(),
                "entered_at": f"{TODAY.isoformat()}T11:00:00"}  # fmt: skip
        _upload(owner, [edit])  # refused once disputed or handed to another team: no change
    elif kind == "move":  # the record handed to the other team's doctor (a correction)
        mine = target.doctor_id == world.doctor.id
        target.doctor_id = (world.sibling_doctor if mine else world.doctor).id
        target.team_id = (world.tree.team2 if mine else world.tree.team).id
        db.session.commit()
    elif kind == "retype":
        target.type = TYPES[op[2]]
        db.session.commit()
    elif kind == "redate":  # moved into another (possibly past) month
        target.service_date = _day(op[2], op[3])
        db.session.commit()
    elif kind == "verify":
        state = STATES[op[2]]
        with clock.frozen(TODAY):
            if target.verification == "disputed" and state in ("confirmed", "false"):
                review_record(target, state, "复核结论", world.centre)
            else:
                target.verification = state
            db.session.commit()


months = st.integers(min_value=1, max_value=6)
days = st.integers(min_value=1, max_value=28)
pick = st.integers(min_value=0, max_value=10_000)
uploads = st.tuples(
    st.just("upload"),
    st.integers(min_value=0, max_value=1),
    st.lists(st.tuples(st.integers(0, len(TYPES) - 1), months, days), min_size=1, max_size=4),
    st.booleans(),
)
operations = st.one_of(
    uploads,
    uploads,
    uploads,
    st.tuples(st.just("tablet_edit"), pick, months, days),
    st.tuples(st.just("move"), pick),
    st.tuples(st.just("retype"), pick, st.integers(0, len(TYPES) - 1)),
    st.tuples(st.just("redate"), pick, months, days),
    st.tuples(st.just("verify"), pick, st.integers(0, len(STATES) - 1)),
    st.tuples(st.just("verify"), pick, st.integers(0, len(STATES) - 1)),
)


@settings(
    derandomize=True,
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=12))
def test_tallies_equal_a_scan_after_any_sequence_of_writes(
    world: World, steps: list[tuple[Any, ...]]
) -> None:
    for op in steps:
        _apply(world, op)
    assert _tallies() == _scan()
    # Rebuilding a month changes nothing when the running figures are right.
    with clock.frozen(TODAY):
        rebuild_month("2026-03")
        db.session.commit()
    assert _tallies() == _scan()


def test_rebuild_replaces_wrong_figures_with_the_scan_and_is_idempotent(world: World) -> None:
    _upload(world.doctor, _payloads(world, 0, [(0, 3, 4), (0, 3, 5), (1, 4, 1)]))
    _upload(world.sibling_doctor, _payloads(world, 1, [(2, 3, 9)]))
    first = _records()[0]
    first.verification = "false"
    db.session.commit()
    scanned = _scan()
    assert _tallies() == scanned and len(scanned) == 3  # two records share a row
    # Figures gone wrong (a raw load, a bug): the rebuild puts the scan back.
    db.session.execute(update(ServiceTally).values(counting=ServiceTally.counting + 7))
    db.session.add(
        ServiceTally(period="2026-03", doctor_id=world.leader.id, team_key=0, type="home_visit",
                     institution_id=world.tree.institution.id, county_id=world.tree.county.id,
                     counting=3, false_count=0)
    )  # fmt: skip
    db.session.commit()
    assert _tallies() != scanned
    for period in MONTHS:
        rebuild_month(period)
    db.session.commit()
    assert _tallies() == scanned
    ids = set(db.session.scalars(select(ServiceTally.id)))
    for period in MONTHS:
        rebuild_month(period)
    db.session.commit()
    assert _tallies() == scanned
    # Idempotent in content; the rows themselves are written afresh.
    assert len(set(db.session.scalars(select(ServiceTally.id)))) == len(ids)
    # The whole table at once (after a bulk load such as the demo city's), same figures.
    db.session.execute(update(ServiceTally).values(false_count=5))
    assert rebuild_service_tallies() == len(scanned)
    db.session.commit()
    assert _tallies() == scanned


def test_a_verdict_moves_one_record_between_counting_and_false(world: World) -> None:
    [created] = _upload(world.doctor, _payloads(world, 0, [(1, 5, 20)]))
    key = ("2026-05", world.doctor.id, world.tree.team.id, "home_visit",
           world.tree.institution.id, world.tree.county.id)  # fmt: skip
    assert _tallies() == {(*key, 1, 0)}
    target = db.session.get(ServiceRecord, created.id)
    assert target is not None
    target.verification = "disputed"
    db.session.commit()
    assert _tallies() == set()  # disputed counts only once confirmed
    with clock.frozen(TODAY):
        review_record(target, "false", "居民否认接受过服务", world.centre)
        db.session.commit()
    assert _tallies() == {(*key, 0, 1)}


def test_the_job_rebuilds_a_month_and_counts_signed_residents_at_its_end(
    world: World, app: Flask
) -> None:
    _upload(world.doctor, _payloads(world, 0, [(0, 5, 2)]))
    db.session.execute(update(ServiceTally).values(counting=40))
    db.session.commit()
    with clock.frozen(TODAY):
        result = app.test_cli_runner().invoke(
            args=["jobs", "run", "rebuild_tallies", "--period", "2026-05"]
        )
    assert result.exit_code == 0, result.output
    assert "服务计数" in result.output
    assert _tallies() == _scan() and {row[6] for row in _tallies()} == {1}
    signed = {
        (row.unit_id, row.level): row.signed
        for row in db.session.scalars(
            select(SignedPopulation).where(SignedPopulation.period == "2026-05")
        )
    }
    tree = world.tree
    assert signed[(tree.team.id, "team")] == 2
    assert signed[(tree.team2.id, "team")] == 2
    assert signed[(tree.institution.id, "institution")] == 4
    assert signed[(tree.county.id, "county")] == 4
    assert signed[(tree.other_team.id, "team")] == 2
    # Again: the same figures, no second copy.
    with clock.frozen(TODAY):
        run_job("rebuild_tallies", period="2026-05")
    count = db.session.scalar(
        select(func.count())
        .select_from(SignedPopulation)
        .where(SignedPopulation.period == "2026-05")
    )
    assert count == len(signed)


def test_a_month_still_open_is_not_rebuilt_by_the_job(world: World) -> None:
    from fdoctor.scheduler.jobs import JobError

    with clock.frozen(TODAY), pytest.raises(JobError):
        run_job("rebuild_tallies", period="2026-06")


def test_the_demo_city_is_tallied_when_loaded(demo_app: Flask) -> None:
    """The demo copies its records in bulk, past the deltas; the loader counts them once."""
    from collections import Counter

    with demo_app.app_context():
        r = ServiceRecord
        rows = db.session.execute(
            select(r.service_date, r.doctor_id, r.team_id, r.type, r.institution_id,
                   r.county_id, r.verification)
        ).all()  # fmt: skip
        counting: Counter[tuple[Any, ...]] = Counter()
        false: Counter[tuple[Any, ...]] = Counter()
        for day, doctor, team, type_, institution, county, state in rows:
            key = (f"{day:%Y-%m}", doctor, team or 0, type_, institution, county)
            if state in ("unverified", "confirmed"):
                counting[key] += 1
            elif state == "false":
                false[key] += 1
        expected = {(*k, counting[k], false[k]) for k in set(counting) | set(false)}
        assert expected and any(row[-1] for row in expected)  # some false records too
        assert _tallies() == expected
        db.session.remove()
