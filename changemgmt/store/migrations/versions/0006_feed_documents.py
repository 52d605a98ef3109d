"""feed documents: each feed's bytes, ETag and Last-Modified, when FEED_STORE=database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09 02:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feed_documents',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('feed_id', sa.Integer(), nullable=False),
        sa.Column('etag', sa.String(length=64), nullable=False),
        sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('token_at', sa.JSON(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], name=op.f('fk_feed_documents_feed_id_feeds')),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_feed_documents')),
    )
    op.create_index(op.f('ix_feed_documents_feed_id'), 'feed_documents', ['feed_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_feed_documents_feed_id'), table_name='feed_documents')
    op.drop_table('feed_documents')
