"""monthly report: files the bot uploads through the outbox, and the indexes the report reads

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ('ix_hazard_team_reported', 'hazard', ['team_unit_id', 'reported_at']),
    ('ix_hazard_team_closed', 'hazard', ['team_unit_id', 'closed_at']),
    ('ix_hazard_team_deadline', 'hazard', ['team_unit_id', 'deadline']),
    ('ix_pre_shift_meeting_unit_starts', 'pre_shift_meeting', ['unit_id', 'starts_at']),
    ('ix_read_receipt_unit_required', 'read_receipt', ['unit_id', 'required_at']),
    ('ix_training_record_unit_kind_at', 'training_record', ['unit_id', 'kind', 'at']),
]


def upgrade() -> None:
    op.create_table(
        'outbox_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('filename', sa.String(length=128), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('digest'),
    )
    op.create_index(op.f('ix_outbox_file_created_at'), 'outbox_file', ['created_at'])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index(op.f('ix_outbox_file_created_at'), table_name='outbox_file')
    op.drop_table('outbox_file')
