"""card range shop

Revision ID: 0017_card_range_shop
Revises: 0016_cashier_pin_keys
Created: 2026-11-27 02:00:00

A range of printed cards may be issued for one shop of the chain (issue 19): card_ranges.shop records it, and the
printer's CSV prints that shop's card format (its Code 128 text prefix, its zero padding). Ranges issued before
are the chain's (NULL), as they were printed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_card_range_shop'
down_revision = '0016_cashier_pin_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('card_ranges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shop', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('card_ranges', schema=None) as batch_op:
        batch_op.drop_column('shop')
