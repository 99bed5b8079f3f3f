"""settlement_line: the lock guard checks each statement once on PostgreSQL

A sheet's lines are written with one COPY (some 13,000 rows at city scale); the row trigger ran
its look-up of the sheet once a row. The guard is now one AFTER … FOR EACH STATEMENT trigger per
event over the statement's transition tables, refusing the same changes with the same message.
SQLite keeps its row triggers (it has no other kind); nothing changes there.

Revision ID: d4f19a7c3e21
Revises: b7c41d9e2f53
Create Date: 2026-12-07 05:30:00.000000

"""

from dataclasses import replace

from alembic import op

from fdoctor.core import dialect

# revision identifiers, used by Alembic.
revision = "d4f19a7c3e21"
down_revision = "b7c41d9e2f53"
branch_labels = None
depends_on = None


def upgrade():
    from fdoctor.core.triggers import install_triggers
    from fdoctor.settlement.triggers import LINE_GUARD

    bind = op.get_bind()
    if dialect.is_postgresql(bind):
        install_triggers(bind, [LINE_GUARD])


def downgrade():
    from fdoctor.core.triggers import install_triggers
    from fdoctor.settlement.triggers import LINE_GUARD

    bind = op.get_bind()
    if dialect.is_postgresql(bind):
        # The row trigger as it was: each rule's row condition on both databases.
        rows = tuple(replace(rule, postgresql=None) for rule in LINE_GUARD.rules)
        install_triggers(bind, [replace(LINE_GUARD, rules=rows, per_statement=False)])
