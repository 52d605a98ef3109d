"""blackouts (freeze periods), webhook receipts (signed requests taken, to refuse a
replay), and the time of the provider event that set each recipient's state (events are
applied in the order they happened)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blackouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_blackouts_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blackouts")),
    )
    op.create_index(op.f("ix_blackouts_customer_id"), "blackouts", ["customer_id"], unique=False)
    op.create_index(op.f("ix_blackouts_starts_at"), "blackouts", ["starts_at"], unique=False)
    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipts")),
        sa.UniqueConstraint("signature_hash", name=op.f("uq_webhook_receipts_signature_hash")),
    )
    op.create_index(op.f("ix_webhook_receipts_signed_at"), "webhook_receipts", ["signed_at"], unique=False)
    op.add_column("recipients", sa.Column("event_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("event_at")
    op.drop_index(op.f("ix_webhook_receipts_signed_at"), table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
    op.drop_index(op.f("ix_blackouts_starts_at"), table_name="blackouts")
    op.drop_index(op.f("ix_blackouts_customer_id"), table_name="blackouts")
    op.drop_table("blackouts")
