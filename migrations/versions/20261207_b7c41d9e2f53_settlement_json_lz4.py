"""settlement: a sheet's inputs and outputs JSON compressed with lz4 on PostgreSQL

At city scale each is megabytes of canonical JSON, written on every build of a draft; lz4 writes
them several times faster than PostgreSQL's default (pglz) at about the same size. Nothing on
SQLite, nor on a server built without lz4. Rows already stored keep their compression until
they are rewritten.

Revision ID: b7c41d9e2f53
Revises: 429708769a44
Create Date: 2026-12-07 03:00:00.000000

"""

from alembic import op
from sqlalchemy import text

from fdoctor.core import dialect

# revision identifiers, used by Alembic.
revision = "b7c41d9e2f53"
down_revision = "429708769a44"
branch_labels = None
depends_on = None

COLUMNS = ("inputs_json", "outputs_json")


def upgrade():
    dialect.compress_with_lz4(op.get_bind(), "settlement", COLUMNS)


def downgrade():
    bind = op.get_bind()
    if dialect.is_postgresql(bind):
        for column in COLUMNS:
            bind.execute(
                text(f'ALTER TABLE settlement ALTER COLUMN "{column}" SET COMPRESSION default')
            )
