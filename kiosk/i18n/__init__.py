"""Screens in the shop's language: gettext catalogues per language, switchable at run time.

`_` translates now, in the current language; `N_` only marks a string for extraction, for tables of
messages that are translated when shown.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

LOCALE_DIR = Path(__file__).parent
DOMAIN = "kiosk"
LANGUAGES = {"en": "English", "uk": "Українська", "ru": "Русский", "kk": "Қазақша", "vi": "Tiếng Việt"}
# On the attract screen's language buttons: each in its own language, never translated.
BUTTON_LABELS = {"en": "EN", "uk": "УКР", "ru": "РУС", "kk": "ҚАЗ", "vi": "VIỆT"}

_current: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
_listeners: list[Callable[[str], None]] = []


def set_language(lang: str) -> None:
    global _current, _language
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; one of {', '.join(LANGUAGES)}")
    _current = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    _language = lang
    for listener in list(_listeners):
        listener(lang)


def language() -> str:
    return _language


def on_change(listener: Callable[[str], None]) -> None:
    _listeners.append(listener)


def _(message: str) -> str:
    return _current.gettext(message)


def N_(message: str) -> str:
    return message
