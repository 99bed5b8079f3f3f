"""Fixtures of the assessment tests: the assessments world (``tests.factories.assessments``), and
the clean-up of published assessments on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from fdoctor.extensions import db
from tests.factories.assessments import world  # noqa: F401 - a pytest fixture

# The triggers of fdoctor.assessments.triggers refuse deleting published assessments; on SQLite
# (no TRUNCATE, no way to switch triggers off) the shared clean-up would fail, so the assessment
# rows are removed here first, with the assessment triggers dropped and reinstalled around the
# delete.
_ASSESSMENT_TABLES = (
    "rectification",
    "assessment_appeal_item",
    "assessment_appeal",
    "assessment_item",
    "assessment",
)


def remove_locked_assessments() -> None:
    """Delete every assessment row even when published (SQLite; see above)."""
    db.session.remove()
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL's TRUNCATE does not fire row triggers
    from sqlalchemy import text

    from fdoctor.assessments.triggers import ASSESSMENT_GUARD, ITEM_GUARD, RECORD_GUARD
    from fdoctor.core.triggers import install_triggers, uninstall_triggers

    guards = (ASSESSMENT_GUARD, ITEM_GUARD, RECORD_GUARD)
    with db.engine.begin() as conn:
        uninstall_triggers(conn, guards)
        for table in _ASSESSMENT_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        install_triggers(conn, guards)


@pytest.fixture(autouse=True)
def _remove_locked_assessments(app: Flask) -> Iterator[None]:
    yield
    remove_locked_assessments()
