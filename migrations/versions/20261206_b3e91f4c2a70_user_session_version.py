"""user_account.session_version: sessions that can be ended server-side

A session cookie names the user and the session version it was opened with; logout, a new
password and disabling the account raise the version, so every earlier cookie stops working.

Revision ID: b3e91f4c2a70
Revises: 5d1c0e7a9b42
Create Date: 2026-12-06 20:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b3e91f4c2a70"
down_revision = "5d1c0e7a9b42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_version")
