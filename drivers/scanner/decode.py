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
_EAN_LENGTHS = frozenset({8, 12, 13})


@dataclass(frozen=True)
class CardRules:
    """The shop's card-number format.

    :param min_length, max_length: digits in a card number (leading zeros count).
    :param first_number: the lowest card number the shop issues.
    :param ean_lengths: plain digit payloads of these lengths are EAN/UPC forms (13 = EAN-13,
        12 = UPC-A, 8 = EAN-8) and must carry a correct GS1 check digit. Empty: never check.
        A payload whose AIM identifier says EAN/UPC (`]E...`) is always checked.
    :param text_prefix: letters printed before the number on Code 128 cards (e.g. "LK" for "LK10001");
        matched case-insensitively and removed.
    :param url_params: query parameters of an http(s) URL that carry a card number.
    :param prefixes: the digits every card number starts with (e.g. "4820" for the shop's EAN range); empty:
        any. A number with another start is `wrong_prefix`.
    :param luhn: the last digit is a Luhn (mod 10) check digit, as on 16-digit cards of older loyalty
        systems (`bad_check_digit`).
    :param leading_zeros: "keep" (0000123 is card "0000123") or "strip" (printed zero-padded, the card is
        "123"): how the number is looked up on the server.
    """

    min_length: int = 5
    max_length: int = 13
    first_number: int = 10001
    ean_lengths: frozenset[int] = frozenset({13})
    text_prefix: str = ""
    url_params: tuple[str, ...] = ("card",)
    prefixes: tuple[str, ...] = ()
    luhn: bool = False
    leading_zeros: str = "keep"

    @classmethod
    def from_config(cls, raw: dict | None) -> CardRules:
        """The `[cards]` table of kiosk.toml; ValueError names a key that does not fit."""
        raw = dict(raw or {})
        raw.pop("sample", None)  # a number printed on the shop's cards, for `kiosk selftest`, not a rule
        known = {"min_length", "max_length", "first_number", "ean_lengths", "text_prefix", "url_params",
                 "prefixes", "luhn", "leading_zeros"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"[cards]: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
        for key in ("min_length", "max_length", "first_number"):
            if key in raw and (not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 0):
                raise ValueError(f"[cards]: {key} must be a whole number")
        if "ean_lengths" in raw:
            if not isinstance(raw["ean_lengths"], list) or not set(raw["ean_lengths"]) <= _EAN_LENGTHS:
                raise ValueError("[cards]: ean_lengths must list some of 8, 12, 13 (EAN-8, UPC-A, EAN-13)")
            raw["ean_lengths"] = frozenset(raw["ean_lengths"])
        for key in ("prefixes", "url_params"):
            if key in raw:
                if not isinstance(raw[key], list) or not all(isinstance(v, str) and v for v in raw[key]):
                    raise ValueError(f"[cards]: {key} must be a list of texts")
                raw[key] = tuple(raw[key])
        if "prefixes" in raw and not all(_DIGITS.fullmatch(p) for p in raw["prefixes"]):
            raise ValueError("[cards]: prefixes are digits, e.g. [\"4820\"]")
        if "text_prefix" in raw and (not isinstance(raw["text_prefix"], str) or _DIGITS.search(raw["text_prefix"])):
            raise ValueError("[cards]: text_prefix is the letters before the number, e.g. \"LK\"")
        if "luhn" in raw and not isinstance(raw["luhn"], bool):
            raise ValueError("[cards]: luhn must be true or false")
        if raw.get("leading_zeros", "keep") not in ("keep", "strip"):
            raise ValueError("[cards]: leading_zeros must be \"keep\" or \"strip\"")
        rules = cls(**raw)
        if rules.min_length > rules.max_length or rules.max_length > 40:
            raise ValueError("[cards]: min_length must not exceed max_length (at most 40)")
        return rules


def luhn_ok(digits: str) -> bool:
    """Luhn mod-10: double every second digit from the right."""
    if len(digits) < 2 or not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def split_aim(text: str) -> tuple[str | None, str]:
    """Split a leading AIM symbology identifier off: `"]E05901234123457"` -> `("]E0", "5901234123457")`."""
    if _AIM.match(text):
        return text[:3], text[3:]
    return None, text


def gs1_check_digit_ok(digits: str) -> bool:
    """GS1 mod-10 check for EAN-8, UPC-A, EAN-13 (and GTIN-14): weights 3,1,3,... from the right."""
    if len(digits) < 2 or not _DIGITS.fullmatch(digits):
        return False
    body = digits[:-1]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(digits[-1])


def upc_e_to_upc_a(digits: str) -> str | None:
    """Expand an 8-digit UPC-E (number system 0 or 1) to its 12-digit UPC-A form, or None."""
    if len(digits) != 8 or not _DIGITS.fullmatch(digits) or digits[0] not in "01":
        return None
    ns, (a, b, c, d, e, f), check = digits[0], digits[1:7], digits[7]
    if f in "012":
        body = f"{a}{b}{f}0000{c}{d}{e}"
    elif f == "3":
        body = f"{a}{b}{c}00000{d}{e}"
    elif f == "4":
        body = f"{a}{b}{c}{d}00000{e}"
    else:
        body = f"{a}{b}{c}{d}{e}0000{f}"
    return ns + body + check


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
    scanner_says_ean = symbology is not None and symbology[1] == "E"
    if scanner_says_ean or len(digits) in rules.ean_lengths:
        if scanner_says_ean and len(digits) == 8 and symbology == "]E0":
            expanded = upc_e_to_upc_a(digits)  # ]E0 with 8 digits is UPC-E; EAN-8 is ]E4
            if expanded is None or not gs1_check_digit_ok(expanded):
                return unrecognised("bad_check_digit")
        elif len(digits) in _EAN_LENGTHS:
            if not gs1_check_digit_ok(digits):
                return unrecognised("bad_check_digit")
        elif scanner_says_ean:
            return unrecognised("wrong_length")
    if not rules.min_length <= len(digits) <= rules.max_length:
        return unrecognised("wrong_length")
    if rules.prefixes and not digits.startswith(rules.prefixes):
        return unrecognised("wrong_prefix")
    if rules.luhn and not luhn_ok(digits):
        return unrecognised("bad_check_digit")
    if int(digits) < rules.first_number:
        return unrecognised("below_first_number")
    if rules.leading_zeros == "strip":
        digits = digits.lstrip("0") or "0"
    return CardNumber(digits, symbology)
