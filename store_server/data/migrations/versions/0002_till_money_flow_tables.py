"""Till money flow (issue 13): receipt numbers, cashiers and their per-till lockout, printed activation codes,
transaction notices and their NO replies.

Revision ID: 0002_till_money_flow_tables
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_till_money_flow_tables"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cashier_login_failures",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_table(
        "cashiers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("badge_hash", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("badge_hash"),
    )
    op.create_table(
        "receipts",
        sa.Column("no", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("no"),
        sa.UniqueConstraint("operation_id"),
    )
    op.create_table(
        "transaction_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("card_number", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transaction_notices_phone", "transaction_notices", ["phone", "sent_at"], unique=False)
    op.create_table(
        "activation_codes",
        sa.Column("card_number", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["card_number"], ["cards.number"]),
        sa.PrimaryKeyConstraint("card_number"),
    )


def downgrade() -> None:
    op.drop_table("activation_codes")
    op.drop_index("ix_transaction_notices_phone", table_name="transaction_notices")
    op.drop_table("transaction_notices")
    op.drop_table("receipts")
    op.drop_table("cashiers")
    op.drop_table("cashier_login_failures")
