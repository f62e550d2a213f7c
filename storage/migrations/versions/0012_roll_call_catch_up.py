"""a briefing's roll call catches up like a document's: dirty flag, edit count, its message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('pre_shift_meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('briefing_outbox_id', sa.Integer(),
                                      sa.ForeignKey('outbox.id',
                                                    name='fk_pre_shift_meeting_briefing_outbox'),
                                      nullable=True))
        batch_op.add_column(sa.Column('roll_call_dirty', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('roll_call_edits', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_index(batch_op.f('ix_pre_shift_meeting_roll_call_dirty'),
                              ['roll_call_dirty'], unique=False)
    with op.batch_alter_table('document_post', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_post_roll_call_dirty'),
                              ['roll_call_dirty'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_post', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_post_roll_call_dirty'))
    with op.batch_alter_table('pre_shift_meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pre_shift_meeting_roll_call_dirty'))
        batch_op.drop_constraint('fk_pre_shift_meeting_briefing_outbox', type_='foreignkey')
        batch_op.drop_column('roll_call_edits')
        batch_op.drop_column('roll_call_dirty')
        batch_op.drop_column('briefing_outbox_id')
