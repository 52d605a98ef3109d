"""feeds and feed rebuilds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:06:18.339101
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feed_rebuilds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed_key', sa.String(length=40), nullable=False),
    sa.Column('gcr_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['gcr_id'], ['gcrs.id'], name=op.f('fk_feed_rebuilds_gcr_id_gcrs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_rebuilds'))
    )
    op.create_table('feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('scope', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_sealed', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_feeds_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feeds')),
    sa.UniqueConstraint('key', name=op.f('uq_feeds_key')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_feeds_token_hash'))
    )
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeds_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeds_customer_id'))

    op.drop_table('feeds')
    op.drop_table('feed_rebuilds')
