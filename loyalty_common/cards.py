"""Card numbers as the shop prints them: the format rules (length, prefixes, check digits, Code 128 text,
leading zeros) and the check of one number against them.

Both programs use this one code: the kiosk's scanner decoder (drivers/scanner/decode.py) reads a scan with the
rules of its shop, and the store server checks numbers where they enter (card ranges, the import, look-ups) with
the same rules, kept as the shop setting `card_rules` and sent to devices in GET /config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = re.compile(r"[0-9]+")
EAN_LENGTHS = frozenset({8, 12, 13})
KEYS = ("min_length", "max_length", "first_number", "ean_lengths", "text_prefix", "url_params", "prefixes",
        "luhn", "leading_zeros")

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
    def from_config(cls, raw: dict | None, where: str = "[cards]") -> CardRules:
        """The `[cards]` table of kiosk.toml, or the server's `card_rules` setting (the same keys); ValueError
        names a key that does not fit."""
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"{where}: a table of rules, e.g. {{\"max_length\": 16, \"luhn\": true}}")
        raw = dict(raw or {})
        raw.pop("sample", None)  # a number printed on the shop's cards, for `kiosk selftest`, not a rule
        known = set(KEYS)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
        for key in ("min_length", "max_length", "first_number"):
            if key in raw and (not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 0):
                raise ValueError(f"{where}: {key} must be a whole number")
        if "ean_lengths" in raw:
            lengths = raw["ean_lengths"]
            if not isinstance(lengths, list) or not all(type(n) is int and n in EAN_LENGTHS for n in lengths):
                raise ValueError(f"{where}: ean_lengths must list some of 8, 12, 13 (EAN-8, UPC-A, EAN-13)")
            raw["ean_lengths"] = frozenset(raw["ean_lengths"])
        for key in ("prefixes", "url_params"):
            if key in raw:
                if not isinstance(raw[key], list) or not all(isinstance(v, str) and v for v in raw[key]):
                    raise ValueError(f"{where}: {key} must be a list of texts")
                raw[key] = tuple(raw[key])
        if "prefixes" in raw and not all(_DIGITS.fullmatch(p) for p in raw["prefixes"]):
            raise ValueError(f"{where}: prefixes are digits, e.g. [\"4820\"]")
        if "text_prefix" in raw and (not isinstance(raw["text_prefix"], str) or _DIGITS.search(raw["text_prefix"])):
            raise ValueError(f"{where}: text_prefix is the letters before the number, e.g. \"LK\"")
        if "luhn" in raw and not isinstance(raw["luhn"], bool):
            raise ValueError(f"{where}: luhn must be true or false")
        if raw.get("leading_zeros", "keep") not in ("keep", "strip"):
            raise ValueError(f"{where}: leading_zeros must be \"keep\" or \"strip\"")
        rules = cls(**raw)
        if rules.min_length > rules.max_length or rules.max_length > 40:
            raise ValueError(f"{where}: min_length must not exceed max_length (at most 40)")
        return rules

    def describe(self) -> str:
        """The format in a few words, for the self-test and the server's refusals."""
        return f"{self.min_length}-{self.max_length} digits from {self.first_number}" + "".join(
            [f", text {self.text_prefix!r}" if self.text_prefix else "",
             f", starting {'/'.join(self.prefixes)}" if self.prefixes else "",
             ", Luhn check digit" if self.luhn else "",
             f", EAN check at {'/'.join(map(str, sorted(self.ean_lengths)))} digits" if self.ean_lengths else "",
             ", leading zeros stripped" if self.leading_zeros == "strip" else ""])


def luhn_ok(digits: str) -> bool:
    """Luhn mod-10: double every second digit from the right."""
    if len(digits) < 2 or not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def luhn_digit(body: str) -> str:
    """The Luhn check digit that completes `body` (digits)."""
    return next(d for d in "0123456789" if luhn_ok(body + d))


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




def check_digits(digits: str, rules: CardRules, symbology: str | None = None) -> tuple[str | None, str | None]:
    """A run of digits read as one of the shop's cards: (the card's number, None), or (None, the reason it is
    not one: wrong_length, wrong_prefix, bad_check_digit, below_first_number). `symbology` is the scanner's AIM
    identifier (an `]E...` scan is an EAN/UPC and is always checked as one)."""
    scanner_says_ean = symbology is not None and symbology[1] == "E"
    if scanner_says_ean or len(digits) in rules.ean_lengths:
        if scanner_says_ean and len(digits) == 8 and symbology == "]E0":
            expanded = upc_e_to_upc_a(digits)  # ]E0 with 8 digits is UPC-E; EAN-8 is ]E4
            if expanded is None or not gs1_check_digit_ok(expanded):
                return None, "bad_check_digit"
        elif len(digits) in EAN_LENGTHS:
            if not gs1_check_digit_ok(digits):
                return None, "bad_check_digit"
        elif scanner_says_ean:
            return None, "wrong_length"
    if not rules.min_length <= len(digits) <= rules.max_length:
        return None, "wrong_length"
    if rules.prefixes and not digits.startswith(rules.prefixes):
        return None, "wrong_prefix"
    if rules.luhn and not luhn_ok(digits):
        return None, "bad_check_digit"
    if int(digits) < rules.first_number:
        return None, "below_first_number"
    if rules.leading_zeros == "strip":
        digits = digits.lstrip("0") or "0"
    return digits, None


def read_number(text: str, rules: CardRules) -> tuple[str | None, str | None]:
    """A card number as printed or typed ("LK10001", " 0000123 ") -> check_digits' answer; `not_a_card` for
    text that is not digits after the shop's text prefix."""
    text = (text or "").strip()
    if rules.text_prefix and text.lower().startswith(rules.text_prefix.lower()):
        text = text[len(rules.text_prefix):]
    if not text.isascii() or not _DIGITS.fullmatch(text) or len(text) > 40:
        return None, "not_a_card"
    return check_digits(text, rules)


WHY = {
    "not_a_card": "not a card number",
    "wrong_length": "the wrong number of digits",
    "wrong_prefix": "does not start as the shop's cards do",
    "bad_check_digit": "its check digit is wrong",
    "below_first_number": "below the shop's first card number",
}
