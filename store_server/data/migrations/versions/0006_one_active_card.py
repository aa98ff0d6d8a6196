"""One phone <-> one active card kept by the database: a partial unique index on cards.customer_id where the
card is active (docs/server.md, "Concurrency").

Before it, two tills binding one known phone at the same moment could leave its customer with two active cards.
Such a customer keeps the card activated last; the others are blocked (their bonuses stay on them, the back
office can move them), and the upgrade says which.

Revision ID: 0006_one_active_card
Revises: 0005_device_clocks
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_one_active_card"
down_revision = "0005_device_clocks"
branch_labels = None
depends_on = None

ACTIVE = sa.text("state = 'active'")


def upgrade() -> None:
    conn = op.get_bind()
    cards = sa.table("cards", sa.column("number"), sa.column("state"), sa.column("customer_id"),
                     sa.column("activated_at"))
    doubled = conn.execute(sa.select(cards.c.customer_id).where(cards.c.state == "active")
                           .group_by(cards.c.customer_id).having(sa.func.count() > 1)).scalars().all()
    for customer_id in doubled:
        numbers = conn.execute(sa.select(cards.c.number).where(
            cards.c.customer_id == customer_id, cards.c.state == "active",
        ).order_by(cards.c.activated_at.desc(), cards.c.number.desc())).scalars().all()
        conn.execute(sa.update(cards).where(cards.c.number.in_(numbers[1:])).values(state="blocked"))
        print(f"customer {customer_id} had {len(numbers)} active cards: {numbers[0]} stays active, "
              f"{', '.join(numbers[1:])} blocked")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("uq_cards_active_customer", ["customer_id"], unique=True, sqlite_where=ACTIVE,
                              postgresql_where=ACTIVE)


def downgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("uq_cards_active_customer", sqlite_where=ACTIVE, postgresql_where=ACTIVE)
