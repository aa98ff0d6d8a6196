"""One-time codes: the customer's phone is the key to their card.

A challenge sends a 6-digit code by SMS; the code is stored only as a keyed hash and compared in
constant time. A correct code yields a short-lived verification token bound to phone, purpose, card and
amount, which the operation that needs it must carry (and consumes).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from . import clock
from .db import otp_challenges, verification_tokens
from .errors import DomainError, TooMany
from .security import hash_secret, keyed_hash, new_secret, same

PURPOSES = ("register", "identify", "redeem", "discount", "return", "activate")


@dataclass(frozen=True)
class OtpPolicy:
    code_ttl: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    resend_after: timedelta = timedelta(seconds=30)
    token_ttl: timedelta = timedelta(minutes=10)


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def create_challenge(conn: Connection, *, secret_key: str, phone: str, purpose: str, device_id: str,
                     card_number: str | None = None, amount: int | None = None,
                     policy: OtpPolicy = OtpPolicy()) -> tuple[dict, str]:
    """Returns the challenge (for the device) and the code (for the SMS, never for the device)."""
    if purpose not in PURPOSES:
        raise DomainError("bad_purpose", f"purpose must be one of {', '.join(PURPOSES)}")
    now = clock.now()
    last = conn.execute(
        select(otp_challenges.c.created_at).where(otp_challenges.c.phone == phone)
        .order_by(otp_challenges.c.created_at.desc()).limit(1)
    ).scalar()
    if last is not None and now - clock.aware(last) < policy.resend_after:
        wait = policy.resend_after - (now - clock.aware(last))
        raise TooMany("resend_too_soon", "a code was sent moments ago; wait before asking again",
                      retry_after=int(wait.total_seconds()) + 1)
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
    }, code


def check(conn: Connection, *, secret_key: str, challenge_id: str, code: str,
          policy: OtpPolicy = OtpPolicy()) -> dict:
    ch = conn.execute(select(otp_challenges).where(otp_challenges.c.id == challenge_id)).mappings().first()
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
    conn.execute(update(otp_challenges).where(otp_challenges.c.id == challenge_id)
                 .values(attempts=otp_challenges.c.attempts + 1))
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


def consume_token(conn: Connection, *, token: str | None, purpose: str, operation_id: str,
                  phone: str | None = None, card_number: str | None = None,
                  amount: int | None = None) -> dict:
    """Checks the token fits this operation and marks it used; raises DomainError otherwise."""
    if not token:
        raise DomainError("verification_required", "this operation needs the customer's SMS code")
    row = conn.execute(
        select(verification_tokens).where(verification_tokens.c.token_hash == hash_secret(token))
    ).mappings().first()
    if row is None:
        raise DomainError("verification_invalid", "the verification is not valid")
    if row["used_by"] is not None and row["used_by"] != operation_id:
        raise DomainError("verification_used", "this verification was already used")
    if clock.now() > clock.aware(row["expires_at"]):
        raise DomainError("verification_expired", "the verification has expired")
    if row["purpose"] != purpose:
        raise DomainError("verification_mismatch", "the verification was for another operation")
    if phone is not None and row["phone"] != phone:
        raise DomainError("verification_mismatch", "the verification was for another phone")
    if card_number is not None and row["card_number"] not in (None, card_number):
        raise DomainError("verification_mismatch", "the verification was for another card")
    if amount is not None and row["amount"] is not None and row["amount"] != amount:
        raise DomainError("verification_mismatch", "the verification was for another amount")
    conn.execute(update(verification_tokens).where(verification_tokens.c.token_hash == row["token_hash"])
                 .values(used_by=operation_id))
    return dict(row)


def bind_card(conn: Connection, challenge_id: str, card_number: str) -> None:
    """Ties the token of a verified registration to the card the server chose for it."""
    conn.execute(update(verification_tokens).where(verification_tokens.c.challenge_id == challenge_id)
                 .values(card_number=card_number))
