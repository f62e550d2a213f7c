"""several bot tokens: which of the bots speaks in each group, and reaches each person

``group_chat.bot_id`` is the Telegram id of the bot that posts in the group (the one
that was added to it); ``person.bot_id`` the bot the person started, the one their
private notices go through. Empty means the main bot (``TELEGRAM_BOT_TOKEN``), so
every existing row keeps being served as before.

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-04 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('group_chat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bot_id', sa.BigInteger(), nullable=True))
        # The least-loaded count groups active groups per bot.
        batch_op.create_index('ix_group_chat_bot_id', ['bot_id', 'active'])
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bot_id', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('bot_id')
    with op.batch_alter_table('group_chat', schema=None) as batch_op:
        batch_op.drop_index('ix_group_chat_bot_id')
        batch_op.drop_column('bot_id')
