"""Classify a scanned payload: one of our cards, a digital-card QR, an enrolment QR, or not ours.

`decode` never raises: anything it cannot place becomes `Unrecognised(payload, reason)` with a stable
reason code the app can show or log. The steps, in order:

1. Very long input is refused before any parsing (`too_long`).
2. Surrounding whitespace (a scanner's CR/LF/Tab suffix) is stripped; an AIM symbology identifier
   (`]E0`, `]C0`, `]Q1` ...) is stripped and recorded in the result's `symbology`.
3. Control characters left inside the data (GS1 FNC1 as ASCII 29, stray ESC) -> `control_characters`.
4. `lk://card/<token>` -> `DigitalCardToken`; `lk://enrol?server=..&token=..&role=..` -> `EnrolmentCode`.
5. `http(s)://...?card=<number>` -> the number goes through the card rules below.
6. Digits (after an optional shop text prefix) -> `CardNumber` if the shop's rules accept them.
   EAN-13 / EAN-8 / UPC-A / UPC-E forms must carry a correct GS1 check digit (`bad_check_digit`).
7. Anything else (Code 128 text, product barcodes of other shops) -> `not_a_card`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

# The card-number part is shared with the store server; it is imported here so the decoder's users find it.
from loyalty_common.cards import (  # noqa: F401
    CardRules,
    check_digits,
    gs1_check_digit_ok,
    luhn_ok,
    upc_e_to_upc_a,
)

MAX_PAYLOAD = 4096
"""Longer payloads are refused unparsed: no QR code of ours comes near this, and int() of a huge digit
string is slow (and refused by Python above 4300 digits)."""


@dataclass(frozen=True)
class CardNumber:
    number: str
    symbology: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DigitalCardToken:
    """A short-lived token signed by the server; only the server can verify it."""

    token: str
    symbology: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EnrolmentCode:
    server_url: str
    token: str
    role: str | None = None
    symbology: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Unrecognised:
    payload: str
    reason: str
    symbology: str | None = field(default=None, compare=False)


Decoded = CardNumber | DigitalCardToken | EnrolmentCode | Unrecognised

DIGITAL_CARD_PREFIX = "lk://card/"
ENROL_PREFIX = "lk://enrol?"

# AIM identifier: "]", a symbology letter, one modifier character (ISO/IEC 15424).
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")
# Base64url, JWT-style dotted tokens and plain card numbers all fit in this alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]+")
_DIGITS = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def split_aim(text: str) -> tuple[str | None, str]:
    """Split a leading AIM symbology identifier off: `"]E05901234123457"` -> `("]E0", "5901234123457")`."""
    if _AIM.match(text):
        return text[:3], text[3:]
    return None, text


def decode(payload: str, rules: CardRules = CardRules()) -> Decoded:
    if not isinstance(payload, str):
        return Unrecognised(repr(payload), "not_text")
    if len(payload) > MAX_PAYLOAD:
        return Unrecognised(payload, "too_long")
    symbology, text = split_aim(payload.strip())
    text = text.strip()

    def unrecognised(reason: str) -> Unrecognised:
        return Unrecognised(payload, reason, symbology)

    if not text:
        return unrecognised("empty")
    if _CONTROL.search(text):
        return unrecognised("control_characters")
    lowered = text.lower()
    if lowered.startswith(DIGITAL_CARD_PREFIX):
        token = text[len(DIGITAL_CARD_PREFIX):]
        if not token:
            return unrecognised("empty_token")
        return DigitalCardToken(token, symbology) if _TOKEN.fullmatch(token) else unrecognised("bad_token")
    if lowered.startswith(ENROL_PREFIX):
        return _enrolment(text, unrecognised, symbology)
    if lowered.startswith(("http://", "https://")):
        return _card_from_url(text, rules, unrecognised, symbology)
    digits = text
    if rules.text_prefix and lowered.startswith(rules.text_prefix.lower()):
        digits = text[len(rules.text_prefix):]
    if _DIGITS.fullmatch(digits):
        return _card_number(digits, rules, unrecognised, symbology)
    return unrecognised("not_a_card")


def _enrolment(text: str, unrecognised, symbology: str | None) -> Decoded:
    query = parse_qs(urlsplit(text).query)
    server, token = query.get("server", [""])[0], query.get("token", [""])[0]
    if not server or not token:
        return unrecognised("enrolment_incomplete")
    if not server.startswith(("http://", "https://")):
        return unrecognised("enrolment_bad_server")
    return EnrolmentCode(server, token, query.get("role", [None])[0], symbology)


def _card_from_url(text: str, rules: CardRules, unrecognised, symbology: str | None) -> Decoded:
    try:
        query = parse_qs(urlsplit(text).query)
    except ValueError:  # e.g. an unbalanced "[" in the host part
        return unrecognised("bad_url")
    for name in rules.url_params:
        values = query.get(name)
        if values:
            value = values[0].strip()
            if not _DIGITS.fullmatch(value):
                return unrecognised("not_a_card")
            return _card_number(value, rules, unrecognised, symbology)
    return unrecognised("url_without_card")


def _card_number(digits: str, rules: CardRules, unrecognised, symbology: str | None) -> Decoded:
    number, reason = check_digits(digits, rules, symbology)
    return CardNumber(number, symbology) if number is not None else unrecognised(reason)
