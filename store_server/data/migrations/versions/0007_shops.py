"""A chain of shops: the shops table, per-shop settings, the shop of each device, token and operation, and the
shops a rule, a tier or an operator account is limited to (docs/server.md, "A chain of shops").

An installation from before has one shop: it becomes the shop `main`, named after its `public_name`, with no
time zone or country of its own (it follows the chain's settings, as before). Every device, enrolment token and
operation is assigned to it, so a single shop keeps working unchanged.

Revision ID: 0007_shops
Revises: 0006_one_active_card
Created: 2026-11-26
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007_shops"
down_revision = "0006_one_active_card"
branch_labels = None
depends_on = None

DEFAULT_SHOP = "main"


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "shops",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_names", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "shop_settings",
        sa.Column("shop", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["shop"], ["shops.code"]),
        sa.PrimaryKeyConstraint("shop", "key"),
    )
    settings = sa.table("settings", sa.column("key"), sa.column("value", sa.JSON()))
    devices = sa.table("devices", sa.column("id"), sa.column("shop"))
    tokens = sa.table("enrolment_tokens", sa.column("token_hash"), sa.column("shop"))
    operations = sa.table("operations", sa.column("id"), sa.column("device_id"), sa.column("shop"))
    name = conn.execute(sa.select(settings.c.value).where(settings.c.key == "public_name")).scalar()
    shops = sa.table("shops", sa.column("code"), sa.column("name"), sa.column("public_names", sa.JSON()),
                     sa.column("created_at", sa.DateTime(timezone=True)))
    conn.execute(sa.insert(shops).values(code=DEFAULT_SHOP, name=str(name or "Demo Shop")[:200],
                                         public_names={}, created_at=datetime.now(UTC)))

    for table in ("devices", "enrolment_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("shop", sa.String(length=32), nullable=True))
    conn.execute(sa.update(devices).values(shop=DEFAULT_SHOP))
    conn.execute(sa.update(tokens).values(shop=DEFAULT_SHOP))
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("shop", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_foreign_key("fk_devices_shop", "shops", ["shop"], ["code"])
        batch_op.create_index("ix_devices_shop", ["shop"], unique=False)
    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.alter_column("shop", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_foreign_key("fk_enrolment_tokens_shop", "shops", ["shop"], ["code"])

    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shop", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_operations_shop_at_id", ["shop", "at", "id"], unique=False)
    # What devices did (even ones since deleted) happened in the one shop; the back office's and the server's own
    # operations (expiry, activation decisions) stay the chain's.
    conn.execute(sa.update(operations).where(operations.c.device_id.not_in(("admin", "server")))
                 .values(shop=DEFAULT_SHOP))

    for table in ("rules", "tiers", "admin_accounts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("shops", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("admin_accounts", "tiers", "rules"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("shops")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_shop_at_id")
        batch_op.drop_column("shop")
    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.drop_constraint("fk_enrolment_tokens_shop", type_="foreignkey")
        batch_op.drop_column("shop")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_shop")
        batch_op.drop_constraint("fk_devices_shop", type_="foreignkey")
        batch_op.drop_column("shop")
    op.drop_table("shop_settings")
    op.drop_table("shops")
