"""gcr time zone: the zone a GCR's window times written without an offset are read in,
kept so that an update reads them as the GCR's creation did (NULL: offsets required)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite 3.35 and later drop a column in place): a
# batch operation would copy and drop `gcrs`, which the tables referring to it forbid.
def upgrade() -> None:
    op.add_column('gcrs', sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('gcrs', 'time_zone')
