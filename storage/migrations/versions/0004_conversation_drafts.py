"""conversation drafts: report drafts become every conversation's drafts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 05:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keep the rows: a report in progress survives the upgrade.
    op.rename_table('hazard_draft', 'conversation_draft')
    with op.batch_alter_table('conversation_draft', schema=None) as batch_op:
        batch_op.drop_index('ix_hazard_draft_updated_at')
        batch_op.create_index('ix_conversation_draft_updated_at', ['updated_at'], unique=False)
        batch_op.drop_constraint('uq_hazard_draft', type_='unique')
        batch_op.create_unique_constraint('uq_conversation_draft', ['chat_id', 'person_id'])


def downgrade() -> None:
    with op.batch_alter_table('conversation_draft', schema=None) as batch_op:
        batch_op.drop_constraint('uq_conversation_draft', type_='unique')
        batch_op.create_unique_constraint('uq_hazard_draft', ['chat_id', 'person_id'])
        batch_op.drop_index('ix_conversation_draft_updated_at')
        batch_op.create_index('ix_hazard_draft_updated_at', ['updated_at'], unique=False)
    op.rename_table('conversation_draft', 'hazard_draft')
