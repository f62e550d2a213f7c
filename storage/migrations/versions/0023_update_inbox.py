"""update inbox: processed_update also holds updates received and not yet handled

A getUpdates batch is written here (its raw JSON, ``processed_at`` empty) before
its offset is confirmed to Telegram; handling an update fills ``processed_at`` and
empties the payload. Updates left unhandled by a crash are handled at start-up.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-10 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.Text(), nullable=True))
        batch_op.alter_column('processed_at', existing_type=UTCDateTime(), nullable=True)


def downgrade() -> None:
    # Updates received but never handled cannot be kept without their payload.
    op.execute("DELETE FROM processed_update WHERE processed_at IS NULL")
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.alter_column('processed_at', existing_type=UTCDateTime(), nullable=False)
        batch_op.drop_column('payload')
