"""a document's read deadline in hours, not whole days

``due: 8h`` ("read before the end of the shift") needs hours; existing documents
keep their deadline (days × 24).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('policy_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_hours', sa.Integer(), nullable=False,
                                      server_default='72'))
    op.execute("UPDATE policy_document SET due_hours = due_days * 24")
    with op.batch_alter_table('policy_document', schema=None) as batch_op:
        batch_op.drop_column('due_days')
        batch_op.alter_column('due_hours', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('policy_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_days', sa.Integer(), nullable=False,
                                      server_default='3'))
    # Round up: a deadline of hours becomes at least one day, never none.
    op.execute("UPDATE policy_document SET due_days = (due_hours + 23) / 24")
    with op.batch_alter_table('policy_document', schema=None) as batch_op:
        batch_op.drop_column('due_hours')
        batch_op.alter_column('due_days', server_default=None)
