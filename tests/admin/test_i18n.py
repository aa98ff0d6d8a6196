"""The back office's words: every message extracted from its code and templates is translated, with the
same placeholders, and money and dates follow the reader's locale."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from kiosk.i18n.build import admin_catalogue_path, extract_admin
from store_server.admin import i18n

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(scope="module")
def template():
    return extract_admin()


def test_extraction_finds_templates_and_code(template):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert "Operations journal" in ids  # a template
    assert "The balance was corrected." in ids  # messages.py
    assert "%(num)d card found" in ids  # a plural


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_message_is_translated_with_its_placeholders(template, lang):
    with admin_catalogue_path(lang).open("rb") as f:
        catalogue = read_po(f, locale=lang)
    missing, broken = [], []
    for m in template:
        if not m.id:
            continue
        found = catalogue.get(m.id)
        strings = (found.string if isinstance(found.string, tuple) else (found.string,)) if found else ("",)
        if not all(strings):
            missing.append(m.id)
            continue
        wanted = set(PLACEHOLDER.findall(m.id if isinstance(m.id, str) else m.id[0]))
        if any(set(PLACEHOLDER.findall(s)) != wanted for s in strings):
            broken.append(m.id)
    assert not missing, f"{lang}: untranslated: {missing}"
    assert not broken, f"{lang}: placeholders differ: {broken}"


def test_money_is_in_the_shops_currency_for_the_readers_locale():
    assert i18n.Formats("uk", "UAH", "Europe/Kyiv", "UA").money(123456) == "1\xa0234,56\xa0₴"
    assert i18n.Formats("en", "UAH", "Europe/Kyiv", "UA").money(550, signed=True) == "+5,50\xa0₴"
    assert i18n.Formats("kk", "KZT", "Asia/Almaty", "KZ").money(-50).endswith("₸")
    assert i18n.Formats("vi", "VND", "Asia/Ho_Chi_Minh", "VN").money(10_000) == "10.000\xa0₫"  # dong have no minor unit


def test_the_language_comes_from_the_choice_then_the_browser():
    assert i18n.pick("kk", "uk,en;q=0.5") == "kk"
    assert i18n.pick(None, "ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert i18n.pick("xx", "de-DE") == "en"


def test_a_time_zone_is_named_by_its_city_in_the_readers_language_with_its_offset():
    winter, summer = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC)
    assert i18n.zone_name("Europe/Kyiv", "uk", winter) == "Київ (GMT+02:00)"
    assert i18n.zone_name("Europe/Kyiv", "uk", summer) == "Київ (GMT+03:00)"  # the offset in force, not a fixed one
    assert i18n.zone_name("Asia/Almaty", "en", winter) == "Almaty (GMT+05:00)"
    assert i18n.zone_name("America/New_York", "ru", winter) == "Нью-Йорк (GMT-05:00)"
    assert i18n.zone_name("UTC", "vi", winter) == "GMT+00:00"  # no city to name
    assert i18n.zone_name("Etc/GMT-3", "en", winter) == "GMT+03:00"
    assert i18n.zone_name("Not/AZone", "en", winter) == "Not/AZone"  # shown as stored, never an error page
