"""Card look-ups as devices see them: state, balance, masked phone, recent activity."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import ledger
from .db import cards, customers
from .errors import NotFound
from .phones import mask


def get_card(conn: Connection, number: str) -> dict:
    row = conn.execute(
        select(cards, customers.c.phone).select_from(cards.outerjoin(customers))
        .where(cards.c.number == number)
    ).mappings().first()
    if row is None:
        raise NotFound("card_not_found", "this card is not one of ours")
    return view(conn, row)


def find_by_phone(conn: Connection, phone: str) -> dict:
    row = conn.execute(
        select(cards, customers.c.phone).select_from(cards.join(customers))
        .where(customers.c.phone == phone, cards.c.state == "active")
    ).mappings().first()
    if row is None:
        raise NotFound("customer_not_found", "no active card for this phone")
    return view(conn, row)


def view(conn: Connection, row) -> dict:
    return {
        "number": row["number"],
        "state": row["state"],
        "kind": row["kind"],
        "discount_percent": row["discount_percent"],
        "digital": row["digital"],
        "phone_masked": mask(row["phone"]),
        "balance": ledger.balance(conn, row["number"]),
        "history": [
            {"kind": h["kind"], "amount": h["amount"], "at": h["at"].isoformat()}
            for h in ledger.history(conn, row["number"], limit=5)
        ],
    }
