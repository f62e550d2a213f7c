"""drills: emergency drills, the teams taking part, attendance, rule lapses told

Revision ID: 0018
Revises: 0025
Create Date: 2026-12-04 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0018'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'drill',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('starts_at', UTCDateTime(), nullable=False),
        sa.Column('duration_minutes', sa.Integer(), nullable=False),
        sa.Column('scenario', sa.Text(), nullable=False),
        sa.Column('scheduled_by', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('reminders_done', sa.Integer(), nullable=False),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('closed_at', UTCDateTime(), nullable=True),
        sa.Column('closed_by', sa.Integer(), nullable=True),
        sa.Column('went_well', sa.Text(), nullable=True),
        sa.Column('problems', sa.Text(), nullable=True),
        sa.Column('measures', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['closed_by'], ['person.id']),
        sa.ForeignKeyConstraint(['scheduled_by'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_drill_starts_at'), 'drill', ['starts_at'])
    op.create_table(
        'drill_team',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('drill_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('group_chat_id', sa.Integer(), nullable=True),
        sa.Column('chat_id', sa.BigInteger(), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=True),
        sa.Column('post_outbox_id', sa.Integer(), nullable=True),
        sa.Column('last_edit_at', UTCDateTime(), nullable=True),
        sa.Column('roll_call_dirty', sa.Boolean(), nullable=False),
        sa.Column('roll_call_edits', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['drill_id'], ['drill.id']),
        sa.ForeignKeyConstraint(['group_chat_id'], ['group_chat.id']),
        sa.ForeignKeyConstraint(['post_outbox_id'], ['outbox.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('drill_id', 'unit_id', name='uq_drill_team_unit'),
    )
    op.create_index(op.f('ix_drill_team_drill_id'), 'drill_team', ['drill_id'])
    op.create_index(op.f('ix_drill_team_unit_id'), 'drill_team', ['unit_id'])
    op.create_table(
        'drill_attendance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('drill_id', sa.Integer(), nullable=False),
        sa.Column('drill_team_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['drill_id'], ['drill.id']),
        sa.ForeignKeyConstraint(['drill_team_id'], ['drill_team.id']),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('drill_id', 'person_id', name='uq_drill_attendance_person'),
    )
    op.create_index(op.f('ix_drill_attendance_drill_id'), 'drill_attendance', ['drill_id'])
    op.create_table(
        'drill_lapse',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('rule', sa.String(length=32), nullable=False),
        sa.Column('due_on', sa.String(length=10), nullable=False),
        sa.Column('told_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('unit_id', 'rule', 'due_on', name='uq_drill_lapse_due'),
    )


def downgrade() -> None:
    op.drop_table('drill_lapse')
    op.drop_index(op.f('ix_drill_attendance_drill_id'), table_name='drill_attendance')
    op.drop_table('drill_attendance')
    op.drop_index(op.f('ix_drill_team_unit_id'), table_name='drill_team')
    op.drop_index(op.f('ix_drill_team_drill_id'), table_name='drill_team')
    op.drop_table('drill_team')
    op.drop_index(op.f('ix_drill_starts_at'), table_name='drill')
    op.drop_table('drill')
