"""incidents and ideas: accident quick reports (事故快报) with their events, and 金点子

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'incident',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=True),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('reporter_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('what', sa.Text(), nullable=False),
        sa.Column('place', sa.String(length=200), nullable=False),
        sa.Column('occurred_at', UTCDateTime(), nullable=False),
        sa.Column('injured', sa.Integer(), nullable=False),
        sa.Column('injury', sa.String(length=16), nullable=False),
        sa.Column('action_taken', sa.Text(), nullable=False),
        sa.Column('photo_file_id', sa.String(length=255), nullable=True),
        sa.Column('photo_unique_id', sa.String(length=128), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reported_at', UTCDateTime(), nullable=False),
        sa.Column('controlled_at', UTCDateTime(), nullable=True),
        sa.Column('controlled_by', sa.Integer(), nullable=True),
        sa.Column('closed_at', UTCDateTime(), nullable=True),
        sa.Column('closed_by', sa.Integer(), nullable=True),
        sa.Column('cause', sa.Text(), nullable=True),
        sa.Column('measures', sa.Text(), nullable=True),
        sa.Column('lessons', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['closed_by'], ['person.id']),
        sa.ForeignKeyConstraint(['controlled_by'], ['person.id']),
        sa.ForeignKeyConstraint(['reporter_id'], ['person.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_incident_unit_occurred', 'incident', ['unit_id', 'occurred_at'])
    op.create_table(
        'incident_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('injured', sa.Integer(), nullable=True),
        sa.Column('injury', sa.String(length=16), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['person.id']),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_incident_event_incident_id'), 'incident_event', ['incident_id'])
    op.create_table(
        'idea',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('proposer_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('photo_file_id', sa.String(length=255), nullable=True),
        sa.Column('photo_unique_id', sa.String(length=128), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reviewing_unit_id', sa.Integer(), nullable=False),
        sa.Column('submitted_at', UTCDateTime(), nullable=False),
        sa.Column('passed_up_at', UTCDateTime(), nullable=True),
        sa.Column('passed_up_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', UTCDateTime(), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['decided_by'], ['person.id']),
        sa.ForeignKeyConstraint(['passed_up_by'], ['person.id']),
        sa.ForeignKeyConstraint(['proposer_id'], ['person.id']),
        sa.ForeignKeyConstraint(['reviewing_unit_id'], ['unit.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_idea_proposer_id'), 'idea', ['proposer_id'])
    op.create_index('ix_idea_unit_submitted', 'idea', ['unit_id', 'submitted_at'])
    op.create_index('ix_idea_unit_decided', 'idea', ['unit_id', 'decided_at'])


def downgrade() -> None:
    op.drop_index('ix_idea_unit_decided', table_name='idea')
    op.drop_index('ix_idea_unit_submitted', table_name='idea')
    op.drop_index(op.f('ix_idea_proposer_id'), table_name='idea')
    op.drop_table('idea')
    op.drop_index(op.f('ix_incident_event_incident_id'), table_name='incident_event')
    op.drop_table('incident_event')
    op.drop_index('ix_incident_unit_occurred', table_name='incident')
    op.drop_table('incident')
