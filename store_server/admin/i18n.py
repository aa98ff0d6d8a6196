"""The back office in the reader's language: gettext catalogues (domain "admin"), money and times via Babel.

Catalogues live in locale/<lang>/LC_MESSAGES/admin.po and are compiled with the kiosk's
(`python -m kiosk.i18n.build`). One Jinja2 environment per language keeps requests in different
languages from stepping on each other's gettext.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.numbers import format_currency, get_territory_currencies

from .. import clock

DOMAIN = "admin"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "uk", "ru", "kk", "vi")
NAMES = {"en": "English", "uk": "Українська", "ru": "Русский", "kk": "Қазақша", "vi": "Tiếng Việt"}


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


@cache
def translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def pick(cookie: str | None, accept_language: str | None, default: str = "en") -> str:
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "en"


def currency_for(setting: str | None, country: str) -> str:
    """The shop's currency: its setting, else the legal tender of its country (UAH for UA, KZT for KZ)."""
    if setting:
        return setting
    found = get_territory_currencies(country or "UA", tender=True)
    return found[0] if found else "EUR"


class Formats:
    """Money and times for one reader: the shop's currency and timezone in the reader's locale."""

    def __init__(self, lang: str, currency: str, timezone: str) -> None:
        self.lang, self.currency = lang, currency
        try:
            self.zone = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")

    def money(self, minor: int | None, signed: bool = False) -> str:
        if minor is None:
            return ""
        text = format_currency(Decimal(minor) / 100, self.currency, locale=self.lang)
        return "+" + text if signed and minor > 0 else text

    def when(self, at: datetime | None) -> str:
        if at is None:
            return ""
        return format_datetime(clock.aware(at).astimezone(self.zone), "short", locale=self.lang)
