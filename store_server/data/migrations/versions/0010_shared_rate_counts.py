"""shared rate counts

Revision ID: 0010_shared_rate_counts
Revises: 0009_rule_history_card_ranges
Created: 2026-11-26 17:30:56.847088
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_shared_rate_counts'
down_revision = '0009_rule_history_card_ranges'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_counts',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('window_no', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'subject', 'window_no')
    )


def downgrade() -> None:
    op.drop_table('rate_counts')
