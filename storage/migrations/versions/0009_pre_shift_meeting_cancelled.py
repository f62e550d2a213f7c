"""a pre-shift meeting whose shift left the schedule after its briefing

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 13:35:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('pre_shift_meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', storage.types.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pre_shift_meeting', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
