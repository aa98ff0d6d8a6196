"""Binding a phone to a card: one phone <-> one active card.

Shared by a `register` operation that activates at once and by an operator approving a till activation
later, so both bind the same way and refuse the same duplicates.

Two tills may bind at the same moment, in different server processes: `lock` serialises every binding of
the phone (a per-phone key lock, as the phone may have no row yet) and of the card (its row), and the
checks read only after it. The partial unique index uq_cards_active_customer is the database's own
backstop for one phone <-> one active card.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .. import customers as customer_data
from ..data import db
from ..data.db import cards, customers
from ..errors import DomainError


def lock(conn: Connection, card_number: str, phone: str) -> dict:
    """Locks the phone's bindings and the card's row to this transaction; returns the card as it is now.

    Always the phone first, then the card: every binding takes them in this order.
    """
    db.lock_key(conn, "phone", phone)
    row = conn.execute(select(cards).where(cards.c.number == card_number).with_for_update()).mappings().first()
    if row is None:
        raise DomainError("card_not_found", "this card is not one of ours")
    return dict(row)


def check(conn: Connection, card: dict, phone: str) -> dict | None:
    """Refuses a phone that has another active card or a card active on another phone; returns the customer."""
    customer = conn.execute(select(customers).where(customers.c.phone == phone)).mappings().first()
    if customer is not None:
        other = conn.execute(select(cards.c.number).where(
            cards.c.customer_id == customer["id"], cards.c.state == "active", cards.c.number != card["number"]
        )).scalar()
        if other:
            raise DomainError("phone_has_card", "this phone already has another card", other=other)
    if card["state"] == "active" and (customer is None or card["customer_id"] != customer["id"]):
        raise DomainError("card_bound_to_other", "this card is bound to another phone")
    return None if customer is None else dict(customer)


def bind(conn: Connection, card: dict, phone: str, details: dict, *, at: datetime, questionnaire,
         activated_at: datetime | None = None) -> int:
    """Makes `card` active on `phone`, creating the customer with the consent given at `at`.

    `activated_at` differs from `at` when an operator approves later: the customer consented at the till,
    the card became active on approval.
    """
    card = lock(conn, card["number"], phone)  # what another till did a moment ago counts
    if card["state"] == "blocked":
        raise DomainError("card_blocked", "this card is blocked")
    customer = check(conn, card, phone)
    if customer is None:
        customer_id = conn.execute(insert(customers).values(
            phone=phone, created_at=at, consent_at=at if details.get("consent") else None,
            marketing_opt_in=bool(details.get("marketing")),
            marketing_opt_in_at=at if details.get("marketing") else None,
        )).inserted_primary_key[0]
    else:
        customer_id = customer["id"]
    conn.execute(update(cards).where(cards.c.number == card["number"]).values(
        state="active", customer_id=customer_id, activated_at=activated_at or at, reserved_phone=None))
    if details.get("answers") is not None:
        customer_data.save_answers(conn, customer_id, details["answers"], questionnaire, at=at)
    return customer_id
