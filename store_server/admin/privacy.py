"""A customer's personal data: everything we hold about them as JSON, and erasing it on request.

Erasing removes the name, phone, answers, consents and every place the phone was written (message log,
codes, activation requests, operation payloads); the card, its operations and the ledger stay, anonymous,
so the shop's books still add up. The card is blocked: nobody can use it any more.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import (
    cards,
    customer_answers,
    customers,
    inbound_sms,
    ledger,
    operations,
    otp_challenges,
    sms_log,
    sms_opt_outs,
    till_activations,
    verification_tokens,
)
from ..errors import DomainError

ERASED = "erased"


def _plain(value):
    if hasattr(value, "isoformat"):
        return clock.aware(value).isoformat() if hasattr(value, "tzinfo") else value.isoformat()
    return value


def _dicts(conn: Connection, query) -> list[dict]:
    return [{k: _plain(v) for k, v in r.items()} for r in conn.execute(query).mappings()]


def export(conn: Connection, customer_id: int) -> dict:
    customer = _dicts(conn, select(customers).where(customers.c.id == customer_id))
    if not customer:
        raise DomainError("customer_not_found", "no such customer")
    numbers = list(conn.execute(select(cards.c.number).where(cards.c.customer_id == customer_id)).scalars())
    phone = customer[0]["phone"]
    return {
        "exported_at": clock.now().isoformat(),
        "customer": customer[0],
        "answers": _dicts(conn, select(customer_answers.c.field, customer_answers.c.value,
                                       customer_answers.c.answered_at)
                          .where(customer_answers.c.customer_id == customer_id)),
        "cards": _dicts(conn, select(cards).where(cards.c.customer_id == customer_id)),
        "operations": _dicts(conn, select(operations.c.id, operations.c.type, operations.c.at,
                                          operations.c.card_number, operations.c.status, operations.c.payload,
                                          operations.c.result)
                             .where(operations.c.card_number.in_(numbers)).order_by(operations.c.at)),
        "ledger": _dicts(conn, select(ledger.c.card_number, ledger.c.kind, ledger.c.amount, ledger.c.at)
                         .where(ledger.c.card_number.in_(numbers)).order_by(ledger.c.id)),
        "sms": _dicts(conn, select(sms_log.c.sent_at, sms_log.c.purpose, sms_log.c.status, sms_log.c.gateway)
                      .where(sms_log.c.phone == phone)) if phone else [],
    }


def erase(conn: Connection, customer_id: int) -> dict:
    row = conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().first()
    if row is None:
        raise DomainError("customer_not_found", "no such customer")
    phone = row["phone"]
    numbers = list(conn.execute(select(cards.c.number).where(cards.c.customer_id == customer_id)).scalars())
    conn.execute(delete(customer_answers).where(customer_answers.c.customer_id == customer_id))
    conn.execute(update(customers).where(customers.c.id == customer_id).values(
        phone=None, name=None, consent_at=None, marketing_opt_in=False, marketing_opt_in_at=None))
    conn.execute(update(cards).where(cards.c.customer_id == customer_id, cards.c.state == "active")
                 .values(state="blocked"))
    # Registration payloads carry the phone and the answers: keep the operation, drop what identifies.
    for op_id, payload in conn.execute(select(operations.c.id, operations.c.payload).where(
            operations.c.card_number.in_(numbers))).all():
        if isinstance(payload, dict) and ({"phone", "answers", "name"} & set(payload)):
            kept = {k: v for k, v in payload.items() if k not in ("phone", "answers", "name")}
            conn.execute(update(operations).where(operations.c.id == op_id).values(payload=kept))
    if phone:
        conn.execute(update(sms_log).where(sms_log.c.phone == phone).values(phone=ERASED))
        conn.execute(update(inbound_sms).where(inbound_sms.c.phone == phone).values(phone=ERASED, text=""))
        conn.execute(update(till_activations).where(till_activations.c.phone == phone).values(phone=ERASED))
        conn.execute(delete(verification_tokens).where(verification_tokens.c.phone == phone))
        conn.execute(update(otp_challenges).where(otp_challenges.c.phone == phone).values(phone=ERASED))
        conn.execute(delete(sms_opt_outs).where(sms_opt_outs.c.phone == phone))
    # sales keep their customer_id: it is now a number with nothing behind it.
    return {"cards": numbers}
