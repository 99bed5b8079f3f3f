"""Backup and restore round trip: restore into an empty database and compare every table."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from fdoctor.backup.services import BackupError, create_backup, restore_backup, table_fingerprints
from fdoctor.extensions import db
from tests.conftest import TestDatabase, create_schema, make_app
from tests.factories.households import make_household
from tests.factories.org import make_tree
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def _fill() -> None:
    tree = make_tree()
    make_user("doc", "doctor", tree.team)
    for _ in range(3):
        make_household(tree.team, members=3)
    make_household(tree.other_team, members=2)
    db.session.commit()


def test_round_trip_restores_every_row(app: Flask, tmp_path: Path) -> None:
    _fill()
    before = table_fingerprints(db.engine)
    assert before["resident"][0] == 11
    backup = create_backup(db.engine, tmp_path / "backup.bin")
    assert backup.size > 0 and len(backup.sha256) == 64

    target = TestDatabase("restore", tmp_path)
    target.create()
    try:
        other = make_app(target.url)
        create_schema(other)  # an empty, migrated-like target: restore must accept it
        with other.app_context():
            restore_backup(db.engine, backup.path)
            after = table_fingerprints(db.engine)
            db.session.remove()
            db.engine.dispose()
    finally:
        target.drop()
    assert after == before


def test_restore_refuses_a_database_with_data(app: Flask, tmp_path: Path) -> None:
    _fill()
    backup = create_backup(db.engine, tmp_path / "backup.bin")
    with pytest.raises(BackupError, match="已有数据"):
        restore_backup(db.engine, backup.path)


def test_backup_never_overwrites_a_file(app: Flask, tmp_path: Path) -> None:
    existing = tmp_path / "b.bin"
    existing.write_bytes(b"x")
    with pytest.raises(BackupError, match="已存在"):
        create_backup(db.engine, existing)


def test_pg_tools_get_the_password_by_environment_not_argv(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from fdoctor.backup.services import pg_dump_command, pg_restore_command

    engine = create_engine("postgresql+psycopg://fdoctor:S3cret-pw%40x@db.example:5432/fdoctor")
    try:
        for argv, env in (
            pg_dump_command(engine, tmp_path / "b.bin"),
            pg_restore_command(engine, tmp_path / "b.bin"),
        ):
            assert not any("S3cret" in arg for arg in argv), argv
            assert any("fdoctor@db.example:5432/fdoctor" in arg for arg in argv), argv
            assert env["PGPASSWORD"] == "S3cret-pw@x"
    finally:
        engine.dispose()
