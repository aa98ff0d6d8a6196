"""The server's schema (SQLAlchemy Core) and engine set-up for SQLite and PostgreSQL.

Money and bonuses are integers in minor units (kopecks, tiyn): no float ever touches the ledger.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import TypeVar

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
T = TypeVar("T")

metadata = MetaData()

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

# The chain's shops (store_server/shops.py). Customers, cards and balances are the chain's; a device belongs to one
# shop, and each operation records the shop its device was in. A single-shop installation has one shop.
shops = Table(
    "shops", metadata,
    Column("code", String(32), primary_key=True),  # what operators type: `enrolment-token --shop KYIV1`
    Column("name", String(200), nullable=False),  # the owner's name for it, in lists and reports
    Column("public_names", JSON, nullable=False),  # {language: the name customers see}; missing: the chain's
    Column("timezone", String(64)),  # None: the chain's `timezone` setting
    Column("country", String(2)),  # None: the chain's `country` setting
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A shop's own values for the settings settings_schema marks per-shop; a key not here is the chain's.
shop_settings = Table(
    "shop_settings", metadata,
    Column("shop", String(32), ForeignKey("shops.code"), primary_key=True),
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
    # kind and discount_percent are copied from the card type at issue, so a look-up needs no join.
    Column("card_type", String(32), nullable=False, default="standard"),
    Column("digital", Boolean, nullable=False, default=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("reserved_phone", String(20)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True)),
    Column("range_id", Integer),  # card_ranges.id of the range that issued it; None: issued before ranges were kept
)
Index("ix_cards_customer", cards.c.customer_id)
Index("ix_cards_range_state", cards.c.range_id, cards.c.state)
# One phone <-> one active card, kept by the database itself: a customer (one per phone, customers.phone is
# unique) has at most one active card, whatever two tills or two server processes do at the same moment.
Index("uq_cards_active_customer", cards.c.customer_id, unique=True,
      sqlite_where=cards.c.state == "active", postgresql_where=cards.c.state == "active")

card_types = Table(
    "card_types", metadata,
    Column("name", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # bonus | discount
    Column("discount_percent", Integer, nullable=False, default=0),
)

# A range of pre-printed cards issued at once (back office or `cards issue`): what the printer got, and the
# key its cards' counts by state are read by.
card_ranges = Table(
    "card_ranges", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_type", String(32), nullable=False),
    Column("first", BigInteger, nullable=False),
    Column("last", BigInteger, nullable=False),
    Column("ean13_prefix", String(12)),
    Column("activation_codes", Boolean, nullable=False, default=False),
    Column("issued", Integer, nullable=False),  # cards this range created (numbers that existed are skipped)
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64)),
    # the shop whose card format (card_rules) its numbers and printed barcodes follow; None: the chain's
    Column("shop", String(32)),
)

# Extra numbers a customer's card is also known by (an old plastic card, a key fob): each resolves to one card.
card_numbers = Table(
    "card_numbers", metadata,
    Column("number", String(32), primary_key=True),
    Column("card_number", String(32), ForeignKey("cards.number"), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

customer_answers = Table(
    "customer_answers", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value", String(500), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),  # entrance | cashier
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("shop", String(32), ForeignKey("shops.code"), nullable=False),
)
Index("ix_devices_shop", devices.c.shop)

enrolment_tokens = Table(
    "enrolment_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("role", String(16)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("device_id", String(36)),
    Column("shop", String(32), ForeignKey("shops.code"), nullable=False),  # the shop the device will belong to
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
    # The device's shop when it happened (a device moved later keeps its past where it was); None: the back
    # office or the server itself (expiry), which act for the whole chain.
    Column("shop", String(32)),
)
Index("ix_operations_card", operations.c.card_number)
Index("ix_operations_received", operations.c.received_at)

# One row per applied sale: what a return or a cancel needs to know, kept up to date as they happen.
sales = Table(
    "sales", metadata,
    Column("operation_id", String(36), ForeignKey("operations.id"), primary_key=True),
    Column("card_number", String(32), ForeignKey("cards.number"), nullable=False),
    Column("customer_id", Integer),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("amount", BigInteger, nullable=False),  # the purchase before discount and bonuses
    Column("discount", BigInteger, nullable=False),
    Column("redeemed", BigInteger, nullable=False),  # bonuses spent on this purchase
    Column("paid", BigInteger, nullable=False),  # money: amount - discount - redeemed
    Column("accrued", BigInteger, nullable=False),
    Column("returned_amount", BigInteger, nullable=False, default=0),
    Column("accrual_taken", BigInteger, nullable=False, default=0),
    Column("redeem_refunded", BigInteger, nullable=False, default=0),
    Column("money_refunded", BigInteger, nullable=False, default=0),
    Column("cancelled_by", String(36)),
)
Index("ix_sales_customer_at", sales.c.customer_id, sales.c.at)
# A card look-up asks whether an issued card was ever sold on (takeover.need_of); the till lists a card's sales.
Index("ix_sales_card", sales.c.card_number)

# A unique key on the undone operation makes "cancelled at most once" hold even for two devices at once.
cancellations = Table(
    "cancellations", metadata,
    Column("target_id", String(36), ForeignKey("operations.id"), primary_key=True),
    Column("operation_id", String(36), ForeignKey("operations.id"), nullable=False),
)

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
    Column("card_type", String(32)),  # None: every card type
    Column("weekdays", String(7)),  # ISO weekday digits "12345" (Monday=1); None: every day
    Column("time_from", Integer),  # minutes after local midnight, inclusive; None: all day
    Column("time_to", Integer),  # exclusive; smaller than time_from means the window crosses midnight
    Column("valid_from", Date),
    Column("valid_to", Date),  # inclusive
    Column("shops", JSON),  # shop codes it applies in; None: every shop of the chain
    Column("version", Integer, nullable=False, default=1),  # rule_history's newest version of this rule
    Column("deleted_at", DateTime(timezone=True)),  # deleted rules stay, inactive, so their history reads
)

tiers = Table(
    "tiers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("min_turnover", BigInteger, nullable=False),  # money paid over the rolling period
    Column("rate", Integer, nullable=False, default=0),  # extra accrual in basis points
    Column("shops", JSON),  # shop codes where its extra accrual applies; None: every shop
)

# Every version of every rule and tier as it was saved (created, edited, enabled, disabled, deleted), from
# `at` until the next version: which rules a sale at a given moment was computed with.
rule_history = Table(
    "rule_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item", String(8), nullable=False),  # rule | tier
    Column("item_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("change", String(16), nullable=False),  # created | edited | enabled | disabled | deleted
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64)),
    Column("data", JSON, nullable=False),
    UniqueConstraint("item", "item_id", "version", name="uq_rule_history_version"),
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
    Column("segments", Integer),  # parts billed (store_server/messaging/sms/segments.py); NULL before revision 0008
    # The shop whose customer it was for (the asking device's, or the shop whose own number a text reached);
    # NULL: the chain's own (the back office's, the server's), and every message before revision 0018.
    Column("shop", String(32)),
    UniqueConstraint("gateway", "gateway_message_id", name="uq_sms_gateway_id"),
)

# The owner's own SMS texts (the back office's template editor); a purpose and language without a row here
# sends the built-in text of store_server/messaging/sms/templates.py. Chain level: one text for every shop.
sms_templates = Table(
    "sms_templates", metadata,
    Column("purpose", String(32), primary_key=True),
    Column("lang", String(5), primary_key=True),
    Column("text", String(1000), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# The shop's public name as SMS write it in one language ("Кава" in uk, "Kava" in en); without a row, the
# setting public_name.
public_names = Table(
    "public_names", metadata,
    Column("lang", String(5), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# A customer file uploaded in the back office: checked, then imported by a background job in one transaction.
# The decoded text is kept until the import finished so the job never depends on the browser.
import_jobs = Table(
    "import_jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("encoding", String(16), nullable=False),
    Column("delimiter", String(1), nullable=False),
    Column("data", Text),  # cleared once imported
    Column("rows", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # checked | running | done | failed
    Column("imported", Integer, nullable=False, default=0),
    Column("balances", BigInteger, nullable=False, default=0),  # opening balances booked, minor units
    Column("error", String(1000)),
    Column("finished_at", DateTime(timezone=True)),
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
    # The shop whose own gateway (webhook, number, GSM modem) the text reached; NULL: the chain's, and every
    # text before revision 0018.
    Column("shop", String(32)),
)

# Phones that asked for no more notices or marketing (reply STOP); codes are still sent.
sms_opt_outs = Table(
    "sms_opt_outs", metadata,
    Column("phone", String(20), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)


# Per-device rights an operator set with `store-server devices till-activation` (messaging/till_activation.py).
device_rights = Table(
    "device_rights", metadata,
    Column("device_id", String(36), primary_key=True),
    Column("till_activation", String(8), nullable=False),  # direct | review | off, over the shop setting
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# Registrations made at a till whose right is "review": the card stays issued until an operator decides.
till_activations = Table(
    "till_activations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", String(36), ForeignKey("operations.id"), nullable=False, unique=True),
    Column("card_number", String(32), ForeignKey("cards.number"), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("cashier", String(100)),
    Column("details", JSON, nullable=False),  # consent, marketing, answers, lang as the till sent them
    Column("at", DateTime(timezone=True), nullable=False),  # when the customer gave them at the till
    Column("state", String(16), nullable=False),  # pending | approved | rejected
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(100)),
    Column("reason", String(500)),
)
# One waiting activation per card, even when two tills send one at the same moment.
Index("uq_till_activations_pending_card", till_activations.c.card_number, unique=True,
      sqlite_where=till_activations.c.state == "pending", postgresql_where=till_activations.c.state == "pending")


# Printed receipt numbers: a short number a cashier can type on the till's numpad to find a sale again
# (GET /sales/{receipt}). Its own table so that the sales table keeps its shape.
receipts = Table(
    "receipts", metadata,
    Column("no", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", String(36), nullable=False, unique=True),
)

# The shop's cashiers (store_server/cashiers.py): a PIN (scrypt hash) or a staff badge signs one in at a till.
cashiers = Table(
    "cashiers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("pin_hash", String(200)),
    # The PIN's keyed look-up (cashiers.pin_key): sign-in finds the one row, scrypt then confirms it. None for a
    # cashier whose PIN was set before revision 0016 (filled at their next sign-in).
    Column("pin_key", String(80)),
    Column("badge_hash", String(64), unique=True),
    Column("phone", String(20)),  # the cashier's own phone: the fraud report looks for it on customers' cards
    Column("state", String(16), nullable=False, default="active"),  # active | blocked
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)

Index("uq_cashiers_pin_key", cashiers.c.pin_key, unique=True)  # PINs are unique: a PIN alone names its cashier

# Wrong PINs per till, counted on the server's clock: a till that guessed too often waits.
cashier_login_failures = Table(
    "cashier_login_failures", metadata,
    Column("device_id", String(36), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
)

# Activation codes printed on cards of a range issued with `cards issue --activation-codes`, stored hashed:
# such a card is activated only with its code (or at a till), never by its number alone.
activation_codes = Table(
    "activation_codes", metadata,
    Column("card_number", String(32), ForeignKey("cards.number"), primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

# Transaction notices sent to customers ("Not you? Reply NO"), and the NO replies that flagged them.
transaction_notices = Table(
    "transaction_notices", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation_id", String(36), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("card_number", String(32)),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("flagged_at", DateTime(timezone=True)),  # the customer answered NO
)
Index("ix_transaction_notices_phone", transaction_notices.c.phone, transaction_notices.c.sent_at)

# The back office (store_server/admin): its accounts, their sessions and what they did.
admin_accounts = Table(
    "admin_accounts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # owner | operator
    Column("password_hash", String(200), nullable=False),  # Argon2id, with its parameters
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),  # wrong passwords since the last good one
    Column("locked_until", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("shops", JSON),  # an operator limited to these shop codes; None: every shop
    Column("lang", String(8)),  # the back office's language for this account (en, uk, ...); None: the browser's
)

admin_sessions = Table(
    "admin_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),  # the cookie carries the id, signed; we keep its hash
    Column("account_id", Integer, ForeignKey("admin_accounts.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("address", String(64)),
)
Index("ix_admin_sessions_account", admin_sessions.c.account_id)

# Wrong passwords by address, for throttling a guesser who tries many names.
admin_login_failures = Table(
    "admin_login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("ix_admin_login_failures_address_at", admin_login_failures.c.address, admin_login_failures.c.at)

admin_audit = Table(
    "admin_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("account", String(64), nullable=False),  # the name, kept even if the account goes
    Column("action", String(64), nullable=False),
    Column("target", String(100)),
    Column("details", JSON, nullable=False),
    Column("address", String(64)),
)
Index("ix_admin_audit_at", admin_audit.c.at)

# What each device last said about itself (POST /api/v1/devices/heartbeat).
device_status = Table(
    "device_status", metadata,
    Column("device_id", String(36), primary_key=True),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("app_version", String(32)),
    Column("outbox_pending", Integer),
    Column("outbox_failed", Integer),
    Column("last_sync_error", String(300)),
    Column("last_sync_error_at", DateTime(timezone=True)),
)

# Each device's clock as the server last measured it (store_server/ledger/device_clock.py): device time minus server
# time when a batch arrived, from the X-Device-Time header the kiosk sends.
device_clocks = Table(
    "device_clocks", metadata,
    Column("device_id", String(36), primary_key=True),
    Column("offset_seconds", Integer, nullable=False),
    Column("measured_at", DateTime(timezone=True), nullable=False),
)

# Operations whose device time the server corrected or refused, for the owner (`store-server clock-report`).
clock_flags = Table(
    "clock_flags", metadata,
    Column("operation_id", String(36), primary_key=True),
    Column("device_id", String(36), nullable=False),
    Column("device_at", DateTime(timezone=True), nullable=False),  # what the device said
    Column("used_at", DateTime(timezone=True)),  # what the server used; None: refused
    Column("offset_seconds", Integer),
    Column("reason", String(32), nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
)
Index("ix_clock_flags_flagged", clock_flags.c.flagged_at)

# A lost card replaced by a new one: the old number answers "replaced" and points here.
card_replacements = Table(
    "card_replacements", metadata,
    Column("old_number", String(32), ForeignKey("cards.number"), primary_key=True),
    Column("new_number", String(32), ForeignKey("cards.number"), nullable=False),
    Column("operation_id", String(36), ForeignKey("operations.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("ix_card_replacements_new", card_replacements.c.new_number)

# Rate limits shared by every server process (store_server/api/shared_limits.py): events per subject (a
# device, a client address) in fixed windows (window_no = Unix time // the window's length).
rate_counts = Table(
    "rate_counts", metadata,
    Column("kind", String(32), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("window_no", BigInteger, primary_key=True),
    Column("count", Integer, nullable=False),
)

# The back office's journal pages walk operations by time, newest first (keyset on at, id).
Index("ix_operations_at_id", operations.c.at, operations.c.id)
Index("ix_operations_device_at_id", operations.c.device_id, operations.c.at, operations.c.id)
Index("ix_operations_shop_at_id", operations.c.shop, operations.c.at, operations.c.id)
# Rare kinds the owner filters for (refusals, corrections, replacements, expiry): small partial indexes that
# the plain sales a till sends by the thousand never touch. The journal repeats the index's condition in its
# query so both SQLite and PostgreSQL see the index applies.
Index("ix_operations_rejected", operations.c.device_id, operations.c.at, operations.c.id,
      sqlite_where=operations.c.status == "rejected", postgresql_where=operations.c.status == "rejected")
Index("ix_operations_type_at_id", operations.c.type, operations.c.at, operations.c.id,
      sqlite_where=operations.c.type != "sale", postgresql_where=operations.c.type != "sale")
# The journal and the card page show each operation's ledger rows; apply_cancel reads them by operation too.
Index("ix_ledger_operation", ledger.c.operation_id)
# Partial: nearly every card has no reserved phone, and a planner that counts those NULLs scans the table.
Index("ix_cards_reserved_phone", cards.c.reserved_phone, sqlite_where=cards.c.reserved_phone.is_not(None),
      postgresql_where=cards.c.reserved_phone.is_not(None))
Index("ix_sms_log_sent", sms_log.c.sent_at)
Index("ix_sms_log_phone", sms_log.c.phone)
# Names are searched by any part ("oksana" finds "Oksana Melnyk"): on PostgreSQL a trigram GIN index that
# ILIKE '%...%' uses (pg_trgm, created with the schema); on SQLite a plain index (its LIKE scan is fast enough).
Index("ix_customers_name", customers.c.name, postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"})
# The extension before the tables, for a new PostgreSQL database made from this file (store_server/data/migrate.py).
event.listen(metadata, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))

# Reports and the dashboard (store_server/reporting): every operation folded into one row per shop, shop-local day,
# device, cashier, card type and tier, so a year of a million operations is read as a few thousand rows. A cache
# of the ledger, rebuilt for the days whose operations arrived since the last look (reporting/summary.py); the
# ledger stays the truth and a test compares the two.
report_days = Table(
    "report_days", metadata,
    Column("shop", String(32), primary_key=True),  # "" for operations without a shop (the back office's own)
    Column("day", Date, primary_key=True),  # in the shop's time zone
    Column("device_id", String(36), primary_key=True),
    Column("cashier", String(100), primary_key=True),  # "" when none
    Column("card_type", String(32), primary_key=True),  # "" when the operation has no card
    Column("tier", String(64), primary_key=True),  # the tier the sale was booked in; "" when none
    Column("operations", Integer, nullable=False),  # applied
    Column("rejected", Integer, nullable=False),
    Column("receipts", Integer, nullable=False),  # applied sales
    Column("amount", BigInteger, nullable=False),  # money: purchases before discount and bonuses
    Column("discount", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),  # money the customers paid
    Column("refunds", Integer, nullable=False),  # applied returns and cancels
    Column("money_refund", BigInteger, nullable=False),
    Column("accrued", BigInteger, nullable=False),  # bonuses, positive
    Column("spent", BigInteger, nullable=False),  # bonuses paid with, positive
    Column("returned", BigInteger, nullable=False),  # net bonus change of returns and cancels (signed)
    Column("expired", BigInteger, nullable=False),  # positive
    Column("adjusted", BigInteger, nullable=False),  # corrections (signed)
    Column("other", BigInteger, nullable=False),  # anything else, e.g. transfers between cards (signed)
)
Index("ix_report_days_day", report_days.c.day)

# What the report cache has seen (reporting/summary.py): the time it last folded operations in, the time zones it
# cut days with, and figures too costly to compute on every page (what expires next month).
report_state = Table(
    "report_state", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
# The repeat-visit rate and the visit segments read sales by time with their customer; the dashboard counts new
# customers and activated cards per day.
Index("ix_sales_at_customer", sales.c.at, sales.c.customer_id)
Index("ix_customers_created", customers.c.created_at)
Index("ix_cards_activated", cards.c.activated_at)

# Each receipt of a customer with the times of that customer's four receipts before it (reporting/summary.py
# keeps it with report_days): "customers who came k times in a period" becomes a count of receipts whose
# (k-1)th predecessor is inside the period and kth is not, a range scan instead of a GROUP BY per customer.
report_visits = Table(
    "report_visits", metadata,
    Column("operation_id", String(36), primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("prev1", DateTime(timezone=True)),
    Column("prev2", DateTime(timezone=True)),
    Column("prev3", DateTime(timezone=True)),
    Column("prev4", DateTime(timezone=True)),
)
Index("ix_report_visits_at", report_visits.c.at, report_visits.c.prev1, report_visits.c.prev2,
      report_visits.c.prev3, report_visits.c.prev4)
Index("ix_report_visits_customer", report_visits.c.customer_id)


@dataclass(frozen=True)
class PoolSettings:
    """server.toml [database]: the connection pool of one server process (docs/server.md, "Several processes").

    The device routes run in the thread pool, so up to `pool_size + max_overflow` of them hold a database
    connection at once; more wait up to `pool_timeout_seconds` for one and then answer 503, never hang."""

    pool_size: int = 10
    max_overflow: int = 30
    pool_timeout_seconds: float = 10.0
    # Replaces a per-checkout ping (a round trip on every request): connections older than this are
    # reopened, and one the database dropped (a restart, a failover) is discarded when its error arrives.
    pool_recycle_seconds: int = 1800

    @classmethod
    def from_settings(cls, raw: dict | None) -> PoolSettings:
        from ..errors import DomainError

        raw = dict(raw or {})
        known = {f.name: f for f in fields(cls)}
        unknown = set(raw) - set(known)
        if unknown:
            raise DomainError("bad_database", f"unknown setting(s): {', '.join(sorted(unknown))}; "
                                              f"known: {', '.join(known)}")
        for key, value in raw.items():
            floats = known[key].type == "float"
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    not floats and not isinstance(value, int)):
                raise DomainError("bad_database", f"{key} must be a {'number' if floats else 'whole number'}")
            if value < 0 or (value == 0 and key != "max_overflow") or value > 10_000:
                raise DomainError("bad_database", f"{key} must be between {0 if key == 'max_overflow' else 1} "
                                                  f"and 10000")
        return cls(**raw)


# JSON columns' text, exactly as json.dumps writes it with its defaults, from one C encoder built once
# (json.dumps builds one per call: a fifth of the time for an operation's small payload or result). No
# circular-reference check: what is stored came from JSON or from the ledger's own dicts.
_json_encoder = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def json_text(value: object) -> str:
    return "".join(_json_encoder(value, 0)) if _json_encoder else json.dumps(value)


def make_engine(url: str, pool: PoolSettings | None = None) -> Engine:
    pool = pool or PoolSettings()
    sizes = dict(pool_size=pool.pool_size, max_overflow=pool.max_overflow, pool_timeout=pool.pool_timeout_seconds,
                 pool_recycle=pool.pool_recycle_seconds)
    if url.startswith("sqlite"):
        # timeout = SQLite's busy timeout: a writer waits up to 30 s for the write lock instead of failing.
        # hide_parameters: a traceback or SQL log line shows the statement, never its values (phones, code
        # hashes, tokens); the logs leave the shop in support bundles.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True,
                               json_serializer=json_text,
                               **(sizes if ":memory:" not in url else {}))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs; let SQLAlchemy emit BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # WAL lets card look-ups read while a batch writes; FULL keeps acknowledged operations
            # across a power cut, which is the whole promise of the ledger.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            # A transaction that reads before it writes takes the write lock up front (write_transaction):
            # a deferred one whose snapshot went stale fails at once with "database is locked" instead of
            # waiting for the other writer.
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    # No pool_pre_ping: it costs a round trip per checkout, i.e. per request. A connection the database
    # closed raises a disconnect error on its first statement; SQLAlchemy then invalidates the whole pool
    # and the request fails once (the kiosk retries), and pool_recycle retires connections before a
    # firewall or server idle timeout cuts them silently.
    return create_engine(url, hide_parameters=True, json_serializer=json_text, **sizes)


class HotRead:
    """A read on the device API's hottest path (the card look-up), run on the DBAPI cursor of a pooled connection.

    The SQL is the Core statement's, compiled once per dialect; what this skips is SQLAlchemy's per-call work
    (the Connection, its autobegin, the compiled-cache lookup, the result machinery), which cost about 4x the
    database's own time for a look-up on SQLite. Values come back as the driver gives them: `when` turns a
    stored time into a datetime on both backends."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple] = {}
        # The result's column names, per dialect, from its first run: psycopg builds a Column object per
        # column for cursor.description on every call (19 of them here: 50 us of a 600 us look-up).
        self._names: dict[str, list[str]] = {}

    def _for(self, dialect) -> tuple:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            defaults = {name: bind.value for name, bind in compiled.binds.items()}
            found = (str(compiled), compiled.positiontup if compiled.positional else None, defaults)
            self._compiled[dialect.name] = found
        return found

    def rows(self, dbapi_conn, dialect, params: dict) -> list[dict]:
        sql, order, defaults = self._for(dialect)
        values = {**defaults, **params}
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(sql, tuple(values[name] for name in order) if order is not None else values)
            names = self._names.get(dialect.name) or self._named(dialect, cursor)
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def _named(self, dialect, cursor) -> list[str]:
        names = self._names[dialect.name] = [d[0] for d in cursor.description]
        return names

    async def rows_asyncpg(self, conn, params: dict) -> list[dict]:
        """rows() on an asyncpg connection (store_server/data/async_reads.py): the SQL compiled for asyncpg's
        $1 parameters, prepared on the server by asyncpg's statement cache on its first run there."""
        found = self._compiled.get("asyncpg")
        if found is None:
            from sqlalchemy.dialects.postgresql.asyncpg import dialect

            compiled = self.statement.compile(dialect=dialect())
            found = self._compiled["asyncpg"] = (str(compiled), compiled.positiontup,
                                                 {name: bind.value for name, bind in compiled.binds.items()})
        sql, order, defaults = found
        values = {**defaults, **params}
        return [dict(row) for row in await conn.fetch(sql, *[values[name] for name in order])]

    @staticmethod
    def on_pooled(engine: Engine, read: Callable):
        """read(dbapi_connection) on a pooled connection. One the database has dropped (a restart, a
        failover: pool_pre_ping is off) is thrown away and the read runs once more on a new one."""
        for attempt in (1, 2):
            raw = engine.raw_connection()
            try:
                return read(raw)
            except engine.dialect.loaded_dbapi.Error as e:
                if attempt == 2 or not engine.dialect.is_disconnect(e, raw.dbapi_connection, None):
                    raise
                raw.invalidate(e)
            finally:
                raw.close()  # back to the pool, rolled back (an invalidated one is closed instead)
        raise AssertionError("unreachable")

    @staticmethod
    def when(value):
        """A DateTime column as a datetime: SQLite's driver hands back the stored text."""
        from datetime import datetime

        return datetime.fromisoformat(value) if isinstance(value, str) else value


def create_schema(engine: Engine) -> None:
    """An empty database gets this schema; one at another schema revision is refused (store_server/data/migrate.py).

    Every change to the tables above comes with a new revision in store_server/data/migrations/versions/."""
    from .migrate import ensure_schema

    ensure_schema(engine)


# Concurrency (docs/server.md, "Concurrency"). ------------------------------------------------------------
# One code path for both backends: every transaction that reads, checks and then writes runs in
# `write_transaction` (or `run_write`, which adds the retry), and locks what it checked before reading it:
# `.with_for_update()` (SELECT ... FOR UPDATE) on the card, the sale or the code it will change, `lock_key` for what
# has no row yet (a phone's code limits and bindings). On SQLite both locks compile to nothing, because
# BEGIN IMMEDIATE already holds the one write lock of the database; on PostgreSQL (READ COMMITTED) they are
# the serialisation, and each statement after the lock sees what the previous holder committed.

# Threads of one process queue here for SQLite's write lock in arrival order, rather than polling in
# SQLite's busy handler (which sleeps up to 100 ms between tries). Only speed rests on this: correctness
# comes from BEGIN IMMEDIATE, which also serialises separate processes.
_sqlite_queues: dict[int, threading.RLock] = {}
_queues_guard = threading.Lock()


class InList:
    """A SELECT filtered by one expanding IN list (`bindparam(name, expanding=True)`), its SQL rendered once per
    dialect and list length: SQLAlchemy otherwise renders a placeholder per item on every run (about a tenth of
    a 500-sale batch's time for four such look-ups). Values come back as the driver gives them, so it is for
    plain columns (text, integers, sums); a bounded set of lengths (a batch's) keeps the cache small."""

    def __init__(self, statement, name: str) -> None:
        self.statement = statement
        self.name = name
        self._plans: dict[tuple[str, int], tuple[str, list[int] | None, list[str] | None]] = {}

    def rows(self, conn: Connection, values: list) -> list:
        if not values:
            return []
        key = (conn.dialect.name, len(values))
        plan = self._plans.get(key)
        if plan is None:
            # Rendered with the positions as values, to learn which placeholder takes which item.
            state = self.statement.compile(dialect=conn.dialect).construct_expanded_state(
                {self.name: list(range(len(values)))})
            if state.positiontup is not None:
                plan = (state.statement, [state.parameters[name] for name in state.positiontup], None)
            else:
                plan = (state.statement, None, sorted(state.parameters, key=state.parameters.__getitem__))
            self._plans[key] = plan
        sql, order, names = plan
        params = tuple(values[i] for i in order) if names is None else dict(zip(names, values, strict=True))
        return conn.exec_driver_sql(sql, params).all()


def _queue(engine: Engine) -> threading.RLock | None:
    if engine.dialect.name != "sqlite":
        return None
    with _queues_guard:
        # Re-entrant: a nested write transaction by mistake then fails on the busy timeout instead of hanging.
        return _sqlite_queues.setdefault(id(engine), threading.RLock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that reads and then writes: SQLite's write lock held from BEGIN (waiting for it up to
    the busy timeout, never failing at once); PostgreSQL at READ COMMITTED, with the caller's row and key
    locks. Commits on leaving normally, rolls back on an exception."""
    queue = _queue(engine)
    if queue is not None:
        queue.acquire()
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            yield conn
    finally:
        if queue is not None:
            queue.release()


# PostgreSQL aborts one of two transactions that wait for each other (deadlock_detected) or could not be
# serialised; the whole transaction is then safe to run again, and nothing of it was committed.
RETRYABLE = {"40001", "40P01"}
RETRIES = 5


def retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in RETRYABLE:
        return True
    # SQLite past its busy timeout: a writer held the lock for 30 s; one more wait is still better than a 500.
    return isinstance(exc, DBAPIError) and "database is locked" in str(orig or exc)


def run_write(engine: Engine, work: Callable[[Connection], T], *, attempts: int = RETRIES) -> T:
    """`work(conn)` in a write transaction, run again (a bounded number of times, with a short random
    pause) when the database aborted it as a deadlock victim or a serialisation failure."""
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction(engine) as conn:
                return work(conn)
        except DBAPIError as e:
            if attempt == attempts or not retryable(e):
                raise
            log.info("transaction aborted (%s), running it again (%d of %d)",
                     getattr(e.orig, "sqlstate", None) or "locked", attempt + 1, attempts)
            time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
    raise AssertionError("unreachable")


def lock_key(conn: Connection, *parts: object) -> None:
    """Serialises transactions about one thing that has no row to lock yet (a phone's codes, a phone's
    card): PostgreSQL's transaction-scoped advisory lock on the key; nothing on SQLite (see above)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                     {"key": ":".join(str(p) for p in parts)})


_INSERT_PLANS: dict[tuple, tuple[str, list[int], list[str] | None, list]] = {}


def insert_rows(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT many rows of one shape (values in the order of `columns`) through the driver's executemany.

    The statement is compiled once per table, dialect and set of columns, and each value goes through its
    column type's own bind processor (the conversion SQLAlchemy makes: JSON text, datetimes as SQLite keeps
    them, None as JSON null in a JSON column), a column at a time; a time is converted once per distinct
    value (an operation, its sale and its ledger rows share one). What is skipped is SQLAlchemy building and
    converting a parameter dict per row, a quarter of a 500-sale batch's time (benchmarks/server_ingest.py).
    Every row carries every column it sets: no Python-side column defaults are applied here.
    """
    if not rows:
        return
    dialect = conn.dialect
    key = (table.name, dialect.name, columns)
    plan = _INSERT_PLANS.get(key)
    if plan is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        column_of = {name: bind.key for name, bind in compiled.binds.items()}
        bind_names = list(compiled.positiontup) if dialect.positional else list(compiled.binds)
        if sorted(column_of[name] for name in bind_names) != sorted(columns):
            raise ValueError(f"{table.name}: the compiled INSERT's parameters differ from the rows' columns")
        order = [columns.index(column_of[name]) for name in bind_names]
        processors = [_once_per_value(p) if p is not None and isinstance(table.c[c].type, DateTime) else p
                      for c in columns
                      for p in [table.c[c].type.dialect_impl(dialect).bind_processor(dialect)]]
        plan = _INSERT_PLANS[key] = (str(compiled), order, None if dialect.positional else bind_names, processors)
    sql, order, names, processors = plan
    values = list(zip(*rows, strict=True))
    converted = [values[i] if processors[i] is None else list(map(processors[i], values[i])) for i in order]
    params: list = list(zip(*converted, strict=True))
    if names is not None:
        params = [dict(zip(names, row, strict=True)) for row in params]
    conn.exec_driver_sql(sql, params)


def _once_per_value(process: Callable) -> Callable:
    """A datetime bind processor that remembers its last answers: formatting a time for SQLite costs about
    as much as the rest of its row. Keyed by the value and its tzinfo: equal times with the same tzinfo have
    the same wall-clock fields, which is all the stored text holds."""
    cached = functools.lru_cache(maxsize=2048)(lambda value, _zone: process(value))

    def convert(value):
        return None if value is None else cached(value, value.tzinfo)

    return convert
