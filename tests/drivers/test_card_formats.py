"""Card formats from kiosk.toml's [cards]: 16-digit legacy cards, Code 128 text, leading zeros, prefixes."""

from __future__ import annotations

import pytest

from drivers.scanner.decode import CardNumber, CardRules, Unrecognised, decode, luhn_ok
from kiosk.config import ConfigError, KioskConfig
from kiosk.selftest import FAIL, OK, WARN, check_cards


def test_the_default_rules_refuse_what_a_shop_must_configure():
    for payload in ("4000001234567899", "LK10001", "0000123"):
        assert isinstance(decode(payload), Unrecognised), payload


def test_sixteen_digit_legacy_cards_with_a_luhn_check_digit():
    rules = CardRules.from_config({"max_length": 16, "ean_lengths": [], "luhn": True, "first_number": 1})
    assert luhn_ok("4000001234567899") and not luhn_ok("4000001234567898")
    assert decode("4000001234567899", rules) == CardNumber("4000001234567899")
    assert decode("4000001234567898", rules).reason == "bad_check_digit"


def test_code_128_text_and_leading_zeros():
    rules = CardRules.from_config({"text_prefix": "LK", "first_number": 1, "leading_zeros": "strip"})
    assert decode("LK10001", rules) == CardNumber("10001") and decode("lk10001", rules) == CardNumber("10001")
    assert decode("0000123", rules) == CardNumber("123")  # printed zero-padded, known to the server as 123
    kept = CardRules.from_config({"first_number": 1})
    assert decode("0000123", kept) == CardNumber("0000123")


def test_prefixes_limit_the_shops_range():
    rules = CardRules.from_config({"prefixes": ["4820"], "ean_lengths": [13], "first_number": 1})
    assert decode("4820000123457", rules) == CardNumber("4820000123457")
    assert decode("5901234123457", rules).reason == "wrong_prefix"


@pytest.mark.parametrize("cards, word", [({"min_length": "5"}, "min_length"), ({"ean_lengths": [10]}, "ean_lengths"),
                                          ({"prefixes": ["LK"]}, "prefixes"), ({"luhn": "yes"}, "luhn"),
                                          ({"leading_zeros": "drop"}, "leading_zeros"), ({"colour": 1}, "colour"),
                                          ({"min_length": 9, "max_length": 5}, "min_length")])
def test_a_bad_cards_table_is_refused_with_the_key(tmp_path, cards, word):
    with pytest.raises(ConfigError, match=word):
        KioskConfig(cards=cards)


def test_kiosk_toml_cards_reach_the_rules_and_the_selftest_decodes_the_sample(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('server_url = "http://127.0.0.1:8700"\n[cards]\ntext_prefix = "LK"\nfirst_number = 1\n'
                    'sample = "LK10001"\n', encoding="utf-8")
    config = KioskConfig.load(path)
    assert config.card_rules.text_prefix == "LK"
    check = check_cards(config)
    assert check.status == OK and "LK10001 -> card 10001" in check.detail
    assert check_cards(KioskConfig(cards={"sample": "ZZ1"})).status == FAIL
    assert check_cards(KioskConfig()).status == WARN  # no sample: says how to check
