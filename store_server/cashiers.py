"""Cashiers: who stands at the till. A personal PIN or a scanned staff badge signs one in.

PINs are short, so they are stored only as scrypt hashes (hashlib, no extra dependency) with their own
salt, and a till that guesses wrong too often is locked out for a while, counted on the server's clock (a
till's own clock can be set back). A PIN alone names the cashier, so PINs are unique within the shop.

Trying the PIN against every cashier's salted hash would cost one scrypt per cashier (about 200 ms each on a
busy server) at every sign-in. So each cashier also has `pin_key`, an HMAC-SHA256 of the PIN under the
server's secret key (useless without server.toml, like the one-time codes' hashes): sign-in finds the one
row by it and scrypt confirms, one scrypt whatever the number of cashiers. A PIN set before the key existed
(revision 0016), or keyed under another secret (a server.toml replaced), has no usable key: such rows are
tried one by one as before, and the key is written at that cashier's next successful sign-in. The upgrade
cannot write it: it knows only the scrypt hashes, not the PINs.
Badges are long printed codes, looked up by a plain SHA-256 like device keys.

Once the shop has any cashier, every money operation from a till must name an active one (`cashier` is
the cashier's id as a string); a shop without cashiers works as before, so old tills keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, not_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loyalty_common.phones import InvalidPhone, normalise

from . import clock, shop
from .data.db import cashier_login_failures, cashiers
from .errors import DomainError, Forbidden, NotFound, Unauthorised
from .security import hash_secret, keyed_hash

# scrypt at 16 MiB, about 40 ms a try on a Pi-class CPU: slow for a thief with the database, quick for a login.
_N, _R, _P = 2**14, 8, 1
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=5)
SESSION = timedelta(hours=12)  # a shift; the till signs the cashier out on idle well before
MONEY_TYPES = ("sale", "redeem", "return", "cancel")


class Locked(DomainError):
    status = 423


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        mine = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(mine.hex(), digest)


def check_pin(pin: str) -> str:
    if not (pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 8):
        raise DomainError("bad_pin", "a PIN is 4 to 8 digits")
    return pin


def new_pin() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def pin_key(secret_key: str, pin: str) -> str:
    """The PIN's look-up key, prefixed with an id of the secret it was made under (so a key made under an
    earlier secret reads as missing, not as a different PIN)."""
    return f"{keyed_hash(secret_key, 'cashier-pin-key')[:8]}:{keyed_hash(secret_key, 'cashier-pin', pin)}"


def _with_pin(conn: Connection, secret_key: str, pin: str, *, other_than: int | None = None) -> dict | None:
    """The cashier whose PIN this is: by its key and one scrypt; else among the rows without a usable key."""
    key = pin_key(secret_key, pin)
    row = conn.execute(select(cashiers).where(cashiers.c.pin_key == key)).mappings().first()
    if row is not None:
        return dict(row) if row["id"] != other_than and pin_matches(pin, row["pin_hash"]) else None
    unkeyed = conn.execute(select(cashiers).where(
        or_(cashiers.c.pin_key.is_(None), not_(cashiers.c.pin_key.startswith(key.split(":")[0] + ":"))))
        .order_by(cashiers.c.id)).mappings().all()
    return next((dict(r) for r in unkeyed if r["id"] != other_than and pin_matches(pin, r["pin_hash"])), None)


def _pin_taken(conn: Connection, secret_key: str, pin: str, *, other_than: int | None = None) -> bool:
    return _with_pin(conn, secret_key, pin, other_than=other_than) is not None


def _refuse_taken_key(conn: Connection, write) -> None:
    """`write` inserts or updates a pin_key; two cashiers given one PIN at once: the unique index refuses one."""
    try:
        with conn.begin_nested():
            write()
    except IntegrityError as e:
        if "pin_key" not in str(e.orig):
            raise
        raise DomainError("pin_taken", "another cashier has this PIN; choose another") from None


def add(conn: Connection, name: str, *, secret_key: str, pin: str | None = None, badge: str | None = None,
        phone: str | None = None) -> tuple[int, str]:
    """Creates a cashier; returns the id and the PIN (made up when none was given)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError("bad_name", "a cashier's name is 1 to 100 characters")
    if pin is None:
        pin = new_pin()
        while _pin_taken(conn, secret_key, pin):
            pin = new_pin()
    elif _pin_taken(conn, secret_key, check_pin(pin)):
        raise DomainError("pin_taken", "another cashier has this PIN; a PIN alone signs a cashier in, choose another")
    if phone:
        try:
            phone = normalise(phone, shop.get(conn, "country"))
        except InvalidPhone as e:
            raise DomainError("invalid_phone", str(e)) from e
    badge_hash = hash_secret(badge) if badge else None
    if badge_hash and conn.execute(select(cashiers.c.id).where(cashiers.c.badge_hash == badge_hash)).first():
        raise DomainError("badge_taken", "another cashier has this badge")
    values = dict(name=name, pin_hash=hash_pin(pin), pin_key=pin_key(secret_key, pin), badge_hash=badge_hash,
                  phone=phone or None, state="active", created_at=clock.now())
    added = []
    _refuse_taken_key(conn, lambda: added.append(conn.execute(insert(cashiers).values(**values))
                                                 .inserted_primary_key[0]))
    return added[0], pin


def _get(conn: Connection, cashier_id) -> dict:
    try:
        cid = int(cashier_id)
    except (TypeError, ValueError):
        cid = None
    row = conn.execute(select(cashiers).where(cashiers.c.id == cid)).mappings().first() if cid else None
    if row is None:
        raise NotFound("cashier_not_found", f"no cashier {cashier_id}")
    return dict(row)


def set_state(conn: Connection, cashier_id, state: str) -> dict:
    row = _get(conn, cashier_id)
    conn.execute(update(cashiers).where(cashiers.c.id == row["id"]).values(state=state))
    return row


def reset_pin(conn: Connection, cashier_id, *, secret_key: str, pin: str | None = None) -> str:
    row = _get(conn, cashier_id)
    if pin is None:
        pin = new_pin()
        while _pin_taken(conn, secret_key, pin, other_than=row["id"]):
            pin = new_pin()
    elif _pin_taken(conn, secret_key, check_pin(pin), other_than=row["id"]):
        raise DomainError("pin_taken", "another cashier has this PIN; choose another")
    _refuse_taken_key(conn, lambda: conn.execute(update(cashiers).where(cashiers.c.id == row["id"]).values(
        pin_hash=hash_pin(pin), pin_key=pin_key(secret_key, pin))))
    return pin


def listing(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(cashiers).order_by(cashiers.c.id)).mappings()]


def names(conn: Connection) -> dict[str, str]:
    """Cashier id (as operations carry it) -> name, for reports, audit and listings."""
    return {str(cid): name for cid, name in conn.execute(select(cashiers.c.id, cashiers.c.name))}


def display(value: str | None, known: dict[str, str]) -> str:
    """How a report shows an operation's cashier: the name for a known id, else what the till sent."""
    if not value:
        return ""
    return known.get(value, value)


def _failures(conn: Connection, device_id: str) -> dict | None:
    row = conn.execute(select(cashier_login_failures)
                       .where(cashier_login_failures.c.device_id == device_id)).mappings().first()
    return None if row is None else dict(row)


def _count_failure(conn: Connection, device_id: str, now: datetime) -> DomainError:
    if _failures(conn, device_id) is None:
        try:  # two wrong PINs at one instant: the second insert loses, and both count on the row below
            with conn.begin_nested():
                conn.execute(insert(cashier_login_failures).values(device_id=device_id, failures=0))
        except IntegrityError:
            pass
    conn.execute(update(cashier_login_failures).where(cashier_login_failures.c.device_id == device_id)
                 .values(failures=cashier_login_failures.c.failures + 1))
    failures = _failures(conn, device_id)["failures"]
    if failures >= MAX_FAILURES:
        until = now + LOCKOUT
        conn.execute(update(cashier_login_failures).where(cashier_login_failures.c.device_id == device_id)
                     .values(failures=0, locked_until=until))
        return Locked("cashier_locked", "too many wrong PINs at this till; wait", until=until.isoformat())
    return Unauthorised("cashier_pin_wrong", "no cashier has this PIN or badge",
                        attempts_left=MAX_FAILURES - failures)


def login(conn: Connection, device: dict, *, pin: str | None, badge: str | None, secret_key: str) -> dict:
    """Signs a cashier in at `device`; the caller commits even when this raises (failures must count).

    Returns the answer, or raises. A wrong PIN is counted before anything else is said.
    """
    if device.get("role") != "cashier":
        raise Forbidden("role_not_allowed", "only a cashier device may sign a cashier in")
    if not pin and not badge:
        raise DomainError("pin_required", "a PIN or a badge is needed")
    now = clock.now()
    locked = _failures(conn, device["id"])
    if locked and locked["locked_until"] is not None and now < clock.aware(locked["locked_until"]):
        raise Locked("cashier_locked", "too many wrong PINs at this till; wait",
                     until=clock.aware(locked["locked_until"]).isoformat())
    found = None
    if badge:
        found = conn.execute(select(cashiers).where(cashiers.c.badge_hash == hash_secret(badge))).mappings().first()
    elif pin.isascii() and pin.isdigit() and len(pin) <= 8:
        found = _with_pin(conn, secret_key, pin)
        key = pin_key(secret_key, pin)
        if found is not None and found["pin_key"] != key:  # a PIN from before the key: keyed from now on
            conn.execute(update(cashiers).where(cashiers.c.id == found["id"]).values(pin_key=key))
    if found is None:
        raise _count_failure(conn, device["id"], now)
    if found["state"] != "active":
        raise Forbidden("cashier_blocked", "this cashier is blocked; ask the manager")
    conn.execute(update(cashier_login_failures).where(cashier_login_failures.c.device_id == device["id"])
                 .values(failures=0, locked_until=None))
    conn.execute(update(cashiers).where(cashiers.c.id == found["id"]).values(last_login_at=now))
    return {"cashier_id": str(found["id"]), "name": found["name"], "expires_at": (now + SESSION).isoformat()}


def states(conn: Connection) -> dict[str, str]:
    """Cashier id -> state, read once per batch."""
    return {str(cid): state for cid, state in conn.execute(select(cashiers.c.id, cashiers.c.state))}


def check_operation(known: dict[str, str], op: dict, device: dict) -> None:
    """The cashier an operation names must be an active one; money operations at a till must name one."""
    if not known:
        return  # a shop without cashiers: tills send nothing or a free text, as before
    cashier = op.get("cashier")
    if cashier:
        state = known.get(str(cashier))
        if state is None:
            raise DomainError("cashier_unknown", "no cashier has this id; sign in again")
        if state != "active":
            raise DomainError("cashier_blocked", "this cashier is blocked")
    elif device.get("role") == "cashier" and op.get("type") in MONEY_TYPES:
        raise DomainError("cashier_required", "a cashier must be signed in at the till")
