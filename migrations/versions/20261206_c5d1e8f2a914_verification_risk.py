"""verification_sample_doctor and verification_sample_team.widened: risk-based verification

Per sample, each doctor's risk inputs and weight (assessments.risk), stored so the draw can be
replayed; per team, the residents added because doctors were disputed in the previous period.

Revision ID: c5d1e8f2a914
Revises: e4b7d2a9c613
Create Date: 2026-12-06 23:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c5d1e8f2a914"
down_revision = "e4b7d2a9c613"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("verification_sample_team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("widened", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "verification_sample_doctor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("open_flags", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("found_false", sa.Integer(), nullable=False),
        sa.Column("disputed_before", sa.Integer(), nullable=False),
        sa.Column("weight", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["verification_sample.id"],
            name=op.f("fk_verification_sample_doctor_sample_id_verification_sample"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["org_unit.id"],
            name=op.f("fk_verification_sample_doctor_team_id_org_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["user_account.id"],
            name=op.f("fk_verification_sample_doctor_doctor_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_sample_doctor")),
        sa.UniqueConstraint(
            "sample_id", "doctor_id", "team_id", name="uq_verification_sample_doctor_key"
        ),
    )
    for column in ("sample_id", "team_id", "doctor_id"):
        op.create_index(
            op.f(f"ix_verification_sample_doctor_{column}"), "verification_sample_doctor", [column]
        )


def downgrade():
    for column in ("sample_id", "team_id", "doctor_id"):
        op.drop_index(
            op.f(f"ix_verification_sample_doctor_{column}"), table_name="verification_sample_doctor"
        )
    op.drop_table("verification_sample_doctor")
    with op.batch_alter_table("verification_sample_team", schema=None) as batch_op:
        batch_op.drop_column("widened")
