"""Cards: look-ups as devices see them, card types, bulk ranges (optionally EAN-13), states, extra numbers."""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import String, bindparam, exists, func, insert, literal_column, select, true, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from loyalty_common.phones import mask

from . import clock
from .data.db import (
    HotRead,
    activation_codes,
    card_numbers,
    card_ranges,
    card_types,
    cards,
    customer_answers,
    customers,
    sales,
    till_activations,
)
from .data.db import ledger as ledger_rows
from .errors import DomainError, NotFound
from .ledger import entries as ledger
from .ledger import takeover

STATES = ("issued", "active", "blocked", "replaced")  # replaced: a lost card, its balance moved to a new one
KINDS = ("bonus", "discount")
MAX_RANGE = 1_000_000


def resolve(conn: Connection, number: str) -> str | None:
    """The card a scanned number means: the card itself or the card an extra number belongs to."""
    if conn.execute(select(cards.c.number).where(cards.c.number == number)).first():
        return number
    return conn.execute(select(card_numbers.c.card_number).where(card_numbers.c.number == number)).scalar()


class _JoinedKeys(FunctionElement):
    """Questionnaire keys joined by newlines, in SQL both backends read. SQLAlchemy's aggregate_strings binds
    its separator as a post-compile parameter, which HotRead's once-compiled SQL cannot carry."""

    type = String()
    inherit_cache = True


@compiles(_JoinedKeys, "sqlite")
def _joined_sqlite(element, compiler, **kw) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, char(10))"


@compiles(_JoinedKeys, "postgresql")
def _joined_postgresql(element, compiler, **kw) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, chr(10))"


# Everything a card look-up shows besides the ledger, in one statement: the card, its phone, a till's
# activation under review (at most one per card, uq_till_activations_pending_card) and what activating an
# issued card would take (takeover.needs: an unused printed code, or history -> the till).
# 'pending' is written into the SQL, not bound: a bound value in a partial index's condition makes SQLite
# prepare the statement again on every run (70 us instead of 12 us per look-up) and keeps PostgreSQL's
# generic plan of a prepared statement off that index.
_PENDING = literal_column("'pending'")
_VIEW = (select(cards, customers.c.phone,
                select(till_activations.c.at).where(till_activations.c.card_number == cards.c.number,
                                                    till_activations.c.state == _PENDING)
                .scalar_subquery().label("pending_at"),
                exists().where(activation_codes.c.card_number == cards.c.number,
                               activation_codes.c.used_at.is_(None)).label("code_unused"),
                exists().where(sales.c.card_number == cards.c.number).label("has_sale"),
                # The questions this customer answered (keys only, by the primary key's index): a card screen
                # offers to add the missing ones (issue 18).
                select(_JoinedKeys(customer_answers.c.field))
                .where(customer_answers.c.customer_id == cards.c.customer_id)
                .scalar_subquery().label("answered"))
         .select_from(cards.outerjoin(customers)))
_CARD_VIEW = _VIEW.where(cards.c.number == bindparam("number"))
_ACTIVE_BY_PHONE = _VIEW.where(customers.c.phone == bindparam("phone"), cards.c.state == "active")
_EXTRA_NUMBER = select(card_numbers.c.card_number).where(card_numbers.c.number == bindparam("number"))


# The device API's look-up in ONE statement (one round trip on PostgreSQL): the card view joined to its five
# latest ledger rows (none: one row of NULLs) with the balance beside them.
_RECENT = (select(ledger_rows.c.id.label("h_id"), ledger_rows.c.kind.label("h_kind"),
                  ledger_rows.c.amount.label("h_amount"), ledger_rows.c.at.label("h_at"))
           .where(ledger_rows.c.card_number == bindparam("number")).order_by(ledger_rows.c.id.desc()).limit(5)
           .subquery("recent"))
_CARD_ROW = _CARD_VIEW.subquery("card")
_BALANCE = (select(func.coalesce(func.sum(ledger_rows.c.amount), 0))
            .where(ledger_rows.c.card_number == bindparam("number")).scalar_subquery())
_HOT_LOOKUP = HotRead(
    select(_CARD_ROW, _RECENT.c.h_kind, _RECENT.c.h_amount, _RECENT.c.h_at, _BALANCE.label("balance"))
    .select_from(_CARD_ROW.outerjoin(_RECENT, true())).order_by(_RECENT.c.h_id.desc()))


def _from_lookup(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    recent = [{"kind": r["h_kind"], "amount": r["h_amount"], "at": r["h_at"]} for r in rows if r["h_kind"]]
    return _view(rows[0], recent, int(rows[0]["balance"]), HotRead.when)


def lookup_own(engine: Engine, number: str) -> dict | None:
    """get_card for a card's own number: the same view from one statement on a pooled DBAPI connection.
    None when `number` is not a card's own number (an extra number, a phone's card QR, an unknown card)."""
    return _from_lookup(HotRead.on_pooled(engine, lambda raw: _HOT_LOOKUP.rows(raw, engine.dialect,
                                                                               {"number": number})))


async def lookup_own_async(reads, number: str) -> dict | None:
    """lookup_own on PostgreSQL from the event loop, on data.async_reads.AsyncReads's connections."""
    return _from_lookup(await reads.rows(_HOT_LOOKUP, {"number": number}))


def lookup(engine: Engine, number: str) -> dict:
    """get_card for the device API: lookup_own, and get_card's path for any other number."""
    card = lookup_own(engine, number)
    if card is not None:
        return card
    from . import digital_card  # imports this module

    with engine.connect() as conn:
        if digital_card.is_token(number) and resolve(conn, number) is None:
            number = digital_card.resolve(conn, number, clock.now())
        return get_card(conn, number)


def get_card(conn: Connection, number: str) -> dict:
    """The card as a device sees it: two indexed statements on one connection (the card, then its ledger)."""
    row = conn.execute(_CARD_VIEW, {"number": number}).mappings().first()
    if row is None:
        main = conn.execute(_EXTRA_NUMBER, {"number": number}).scalar()
        if main is not None:
            return get_card(conn, main)
        raise NotFound("card_not_found", "this card is not one of ours")
    return view(conn, row)


def find_by_phone(conn: Connection, phone: str) -> dict:
    row = conn.execute(_ACTIVE_BY_PHONE, {"phone": phone}).mappings().first()
    if row is None:
        # The cashier who sent an activation under review looks the customer up by phone: the card that
        # waits for that phone answers (the view says it waits), not "no card".
        waiting = conn.execute(select(till_activations.c.card_number).where(
            till_activations.c.phone == phone, till_activations.c.state == "pending")).scalar()
        if waiting is None:
            raise NotFound("customer_not_found", "no active card for this phone")
        return get_card(conn, waiting)
    return view(conn, row)


def own_card(conn: Connection, phone: str) -> dict | None:
    """The card view of the active card bound to `phone`, for its owner who just proved the phone with a code
    (the entrance's "Find my card", a "Join" from a phone that has a card); None when it has none."""
    try:
        card = find_by_phone(conn, phone)
    except NotFound:
        return None
    return card if card["state"] == "active" else None


def view(conn: Connection, row) -> dict:
    """The device's card view from a row of _VIEW."""
    balance, recent = ledger.recent_with_balance(conn, row["number"], limit=5)
    return _view(row, recent, balance, lambda value: value)


def _view(row, recent: list, balance: int, when) -> dict:
    # A till's activation under review: the card is still issued, and the till and kiosk should say why.
    requested = when(row["pending_at"])
    return {
        "number": row["number"],
        "state": row["state"],
        "kind": row["kind"],
        "card_type": row["card_type"],
        "discount_percent": row["discount_percent"],
        "digital": bool(row["digital"]),
        "phone_masked": mask(row["phone"]),
        "balance": balance,
        "activation_pending": requested is not None,
        # What activating this issued card takes besides a phone: null, "code" (printed on it) or "till".
        "activation": takeover.need_of(row["state"], code_unused=bool(row["code_unused"]),
                                       used=bool(recent) or bool(row["has_sale"])),
        "activation_requested_at": _utc(requested) if requested is not None else None,
        # Keys of the questionnaire fields the customer has answered; the values stay on the server.
        "answered": sorted(row["answered"].split("\n")) if row["answered"] else [],
        "history": [{"kind": h["kind"], "amount": h["amount"], "at": _utc(when(h["at"]))} for h in recent],
    }


def _utc(value) -> str:
    # In UTC whichever way it was read: psycopg gives PostgreSQL's session time zone, asyncpg (the look-up's
    # short way) UTC, SQLite no zone. The device's answer is the same bytes on every path and backend.
    return clock.aware(value).astimezone(UTC).isoformat()


def ean13(body: str) -> str:
    """Appends the EAN-13 check digit to 12 digits."""
    if len(body) != 12 or not (body.isascii() and body.isdigit()):
        raise DomainError("bad_ean13", "an EAN-13 body is 12 digits")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def is_ean13(number: str) -> bool:
    return len(number) == 13 and number.isascii() and number.isdigit() and ean13(number[:12]) == number


_TYPE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def create_type(conn: Connection, name: str, kind: str, discount_percent: int = 0) -> None:
    if not _TYPE_NAME.fullmatch(name or ""):
        raise DomainError("bad_card_type_name", "a card type's name has 1 to 32 letters, digits, - or _")
    if kind not in KINDS:
        raise DomainError("bad_card_type", f"kind must be one of {', '.join(KINDS)}")
    if not 0 <= discount_percent <= 100 or (kind == "bonus" and discount_percent):
        raise DomainError("bad_card_type", "a discount card takes 0..100 %, a bonus card no discount")
    if conn.execute(select(card_types.c.name).where(card_types.c.name == name)).first():
        raise DomainError("card_type_exists", f"card type {name!r} exists already")
    conn.execute(insert(card_types).values(name=name, kind=kind, discount_percent=discount_percent))


def get_type(conn: Connection, name: str) -> dict:
    row = conn.execute(select(card_types).where(card_types.c.name == name)).mappings().first()
    if row is None:
        if name == "standard":  # every shop has it, so a fresh database needs no set-up to issue cards
            return {"name": "standard", "kind": "bonus", "discount_percent": 0}
        raise DomainError("card_type_not_found", f"no card type {name!r}; create it first")
    return dict(row)


def range_numbers(first: int, last: int, ean13_prefix: str | None = None, rules=None) -> list[str]:
    """The card numbers of a range as the server keeps them. With the shop's card rules (card_formats) each
    number is checked as printed, zero-padded to the rules' min_length ("0000123"), and kept as the kiosk will
    send it (leading zeros kept or stripped); DomainError `card_format` names the first that does not fit.
    Rules with a Luhn check digit: first..last count the numbers without it, and each gets its digit."""
    if first < 0 or last < first:
        raise DomainError("bad_range", "the range must run from a smaller to a larger number")
    if last - first + 1 > MAX_RANGE:
        raise DomainError("bad_range", f"at most {MAX_RANGE} cards at once")
    if ean13_prefix is None:
        numbers = [str(n) for n in range(first, last + 1)]
    else:
        width = 12 - len(ean13_prefix)
        if not (ean13_prefix.isascii() and ean13_prefix.isdigit()) or width < len(str(last)):
            raise DomainError("bad_range", "the EAN-13 prefix and the numbers must fit in 12 digits")
        numbers = [ean13(ean13_prefix + str(n).zfill(width)) for n in range(first, last + 1)]
    if rules is None:
        return numbers
    from loyalty_common.cards import luhn_digit

    from .card_formats import normalise

    if rules.luhn and ean13_prefix is None:  # first..last are the numbers without their check digit
        return [normalise(rules, body + luhn_digit(body))
                for body in (n.zfill(rules.min_length - 1) for n in numbers)]
    return [normalise(rules, n.zfill(rules.min_length)) for n in numbers]


def printed(number: str, rules=None, *, ean13: bool = False) -> str:
    """What the card's barcode carries: the number zero-padded to the rules' min_length, after their Code 128
    text prefix ("LK10001"); the number itself without rules or on an EAN-13 card."""
    if rules is None or ean13:
        return number
    return rules.text_prefix + number.zfill(rules.min_length)


def issue_range(conn: Connection, first: int, last: int, *, card_type: str = "standard",
                ean13_prefix: str | None = None, activation_codes: bool = False, by: str | None = None,
                shop: str | None = None) -> int:
    """Creates the cards of a range that do not exist yet (so re-running it is harmless); returns how many.
    The range is recorded in card_ranges (its cards carry its id) when it created any card. Its numbers must
    fit the chain's card rules, or with `shop` that shop's (card_formats; none set: any number); the range
    records the shop, and its printer file follows that shop's format. The cards are the chain's either way."""
    from .card_formats import rules_for

    ctype = get_type(conn, card_type)
    numbers = range_numbers(first, last, ean13_prefix, rules_for(conn, shop))
    existing: set[str] = set()
    for i in range(0, len(numbers), 500):
        chunk = numbers[i:i + 500]
        existing.update(conn.execute(select(cards.c.number).where(cards.c.number.in_(chunk))).scalars())
    now = clock.now()
    new = [n for n in numbers if n not in existing]
    if not new:
        return 0
    range_id = conn.execute(insert(card_ranges).values(
        card_type=ctype["name"], first=first, last=last, ean13_prefix=ean13_prefix,
        activation_codes=activation_codes, issued=len(new), at=now, by=by, shop=shop)).inserted_primary_key[0]
    rows = [dict(number=n, state="issued", kind=ctype["kind"], discount_percent=ctype["discount_percent"],
                 card_type=ctype["name"], digital=False, created_at=now, range_id=range_id) for n in new]
    for i in range(0, len(rows), 5000):
        conn.execute(insert(cards), rows[i:i + 5000])
    return len(rows)


def types_with_counts(conn: Connection) -> list[dict]:
    """Every card type (the built-in standard one too) with how many of its cards are in each state."""
    counts: dict[str, dict[str, int]] = {}
    for name, state, n in conn.execute(select(cards.c.card_type, cards.c.state, func.count())
                                       .group_by(cards.c.card_type, cards.c.state)):
        counts.setdefault(name, {})[state] = n
    types = {r["name"]: dict(r) for r in conn.execute(select(card_types).order_by(card_types.c.name)).mappings()}
    types.setdefault("standard", get_type(conn, "standard"))
    for name in counts:  # a type whose row is gone still has cards to count
        types.setdefault(name, {"name": name, "kind": None, "discount_percent": 0})
    return [{**t, "counts": counts.get(name, {}), "total": sum(counts.get(name, {}).values())}
            for name, t in sorted(types.items())]


def ranges_with_counts(conn: Connection) -> list[dict]:
    """Issued ranges, newest first, with their cards' counts by state (issued, active, blocked, replaced)."""
    counts: dict[int | None, dict[str, int]] = {}
    for range_id, state, n in conn.execute(select(cards.c.range_id, cards.c.state, func.count())
                                           .where(cards.c.digital.is_(False))
                                           .group_by(cards.c.range_id, cards.c.state)):
        counts.setdefault(range_id, {})[state] = n
    rows = [{**dict(r), "counts": counts.get(r["id"], {})}
            for r in conn.execute(select(card_ranges).order_by(card_ranges.c.id.desc())).mappings()]
    if counts.get(None):  # plastic cards issued before ranges were recorded
        rows.append({"id": None, "card_type": None, "first": None, "last": None, "ean13_prefix": None,
                     "activation_codes": False, "issued": sum(counts[None].values()), "at": None, "by": None,
                     "shop": None,
                     "counts": counts[None]})
    return rows


def get_range(conn: Connection, range_id: int) -> dict:
    row = conn.execute(select(card_ranges).where(card_ranges.c.id == range_id)).mappings().first()
    if row is None:
        raise NotFound("range_not_found", f"no card range {range_id}")
    return dict(row)


def printer_rows(conn: Connection, range_id: int) -> list[tuple[str, str, str, str]]:
    """The card printer's rows for a range: (number, barcode payload, barcode type, activation code).

    A range issued with activation codes gets NEW codes here for its cards not yet activated (codes are stored
    hashed, so they can only be printed when made; earlier codes of these cards stop working); its activated
    cards are left out. Without codes, every card of the range is listed and the code cell is empty.
    """
    from .card_formats import rules_for

    found = get_range(conn, range_id)
    symbology = "EAN-13" if found["ean13_prefix"] else "Code 128"
    rules, is_ean = rules_for(conn, found["shop"]), bool(found["ean13_prefix"])  # the shop it was issued for
    numbers = conn.execute(select(cards.c.number).where(cards.c.range_id == range_id)
                           .order_by(cards.c.number)).scalars().all()
    if found["activation_codes"]:
        return [(n, printed(n, rules, ean13=is_ean), symbology, code)
                for n, code in takeover.generate(conn, list(numbers))]
    return [(n, printed(n, rules, ean13=is_ean), symbology, "") for n in numbers]


def set_state(conn: Connection, number: str, state: str) -> None:
    """Blocking and unblocking by the admin; activation happens only through a verified registration."""
    if state not in ("blocked", "issued", "active"):
        raise DomainError("bad_state", f"state must be one of {', '.join(STATES)}")
    row = conn.execute(select(cards.c.state, cards.c.customer_id).where(cards.c.number == number)).first()
    if row is None:
        raise NotFound("card_not_found", "this card is not one of ours")
    if row.state == "replaced":
        raise DomainError("card_replaced", "this card was replaced by a new one; it stays so")
    if state != "blocked":
        # Unblocking returns the card to what its binding says it is.
        state = "active" if row.customer_id is not None else "issued"
        if state == "active":
            other = conn.execute(select(cards.c.number).where(
                cards.c.customer_id == row.customer_id, cards.c.state == "active", cards.c.number != number)).first()
            if other:
                raise DomainError("phone_has_card", f"the customer's card {other[0]} is active; block it first")
    conn.execute(update(cards).where(cards.c.number == number).values(state=state))


def add_number(conn: Connection, card_number: str, extra: str) -> None:
    if not extra or len(extra) > 32:
        raise DomainError("bad_number", "an extra number is 1..32 characters")
    if conn.execute(select(cards.c.number).where(cards.c.number == card_number)).first() is None:
        raise NotFound("card_not_found", "this card is not one of ours")
    if resolve(conn, extra) is not None:
        raise DomainError("number_taken", f"{extra} is already a card number")
    conn.execute(insert(card_numbers).values(number=extra, card_number=card_number, added_at=clock.now()))
