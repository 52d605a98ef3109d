"""processes and clock jobs: each running process with its heartbeat, and the last run
of each clock job

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 02:00:00.000000
"""
from alembic import op
import sqlalchemy as sa



revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'processes',
        sa.Column('id', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('current_job', sa.String(length=100), nullable=True),
        sa.Column('leader', sa.Boolean(), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_processes')),
    )
    op.create_index(op.f('ix_processes_beat_at'), 'processes', ['beat_at'], unique=False)
    op.create_table(
        'clock_jobs',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_ok', sa.Boolean(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_duration_ms', sa.Integer(), nullable=True),
        sa.Column('last_process_id', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clock_jobs')),
    )


def downgrade() -> None:
    op.drop_table('clock_jobs')
    op.drop_index(op.f('ix_processes_beat_at'), table_name='processes')
    op.drop_table('processes')
