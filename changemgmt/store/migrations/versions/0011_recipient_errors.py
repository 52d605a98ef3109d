"""recipient errors: why a recipient failed alone (an address no message can carry, or
one the provider or SMTP server refused), while the notice went to the others

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recipients", sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("recipients", "error")
