"""Indexes the back office's pages need at a million operations (benchmarks/admin_pages.py): ledger rows by
operation, reserved phones, and the journal filtered by device, by refusals and by the rarer operation types in
(at, id) order.

Revision ID: 0004_admin_indexes
Revises: 0003_back_office
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_admin_indexes"
down_revision = "0003_back_office"
branch_labels = None
depends_on = None

REJECTED = sa.text("status = 'rejected'")
RARE_TYPES = sa.text("type != 'sale'")
RESERVED = sa.text("reserved_phone IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("ix_cards_reserved_phone", ["reserved_phone"], unique=False,
                              sqlite_where=RESERVED, postgresql_where=RESERVED)

    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_operation", ["operation_id"], unique=False)

    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_device_at")
        batch_op.create_index("ix_operations_device_at_id", ["device_id", "at", "id"], unique=False)
        batch_op.create_index("ix_operations_rejected", ["device_id", "at", "id"], unique=False,
                              sqlite_where=REJECTED, postgresql_where=REJECTED)
        batch_op.create_index("ix_operations_type_at_id", ["type", "at", "id"], unique=False,
                              sqlite_where=RARE_TYPES, postgresql_where=RARE_TYPES)



def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_type_at_id")
        batch_op.drop_index("ix_operations_rejected")
        batch_op.drop_index("ix_operations_device_at_id")
        batch_op.create_index("ix_operations_device_at", ["device_id", "at"], unique=False)

    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_operation")

    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cards_reserved_phone")

