"""Delivery status of sent messages: reports posted by providers, or polled from them.

Every report is kept as an event; the message log keeps the latest meaningful status. A late "sent"
never overwrites "delivered" or "failed": providers do not promise to report in order.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from ... import clock
from ...data.db import sms_log, sms_status_events, write_transaction
from .base import GatewayError
from .smsc import STATUS as SMSC_STATUS
from .twilio import STATUS as TWILIO_STATUS

RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 2}

# Eskiz posts SMPP-style states to callback_url.
ESKIZ_STATUS = {"waiting": "queued", "transmtd": "sent", "delivrd": "delivered", "delivered": "delivered",
                "undeliv": "failed", "expired": "failed", "rejectd": "failed", "rejected": "failed",
                "failed": "failed"}


class UnknownMessage(LookupError):
    """A report for a message we have no record of (a stray or forged post)."""


def record_status(conn: Connection, *, gateway: str, message_id: str, status: str, detail: str | None = None) -> str:
    """Stores one report and returns the status the log now shows."""
    if status not in RANK:
        raise ValueError(f"unknown delivery status {status!r}")
    row = conn.execute(select(sms_log.c.id, sms_log.c.status).where(
        sms_log.c.gateway == gateway, sms_log.c.gateway_message_id == message_id)).first()
    if row is None:
        raise UnknownMessage(f"no {gateway} message {message_id}")
    now = clock.now()
    conn.execute(insert(sms_status_events).values(gateway=gateway, gateway_message_id=message_id,
                                                  status=status, detail=(detail or "")[:200] or None, at=now))
    current = row.status if row.status in RANK else "queued"
    if RANK[current] < 2 and RANK[status] >= RANK[current]:
        conn.execute(update(sms_log).where(sms_log.c.id == row.id).values(status=status, status_at=now))
        return status
    return current


def parse_report(provider: str, fields: dict) -> tuple[str, str, str]:
    """(gateway name, message id, status) from a provider's delivery-report post; ValueError if not one."""
    def need(*names: str) -> str:
        for name in names:
            if fields.get(name) not in (None, ""):
                return str(fields[name])
        raise ValueError(f"{provider} report without {' or '.join(names)}")

    if provider == "twilio":
        raw = need("MessageStatus", "SmsStatus").lower()
        return "twilio", need("MessageSid", "SmsSid"), TWILIO_STATUS.get(raw, "sent")
    if provider == "eskiz":
        raw = need("status").lower()
        return "eskiz", need("message_id", "id"), ESKIZ_STATUS.get(raw, "sent")
    if provider == "smsc":
        try:
            code = int(need("status"))
        except ValueError as e:
            raise ValueError("smsc report with a status that is not a number") from e
        return "smsc", need("id"), SMSC_STATUS.get(code, "sent")
    # The generic HTTP gateway: the shop points its provider at this route with these names.
    raw = need("status").lower()
    if raw not in RANK:
        raise ValueError(f"status must be one of {', '.join(RANK)}")
    return need("gateway") if fields.get("gateway") else "generic_http", need("message_id", "id"), raw


def poll(engine: Engine, gateway, *, limit: int = 100) -> int:
    """Asks gateways that can tell (StatusQuery) about messages not yet final; returns how many changed.
    No transaction is held while a provider answers: a slow provider must not hold SQLite's write lock."""
    with engine.connect() as conn:
        rows = conn.execute(select(sms_log.c.gateway, sms_log.c.gateway_message_id, sms_log.c.phone,
                                   sms_log.c.status)
                            .where(sms_log.c.status.in_(("queued", "sent")), sms_log.c.gateway_message_id.is_not(None))
                            .order_by(sms_log.c.sent_at).limit(limit)).all()
    changed = 0
    for row in rows:
        try:
            member = gateway.member(row.gateway) if hasattr(gateway, "member") else gateway
        except KeyError:  # sent through a gateway no longer configured
            continue
        if getattr(member, "name", None) != row.gateway or not hasattr(member, "status"):
            continue
        try:
            status = member.status(row.gateway_message_id, row.phone)
        except GatewayError:
            continue
        with write_transaction(engine) as conn:
            now_shown = record_status(conn, gateway=row.gateway, message_id=row.gateway_message_id, status=status)
        if now_shown != row.status:
            changed += 1
    return changed
