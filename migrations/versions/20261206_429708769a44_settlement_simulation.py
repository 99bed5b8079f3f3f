"""settlement_simulation: named what-if simulations on a draft settlement (模拟测算)

Each row holds a simulation's overrides (pool funds, county scores, institution splits, the
reserve rate) as JSON, who saved it and when, and the draft version it was made on. Audited.

Revision ID: 429708769a44
Revises: c5e83b1f9a46
Create Date: 2026-12-06 23:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "429708769a44"
down_revision = "c5e83b1f9a46"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "settlement_simulation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("overrides_json", sa.Text(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("base_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_settlement_simulation_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlement.id"],
            name=op.f("fk_settlement_simulation_settlement_id_settlement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_simulation")),
        sa.UniqueConstraint(
            "settlement_id",
            "name",
            name=op.f("uq_settlement_simulation_settlement_id_name"),
        ),
    )
    op.create_index(
        op.f("ix_settlement_simulation_settlement_id"), "settlement_simulation", ["settlement_id"]
    )


def downgrade():
    op.drop_index(
        op.f("ix_settlement_simulation_settlement_id"), table_name="settlement_simulation"
    )
    op.drop_table("settlement_simulation")
