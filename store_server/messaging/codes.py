"""One-time codes: the customer's phone is the key to their card.

A challenge sends a 6-digit code by SMS; the code is stored only as a keyed hash and compared in
constant time. A correct code yields a short-lived verification token bound to phone, purpose, card and
amount, which the operation that needs it must carry, and which it consumes: a token works once.

The cashier is the adversary here (seed 000): for money purposes the code goes to the phone the card is
bound to, never to a phone the device names, and the token fits only that card and that exact amount.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, fields
from datetime import timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from .. import clock
from ..data import db
from ..data.db import cards, customers, otp_challenges, verification_tokens
from ..errors import DomainError, TooMany
from ..security import hash_secret, keyed_hash, new_secret, same

PURPOSES = ("register", "identify", "redeem", "discount", "return", "activate", "sale")
# Purposes that move money: the code goes to the card's own phone, the token is bound to card and amount.
MONEY_PURPOSES = ("redeem", "discount", "return", "sale")


@dataclass(frozen=True)
class OtpPolicy:
    code_ttl: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    resend_after: timedelta = timedelta(seconds=30)
    token_ttl: timedelta = timedelta(minutes=10)
    sends_per_phone_15min: int = 3
    sends_per_phone_day: int = 10
    sends_per_device_hour: int = 30
    sends_per_device_day: int = 100
    # How long a code request waits for the SMS gateways (failover included) before it answers anyway and
    # lets the send finish behind it; the kiosk waits longer than this (kiosk/client.py CODE_TIMEOUT).
    send_wait_seconds: int = 15

    # server.toml [otp] / the shop setting "otp" use plain numbers; durations in seconds.
    _SECONDS = {"code_ttl_seconds": "code_ttl", "resend_after_seconds": "resend_after",
                "token_ttl_seconds": "token_ttl"}

    @classmethod
    def from_settings(cls, *layers: dict | None) -> OtpPolicy:
        """Defaults, overridden by each layer in turn (server.toml [otp], then the shop's "otp" setting)."""
        ints = {f.name for f in fields(cls) if f.type in ("int", int)}
        values: dict = {}
        for layer in layers:
            for key, value in (layer or {}).items():
                name = cls._SECONDS.get(key, key)
                if name not in ints and key not in cls._SECONDS:
                    known = sorted(ints | set(cls._SECONDS))
                    raise DomainError("bad_otp_setting", f"otp setting {key!r} is unknown; use {', '.join(known)}")
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise DomainError("bad_otp_setting", f"otp setting {key} must be a whole number above 0")
                values[name] = timedelta(seconds=value) if key in cls._SECONDS else value
        return cls(**values)


def policy_for(conn: Connection, server_otp: dict | None = None, shop_code: str | None = None) -> OtpPolicy:
    from .. import shop  # shop imports nothing of ours; late import keeps otp importable on its own

    return OtpPolicy.from_settings(server_otp, shop.get(conn, "otp", shop=shop_code))


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def card_phone(conn: Connection, card_number: str) -> str | None:
    """The phone of the customer an active card is bound to, or None."""
    return conn.execute(
        select(customers.c.phone).select_from(cards.join(customers))
        .where(cards.c.number == card_number, cards.c.state == "active")
    ).scalar()


def _count_since(conn: Connection, column, value: str, since) -> int:
    return conn.execute(select(func.count()).select_from(otp_challenges)
                        .where(column == value, otp_challenges.c.created_at > since)).scalar()


def _oldest_since(conn: Connection, column, value: str, since):
    return clock.aware(conn.execute(select(func.min(otp_challenges.c.created_at))
                                    .where(column == value, otp_challenges.c.created_at > since)).scalar())


def _check_limits(conn: Connection, phone: str, device_id: str, policy: OtpPolicy, now) -> None:
    ph, dev = otp_challenges.c.phone, otp_challenges.c.device_id
    last = conn.execute(select(func.max(otp_challenges.c.created_at)).where(ph == phone)).scalar()
    if last is not None and now - clock.aware(last) < policy.resend_after:
        wait = policy.resend_after - (now - clock.aware(last))
        raise TooMany("resend_too_soon", "a code was sent moments ago; wait before asking again",
                      retry_after=int(wait.total_seconds()) + 1)
    # Caps stop SMS pumping (a device draining the shop's SMS balance) and code-guessing by re-requesting.
    for column, value, window, limit, code in (
        (ph, phone, timedelta(minutes=15), policy.sends_per_phone_15min, "too_many_codes"),
        (ph, phone, timedelta(days=1), policy.sends_per_phone_day, "too_many_codes_today"),
        (dev, device_id, timedelta(hours=1), policy.sends_per_device_hour, "device_code_limit"),
        (dev, device_id, timedelta(days=1), policy.sends_per_device_day, "device_code_limit_today"),
    ):
        since = now - window
        if _count_since(conn, column, value, since) >= limit:
            retry = _oldest_since(conn, column, value, since) + window - now
            raise TooMany(code, "too many codes were asked for; try again later",
                          retry_after=max(1, int(retry.total_seconds()) + 1))


def create_challenge(conn: Connection, *, secret_key: str, phone: str | None, purpose: str, device_id: str,
                     card_number: str | None = None, amount: int | None = None,
                     policy: OtpPolicy = OtpPolicy()) -> tuple[dict, str]:
    """Returns the challenge (for the device) and the code and phone (for the SMS, never for the device)."""
    if purpose not in PURPOSES:
        raise DomainError("bad_purpose", f"purpose must be one of {', '.join(PURPOSES)}")
    if purpose in MONEY_PURPOSES:
        if not card_number:
            raise DomainError("card_required", "a code for this operation needs the card number")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise DomainError("bad_amount", "a code for this operation needs the amount in minor units")
        owner = card_phone(conn, card_number)
        if owner is None:
            raise DomainError("card_not_active", "this card is not bound to a phone; activate it first")
        if phone is not None and phone != owner:
            # The device named a phone that is not the card's: a cashier's own phone would pass otherwise.
            raise DomainError("phone_mismatch", "this phone is not the one the card is bound to")
        phone = owner
    elif purpose == "identify" and card_number and not phone:
        # The customer at a card screen (the card scanned, its phone only masked) proves they hold the card's
        # phone: the code goes to the phone the card is bound to, which the device never learns.
        phone = card_phone(conn, card_number)
        if phone is None:
            raise DomainError("card_not_active", "this card is not bound to a phone; activate it first")
    elif not phone:
        raise DomainError("phone_required", "a phone number is needed")
    # The limits count the challenges already made: whoever asks for this phone (or from this device) at the
    # same moment waits here until this one is committed, then counts it (db.lock_key).
    db.lock_key(conn, "otp-phone", phone)
    db.lock_key(conn, "otp-device", device_id)
    now = clock.now()
    _check_limits(conn, phone, device_id, policy, now)
    challenge_id = str(uuid.uuid4())
    code = new_code()
    conn.execute(insert(otp_challenges).values(
        id=challenge_id, phone=phone, purpose=purpose, card_number=card_number, amount=amount,
        device_id=device_id, code_hash=keyed_hash(secret_key, challenge_id, code), attempts=0,
        created_at=now, expires_at=now + policy.code_ttl,
    ))
    return {
        "challenge_id": challenge_id,
        "expires_at": (now + policy.code_ttl).isoformat(),
        "resend_after": (now + policy.resend_after).isoformat(),
        "phone": phone,
    }, code


def check(conn: Connection, *, secret_key: str, challenge_id: str, code: str,
          policy: OtpPolicy = OtpPolicy()) -> dict:
    """A right code gives a token. The caller must commit even when this raises: tries have to count."""
    # Locked: simultaneous guesses at one code are judged one after the other, each seeing the last's count.
    ch = conn.execute(select(otp_challenges).where(otp_challenges.c.id == challenge_id).with_for_update()
                      ).mappings().first()
    if ch is None:
        raise DomainError("challenge_not_found", "no such code request")
    now = clock.now()
    if ch["verified_at"] is not None:
        raise DomainError("code_used", "this code was already used")
    if ch["attempts"] >= policy.max_attempts:
        raise DomainError("too_many_attempts", "too many wrong codes; ask for a new one", attempts_left=0)
    if now > clock.aware(ch["expires_at"]):
        raise DomainError("code_expired", "the code has expired; ask for a new one")
    # Count the try before comparing, so a crash between the two never grants a free guess.
    counted = conn.execute(update(otp_challenges).where(
        otp_challenges.c.id == challenge_id, otp_challenges.c.attempts < policy.max_attempts,
        otp_challenges.c.verified_at.is_(None),
    ).values(attempts=otp_challenges.c.attempts + 1)).rowcount
    if counted != 1:  # only if the lock above were missing: never judge a guess past the cap
        raise DomainError("too_many_attempts", "too many wrong codes; ask for a new one", attempts_left=0)
    # Both sides are HMACs of the same length: the comparison time says nothing about the code.
    if not same(keyed_hash(secret_key, challenge_id, code.strip()), ch["code_hash"]):
        left = policy.max_attempts - ch["attempts"] - 1
        raise DomainError("wrong_code", "the code is not right", attempts_left=left)
    conn.execute(update(otp_challenges).where(otp_challenges.c.id == challenge_id).values(verified_at=now))
    token = new_secret(24)
    conn.execute(insert(verification_tokens).values(
        token_hash=hash_secret(token), challenge_id=challenge_id, phone=ch["phone"], purpose=ch["purpose"],
        card_number=ch["card_number"], amount=ch["amount"], expires_at=now + policy.token_ttl,
    ))
    return {"verification_token": token, "phone": ch["phone"], "purpose": ch["purpose"],
            "card_number": ch["card_number"]}


def consume_verification(conn: Connection, token: str | None, phone: str | None, purpose: str,
                         card: str | None, amount: int | None, *, operation_id: str) -> dict:
    """Checks the token fits this operation exactly and marks it used; raises DomainError otherwise.

    For money purposes the token must name this card and this amount, and the card must still be bound
    to the phone the code went to. `phone=None` means "the card's phone" there.
    """
    if not token:
        raise DomainError("verification_required", "this operation needs the customer's SMS code")
    row = conn.execute(
        select(verification_tokens).where(verification_tokens.c.token_hash == hash_secret(token))
    ).mappings().first()
    if row is None:
        raise DomainError("verification_invalid", "the verification is not valid")
    # The same operation id may come again (a device retrying after a lost answer); anything else is a replay.
    if row["used_by"] is not None and row["used_by"] != operation_id:
        raise DomainError("verification_used", "this verification was already used")
    if clock.now() > clock.aware(row["expires_at"]):
        raise DomainError("verification_expired", "the verification has expired")
    if row["purpose"] != purpose:
        raise DomainError("verification_mismatch", "the verification was for another operation")
    if purpose in MONEY_PURPOSES:
        if row["card_number"] != card:
            raise DomainError("verification_mismatch", "the verification was for another card")
        if row["amount"] != amount:
            raise DomainError("verification_mismatch", "the verification was for another amount")
        if card_phone(conn, card) != row["phone"] or (phone is not None and phone != row["phone"]):
            raise DomainError("verification_mismatch", "the verification was for another phone")
    else:
        if phone is not None and row["phone"] != phone:
            raise DomainError("verification_mismatch", "the verification was for another phone")
        if card is not None and row["card_number"] not in (None, card):
            raise DomainError("verification_mismatch", "the verification was for another card")
        if amount is not None and row["amount"] is not None and row["amount"] != amount:
            raise DomainError("verification_mismatch", "the verification was for another amount")
    # Conditional: of two operations carrying one token at the same moment, exactly one gets it.
    taken = conn.execute(update(verification_tokens).where(
        verification_tokens.c.token_hash == row["token_hash"],
        or_(verification_tokens.c.used_by.is_(None), verification_tokens.c.used_by == operation_id),
    ).values(used_by=operation_id)).rowcount
    if taken != 1:
        raise DomainError("verification_used", "this verification was already used")
    return dict(row)


def consume_token(conn: Connection, *, token: str | None, purpose: str, operation_id: str,
                  phone: str | None = None, card_number: str | None = None,
                  amount: int | None = None) -> dict:
    """Keyword form of `consume_verification` (registration uses it)."""
    return consume_verification(conn, token, phone, purpose, card_number, amount, operation_id=operation_id)


def code_required(settings: Callable[[str], object], purpose: str, amount: int | None) -> bool:
    """Whether the shop wants the customer's code for this operation (`settings` reads a shop setting).

    A write-off up to the shop's "no code" limit goes through without one (a small redemption at a busy
    till); the limit is about spending bonuses, so it never waives the code for a discount or a return.
    """
    if not (settings("code_required") or {}).get(purpose, False):
        return False
    if purpose == "redeem":
        limit = int(settings("no_code_limit") or 0)
        if isinstance(amount, int) and 0 < amount <= limit:
            return False
    return True


def bind_card(conn: Connection, challenge_id: str, card_number: str) -> None:
    """Ties the token of a verified registration to the card the server chose for it."""
    conn.execute(update(verification_tokens).where(verification_tokens.c.challenge_id == challenge_id)
                 .values(card_number=card_number))


def request_code(engine: Engine, gateway, *, secret_key: str, server_otp: dict | None, device_id: str,
                 phone: str | None, purpose: str, card_number: str | None = None, amount: int | None = None,
                 lang: str | None = None, shop_code: str | None = None, template: str | None = None) -> dict:
    """Creates a challenge and sends its code in the language of the asking device's shop (`shop_code`: its
    name, languages, country and code limits); the answer never holds the code. `template`: another text than
    the purpose's own (a registration at the till: tell it to the cashier)."""
    from loyalty_common.money import format_money_sms
    from loyalty_common.phones import InvalidPhone, mask, normalise

    from .. import shop
    from .sms import guard, templates
    from .sms.base import GatewayError
    from .sms.outbound import send_logged

    def create(conn: Connection) -> tuple:
        nonlocal phone
        if phone:
            try:
                phone = normalise(phone, shop.get(conn, "country", shop=shop_code))
            except InvalidPhone as e:
                raise DomainError("invalid_phone", str(e)) from e
            if purpose not in MONEY_PURPOSES:  # money codes go to the card's phone, checked when bound
                guard.check_destination(conn, phone, shop_code)
        # The shop-wide caps count every code of the shop: those asked for at this moment wait for this one
        # (then phone and device, create_challenge; always in this order).
        db.lock_key(conn, "otp-shop", shop_code)
        guard.check_shop_caps(conn, shop_code=shop_code)
        policy = policy_for(conn, server_otp, shop_code)
        challenge, code = create_challenge(
            conn, secret_key=secret_key, phone=phone, purpose=purpose, device_id=device_id,
            card_number=card_number, amount=amount, policy=policy)
        return (challenge, code, shop.get(conn, "public_name", shop=shop_code),
                shop.get(conn, "languages", shop=shop_code) or ["en"], policy.send_wait_seconds, shop.currency(conn),
                shop.get(conn, "country", shop=shop_code))

    try:
        challenge, code, name, languages, wait, currency, country = db.run_write(engine, create)
    except TooMany as e:
        if e.code.startswith("shop_code_limit"):
            guard.alert_owner(engine, gateway, e, shop_code)
        raise
    lang = lang if lang in languages else languages[0]
    # each purpose says what the code is for: typed on the kiosk's screen, or the amount it lets the till move
    shown = format_money_sms(amount, currency, lang, country) if amount else ""
    with engine.connect() as conn:  # the owner's own text, when the back office has one
        text = templates.render(template or templates.CODE_TEMPLATES.get(purpose, "code"), lang, shop=name,
                                conn=conn, code=code, amount=shown, shop_code=shop_code)
    to = challenge.pop("phone")
    challenge["phone_masked"] = mask(to)  # so the cashier can say where the code went, without the number
    sending = _SENDER.submit(send_logged, engine, gateway, phone=to, text=text, purpose=purpose,
                             challenge_id=challenge["challenge_id"], shop_code=shop_code)
    try:
        sending.result(timeout=wait)
    except FutureTimeout:
        # A slow provider or a failover chain: the code is on its way (the message log will say how it
        # went); the kiosk shows the code screen instead of an error that a second request would contradict.
        challenge["sms_pending"] = True
    except GatewayError as e:
        raise DomainError("sms_failed", "the SMS could not be sent; try again later") from e
    return challenge


# Sends that outlive their request: a few at a time is plenty for one shop's code requests.
_SENDER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sms-send")
