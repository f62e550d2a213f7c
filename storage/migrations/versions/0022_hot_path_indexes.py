"""indexes the PostgreSQL plans asked for: the outbox claim and the briefing check

The outbox claim read ``ORDER BY id LIMIT 100`` over rows due or whose lease ran
out; with two million rows sent, PostgreSQL walked the primary key from the oldest
row and filtered all of them out (1.7 s a claim). A partial index on the id of the
rows still to send (pending or mid-send) holds only those. The pre-shift sweep
asks per due team whether its briefing was posted, by shift key or by start time;
with (unit_id, starts_at) both arms are index lookups instead of a scan of every
meeting the team ever had (that index came with 0021, the monthly report, which
needed the same one). See docs/postgresql.md for the plans before and after.

Revision ID: 0022
Revises: 0024
Create Date: 2026-12-03 16:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_open', ['id'], unique=False,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_open')
