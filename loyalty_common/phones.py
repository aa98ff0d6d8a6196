"""Phone numbers: E.164 normalisation with the shop's country as default region, and masking."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    pass


def normalise(raw: str, region: str | None = "UA") -> str:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as e:
        raise InvalidPhone(f"not a phone number: {e}") from e
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(raw: str, region: str | None) -> str | None:
    """normalise() for a number being typed on a kiosk: None while it is not a valid phone yet."""
    try:
        return normalise(raw, region)
    except InvalidPhone:
        return None


def mask(e164: str | None) -> str:
    """+380501234567 -> '+380 •• ••• •• 67': the country code and last two digits, nothing else."""
    if not e164:
        return ""
    try:
        code = str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        code = ""
    digits = e164.lstrip("+")
    if code and digits.startswith(code) and len(digits) > len(code) + 2:
        return f"+{code} •• ••• •• {digits[-2:]}"
    return "•• " + digits[-2:] if len(digits) >= 2 else "••"
