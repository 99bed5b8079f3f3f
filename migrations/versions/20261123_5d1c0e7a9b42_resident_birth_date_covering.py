"""resident: the birth-date index carries what the care-schedule windows read (PostgreSQL)

The metrics' B4/B6 windows join each schedule rule to the residents whose birth date lies in the
rule's range; with the id, status and unit keys in the index those ranges are index-only scans
(at city scale 0.6 s instead of 5.2 s for a year's windows). SQLite keeps the plain index.

Revision ID: 5d1c0e7a9b42
Revises: 327634f072d2
Create Date: 2026-11-23 23:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5d1c0e7a9b42'
down_revision = '327634f072d2'
branch_labels = None
depends_on = None

INCLUDE = ['id', 'status', 'team_id', 'institution_id', 'county_id', 'household_id']


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_resident_birth_date', table_name='resident')
    op.create_index(
        'ix_resident_birth_date', 'resident', ['birth_date'], postgresql_include=INCLUDE
    )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_resident_birth_date', table_name='resident')
    op.create_index('ix_resident_birth_date', 'resident', ['birth_date'])
