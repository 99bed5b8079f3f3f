"""team split sources: attendance in days, county point tables, deductions, fund awards, leader rules

* ``attendance_record``: a member's month (days due, worked, on each kind of leave);
* ``point_value``: a county's points per service type over the city's default table;
* ``member_deduction``: points deducted by the team's internal check (reason, who decided);
* ``fund_award``: awards paid from the team fund (特殊贡献奖/技能优胜奖);
* ``leader_rule``: per institution, leaders in the team split or paid from a management share;
* ``workload_standard.services_per_year`` (records a year) becomes ``standard_points`` (points a
  year). Existing standards are carried over as the same number of points: a consultation is one
  point in the default table, so a standard counted in records reads as the points of that many
  consultations; the configuration page shows the new unit and the city reviews the figures;
* ``member_rating.a`` becomes nullable: a is computed from the attendance records.

Revision ID: c5e83b1f9a46
Revises: 0cdc59e9cf3d
Create Date: 2026-12-07 00:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c5e83b1f9a46"
down_revision = "0cdc59e9cf3d"
branch_labels = None
depends_on = None

Fen = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _scoped(table: str) -> list[sa.Column]:
    return [
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
    ]


def _scoped_keys(table: str) -> list:
    return [
        sa.ForeignKeyConstraint(
            [col], ["org_unit.id"], name=op.f(f"fk_{table}_{col}_org_unit")
        )
        for col in ("county_id", "institution_id", "team_id")
    ]


def _scoped_indexes(table: str) -> None:
    for col in ("county_id", "institution_id", "team_id"):
        op.create_index(op.f(f"ix_{table}_{col}"), table, [col])


def _user_keys(table: str, *cols: str) -> list:
    return [
        sa.ForeignKeyConstraint([col], ["user_account.id"], name=op.f(f"fk_{table}_{col}_user_account"))
        for col in cols
    ]


def upgrade():
    op.create_table(
        "attendance_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("days_due", sa.Integer(), nullable=False),
        sa.Column("days_worked", sa.Integer(), nullable=False),
        sa.Column("sick_days", sa.Integer(), nullable=False),
        sa.Column("personal_days", sa.Integer(), nullable=False),
        sa.Column("maternity_days", sa.Integer(), nullable=False),
        sa.Column("annual_days", sa.Integer(), nullable=False),
        sa.Column("marriage_days", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        *_scoped("attendance_record"),
        sa.CheckConstraint(
            "days_due >= 0 AND days_worked >= 0 AND sick_days >= 0 AND personal_days >= 0 "
            "AND maternity_days >= 0 AND annual_days >= 0 AND marriage_days >= 0",
            name=op.f("ck_attendance_record_days_not_negative"),
        ),
        sa.CheckConstraint(
            "days_worked + sick_days + personal_days + maternity_days + annual_days "
            "+ marriage_days <= days_due",
            name=op.f("ck_attendance_record_days_within_due"),
        ),
        *_user_keys("attendance_record", "user_id", "entered_by_id"),
        *_scoped_keys("attendance_record"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_record")),
        sa.UniqueConstraint("user_id", "month", name=op.f("uq_attendance_record_user_id_month")),
    )
    op.create_index(op.f("ix_attendance_record_user_id"), "attendance_record", ["user_id"])
    op.create_index(op.f("ix_attendance_record_month"), "attendance_record", ["month"])
    _scoped_indexes("attendance_record")

    op.create_table(
        "point_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("service_type", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("points >= 0", name=op.f("ck_point_value_points_not_negative")),
        sa.ForeignKeyConstraint(["county_id"], ["org_unit.id"], name=op.f("fk_point_value_county_id_org_unit")),
        *_user_keys("point_value", "updated_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_value")),
        sa.UniqueConstraint("county_id", "service_type", name=op.f("uq_point_value_county_id_service_type")),
    )
    op.create_index(op.f("ix_point_value_county_id"), "point_value", ["county_id"])

    op.create_table(
        "member_deduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("points", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=60), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        *_scoped("member_deduction"),
        sa.CheckConstraint("points > 0 AND points <= 100", name=op.f("ck_member_deduction_points_range")),
        *_user_keys("member_deduction", "user_id", "entered_by_id"),
        *_scoped_keys("member_deduction"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_deduction")),
    )
    op.create_index(op.f("ix_member_deduction_user_id"), "member_deduction", ["user_id"])
    op.create_index(op.f("ix_member_deduction_decided_on"), "member_deduction", ["decided_on"])
    _scoped_indexes("member_deduction")

    op.create_table(
        "fund_award",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("awarded_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount_fen", Fen, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        *_scoped("fund_award"),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_fund_award_amount_positive")),
        sa.CheckConstraint("kind IN ('special_contribution', 'skill')", name=op.f("ck_fund_award_kind_known")),
        *_user_keys("fund_award", "user_id", "entered_by_id"),
        *_scoped_keys("fund_award"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_award")),
    )
    op.create_index(op.f("ix_fund_award_user_id"), "fund_award", ["user_id"])
    _scoped_indexes("fund_award")

    op.create_table(
        "leader_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("leaders_in_split", sa.Boolean(), nullable=False),
        sa.Column("management_rate", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "management_rate IS NULL OR (management_rate >= 0 AND management_rate <= 1)",
            name=op.f("ck_leader_rule_management_rate_range"),
        ),
        sa.ForeignKeyConstraint(["institution_id"], ["org_unit.id"], name=op.f("fk_leader_rule_institution_id_org_unit")),
        *_user_keys("leader_rule", "updated_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leader_rule")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_leader_rule_institution_id")),
    )

    with op.batch_alter_table("workload_standard") as batch:
        batch.add_column(sa.Column("standard_points", sa.Numeric(precision=10, scale=2), nullable=True))
    op.execute("UPDATE workload_standard SET standard_points = services_per_year")
    with op.batch_alter_table("workload_standard") as batch:
        batch.drop_constraint("standard_positive", type_="check")
        batch.drop_column("services_per_year")
        batch.alter_column("standard_points", existing_type=sa.Numeric(precision=10, scale=2), nullable=False)
        batch.create_check_constraint("standard_points_positive", "standard_points > 0")

    with op.batch_alter_table("member_rating") as batch:
        batch.alter_column("a", existing_type=sa.Numeric(precision=5, scale=4), nullable=True)

    # SQLite's batch mode rebuilds member_rating, which drops its lock trigger: put it back.
    from fdoctor.core.triggers import install_triggers

    install_triggers(op.get_bind())


def downgrade():
    with op.batch_alter_table("member_rating") as batch:
        batch.alter_column("a", existing_type=sa.Numeric(precision=5, scale=4), nullable=False)
    with op.batch_alter_table("workload_standard") as batch:
        batch.add_column(sa.Column("services_per_year", sa.Integer(), nullable=True))
    op.execute("UPDATE workload_standard SET services_per_year = CAST(standard_points AS INTEGER)")
    with op.batch_alter_table("workload_standard") as batch:
        batch.drop_constraint("standard_points_positive", type_="check")
        batch.drop_column("standard_points")
        batch.alter_column("services_per_year", existing_type=sa.Integer(), nullable=False)
        batch.create_check_constraint("standard_positive", "services_per_year > 0")
    for table in ("leader_rule", "fund_award", "member_deduction", "point_value", "attendance_record"):
        op.drop_table(table)
    from fdoctor.core.triggers import install_triggers

    install_triggers(op.get_bind())
