"""Rules the database itself enforces (triggers), so raw SQL cannot bypass them.

* A published assessment (published / appealed / acknowledged / superseded) keeps its scores: its
  identifying and scoring columns cannot change and it cannot be deleted; its items neither.
  Corrections are new revisions.
* Service records of a period whose L3 assessment of their institution is published cannot be
  changed or deleted; only the verification state may still move (the review of disputed records
  is itself an audited process and must be able to mark a record false after publication).

The triggers are attached to the tables' ``after_create`` DDL events, so ``create_all`` installs
them, and the Alembic migration calls :func:`install_integrity_triggers` for existing databases.
(Locked settlements are guarded the same way in ``fdoctor/settlement/triggers.py``.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.services.models import ServiceRecord

LOCKED_ASSESSMENT = "('published', 'appealed', 'acknowledged', 'superseded')"
ASSESSMENT_FROZEN_COLUMNS = (
    "level",
    "period",
    "unit_id",
    "revision",
    "index_code",
    "total",
    "dimension_a",
    "dimension_b",
    "dimension_c",
    "reported_score",
    "spot_check_score",
    "published_at",
    "supersedes_id",
)
ITEM_COLUMNS = (
    "assessment_id",
    "code",
    "max_points",
    "numerator",
    "denominator",
    "value",
    "points",
    "reason",
)
RECORD_FROZEN_COLUMNS = (
    "resident_id",
    "contract_id",
    "doctor_id",
    "service_date",
    "category",
    "type",
    "systolic_bp",
    "diastolic_bp",
    "fasting_glucose",
    "attendance",
    "topic",
    "other_institution_id",
    "other_institution_name",
    "referral_received_at",
    "notes",
    "entered_at",
    "entered_by_id",
    "county_id",
    "institution_id",
    "team_id",
    "client_uuid",
)
MSG_ASSESSMENT = "已公示的考核结果不可修改或删除，更正须提交带理由的修订"
MSG_RECORD = "该服务记录所在期间的三级考核已公示，记录已锁定，不可修改或删除"


def _changed(columns: tuple[str, ...], op: str) -> str:
    return " OR ".join(f"NEW.{c} {op} OLD.{c}" for c in columns)


def _sqlite_statements() -> list[str]:
    l3_locked = f"""EXISTS (SELECT 1 FROM assessment a WHERE a.level = 'L3' AND a.is_current
        AND a.status IN {LOCKED_ASSESSMENT} AND a.unit_id = OLD.institution_id
        AND substr(a.period, 1, 4) = substr(OLD.service_date, 1, 4)
        AND (a.period LIKE '%-H2' OR CAST(substr(OLD.service_date, 6, 2) AS INTEGER) <= 6))"""
    item_locked = (
        f"(SELECT status FROM assessment WHERE id = OLD.assessment_id) IN {LOCKED_ASSESSMENT}"
    )
    return [
        f"""CREATE TRIGGER trg_assessment_locked_update BEFORE UPDATE ON assessment
        WHEN OLD.status IN {LOCKED_ASSESSMENT} AND ({_changed(ASSESSMENT_FROZEN_COLUMNS, "IS NOT")}
             OR NEW.status NOT IN {LOCKED_ASSESSMENT})
        BEGIN SELECT RAISE(ABORT, '{MSG_ASSESSMENT}'); END""",
        f"""CREATE TRIGGER trg_assessment_locked_delete BEFORE DELETE ON assessment
        WHEN OLD.status IN {LOCKED_ASSESSMENT}
        BEGIN SELECT RAISE(ABORT, '{MSG_ASSESSMENT}'); END""",
        f"""CREATE TRIGGER trg_assessment_item_locked_update BEFORE UPDATE ON assessment_item
        WHEN {item_locked} AND ({_changed(ITEM_COLUMNS, "IS NOT")})
        BEGIN SELECT RAISE(ABORT, '{MSG_ASSESSMENT}'); END""",
        f"""CREATE TRIGGER trg_assessment_item_locked_delete BEFORE DELETE ON assessment_item
        WHEN {item_locked}
        BEGIN SELECT RAISE(ABORT, '{MSG_ASSESSMENT}'); END""",
        f"""CREATE TRIGGER trg_assessment_item_locked_insert BEFORE INSERT ON assessment_item
        WHEN (SELECT status FROM assessment WHERE id = NEW.assessment_id) IN {LOCKED_ASSESSMENT}
        BEGIN SELECT RAISE(ABORT, '{MSG_ASSESSMENT}'); END""",
        f"""CREATE TRIGGER trg_service_record_locked_update BEFORE UPDATE ON service_record
        WHEN ({_changed(RECORD_FROZEN_COLUMNS, "IS NOT")}) AND {l3_locked}
        BEGIN SELECT RAISE(ABORT, '{MSG_RECORD}'); END""",
        f"""CREATE TRIGGER trg_service_record_locked_delete BEFORE DELETE ON service_record
        WHEN {l3_locked}
        BEGIN SELECT RAISE(ABORT, '{MSG_RECORD}'); END""",
    ]


def _postgresql_statements() -> list[str]:
    l3_locked = f"""EXISTS (SELECT 1 FROM assessment a WHERE a.level = 'L3' AND a.is_current
        AND a.status IN {LOCKED_ASSESSMENT} AND a.unit_id = OLD.institution_id
        AND substr(a.period, 1, 4) = to_char(OLD.service_date, 'YYYY')
        AND (a.period LIKE '%-H2' OR EXTRACT(MONTH FROM OLD.service_date) <= 6))"""
    return [
        f"""CREATE OR REPLACE FUNCTION fd_assessment_locked() RETURNS trigger AS $$
        BEGIN
          IF OLD.status IN {LOCKED_ASSESSMENT} THEN
            IF TG_OP = 'DELETE' OR {_changed(ASSESSMENT_FROZEN_COLUMNS, "IS DISTINCT FROM")}
               OR NEW.status NOT IN {LOCKED_ASSESSMENT} THEN
              RAISE EXCEPTION '{MSG_ASSESSMENT}';
            END IF;
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER trg_assessment_locked BEFORE UPDATE OR DELETE ON assessment
        FOR EACH ROW EXECUTE FUNCTION fd_assessment_locked()""",
        f"""CREATE OR REPLACE FUNCTION fd_assessment_item_locked() RETURNS trigger AS $$
        DECLARE parent_status text;
        BEGIN
          IF TG_OP = 'INSERT' THEN
            SELECT status INTO parent_status FROM assessment WHERE id = NEW.assessment_id;
            IF parent_status IN {LOCKED_ASSESSMENT} THEN RAISE EXCEPTION '{MSG_ASSESSMENT}'; END IF;
            RETURN NEW;
          END IF;
          SELECT status INTO parent_status FROM assessment WHERE id = OLD.assessment_id;
          IF parent_status IN {LOCKED_ASSESSMENT} THEN
            IF TG_OP = 'DELETE' OR {_changed(ITEM_COLUMNS, "IS DISTINCT FROM")} THEN
              RAISE EXCEPTION '{MSG_ASSESSMENT}';
            END IF;
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER trg_assessment_item_locked BEFORE INSERT OR UPDATE OR DELETE ON assessment_item
        FOR EACH ROW EXECUTE FUNCTION fd_assessment_item_locked()""",
        f"""CREATE OR REPLACE FUNCTION fd_service_record_locked() RETURNS trigger AS $$
        BEGIN
          IF (TG_OP = 'DELETE' OR {_changed(RECORD_FROZEN_COLUMNS, "IS DISTINCT FROM")})
             AND {l3_locked} THEN
            RAISE EXCEPTION '{MSG_RECORD}';
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER trg_service_record_locked BEFORE UPDATE OR DELETE ON service_record
        FOR EACH ROW EXECUTE FUNCTION fd_service_record_locked()""",
    ]


def install_integrity_triggers(connection: Any) -> None:
    """Create the triggers on an existing database (used by the migration)."""
    name = connection.dialect.name
    statements = _sqlite_statements() if name == "sqlite" else _postgresql_statements()
    for statement in statements:
        connection.execute(text(statement))


_created: set[str] = set()


def _after_create(target: Any, connection: Any, **_kw: Any) -> None:
    # Install once all three tables exist (create_all creates them in dependency order).
    _created.add(target.name)
    if {"assessment", "assessment_item", "service_record"} <= _created:
        _created.clear()
        install_integrity_triggers(connection)


for _table in (Assessment.__table__, AssessmentItem.__table__, ServiceRecord.__table__):
    event.listen(_table, "after_create", _after_create)


TRIGGER_NAMES = (
    "trg_assessment_locked_update",
    "trg_assessment_locked_delete",
    "trg_assessment_item_locked_update",
    "trg_assessment_item_locked_delete",
    "trg_assessment_item_locked_insert",
    "trg_service_record_locked_update",
    "trg_service_record_locked_delete",
)


def drop_integrity_triggers(connection: Any) -> None:
    """Remove the triggers (migration downgrade)."""
    if connection.dialect.name == "sqlite":
        for name in TRIGGER_NAMES:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        return
    connection.execute(text("DROP TRIGGER IF EXISTS trg_assessment_locked ON assessment"))
    connection.execute(text("DROP TRIGGER IF EXISTS trg_assessment_item_locked ON assessment_item"))
    connection.execute(text("DROP TRIGGER IF EXISTS trg_service_record_locked ON service_record"))
    for fn in ("fd_assessment_locked", "fd_assessment_item_locked", "fd_service_record_locked"):
        connection.execute(text(f"DROP FUNCTION IF EXISTS {fn}()"))
