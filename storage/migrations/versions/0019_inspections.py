"""inspections: checks by rhythm (检查) and every item's answer

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'inspection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('checklist_id', sa.String(length=40), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=64), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=False),
        sa.Column('deadline_at', UTCDateTime(), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('done_at', UTCDateTime(), nullable=True),
        sa.Column('done_by', sa.Integer(), nullable=True),
        sa.Column('escalated_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assignee_id'], ['person.id']),
        sa.ForeignKeyConstraint(['done_by'], ['person.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('checklist_id', 'unit_id', 'period', 'subject_id',
                            name='uq_inspection_occurrence'),
    )
    op.create_index('ix_inspection_unit_due', 'inspection', ['unit_id', 'due_at'])
    op.create_index('ix_inspection_state_deadline', 'inspection', ['state', 'deadline_at'])
    op.create_table(
        'inspection_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inspection_id', sa.Integer(), nullable=False),
        sa.Column('item_index', sa.Integer(), nullable=False),
        sa.Column('item_text', sa.String(length=300), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('photo_file_id', sa.String(length=255), nullable=True),
        sa.Column('photo_unique_id', sa.String(length=64), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('hazard_id', sa.Integer(), nullable=True),
        sa.Column('answered_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id']),
        sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id']),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('inspection_id', 'item_index', name='uq_inspection_answer_item'),
    )
    op.create_index(op.f('ix_inspection_answer_inspection_id'), 'inspection_answer',
                    ['inspection_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_inspection_answer_inspection_id'), table_name='inspection_answer')
    op.drop_table('inspection_answer')
    op.drop_index('ix_inspection_state_deadline', table_name='inspection')
    op.drop_index('ix_inspection_unit_due', table_name='inspection')
    op.drop_table('inspection')
