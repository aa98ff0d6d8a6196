"""Card takeover: who may activate an issued card that is worth something.

Card numbers are sequential and printed, so knowing one proves nothing. An issued card that already holds
bonuses or has any history (it was used at a till before its owner registered it) is activated only

- at a cashier till, with the card in hand (every card), or
- with the activation code printed on the card, for ranges issued with `cards issue --activation-codes`:
  typed at the entrance kiosk (`register` payload `activation_code`) or texted with the number
  ("10001 12345678"). Such a card needs its code even while it is still empty.

A card that never moved and has no code activates as before, by number: there is nothing on it to take.
Codes are 8 digits, stored as SHA-256 of card number and code (the number salts each one); a code works once.
"""

from __future__ import annotations

import csv
import os
import secrets
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from .. import clock
from ..data.db import activation_codes, cards, ledger, sales
from ..errors import DomainError
from ..security import hash_secret, same

CODE_DIGITS = 8


def _hash(card_number: str, code: str) -> str:
    return hash_secret(f"{card_number}:{code.strip()}")


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def generate(conn: Connection, numbers: list[str]) -> list[tuple[str, str]]:
    """New codes for the issued cards among `numbers` (replacing earlier ones: a re-print); (number, code)."""
    issued: list[str] = []
    for i in range(0, len(numbers), 500):
        issued += conn.execute(select(cards.c.number).where(cards.c.number.in_(numbers[i:i + 500]),
                                                            cards.c.state == "issued")).scalars().all()
    still = set(issued)
    pairs = [(number, new_code()) for number in numbers if number in still]
    for i in range(0, len(pairs), 500):
        chunk = pairs[i:i + 500]
        conn.execute(delete(activation_codes).where(activation_codes.c.card_number.in_([n for n, _ in chunk])))
        conn.execute(insert(activation_codes), [{"card_number": n, "code_hash": _hash(n, c)} for n, c in chunk])
    return pairs


def write_csv(path: Path, pairs: list[tuple[str, str]]) -> None:
    """The printer's file: card number and its code. Readable by its owner only; delete it after printing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["card_number", "activation_code"])
        out.writerows(pairs)


def _code_row(conn: Connection, number: str):
    return conn.execute(select(activation_codes).where(activation_codes.c.card_number == number)).mappings().first()


def has_value(conn: Connection, number: str) -> bool:
    """Bonuses on it, or anything done with it: a card someone has been using."""
    if conn.execute(select(ledger.c.id).where(ledger.c.card_number == number).limit(1)).first():
        return True
    # A sale on a discount card moves no bonuses but is history all the same.
    return conn.execute(select(sales.c.operation_id).where(sales.c.card_number == number).limit(1)).first() is not None


def needs(conn: Connection, card: dict) -> str | None:
    """What activating this card takes besides a phone: None, "code" or "till"."""
    if card["state"] != "issued":
        return None
    row = _code_row(conn, card["number"])
    if row is not None and row["used_at"] is None:
        return "code"
    return "till" if has_value(conn, card["number"]) else None


def need_of(state: str, *, code_unused: bool, used: bool) -> str | None:
    """The rule of `needs` on facts already read (the card look-up reads them in its one statement)."""
    if state != "issued":
        return None
    if code_unused:
        return "code"
    return "till" if used else None


def check(conn: Connection, card: dict, *, at_till: bool, code: str | None) -> None:
    """Refuses an activation the card's protection does not allow; consumes a right code."""
    need = needs(conn, card)
    if need is None or at_till:
        return
    if need == "code":
        row = _code_row(conn, card["number"])
        if code and same(_hash(card["number"], str(code)), row["code_hash"]):
            conn.execute(update(activation_codes).where(activation_codes.c.card_number == card["number"])
                         .values(used_at=clock.now()))
            return
        raise DomainError("activation_code_required" if not code else "activation_code_wrong",
                          "this card is activated with the code printed on it, or at the till with the card")
    raise DomainError("card_needs_till", "this card already holds bonuses or was used: activate it at the till, "
                                         "with the card in hand")


def code_in(text: str, card_number: str) -> str | None:
    """The activation code in an SMS such as "10001 12345678": a run of digits other than the card number."""
    import re

    for match in re.finditer(r"\d+", text):
        digits = match.group()
        if digits != card_number and len(digits) == CODE_DIGITS:
            return digits
    return None
