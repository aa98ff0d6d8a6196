"""Finding customers and what the card page shows: state, balance, tier, answers, history, SMS."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from loyalty_common.phones import InvalidPhone, normalise

from .. import clock, shop
from ..data.db import (
    card_numbers,
    card_replacements,
    cards,
    customer_answers,
    customers,
    devices,
    operations,
    sms_log,
    sms_status_events,
    till_activations,
)
from ..data.db import ledger as ledger_table
from ..errors import NotFound
from ..ledger import entries as ledger
from ..ledger import tiers
from .journal import after, encode_cursor

SEARCH_LIMIT = 50
HISTORY_LIMIT = 100


def _rows(conn: Connection, query) -> list[dict]:
    return [dict(r) for r in conn.execute(query).mappings()]


def search(conn: Connection, text: str, country: str) -> list[dict]:
    """Cards matching a card number (or its start), a phone in any format the shop's country accepts, or a name."""
    text = text.strip()[:100]
    if not text:
        return []
    columns = (cards.c.number, cards.c.state, cards.c.card_type, customers.c.id.label("customer_id"),
               customers.c.name, customers.c.phone)
    listed = select(*columns).select_from(cards.outerjoin(customers, customers.c.id == cards.c.customer_id))
    # By phone or name the customer comes first: an inner join lets the planner start from customers' index
    # instead of walking every card.
    people = select(*columns).select_from(customers.join(cards, cards.c.customer_id == customers.c.id))
    found: dict[str, dict] = {}

    def add(query) -> None:
        for row in _rows(conn, query.limit(SEARCH_LIMIT)):
            found.setdefault(row["number"], row)

    compact = text.replace(" ", "").replace("-", "")
    digits = compact.isascii() and compact.isdigit()  # not "³" or "١": int() and the index know only 0-9
    if digits:
        # The number itself, an extra number (key fob), then numbers starting with what was typed.
        main = conn.execute(select(card_numbers.c.card_number).where(card_numbers.c.number == compact)).scalar()
        add(listed.where(cards.c.number.in_([compact] + ([main] if main else []))))
        add(listed.where(cards.c.number > compact, cards.c.number < compact + ":").order_by(cards.c.number))
    try:
        phone = normalise(text, country)
    except InvalidPhone:
        phone = None
    if phone:
        add(people.where(customers.c.phone == phone).order_by(cards.c.state))
        add(listed.where(cards.c.reserved_phone == phone))
    if not digits and len(text) >= 2:
        add(people.where(_name_matches(conn, text)).order_by(customers.c.name))
    result = list(found.values())[:SEARCH_LIMIT]
    if result:
        balances = dict(conn.execute(
            select(ledger_table.c.card_number, func.sum(ledger_table.c.amount))
            .where(ledger_table.c.card_number.in_([r["number"] for r in result]))
            .group_by(ledger_table.c.card_number)).all())
        for r in result:
            r["balance"] = int(balances.get(r["number"]) or 0)
    return result


def _name_matches(conn: Connection, text: str):
    """Part of a name, in any letter case. PostgreSQL's ILIKE folds every script; SQLite's LIKE folds only
    ASCII and its ILIKE (lower() on both sides) costs three times the scan, so there the text is tried as
    typed, in lower case and capitalised, which is how names are written ("оксана" finds "Оксана")."""
    def pattern(value: str) -> str:
        return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    if conn.dialect.name != "sqlite":
        return customers.c.name.ilike(pattern(text), escape="\\")
    forms = dict.fromkeys((text, text.lower(), text.title()))
    return or_(*(customers.c.name.like(pattern(form), escape="\\") for form in forms))


def _older_numbers(conn: Connection, number: str) -> list[str]:
    """The lost cards this card replaced, newest first (a card replaced twice has two)."""
    chain, current = [], number
    for _ in range(20):
        old = conn.execute(select(card_replacements.c.old_number)
                           .where(card_replacements.c.new_number == current)).scalar()
        if old is None or old in chain:
            break
        chain.append(old)
        current = old
    return chain


def card_page(conn: Connection, number: str, *, history_before: str | None = None) -> dict:
    main = conn.execute(select(cards).where(cards.c.number == number)).mappings().first()
    if main is None:
        alias = conn.execute(select(card_numbers.c.card_number).where(card_numbers.c.number == number)).scalar()
        if alias is None:
            raise NotFound("card_not_found", "this card is not one of ours")
        main = conn.execute(select(cards).where(cards.c.number == alias)).mappings().one()
    card = dict(main)
    number = card["number"]
    customer = None
    if card["customer_id"] is not None:
        customer = conn.execute(select(customers).where(customers.c.id == card["customer_id"])).mappings().first()
        customer = dict(customer) if customer else None
    older = _older_numbers(conn, number)
    replaced_by = conn.execute(select(card_replacements.c.new_number, card_replacements.c.at)
                               .where(card_replacements.c.old_number == number)).mappings().first()
    extra = list(conn.execute(select(card_numbers.c.number).where(card_numbers.c.card_number == number)).scalars())
    numbers = [number, *older, *extra]
    answers = {}
    tier = None
    if customer:
        answers = {r["field"]: r for r in _rows(conn, select(customer_answers).where(
            customer_answers.c.customer_id == customer["id"]))}
        loaded = tiers.load(conn)
        if loaded:
            spent = tiers.turnover(conn, customer_id=customer["id"], card_number=number, at=clock.now(),
                                   days=int(shop.get(conn, "tier_period_days")))
            tier = {"tier": tiers.tier_for(loaded, spent), "turnover": spent}
    query = (select(operations, devices.c.name.label("device_name"))
             .select_from(operations.outerjoin(devices, devices.c.id == operations.c.device_id))
             .where(operations.c.card_number.in_(numbers))
             .order_by(operations.c.at.desc(), operations.c.id.desc()).limit(HISTORY_LIMIT + 1))
    query = query.where(*after(history_before))
    history = _rows(conn, query)
    more = encode_cursor(history[HISTORY_LIMIT - 1]) if len(history) > HISTORY_LIMIT else None
    history = history[:HISTORY_LIMIT]
    moves: dict[str, list[dict]] = {}
    if history:
        for row in _rows(conn, select(ledger_table).where(
                ledger_table.c.operation_id.in_([h["id"] for h in history])).order_by(ledger_table.c.id)):
            moves.setdefault(row["operation_id"], []).append(row)
    for h in history:
        h["ledger"] = moves.get(h["id"], [])
    sms = []
    if customer and customer["phone"]:
        sms = sms_for(conn, customer["phone"])
    pending = conn.execute(select(till_activations.c.id).where(
        till_activations.c.card_number == number, till_activations.c.state == "pending")).scalar()
    return {"card": card, "customer": customer, "balance": ledger.balance(conn, number), "tier": tier,
            "answers": answers, "older": older, "replaced_by": dict(replaced_by) if replaced_by else None,
            "extra": extra, "history": history, "more": more, "sms": sms, "pending_activation": pending,
            "erased": customer is not None and customer["phone"] is None}


def sms_for(conn: Connection, phone: str, limit: int = 50) -> list[dict]:
    rows = _rows(conn, select(sms_log).where(sms_log.c.phone == phone).order_by(sms_log.c.id.desc()).limit(limit))
    return with_events(conn, rows)


def with_events(conn: Connection, rows: list[dict]) -> list[dict]:
    """Each message with its delivery reports, oldest first."""
    ids = [r["gateway_message_id"] for r in rows if r["gateway_message_id"]]
    events: dict[tuple, list[dict]] = {}
    if ids:
        for e in _rows(conn, select(sms_status_events).where(sms_status_events.c.gateway_message_id.in_(ids))
                       .order_by(sms_status_events.c.id)):
            events.setdefault((e["gateway"], e["gateway_message_id"]), []).append(e)
    for r in rows:
        r["events"] = events.get((r["gateway"], r["gateway_message_id"]), [])
    return rows
