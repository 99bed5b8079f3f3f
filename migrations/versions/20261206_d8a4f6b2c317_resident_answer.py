"""resident_answer and resident_link_hit: residents confirm their visits through a signed link

Revision ID: d8a4f6b2c317
Revises: c5d1e8f2a914
Create Date: 2026-12-06 23:55:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d8a4f6b2c317"
down_revision = "c5d1e8f2a914"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "resident_answer",
        sa.Column("id", BigId, nullable=False),
        sa.Column("resident_id", BigId, nullable=False),
        sa.Column("contract_id", BigId, nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("response_id", BigId, nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_resident_answer_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_resident_answer_contract_id_contract")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_response.id"],
            name=op.f("fk_resident_answer_response_id_survey_response"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_answer")),
        sa.UniqueConstraint("resident_id", "period", name="uq_resident_answer_period"),
    )
    op.create_index(op.f("ix_resident_answer_resident_id"), "resident_answer", ["resident_id"])
    op.create_index(op.f("ix_resident_answer_contract_id"), "resident_answer", ["contract_id"])
    op.create_table(
        "resident_link_hit",
        sa.Column("id", BigId, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_link_hit")),
    )
    op.create_index("ix_resident_link_hit_source_at", "resident_link_hit", ["source", "at"])


def downgrade():
    op.drop_index("ix_resident_link_hit_source_at", table_name="resident_link_hit")
    op.drop_table("resident_link_hit")
    op.drop_index(op.f("ix_resident_answer_contract_id"), table_name="resident_answer")
    op.drop_index(op.f("ix_resident_answer_resident_id"), table_name="resident_answer")
    op.drop_table("resident_answer")
