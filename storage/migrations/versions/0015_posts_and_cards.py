"""posts (岗位) and the risk-card briefing state of each person

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('post', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('briefing_reason', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('briefing_since', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('briefed_at', UTCDateTime(), nullable=True))
    op.create_index('ix_person_briefing_reason', 'person', ['briefing_reason'])


def downgrade() -> None:
    op.drop_index('ix_person_briefing_reason', table_name='person')
    with op.batch_alter_table('person') as batch:
        batch.drop_column('briefed_at')
        batch.drop_column('briefing_since')
        batch.drop_column('briefing_reason')
        batch.drop_column('post')
