"""quizzes: the daily quiz poll, private quiz sessions, the sent poll's id in the outbox

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('poll_id', sa.String(length=64), nullable=True))
        batch.create_index(batch.f('ix_outbox_poll_id'), ['poll_id'])
    op.create_table(
        'quiz_poll',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('question_id', sa.String(length=40), nullable=False),
        sa.Column('correct_option', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.Column('posted_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('unit_id', 'day', name='uq_quiz_poll_day'),
    )
    op.create_index(op.f('ix_quiz_poll_outbox_id'), 'quiz_poll', ['outbox_id'])
    op.create_table(
        'quiz_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('topic', sa.String(length=40), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('question_ids', sa.Text(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('wrong_ids', sa.Text(), nullable=False),
        sa.Column('correct', sa.Integer(), nullable=False),
        sa.Column('first_correct', sa.Integer(), nullable=False),
        sa.Column('first_total', sa.Integer(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_quiz_session_person_id'), 'quiz_session', ['person_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_quiz_session_person_id'), table_name='quiz_session')
    op.drop_table('quiz_session')
    op.drop_index(op.f('ix_quiz_poll_outbox_id'), table_name='quiz_poll')
    op.drop_table('quiz_poll')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index(batch.f('ix_outbox_poll_id'))
        batch.drop_column('poll_id')
