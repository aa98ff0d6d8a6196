"""sms shop

Revision ID: 0018_sms_shop
Revises: 0017_card_range_shop
Created: 2026-11-27 04:00:00

Which shop of the chain a message was for (issue 19): inbound_sms.shop is the shop whose own gateway (its
webhook secret, its number, its GSM modem) a customer's text reached, sms_log.shop the shop whose customer a
sent message was for. The back office's SMS page filters both by shop, and an operator limited to some shops
sees only theirs. Messages logged before are the chain's (NULL): which shop they were for was not recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_sms_shop'
down_revision = '0017_card_range_shop'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shop', sa.String(length=32), nullable=True))
    with op.batch_alter_table('sms_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shop', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sms_log', schema=None) as batch_op:
        batch_op.drop_column('shop')
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.drop_column('shop')
