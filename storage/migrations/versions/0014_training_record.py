"""the training record (安全培训档案): quiz answers, risk cards, drills

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'training_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('result', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key'),
    )
    op.create_index('ix_training_record_person_at', 'training_record', ['person_id', 'at'])
    op.create_index(op.f('ix_training_record_unit_id'), 'training_record', ['unit_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_training_record_unit_id'), table_name='training_record')
    op.drop_index('ix_training_record_person_at', table_name='training_record')
    op.drop_table('training_record')
