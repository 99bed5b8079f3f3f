"""Settlement test fixtures.

On SQLite, triggers refuse to delete a locked settlement (ours) and published assessments and
the service records they cover (fdoctor.assessments.triggers), while the shared teardown empties
tables with DELETE. So after each test this fixture empties the tables itself with the triggers set aside
for that one transaction, then puts them back. PostgreSQL's TRUNCATE fires no row trigger.

A year is settled only after it ends, so every test runs on a day of the following year
(``SETTLED_ON``) unless it freezes the clock itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from fdoctor.core import clock
from fdoctor.extensions import db
from tests.factories.settlement import YEAR, build_world

# The day the tests build YEAR's sheets on: in the following January, after YEAR has ended.
SETTLED_ON = date(YEAR + 1, 1, 15)


@pytest.fixture()
def world(app: Flask) -> Any:
    """The settlement world with everything configured (a test module may define its own)."""
    built = build_world()
    db.session.commit()
    return built


@pytest.fixture(autouse=True)
def _after_the_settled_year() -> Iterator[None]:
    with clock.frozen(SETTLED_ON):
        yield


@pytest.fixture(autouse=True)
def _empty_tables_despite_lock_triggers(app: Flask) -> Iterator[None]:
    yield
    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as conn:
        if conn.dialect.name != "sqlite":
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, _sql in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        for _name, sql in triggers:
            conn.exec_driver_sql(sql)
