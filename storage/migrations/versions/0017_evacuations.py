"""evacuations: stop work / evacuate (停工撤人) and who answered "I am safe"

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'evacuation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('group_chat_id', sa.Integer(), nullable=False),
        sa.Column('started_by', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('alert_html', sa.Text(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.Column('ended_by', sa.Integer(), nullable=True),
        sa.Column('alert_outbox_id', sa.Integer(), nullable=True),
        sa.Column('last_edit_at', UTCDateTime(), nullable=True),
        sa.Column('roll_call_dirty', sa.Boolean(), nullable=False),
        sa.Column('roll_call_edits', sa.Integer(), nullable=False),
        sa.Column('missing_told_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['alert_outbox_id'], ['outbox.id']),
        sa.ForeignKeyConstraint(['ended_by'], ['person.id']),
        sa.ForeignKeyConstraint(['group_chat_id'], ['group_chat.id']),
        sa.ForeignKeyConstraint(['started_by'], ['person.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_evacuation_unit_id'), 'evacuation', ['unit_id'])
    op.create_index('uq_evacuation_active_unit', 'evacuation', ['unit_id'], unique=True,
                    sqlite_where=sa.text('ended_at IS NULL'),
                    postgresql_where=sa.text('ended_at IS NULL'))
    op.create_table(
        'evacuation_safe',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('evacuation_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('safe_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['evacuation_id'], ['evacuation.id']),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('evacuation_id', 'person_id', name='uq_evacuation_safe_person'),
    )
    op.create_index(op.f('ix_evacuation_safe_evacuation_id'), 'evacuation_safe',
                    ['evacuation_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_evacuation_safe_evacuation_id'), table_name='evacuation_safe')
    op.drop_table('evacuation_safe')
    op.drop_index('uq_evacuation_active_unit', table_name='evacuation')
    op.drop_index(op.f('ix_evacuation_unit_id'), table_name='evacuation')
    op.drop_table('evacuation')
