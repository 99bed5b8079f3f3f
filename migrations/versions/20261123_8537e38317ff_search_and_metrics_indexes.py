"""search and metrics indexes

Trigram (pg_trgm) indexes for the household search on PostgreSQL (plain ones on SQLite), the
metrics' index of counting service records per resident, and two small lookups (issue #7).
The pg_trgm extension is left in place on downgrade: other objects may use it.

Revision ID: 8537e38317ff
Revises: 40f75c27f6fc
Create Date: 2026-11-23 20:41:19.227701

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8537e38317ff'
down_revision = '40f75c27f6fc'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table('contract_member', schema=None) as batch_op:
        batch_op.create_index('ix_contract_member_resident_id', ['resident_id'], unique=False)

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index('ix_household_address_search', ['address'], unique=False, postgresql_using='gin', postgresql_ops={'address': 'gin_trgm_ops'})

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.create_index('ix_resident_name_search', ['name'], unique=False, postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
        batch_op.create_index('ix_resident_tb_treatment_start', ['tb_treatment_start'], unique=False, sqlite_where=sa.text('tb_treatment_start IS NOT NULL'), postgresql_where=sa.text('tb_treatment_start IS NOT NULL'))

    with op.batch_alter_table('service_record', schema=None) as batch_op:
        batch_op.create_index('ix_service_record_counting', ['resident_id', 'type', 'service_date'], unique=False, sqlite_where=sa.text("verification IN ('unverified', 'confirmed')"), postgresql_where=sa.text("verification IN ('unverified', 'confirmed')"), postgresql_include=['id', 'systolic_bp', 'diastolic_bp', 'fasting_glucose'])



def downgrade():
    with op.batch_alter_table('service_record', schema=None) as batch_op:
        batch_op.drop_index('ix_service_record_counting', sqlite_where=sa.text("verification IN ('unverified', 'confirmed')"), postgresql_where=sa.text("verification IN ('unverified', 'confirmed')"), postgresql_include=['id', 'systolic_bp', 'diastolic_bp', 'fasting_glucose'])

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_index('ix_resident_tb_treatment_start', sqlite_where=sa.text('tb_treatment_start IS NOT NULL'), postgresql_where=sa.text('tb_treatment_start IS NOT NULL'))
        batch_op.drop_index('ix_resident_name_search', postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index('ix_household_address_search', postgresql_using='gin', postgresql_ops={'address': 'gin_trgm_ops'})

    with op.batch_alter_table('contract_member', schema=None) as batch_op:
        batch_op.drop_index('ix_contract_member_resident_id')

