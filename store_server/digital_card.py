"""The digital card's secrets: the link to a card's page and the short-lived QR token the page shows.

Both are keyed with one per-shop secret kept in the settings table (created on first use, never shown by
`store-server settings show`), so every worker process and a restarted server agree on them.

- `link_id(number)`: a stable, unguessable id for the card's page (`/c/<link_id>`), sent by SMS. It is the
  card number encrypted deterministically with an HMAC as the synthetic IV (the SIV construction), so the
  server gets the number back without a table of links, the URL does not show the number, and an id nobody
  was given cannot be made up: a forged one fails its 72-bit tag.
- `qr_token(number, now)`: `base64url("<number>.<expiry>") "." base64url(HMAC-SHA256[:16])`. Only the server
  can make or check one; it lives `card_qr_minutes` (a shop setting), so a screenshot passed around stops
  working, and the page reloads itself for a fresh one before that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from . import shop
from .data.db import settings
from .errors import DomainError
from .security import new_secret

QR_PREFIX = "lk://card/"  # what drivers/scanner/decode.py reads as a DigitalCardToken
SECRET_SETTING = "digital_card_secret"  # not in shop.DEFAULTS: no CLI shows or sets it
TAG_BYTES = 9  # 72 bits: enough against guessing over the network, short enough for an SMS
MAC_BYTES = 16
MAX_NUMBER_BYTES = 64
_TOKEN = re.compile(r"[A-Za-z0-9_-]{4,200}\.[A-Za-z0-9_-]{22}")  # 22 = base64url of MAC_BYTES, no padding


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None
    # Only the one spelling we write: the spare low bits of a last character would otherwise let several
    # strings stand for the same link or token.
    return raw if _b64(raw) == text else None


def ensure_secret(engine) -> None:
    """Makes the shop's secret if there is none yet, at start-up: later requests then only read it (a GET
    that wrote would need SQLite's write lock, and a plain transaction that reads and then writes fails)."""
    from .data.db import write_transaction

    with write_transaction(engine) as conn:
        secret(conn)


def _stored_secret(conn: Connection) -> str | None:
    return conn.execute(select(settings.c.value).where(settings.c.key == SECRET_SETTING)).scalar()


def secret(conn: Connection) -> str:
    """The shop's secret, made on first use (the caller's transaction commits it)."""
    value = _stored_secret(conn)
    if value is None:
        try:
            with conn.begin_nested():  # another worker may make one at the same moment: the first one wins
                conn.execute(insert(settings).values(key=SECRET_SETTING, value=new_secret(32)))
        except IntegrityError:
            pass
        value = _stored_secret(conn)
    return value


def _key(shop_secret: str, purpose: str) -> bytes:
    # One secret, a separate key per use: a link tag can never pass as a QR token's MAC or the other way round.
    return hmac.new(shop_secret.encode(), purpose.encode(), hashlib.sha256).digest()


def _keystream(shop_secret: str, tag: bytes, length: int) -> bytes:
    key = _key(shop_secret, "link-encrypt")
    blocks = (hmac.new(key, tag + bytes([i]), hashlib.sha256).digest() for i in range((length + 31) // 32))
    return b"".join(blocks)[:length]


def _link_tag(shop_secret: str, number: bytes) -> bytes:
    return hmac.new(_key(shop_secret, "link-tag"), number, hashlib.sha256).digest()[:TAG_BYTES]


def link_id(conn: Connection, number: str) -> str:
    shop_secret = secret(conn)
    plain = number.encode()
    tag = _link_tag(shop_secret, plain)
    return _b64(tag + bytes(a ^ b for a, b in zip(plain, _keystream(shop_secret, tag, len(plain)), strict=True)))


def number_for_link(conn: Connection, link: str) -> str | None:
    """The card number a link id stands for, or None for an id this shop never made."""
    raw = _unb64(link) if 0 < len(link) <= 2 * (TAG_BYTES + MAX_NUMBER_BYTES) else None
    shop_secret = _stored_secret(conn)
    if raw is None or shop_secret is None or not TAG_BYTES < len(raw) <= TAG_BYTES + MAX_NUMBER_BYTES:
        return None
    tag, sealed = raw[:TAG_BYTES], raw[TAG_BYTES:]
    plain = bytes(a ^ b for a, b in zip(sealed, _keystream(shop_secret, tag, len(sealed)), strict=True))
    if not hmac.compare_digest(_link_tag(shop_secret, plain), tag):
        return None
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return None


def card_link(conn: Connection, number: str) -> str | None:
    """The page link customers get by SMS and on the kiosk, or None when the shop set no `public_url`."""
    base = public_url(conn)
    return f"{base}/c/{link_id(conn, number)}" if base else None


def public_url(conn: Connection) -> str | None:
    base = shop.get(conn, "public_url")
    # A value phones cannot open (no scheme) would send customers a dead link: none is better.
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        return None
    return base.rstrip("/")


def lifetime_seconds(conn: Connection) -> int:
    minutes = shop.get(conn, "card_qr_minutes")
    return max(1, int(minutes)) * 60 if isinstance(minutes, int | float) else 600


def qr_token(conn: Connection, number: str, now: datetime) -> tuple[str, int]:
    """A signed token for `lk://card/<token>` and its expiry (Unix seconds)."""
    expires = int(now.timestamp()) + lifetime_seconds(conn)
    payload = f"{number}.{expires}".encode()
    mac = hmac.new(_key(secret(conn), "card-qr"), payload, hashlib.sha256).digest()[:MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}", expires


def is_token(text: str) -> bool:
    """Shaped like a QR token (a card number never is): only such text is worth checking a MAC for."""
    return _TOKEN.fullmatch(text) is not None


def resolve(conn: Connection, token: str, now: datetime) -> str:
    """The card number a scanned token carries.

    DomainError card_qr_invalid for a forged or damaged token, card_qr_expired for an old one.
    """
    shop_secret = _stored_secret(conn)  # read only: with no secret yet, no token was ever issued
    if not is_token(token) or shop_secret is None:
        raise DomainError("card_qr_invalid", "this card QR was not made by this shop's server")
    body, _, mac = token.partition(".")
    payload, given = _unb64(body), _unb64(mac)
    if payload is None or given is None:
        raise DomainError("card_qr_invalid", "this card QR was not made by this shop's server")
    expected = hmac.new(_key(shop_secret, "card-qr"), payload, hashlib.sha256).digest()[:MAC_BYTES]
    if not hmac.compare_digest(expected, given):
        raise DomainError("card_qr_invalid", "this card QR was not made by this shop's server")
    number, _, expires = payload.decode().rpartition(".")
    if int(expires) < now.timestamp():
        raise DomainError("card_qr_expired", "this card QR has expired; refresh the card page on the phone")
    return number
