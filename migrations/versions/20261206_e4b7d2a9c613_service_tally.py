"""service_tally and signed_population: running figures kept beside the records

Per doctor, team, month and type the counting and the false service records, and per unit the
residents signed at each month's end (fdoctor.tallies). Existing months are filled by the job
``flask jobs run rebuild_tallies --period YYYY-MM``.

Revision ID: e4b7d2a9c613
Revises: a3c8e5f1d2b7
Create Date: 2026-12-06 21:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e4b7d2a9c613"
down_revision = "a3c8e5f1d2b7"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "service_tally",
        sa.Column("id", BigId, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("team_key", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("counting", sa.Integer(), nullable=False),
        sa.Column("false_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"], ["org_unit.id"], name=op.f("fk_service_tally_county_id_org_unit")
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["user_account.id"], name=op.f("fk_service_tally_doctor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["org_unit.id"],
            name=op.f("fk_service_tally_institution_id_org_unit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_tally")),
        sa.UniqueConstraint(
            "period",
            "doctor_id",
            "team_key",
            "type",
            "institution_id",
            "county_id",
            name="uq_service_tally_key",
        ),  # fmt: skip
    )
    op.create_index(op.f("ix_service_tally_county_id"), "service_tally", ["county_id"])
    op.create_index(op.f("ix_service_tally_doctor_id"), "service_tally", ["doctor_id"])
    op.create_index(op.f("ix_service_tally_institution_id"), "service_tally", ["institution_id"])
    op.create_table(
        "signed_population",
        sa.Column("id", BigId, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("signed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_unit.id"], name=op.f("fk_signed_population_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_population")),
        sa.UniqueConstraint("period", "unit_id", name="uq_signed_population_key"),
    )
    op.create_index(op.f("ix_signed_population_unit_id"), "signed_population", ["unit_id"])


def downgrade():
    op.drop_index(op.f("ix_signed_population_unit_id"), table_name="signed_population")
    op.drop_table("signed_population")
    op.drop_index(op.f("ix_service_tally_institution_id"), table_name="service_tally")
    op.drop_index(op.f("ix_service_tally_doctor_id"), table_name="service_tally")
    op.drop_index(op.f("ix_service_tally_county_id"), table_name="service_tally")
    op.drop_table("service_tally")
