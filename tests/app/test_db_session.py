"""Settings every database connection of the app gets (``fdoctor.extensions``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from fdoctor.extensions import db


def test_every_connection_has_its_settings(app: Flask) -> None:
    with app.app_context():
        # A fresh connection from the pool and the session's own both carry the settings.
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                assert connection.execute(text("SHOW jit")).scalar() == "off"
                assert connection.execute(text("SHOW work_mem")).scalar() == "64MB"
                # Set outside any transaction: a rollback does not undo it.
                connection.rollback()
                assert connection.execute(text("SHOW jit")).scalar() == "off"
            else:
                assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            assert db.session.execute(text("SHOW jit")).scalar() == "off"
        else:
            assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 10000
