"""audit: keyed chain head, checkpoints and bulk-load baselines

The chain is keyed (HMAC-SHA256 under AUDIT_KEY) from now on. Entries already written keep their
plain SHA-256 hashes and stay verifiable: the new head row marks them as legacy (``legacy_until``
= the last existing id) and is itself keyed, so the legacy part cannot be extended or cut later.
Rows of tables audited from now on that no entry covers are baselined once by
``flask audit adopt`` (logged with the operator's name), not here.

Revision ID: a7c3e91d2f54
Revises: b3e91f4c2a70
Create Date: 2026-12-06 20:40:00.000000

"""
import hashlib
import hmac

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = 'a7c3e91d2f54'
down_revision = 'b3e91f4c2a70'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_id', BIG, nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('legacy_until', BIG, nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    op.create_table(
        'audit_checkpoint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('entries', BIG, nullable=False),
        sa.Column('last_id', BIG, nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('prev_mac', sa.String(length=64), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint')),
        sa.UniqueConstraint('mac', name=op.f('uq_audit_checkpoint_mac')),
    )
    op.create_table(
        'audit_baseline',
        sa.Column('table_name', sa.String(length=64), nullable=False),
        sa.Column('row_id', BIG, nullable=False),
        sa.Column('digest', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('table_name', 'row_id', name=op.f('pk_audit_baseline')),
    )
    bind = op.get_bind()
    last = bind.execute(
        sa.text('SELECT id, hash FROM audit_entry ORDER BY id DESC LIMIT 1')
    ).first()
    if last is None:
        return
    key = current_app.config['AUDIT_KEY']
    key = key.encode('utf-8') if isinstance(key, str) else bytes(key)
    message = f'head|{last[0]}|{last[1]}|{last[0]}'.encode('utf-8')
    bind.execute(
        sa.text(
            'INSERT INTO audit_head (id, last_id, last_hash, legacy_until, mac) '
            'VALUES (1, :i, :h, :i, :m)'
        ),
        {'i': last[0], 'h': last[1], 'm': hmac.new(key, message, hashlib.sha256).hexdigest()},
    )


def downgrade():
    op.drop_table('audit_baseline')
    op.drop_table('audit_checkpoint')
    op.drop_table('audit_head')
