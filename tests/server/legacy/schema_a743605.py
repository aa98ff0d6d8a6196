"""The store server's schema as release a743605 (23 Nov 2026) left it: before card types, extra card numbers,
customer answers, sales, cancellations, tiers, rule windows and till activations.

Recorded verbatim from that release's store_server/data/db.py (engine set-up left out), so the migration test can
make the database an earlier release left on a shop's SD card and upgrade it. Never edit it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(20), nullable=True, unique=True),
    Column("name", String(200)),
    Column("consent_at", DateTime(timezone=True)),
    Column("marketing_opt_in", Boolean, nullable=False, default=False),
    Column("marketing_opt_in_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

cards = Table(
    "cards", metadata,
    Column("number", String(32), primary_key=True),
    # issued (pre-printed, anonymous) -> active (bound to a customer) -> blocked
    Column("state", String(16), nullable=False, default="issued"),
    Column("kind", String(16), nullable=False, default="bonus"),  # bonus | discount
    Column("discount_percent", Integer, nullable=False, default=0),
    Column("digital", Boolean, nullable=False, default=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("reserved_phone", String(20)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True)),
)
Index("ix_cards_customer", cards.c.customer_id)

devices = Table(
    "devices", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),  # entrance | cashier
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

enrolment_tokens = Table(
    "enrolment_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("role", String(16)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("device_id", String(36)),
)

operations = Table(
    "operations", metadata,
    Column("id", String(36), primary_key=True),  # the device's idempotency key, never reused
    Column("device_id", String(36), nullable=False),
    Column("type", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),  # when it happened on the device
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("cashier", String(100)),
    Column("card_number", String(32)),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # applied | rejected
    Column("error", String(64)),
    Column("result", JSON),
)
Index("ix_operations_card", operations.c.card_number)

ledger = Table(
    "ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_number", String(32), ForeignKey("cards.number"), nullable=False),
    Column("operation_id", String(36), ForeignKey("operations.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # accrual | redemption | reversal
    Column("amount", BigInteger, nullable=False),  # signed, minor units of bonus
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("ix_ledger_card", ledger.c.card_number)

rules = Table(
    "rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False, default="percent"),  # percent | fixed
    Column("value", Integer, nullable=False),  # percent in basis points, or fixed minor units
    Column("priority", Integer, nullable=False, default=10),
    Column("combine", Boolean, nullable=False, default=True),
    Column("active", Boolean, nullable=False, default=True),
)

otp_challenges = Table(
    "otp_challenges", metadata,
    Column("id", String(36), primary_key=True),
    Column("phone", String(20), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("card_number", String(32)),
    Column("amount", BigInteger),
    Column("device_id", String(36), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("verified_at", DateTime(timezone=True)),
)
Index("ix_otp_phone_created", otp_challenges.c.phone, otp_challenges.c.created_at)
Index("ix_otp_device_created", otp_challenges.c.device_id, otp_challenges.c.created_at)

verification_tokens = Table(
    "verification_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("challenge_id", String(36), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("card_number", String(32)),
    Column("amount", BigInteger),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_by", String(36)),  # operation id that consumed it
)

sms_log = Table(
    "sms_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(20), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("gateway", String(32)),
    Column("gateway_message_id", String(100)),
    Column("status", String(16), nullable=False),
    Column("error", String(200)),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("challenge_id", String(36)),  # the code this SMS carried, if any
    Column("status_at", DateTime(timezone=True)),  # last delivery report
    UniqueConstraint("gateway", "gateway_message_id", name="uq_sms_gateway_id"),
)

# Delivery reports as they arrived (a provider may report queued -> sent -> delivered).
sms_status_events = Table(
    "sms_status_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("gateway", String(32), nullable=False),
    Column("gateway_message_id", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", String(200)),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("ix_sms_status_msg", sms_status_events.c.gateway, sms_status_events.c.gateway_message_id)

# Messages customers sent to the shop (activation by card number, STOP), with what the server did.
inbound_sms = Table(
    "inbound_sms", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(20), nullable=False),
    Column("text", String(1000), nullable=False),
    Column("gateway", String(32)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("card_number", String(32)),
)

# Phones that asked for no more notices or marketing (reply STOP); codes are still sent.
sms_opt_outs = Table(
    "sms_opt_outs", metadata,
    Column("phone", String(20), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

