"""The benchmark scales of the demo generator: streamed institution by institution, COPY on
PostgreSQL with constraints rebuilt afterwards, the same data on either engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from fdoctor.demo import generator
from fdoctor.demo.generator import TABLE_LABELS, Scale, _Builder, load_demo
from fdoctor.extensions import db
from fdoctor.org.models import POPULATION_CATEGORIES, OrgUnit, PopulationFigure
from tests.app.test_demo import fingerprint, second_app

pytestmark = pytest.mark.db

SEED = 777
ANCHOR = date(2026, 6, 30)
# The county scale's shape, shrunk to a few households per team.
MINI = Scale(
    "测试：流式写入",
    (6, 9),
    counties=2,
    institutions=(2, 2),
    stations=(3, 4),
    teams=(2, 3),
    sign_boost=0.85,
    volume=6.5,
    streaming=True,
)


@pytest.fixture(autouse=True)
def mini_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(generator.SCALES, "mini", MINI)


def schema_objects() -> set[tuple[Any, ...]]:
    """Constraints and indexes as the database reports them (PostgreSQL only)."""
    constraints = db.session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
        )
    ).all()
    # Index definitions are compared by name, uniqueness and method: PostgreSQL words a partial
    # index's predicate differently once it has been recreated from its own definition.
    indexes = db.session.execute(
        text(
            "SELECT indexname, indexdef LIKE 'CREATE UNIQUE%', split_part(indexdef, ' USING ', 2) "
            "LIKE 'gin%', indexdef LIKE '% WHERE %' "
            "FROM pg_indexes WHERE schemaname = current_schema()"
        )
    ).all()
    return {tuple(row) for row in constraints} | {tuple(row) for row in indexes}


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def test_streamed_load_writes_every_row_and_keeps_every_constraint(app: Flask) -> None:
    before = schema_objects() if is_postgresql() else set()
    summary = load_demo(seed=SEED, anchor=ANCHOR, scale="mini")
    db.session.commit()
    for table in TABLE_LABELS:
        stored = db.session.scalar(select(func.count()).select_from(db.metadata.tables[table]))
        assert stored == summary.counts[table], table
    assert summary.counts["service_record"] > 1000
    assert summary.counts["complaint"] > 0
    if is_postgresql():
        after = schema_objects()
        assert after == before
        assert any("FOREIGN KEY" in str(row) for row in after)


def test_streamed_population_figures_add_up_to_the_county(app: Flask) -> None:
    load_demo(seed=SEED, anchor=ANCHOR, scale="mini")
    units = db.session.execute(select(OrgUnit.id, OrgUnit.kind, OrgUnit.county_id)).all()
    figures = {
        (unit_id, year, category): count
        for unit_id, year, category, count in db.session.execute(
            select(
                PopulationFigure.org_unit_id,
                PopulationFigure.year,
                PopulationFigure.category,
                PopulationFigure.count,
            )
        )
    }
    counties = [u for u, kind, _ in units if kind == "county"]
    assert len(counties) == 2
    for county in counties:
        institutions = [u for u, kind, c in units if kind == "institution" and c == county]
        assert len(institutions) == 2
        for year in (ANCHOR.year, ANCHOR.year - 1):
            for category in POPULATION_CATEGORIES:
                assert figures[(county, year, category)] == sum(
                    figures[(i, year, category)] for i in institutions
                )
            assert figures[(county, year, "registered")] > 0


def test_streamed_city_is_the_same_on_either_engine(app: Flask, tmp_path: Path) -> None:
    load_demo(seed=SEED, anchor=ANCHOR, scale="mini")
    first = fingerprint()
    with second_app(tmp_path):  # always SQLite, whatever engine this run uses
        load_demo(seed=SEED, anchor=ANCHOR, scale="mini")
        second = fingerprint()
    assert first == second


def test_a_failed_streamed_load_leaves_nothing_behind(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = schema_objects() if is_postgresql() else set()
    calls = 0
    real = _Builder.build_services

    def failing(self: _Builder, team: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 6:  # in the second institution, after the first one was written
            raise RuntimeError("disk full")
        real(self, team)

    monkeypatch.setattr(_Builder, "build_services", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        load_demo(seed=SEED, anchor=ANCHOR, scale="mini")
    db.session.rollback()
    for table in TABLE_LABELS:
        assert db.session.scalar(select(func.count()).select_from(db.metadata.tables[table])) == 0
    if is_postgresql():
        assert schema_objects() == before


def test_the_city_scale_has_the_seed_documents_shape() -> None:
    builder = _Builder(20260101, date(2026, 11, 20), "city")
    builder.build_org()
    assert len(builder.counties) == 9
    assert 130 <= len(builder.institutions) <= 170
    assert 1_800 <= len(builder.teams) <= 2_300
    assert 2_400 <= len(builder.stations) <= 3_200
    regions = [place.code for place in builder.counties]
    assert len(set(regions)) == 9
    lo, hi = generator.SCALES["city"].households
    assert 500_000 <= len(builder.teams) * (lo + hi) / 2 <= 700_000
    usernames = [row["username"] for row in builder.rows["user_account"]]
    assert len(usernames) == len(set(usernames))
    codes = [row["code"] for row in builder.rows["org_unit"]]
    assert len(codes) == len(set(codes))


def test_benchmarks_keep_a_year_of_records_and_the_demo_all_of_last_year() -> None:
    anchor = date(2026, 11, 20)
    for scale in ("county", "city"):
        assert _Builder(SEED, anchor, scale).window_start == date(2025, 11, 20)
    for scale in ("demo", "small"):
        assert _Builder(SEED, anchor, scale).window_start == date(2025, 1, 1)
