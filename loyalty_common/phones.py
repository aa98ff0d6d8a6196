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
    """The country code and the last two digits, in the number's own national grouping, nothing else.

    +380501234567 -> '+380 •• ••• •• 67', +12015550123 -> '+1 •••-•••-•• 23', +77011234567 -> '+7 ••• ••• •• 67',
    +84912345678 -> '+84 ••• ••• •78': the grouping (phonenumbers' international format) tells a cashier the
    country's shape of number; two or more hidden digits of the group holding the last two are set apart from
    them by a space.
    """
    if not e164:
        return ""
    digits = e164.lstrip("+")
    try:
        number = phonenumbers.parse(e164, None)
        shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        code = str(number.country_code)
    except phonenumbers.NumberParseException:
        shown, code = "", ""
    prefix = f"+{code} "
    if not (code and shown.startswith(prefix) and digits.startswith(code) and len(digits) > len(code) + 2):
        return "•• " + digits[-2:] if len(digits) >= 2 else "••"
    national = shown[len(prefix):]
    hide = sum(c.isdigit() for c in national) - 2
    out, seen, run = [], 0, 0  # run: hidden digits so far in the current group
    for c in national:
        if c.isdigit():
            seen += 1
            if seen == hide + 1 and run >= 2:
                out.append(" ")  # the shown digits apart from two or more hidden ones of their group
            out.append("•" if seen <= hide else c)
            run = run + 1 if seen <= hide else 0
        else:
            out.append(c)
            run = 0
    return prefix + "".join(out)
