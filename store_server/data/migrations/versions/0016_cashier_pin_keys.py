"""cashier pin keys

Revision ID: 0016_cashier_pin_keys
Revises: 0015_sales_by_card
Created: 2026-11-26 18:26:37.656643

Each cashier gets pin_key, the PIN's keyed look-up (store_server/cashiers.py). The upgrade cannot fill it: the
PINs are stored only as scrypt hashes. A cashier's key is written at their next successful sign-in (until
then the sign-in tries their hash as before) or when their PIN is reset.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_cashier_pin_keys'
down_revision = '0015_sales_by_card'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cashiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pin_key', sa.String(length=80), nullable=True))
        batch_op.create_index('uq_cashiers_pin_key', ['pin_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('cashiers', schema=None) as batch_op:
        batch_op.drop_index('uq_cashiers_pin_key')
        batch_op.drop_column('pin_key')

