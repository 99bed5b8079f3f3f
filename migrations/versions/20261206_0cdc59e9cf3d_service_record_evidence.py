"""service_record evidence at capture: clock skew, form time, location, resident signature

All columns are nullable (records before this have no evidence). On SQLite each column is added
with its CHECK in the column definition (``ALTER TABLE … ADD COLUMN``): a batch table rebuild
would drop the record's lock triggers. The record's lock trigger (a published L3 freezes every
column but the workflow's) is reinstalled so it guards the new columns too; the downgrade puts
back the trigger without them before the columns go.

Revision ID: 0cdc59e9cf3d
Revises: ec966d0f94b2
Create Date: 2026-12-06 23:10:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0cdc59e9cf3d"
down_revision = "ec966d0f94b2"
branch_labels = None
depends_on = None

# (column, SQL type, check expression or None)
COLUMNS = (
    ("clock_skew_seconds", "INTEGER", None),
    ("form_opened_at", "TIMESTAMP WITHOUT TIME ZONE", None),
    ("form_seconds", "INTEGER", "form_seconds IS NULL OR (form_seconds BETWEEN 0 AND 86400)"),
    ("latitude", "NUMERIC(9, 6)", "latitude IS NULL OR (latitude BETWEEN -90 AND 90)"),
    ("longitude", "NUMERIC(9, 6)", "longitude IS NULL OR (longitude BETWEEN -180 AND 180)"),
    ("location_accuracy_m", "INTEGER", None),
    ("resident_signature", "TEXT", None),
)
CHECK_NAMES = {
    "form_seconds": "ck_service_record_form_seconds_range",
    "latitude": "ck_service_record_latitude_range",
    "longitude": "ck_service_record_longitude_range",
}


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, sql_type, check in COLUMNS:
        if sqlite:
            sql_type = "DATETIME" if sql_type.startswith("TIMESTAMP") else sql_type
            constraint = f" CONSTRAINT {CHECK_NAMES[name]} CHECK ({check})" if check else ""
            op.execute(f"ALTER TABLE service_record ADD COLUMN {name} {sql_type}{constraint}")
        else:
            op.execute(f"ALTER TABLE service_record ADD COLUMN {name} {sql_type}")
            if check:
                op.execute(
                    f"ALTER TABLE service_record ADD CONSTRAINT {CHECK_NAMES[name]} CHECK ({check})"
                )
    from fdoctor.assessments.triggers import RECORD_GUARD
    from fdoctor.core.triggers import install_triggers

    install_triggers(op.get_bind(), [RECORD_GUARD])


def _guard_without_evidence():
    from fdoctor.assessments import triggers as t
    from fdoctor.core.triggers import Guard, Rule, changed

    new = {name for name, _type, _check in COLUMNS}
    frozen = [c for c in t.RECORD_FROZEN if c not in new]

    def update(dialect):
        return f"{changed(frozen)} AND ({t._l3_locked('OLD', dialect)} OR {t._l3_locked('NEW', dialect)})"

    return Guard(
        t.RECORD_GUARD.name,
        t.RECORD_GUARD.table,
        (Rule(("UPDATE",), update("sqlite"), t.MSG_RECORD, update("postgresql")),
         *t.RECORD_GUARD.rules[1:]),
    )  # fmt: skip


def downgrade():
    from fdoctor.core.triggers import install_triggers, uninstall_triggers

    guard = _guard_without_evidence()
    uninstall_triggers(op.get_bind(), [guard])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, _sql_type, check in reversed(COLUMNS):
        if check and not sqlite:
            op.execute(f"ALTER TABLE service_record DROP CONSTRAINT {CHECK_NAMES[name]}")
        op.execute(f"ALTER TABLE service_record DROP COLUMN {name}")
    install_triggers(op.get_bind(), [guard])
