"""Screens in the shop's language: gettext catalogues per language, switchable at run time.

`_` translates now, in the current language; `ngettext` picks the plural form for a number; `N_` only
marks a string for extraction, for tables of messages that are translated when shown.
"""

from __future__ import annotations

import gettext
import logging
from pathlib import Path

LOCALE_DIR = Path(__file__).parent
DOMAIN = "kiosk"
LANGUAGES = {"en": "English", "uk": "Українська", "ru": "Русский", "kk": "Қазақша", "vi": "Tiếng Việt"}
# On the attract screen's language buttons: each in its own language, never translated.
BUTTON_LABELS = {"en": "EN", "uk": "УКР", "ru": "РУС", "kk": "ҚАЗ", "vi": "VIỆT"}

_current: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def set_language(lang: str) -> None:
    global _current, _language
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; one of {', '.join(LANGUAGES)}")
    _current = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    _language = lang


def missing_catalogues(languages: list[str], locale_dir: Path = LOCALE_DIR) -> list[str]:
    """The languages among these with no compiled catalogue (.mo): gettext would show them in English
    without a word. A build that skipped `python -m kiosk.i18n.build` (or setup.py's build step) has none."""
    return [lang for lang in languages if gettext.find(DOMAIN, str(locale_dir), languages=[lang]) is None]


def warn_missing_catalogues(languages: list[str], locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Log a warning for each language without a catalogue (at start, so the journal says why)."""
    missing = missing_catalogues(list(dict.fromkeys(languages)), locale_dir)
    for lang in missing:
        logging.getLogger("kiosk.i18n").warning(
            "no compiled catalogue for language %r: its screens show English (the app was built without "
            "`python -m kiosk.i18n.build`; `kiosk selftest` fails until it is reinstalled)", lang)
    return missing


def language() -> str:
    return _language


def _(message: str) -> str:
    return _current.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a sentence for the number `n` in the current language: 1 бонус, 2 бонуси, 5 бонусів."""
    return _current.ngettext(singular, plural, n)


def N_(message: str) -> str:
    return message
