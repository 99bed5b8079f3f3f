"""lock triggers: one install module, and the holes of the published/locked rows closed

Replaces the triggers of the two former modules (fdoctor/integrity, the old
fdoctor/settlement/triggers) with those declared through fdoctor.core.triggers: a published
assessment keeps every column and moves only along the workflow, is_current changes only when a
newer revision exists, a published L3 locks its period's records whatever its is_current, a sheet
is locked only from approved, and the member ratings of a locked year are frozen.

Downgrade removes nothing it cannot put back: the former definitions are not kept in code, so
the current triggers (a superset of the former rules) stay installed.

Revision ID: a3c8e5f1d2b7
Revises: a7c3e91d2f54
Create Date: 2026-12-06 20:30:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3c8e5f1d2b7'
down_revision = 'a7c3e91d2f54'
branch_labels = None
depends_on = None

FORMER_SQLITE = (
    'trg_assessment_locked_update',
    'trg_assessment_locked_delete',
    'trg_assessment_item_locked_update',
    'trg_assessment_item_locked_delete',
    'trg_assessment_item_locked_insert',
    'trg_service_record_locked_update',
    'trg_service_record_locked_delete',
    'settlement_locked_no_update',
    'settlement_locked_no_delete',
    'settlement_line_locked_no_insert',
    'settlement_line_locked_no_update',
    'settlement_line_locked_no_delete',
)
FORMER_POSTGRESQL = (
    ('trg_assessment_locked', 'assessment', 'fd_assessment_locked'),
    ('trg_assessment_item_locked', 'assessment_item', 'fd_assessment_item_locked'),
    ('trg_service_record_locked', 'service_record', 'fd_service_record_locked'),
    ('settlement_locked_no_change', 'settlement', 'settlement_refuse_locked'),
    ('settlement_line_locked_no_change', 'settlement_line', 'settlement_line_refuse_locked'),
)


def upgrade():
    from fdoctor.core.triggers import install_triggers

    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for name in FORMER_SQLITE:
            bind.exec_driver_sql(f'DROP TRIGGER IF EXISTS {name}')
    else:
        for trigger, table, function in FORMER_POSTGRESQL:
            bind.exec_driver_sql(f'DROP TRIGGER IF EXISTS {trigger} ON {table}')
            bind.exec_driver_sql(f'DROP FUNCTION IF EXISTS {function}()')
    install_triggers(bind)


def downgrade():
    pass
