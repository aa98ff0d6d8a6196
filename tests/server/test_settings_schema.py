"""The settings table: every key typed, described and grouped, its default valid, and the docs list them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from store_server import settings_schema as schema
from store_server.errors import DomainError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def test_every_setting_is_described_grouped_and_its_default_fits():
    assert len(schema.BY_KEY) == len(schema.SETTINGS)
    for s in schema.SETTINGS:
        assert s.group in schema.GROUPS and s.description and schema.describe_type(s)
        assert schema.validate(s.key, s.default) == s.default


def test_docs_list_every_setting():
    text = DOCS.read_text(encoding="utf-8")
    missing = [s.key for s in schema.SETTINGS if f"| `{s.key}` |" not in text]
    assert not missing, f"add these to the settings table in docs/server.md: {missing}"


@pytest.mark.parametrize("key, typed, stored", [
    ("public_name", "My Shop", "My Shop"),
    ("public_name", "123", "123"),
    ("languages", "uk, en", ["uk", "en"]),
    ("languages", "kk", ["kk"]),
    ("languages", '["ru"]', ["ru"]),
    ("no_code_limit", "500", 500),
    ("transaction_sms", "money", "money"),
    ("identify_code_required", "no", False),
    ("return_days", "none", None),
    ("currency", "kzt", "KZT"),
    ("bonus_expiry_days", "none", None),
    ("country", "kz", "KZ"),
    ("public_url", "https://loyalty.shop.example/", "https://loyalty.shop.example"),
    ("code_required", '{"redeem": false}', {"redeem": False}),
])
def test_plain_values_are_read_by_type(key, typed, stored):
    assert schema.parse(key, typed) == stored
    assert schema.parse(key, schema.plain(stored)) == stored  # what `settings list` shows can be typed back


@pytest.mark.parametrize("key, typed, reason", [
    ("timezone", "Mars/Base", "not a time zone name"),
    ("code_required", "5", "valid dictionary"),
    ("no_code_limit", "abc", "valid integer"),
    ("languages", "uk,uk", "listed twice"),
    ("card_qr_minutes", "0", "greater than or equal to 1"),
    ("staff_phones", "+380501234567,12", "'12' is not a phone number"),
    ("otp", '{"sends_per_day": 3}', "otp setting 'sends_per_day' is unknown"),
])
def test_bad_values_are_refused_with_the_reason(key, typed, reason):
    with pytest.raises(DomainError) as err:
        schema.parse(key, typed)
    assert reason in err.value.message and err.value.message.startswith(f"{key}: ")


def test_stored_problems_are_found_and_unknown_keys_ignored():
    assert schema.check_stored({"public_name": "X", "digital_card_secret": "s"}) == []
    assert schema.check_stored({"timezone": "Mars/Base"})[0].startswith("timezone: ")
