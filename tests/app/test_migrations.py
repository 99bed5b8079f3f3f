"""The Alembic migrations and the models describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from fdoctor.extensions import db

pytestmark = pytest.mark.db


def test_migrated_schema_matches_the_models(migrated_db: Flask) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_model_table_exists_after_upgrade(migrated_db: Flask) -> None:
    from sqlalchemy import inspect

    existing = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= existing
    assert "alembic_version" in existing


def test_one_active_contract_per_resident_is_a_database_index(migrated_db: Flask) -> None:
    from sqlalchemy import inspect

    indexes = {ix["name"]: ix for ix in inspect(db.engine).get_indexes("contract_member")}
    assert indexes["uq_contract_member_one_active"]["unique"]


def _triggers(engine: object) -> set[str]:
    from sqlalchemy import text

    with engine.connect() as conn:  # type: ignore[attr-defined]
        if conn.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return {r[0] for r in rows}


def test_migration_installs_the_same_lock_triggers_as_the_models(
    migrated_db: Flask, app: Flask
) -> None:
    with migrated_db.app_context():
        migrated = _triggers(db.engine)
    with app.app_context():
        modelled = _triggers(db.engine)
    assert migrated == modelled
    assert any("settlement" in name for name in migrated)
    assert any("service_record" in name for name in migrated)


def test_the_lock_migration_replaces_the_former_triggers(migrated_db: Flask, app: Flask) -> None:
    from alembic.script import ScriptDirectory
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    with migrated_db.app_context():
        config = migrated_db.extensions["migrate"].migrate.get_config()
        before = ScriptDirectory.from_config(config).get_revision("a3c8e5f1d2b7").down_revision
        downgrade(revision=before)
        with db.engine.begin() as conn:
            # A trigger of the former settlement module, as an installation of that time has it.
            if conn.dialect.name == "sqlite":
                conn.execute(
                    text(
                        "CREATE TRIGGER settlement_locked_no_update BEFORE UPDATE ON settlement "
                        "FOR EACH ROW WHEN OLD.status = 'locked' "
                        "BEGIN SELECT RAISE(ABORT, 'locked'); END"
                    )
                )
            else:
                conn.exec_driver_sql(
                    "CREATE FUNCTION settlement_refuse_locked() RETURNS trigger LANGUAGE plpgsql "
                    "AS $b$ BEGIN RETURN NEW; END $b$"
                )
                conn.exec_driver_sql(
                    "CREATE TRIGGER settlement_locked_no_change BEFORE UPDATE ON settlement "
                    "FOR EACH ROW EXECUTE FUNCTION settlement_refuse_locked()"
                )
        upgrade()
        migrated = _triggers(db.engine)
    with app.app_context():
        modelled = _triggers(db.engine)
    assert migrated == modelled
    assert "settlement_locked_no_update" not in migrated
    assert "settlement_locked_no_change" not in migrated
