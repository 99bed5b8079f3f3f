"""settlement_line: one index led by the sheet, not three

``ix_settlement_line_settlement_id`` repeated what the (settlement_id, position) index and the
(settlement_id, key) unique constraint already give any look-up by sheet, and cost some 30 ms of
the city's 13,000-line COPY. It goes; the other two serve those look-ups (and the foreign key's
check when a sheet is deleted).

Revision ID: a3e8d2c6b1f4
Revises: f2a7c1d95b3e
Create Date: 2026-12-07 13:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "a3e8d2c6b1f4"
down_revision = "f2a7c1d95b3e"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_settlement_line_settlement_id", table_name="settlement_line")


def downgrade():
    op.create_index(
        "ix_settlement_line_settlement_id", "settlement_line", ["settlement_id"], unique=False
    )
