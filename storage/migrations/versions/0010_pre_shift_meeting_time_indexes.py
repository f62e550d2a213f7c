"""index pre-shift meetings by start and end

The sweep reads, each minute, the meetings whose shift just started or ended.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 13:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('pre_shift_meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pre_shift_meeting_starts_at'), ['starts_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_pre_shift_meeting_ends_at'), ['ends_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pre_shift_meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pre_shift_meeting_ends_at'))
        batch_op.drop_index(batch_op.f('ix_pre_shift_meeting_starts_at'))
