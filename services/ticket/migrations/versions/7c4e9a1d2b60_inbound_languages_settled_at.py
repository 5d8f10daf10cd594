"""inbound languages: settled_at, so a late detection corrects a message announced undetermined

Revision ID: 7c4e9a1d2b60
Revises: 2b1c3fa62f87
Create Date: 2026-11-24 08:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '7c4e9a1d2b60'
down_revision = '2b1c3fa62f87'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbound_languages', sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('inbound_languages', 'settled_at')
