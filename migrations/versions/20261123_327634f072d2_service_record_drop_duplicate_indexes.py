"""service_record: drop the single-column county_id and team_id indexes

Both repeat the leading column of composite indexes (ix_service_record_county_date;
ix_service_record_team_date_type and ix_service_record_team_updated), which serve every look-up
by county or team, and the foreign keys' checks, as well. Every stored record (the tablet upload:
issue #7, benchmark 4) maintained them for nothing.

Revision ID: 327634f072d2
Revises: 8537e38317ff
Create Date: 2026-11-23 23:10:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '327634f072d2'
down_revision = '8537e38317ff'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_record_team_id'))
        batch_op.drop_index(batch_op.f('ix_service_record_county_id'))


def downgrade():
    with op.batch_alter_table('service_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_record_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_record_team_id'), ['team_id'], unique=False)
