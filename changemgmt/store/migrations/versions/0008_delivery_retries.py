"""operators retry failed deliveries: when a delivery was last retried, and how many
attempts it had made before, so that a retry gets a fresh give-up budget while its
attempts keep their numbers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "deliveries", sa.Column("attempts_before_retry", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("deliveries", "attempts_before_retry")
    op.drop_column("deliveries", "retried_at")
