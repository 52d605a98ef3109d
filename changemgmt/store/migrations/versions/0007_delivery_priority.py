"""delivery priority: a worker takes due deliveries bound to a moment (reminders, starts,
reschedules...) before the `new` notices of a big publication (NoticeKind.priority)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Deliveries planned before this version keep their place: all after, as `new` is.
    op.add_column("deliveries", sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="1"))
    op.execute("UPDATE deliveries SET priority = 0 WHERE notice_id IN (SELECT id FROM notices WHERE kind <> 'new')")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["state", "priority", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"], unique=False)
    op.drop_column("deliveries", "priority")
