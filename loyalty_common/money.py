"""Money as people read it: the shop's currency in the reader's language, through Babel (CLDR data).

Amounts are integers in the currency's minor units (kopiykas, tiyns; dong have none). Both programs use
this: the kiosk's screens and the server's SMS and card page.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol, get_territory_currencies

DEFAULT_CURRENCY = "UAH"


def currency_for(country: str | None) -> str:
    """The currency in use in `country` today (UA -> UAH, KZ -> KZT, VN -> VND)."""
    found = get_territory_currencies(country.upper()) if country else []
    return found[0] if found else DEFAULT_CURRENCY


def precision(currency: str) -> int:
    """Digits after the decimal point: 2 for UAH, 0 for VND."""
    return get_currency_precision(currency)


def parse_minor(text: str, currency: str) -> int:
    """'12.50', '1 250,50' or '-3' in the shop's money -> minor units (two digits for UAH, none for VND); a comma
    works as the decimal mark too. ValueError says what is wrong."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip().replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        raise ValueError("the amount is not a number") from None
    if not value.is_finite():
        raise ValueError("the amount is not a number")
    minor = value.scaleb(precision(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"at most {precision(currency)} decimals")
    return int(minor)


@lru_cache(maxsize=64)
def _locale(lang: str, country: str) -> Locale:
    # the reader's language with the shop's country where CLDR has it (uk_UA, ru_KZ), else the language alone
    for tag in (f"{lang}_{country.upper()}" if country else None, lang, "en"):
        if not tag:
            continue
        try:
            return Locale.parse(tag)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


@lru_cache(maxsize=64)
def _symbol(currency: str, lang: str, country: str) -> str:
    """The sign a reader in that shop knows (₴, ₸, ₽, ₫). English CLDR writes "UAH"; the country's own language
    has the sign, and the sign is what the price tags on the shelf show."""
    symbol = get_currency_symbol(currency, locale=_locale(lang, country))
    if symbol != currency:
        return symbol
    for own in get_official_languages(country.upper()) if country else ():
        try:
            local = get_currency_symbol(currency, locale=Locale.parse(f"{own}_{country.upper()}"))
        except (UnknownLocaleError, ValueError):
            continue
        if local != currency:
            return local
    return symbol


def format_money(minor: int, currency: str, lang: str, country: str = "", *, signed: bool = False) -> str:
    """`minor` in `currency` as a reader of `lang` writes it: 1 234,50 ₴ (uk), ₴1,234.50 (en), 1.234 ₫ (vi)."""
    currency = (currency or DEFAULT_CURRENCY).upper()
    digits = precision(currency)
    value = Decimal(int(minor)).scaleb(-digits)
    locale = _locale(lang or "en", country or "")
    text = format_currency(value, currency, locale=locale, currency_digits=True)
    symbol = _symbol(currency, lang or "en", country or "")
    if symbol != currency:
        text = text.replace(currency, symbol)
    if signed and minor > 0:
        text = "+" + text
    return text


def format_plain(minor: int, currency: str, lang: str, country: str = "") -> str:
    """The number without the currency sign (an SMS counting "bonuses"): 1 234,50 or 1.234."""
    currency = (currency or DEFAULT_CURRENCY).upper()
    from babel.numbers import format_decimal

    digits = precision(currency)
    value = Decimal(int(minor)).scaleb(-digits)
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=fmt, locale=_locale(lang or "en", country or ""))


def format_money_sms(minor: int, currency: str, lang: str, country: str = "") -> str:
    """Money for an SMS: plain spaces (CLDR's no-break spaces are outside the GSM-7 alphabet), and in a text
    that is otherwise GSM-7 (English, Vietnamese without diacritics) the ISO code instead of a sign such as ₴
    that would turn the whole SMS into UCS-2 and cost a second part."""
    from drivers.sms_pdu import is_gsm7

    text = format_money(minor, currency, lang, country).replace("\u00a0", " ").replace("\u202f", " ")
    if is_gsm7(text) or lang not in ("en", "vi"):
        return text
    symbol = _symbol((currency or DEFAULT_CURRENCY).upper(), lang or "en", country or "")
    code = (currency or DEFAULT_CURRENCY).upper()
    text = text.replace(symbol, code)
    # the sign stood before the number in English (₴1,234.50): the code wants a space after it (UAH 1,234.50)
    return re.sub(rf"{code}(?=\d)", f"{code} ", text)
