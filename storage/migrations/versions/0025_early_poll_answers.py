"""early poll answers: daily poll votes that arrived before the poll's id was recorded

Revision ID: 0025
Revises: 0017
Create Date: 2026-12-03 16:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0025'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'early_poll_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('poll_id', sa.String(length=64), nullable=False),
        sa.Column('telegram_id', sa.BigInteger(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=True),
        sa.Column('language_code', sa.String(length=16), nullable=True),
        sa.Column('option_ids', sa.String(length=64), nullable=False),
        sa.Column('confirmed', sa.Boolean(), nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('poll_id', 'telegram_id', name='uq_early_poll_answer'),
    )
    op.create_index(op.f('ix_early_poll_answer_poll_id'), 'early_poll_answer', ['poll_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_early_poll_answer_poll_id'), table_name='early_poll_answer')
    op.drop_table('early_poll_answer')
