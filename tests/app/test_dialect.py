"""The one module where SQLite and PostgreSQL differ gives the same answers on both."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from sqlalchemy import Date, DateTime, literal, select

from fdoctor.core import dialect
from fdoctor.extensions import db


def test_month_text_and_epoch_seconds_agree_with_python(app: Flask) -> None:
    with app.app_context():
        assert db.session.scalar(select(dialect.month_text(literal(date(2025, 3, 9), Date)))) == (
            "2025-03"
        )
        moment = datetime(2025, 12, 31, 23, 59, 58)
        seconds = db.session.scalar(select(dialect.epoch_seconds(literal(moment, DateTime))))
        assert seconds == int((moment - datetime(1970, 1, 1)).total_seconds())


def _units(count: int) -> list[int]:
    from fdoctor.org.models import OrgUnit

    units = [OrgUnit(code=f"DIA{i}", name=f"单位{i}", kind="city") for i in range(count)]
    db.session.add_all(units)
    db.session.flush()
    return [u.id for u in units]


def test_any_of_matches_exactly_the_values_given(app: Flask) -> None:
    from fdoctor.org.models import OrgUnit

    with app.app_context():
        ids = _units(4)
        wanted = [ids[1], ids[3], max(ids) + 100]
        picked = db.session.scalars(
            select(OrgUnit.id).where(dialect.any_of(OrgUnit.id, wanted)).order_by(OrgUnit.id)
        ).all()
        assert picked == [ids[1], ids[3]]
        db.session.rollback()


def test_insert_for_skips_a_conflicting_row(app: Flask) -> None:
    from fdoctor.org.models import OrgUnit

    with app.app_context():
        (unit_id,) = _units(1)
        stmt = (
            dialect.insert_for(OrgUnit)
            .values(id=unit_id, code="DIA-other", name="重复", kind="city", path="")
            .on_conflict_do_nothing()
            .returning(OrgUnit.id)
        )
        assert db.session.execute(stmt).all() == []
        assert db.session.get(OrgUnit, unit_id).name == "单位0"
        db.session.rollback()


def test_name_is_one_of_the_two_supported_engines(app: Flask) -> None:
    with app.app_context():
        assert dialect.name() in {dialect.SQLITE, dialect.POSTGRESQL}
        assert dialect.is_postgresql() == (db.engine.dialect.name == "postgresql")
        assert dialect.name(db.engine) == dialect.name(db.session.connection())


def test_a_sheets_large_json_is_compressed_with_lz4_on_postgresql(app: Flask) -> None:
    """The settlement's inputs and outputs (megabytes at city scale) are written with lz4 where
    the server has it; SQLite has nothing to set."""
    from sqlalchemy import text

    with app.app_context():
        connection = db.session.connection()
        if not dialect.is_postgresql():
            assert dialect.compress_with_lz4(connection, "settlement", ["inputs_json"]) is False
            return
        has_lz4 = dialect.has_lz4(connection)
        methods = dict(
            connection.execute(
                text(
                    "SELECT attname, attcompression FROM pg_attribute "
                    "WHERE attrelid = 'settlement'::regclass "
                    "AND attname IN ('inputs_json', 'outputs_json')"
                )
            ).all()
        )
        assert has_lz4, "the PostgreSQL server of the tests has lz4"
        assert methods == {"inputs_json": "l", "outputs_json": "l"}
