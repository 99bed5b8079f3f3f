"""settlement_line: the scope columns (county, institution, team) without foreign keys of their own

A line's ``county_id``, ``institution_id`` and ``team_id`` are copies of the ``unit_id`` of its
ancestors' lines in the same sheet, and those ``unit_id`` columns keep their foreign keys to
``org_unit``: no unit a line names can go while its own line is there. The three keys were
three more checks for each of the ~13,000 lines a city's build writes with one COPY (some
0.1 s of it). Their indexes stay (the scope filters use them).

On SQLite the table is rebuilt (batch mode), which drops its triggers: the lock guard is
installed again.

Revision ID: f2a7c1d95b3e
Revises: d4f19a7c3e21
Create Date: 2026-12-07 06:40:00.000000

"""

from alembic import op

from fdoctor.core import dialect

# revision identifiers, used by Alembic.
revision = "f2a7c1d95b3e"
down_revision = "d4f19a7c3e21"
branch_labels = None
depends_on = None

COLUMNS = ("county_id", "institution_id", "team_id")


def _guard_again() -> None:
    from fdoctor.core.triggers import install_triggers
    from fdoctor.settlement.triggers import LINE_GUARD

    bind = op.get_bind()
    if not dialect.is_postgresql(bind):
        install_triggers(bind, [LINE_GUARD])


def upgrade():
    with op.batch_alter_table("settlement_line", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.drop_constraint(f"fk_settlement_line_{column}_org_unit", type_="foreignkey")
    _guard_again()


def downgrade():
    with op.batch_alter_table("settlement_line", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.create_foreign_key(
                f"fk_settlement_line_{column}_org_unit", "org_unit", [column], ["id"]
            )
    _guard_again()
