"""settlement_correction and settlement_correction_line: corrections after lock

A locked settlement found to rest on a wrong fact (a service record found false, a score revised
after an appeal) gets a correction with its difference at every level, carried into the next
settlement (fdoctor.corrections). Both tables are final once written (triggers).

Revision ID: ec966d0f94b2
Revises: 6229b987c0f6
Create Date: 2026-12-06 23:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ec966d0f94b2"
down_revision = "6229b987c0f6"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Fen = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "settlement_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("cause_kind", sa.String(length=16), nullable=False),
        sa.Column("cause_id", sa.Integer(), nullable=False),
        sa.Column("change_json", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("carried_into_id", sa.Integer(), nullable=True),
        sa.Column("moved_fen", Fen, nullable=False),
        sa.ForeignKeyConstraint(
            ["carried_into_id"],
            ["settlement.id"],
            name=op.f("fk_settlement_correction_carried_into_id_settlement"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_settlement_correction_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["org_unit.id"], name=op.f("fk_settlement_correction_pool_id_org_unit")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlement.id"],
            name=op.f("fk_settlement_correction_settlement_id_settlement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_correction")),
        sa.UniqueConstraint(
            "settlement_id",
            "cause_kind",
            "cause_id",
            name=op.f("uq_settlement_correction_settlement_id_cause_kind_cause_id"),
        ),
    )
    for column in ("carried_into_id", "settlement_id", "year"):
        op.create_index(
            op.f(f"ix_settlement_correction_{column}"), "settlement_correction", [column]
        )
    op.create_table(
        "settlement_correction_line",
        sa.Column("id", BigId, nullable=False),
        sa.Column("correction_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("parent_key", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("before_fen", Fen, nullable=False),
        sa.Column("after_fen", Fen, nullable=False),
        sa.Column("difference_fen", Fen, nullable=False),
        sa.ForeignKeyConstraint(
            ["correction_id"],
            ["settlement_correction.id"],
            name=op.f("fk_settlement_correction_line_correction_id_settlement_correction"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["org_unit.id"],
            name=op.f("fk_settlement_correction_line_county_id_org_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["org_unit.id"],
            name=op.f("fk_settlement_correction_line_institution_id_org_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["org_unit.id"],
            name=op.f("fk_settlement_correction_line_team_id_org_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_settlement_correction_line_unit_id_org_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_settlement_correction_line_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_correction_line")),
        sa.UniqueConstraint(
            "correction_id", "key", name=op.f("uq_settlement_correction_line_correction_id_key")
        ),
    )
    for column in ("correction_id", "county_id", "institution_id", "team_id"):
        op.create_index(
            op.f(f"ix_settlement_correction_line_{column}"),
            "settlement_correction_line",
            [column],
        )
    from fdoctor.core.triggers import install_triggers
    from fdoctor.corrections.triggers import GUARDS

    install_triggers(op.get_bind(), GUARDS)


def downgrade():
    from fdoctor.core.triggers import uninstall_triggers
    from fdoctor.corrections.triggers import GUARDS

    uninstall_triggers(op.get_bind(), GUARDS)
    op.drop_table("settlement_correction_line")
    op.drop_table("settlement_correction")
