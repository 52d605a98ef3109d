"""users, access grants and sign-in attempts (the web UI and customer portal); each
customer's account lead

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name, size in (("lead_name", 200), ("lead_email", 254), ("lead_phone", 50)):
        op.add_column("customers", sa.Column(name, sa.String(size), nullable=False, server_default=""))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("default_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["default_enterprise_id"], ["customers.id"], name="fk_users_default_enterprise_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "access_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(12), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_access_grants_user_id_users"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_access_grants_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_access_grants"),
        sa.UniqueConstraint("user_id", "customer_id", name="uq_access_grants_user_id_customer_id"),
    )
    op.create_index("ix_access_grants_user_id", "access_grants", ["user_id"])
    op.create_index("ix_access_grants_customer_id", "access_grants", ["customer_id"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_attempts"),
    )
    op.create_index("ix_sign_in_attempts_email", "sign_in_attempts", ["email", "at"])
    op.create_index("ix_sign_in_attempts_address", "sign_in_attempts", ["address", "at"])


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
    op.drop_table("access_grants")
    op.drop_table("users")
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35 and later have it): a batch
    # operation would copy and drop `customers`, which the other tables' foreign keys refuse.
    for name in ("lead_phone", "lead_email", "lead_name"):
        op.execute(f"ALTER TABLE customers DROP COLUMN {name}")
