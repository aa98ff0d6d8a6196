"""The back office in the reader's language: gettext catalogues (domain "admin"), money and times via Babel.

Catalogues live in locale/<lang>/LC_MESSAGES/admin.po and are compiled with the kiosk's
(`python -m kiosk.i18n.build`). One Jinja2 environment per language keeps requests in different
languages from stepping on each other's gettext.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, get_timezone_gmt, get_timezone_location

from loyalty_common.money import format_money

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


def zone_name(timezone: str | None, lang: str, at: datetime | None = None) -> str:
    """A shop's time zone as its reader knows it: the city in the reader's language and the offset in force
    (`Київ (GMT+02:00)`), not the IANA identifier an owner never typed. An unknown zone is shown as stored."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return timezone or ""
    offset = get_timezone_gmt((at or clock.now()).astimezone(zone), width="long", locale=lang)
    if "/" not in zone.key or zone.key.startswith("Etc/"):
        return offset  # UTC, Etc/GMT-3: no city to name
    return f"{get_timezone_location(zone, locale=lang, return_city=True)} ({offset})"


class Formats:
    """Money and times for one reader: the shop's currency and timezone in the reader's locale."""

    def __init__(self, lang: str, currency: str, timezone: str, country: str = "") -> None:
        self.lang, self.currency, self.country = lang, currency, country
        try:
            self.zone = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")

    def money(self, minor: int | None, signed: bool = False) -> str:
        if minor is None:
            return ""
        return format_money(minor, self.currency, self.lang, self.country, signed=signed)

    def when(self, at: datetime | None) -> str:
        if at is None:
            return ""
        return format_datetime(clock.aware(at).astimezone(self.zone), "short", locale=self.lang)

    def wall(self, at: datetime) -> str:
        """A time already in the zone it is meant in (a rule preview for another shop's till): as it is."""
        return format_datetime(at, "short", tzinfo=at.tzinfo, locale=self.lang)
