"""Payload classification: our cards, digital-card and enrolment QRs, and clear reasons for the rest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.scanner.decode import (
    MAX_PAYLOAD,
    CardNumber,
    CardRules,
    DigitalCardToken,
    EnrolmentCode,
    Unrecognised,
    decode,
    gs1_check_digit_ok,
    split_aim,
    upc_e_to_upc_a,
)


def with_check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


# --- card numbers -------------------------------------------------------------------------------------
def test_shop_card_numbers_from_10001_up_are_cards() -> None:
    assert decode("10001") == CardNumber("10001")
    assert decode("123456789") == CardNumber("123456789")


@pytest.mark.parametrize(("payload", "reason"), [
    ("10000", "below_first_number"),
    ("00042", "below_first_number"),
    ("1234", "wrong_length"),
    ("12345678901234", "wrong_length"),
])
def test_numbers_outside_the_shops_rules_are_not_cards(payload: str, reason: str) -> None:
    assert decode(payload) == Unrecognised(payload, reason)


def test_scanner_suffix_and_padding_are_ignored() -> None:
    assert decode("10001\r\n") == CardNumber("10001")
    assert decode("  10001\t") == CardNumber("10001")


def test_ean13_needs_a_correct_check_digit() -> None:
    assert decode("5901234123457") == CardNumber("5901234123457")
    assert decode("5901234123458") == Unrecognised("5901234123458", "bad_check_digit")


def test_ean8_and_upca_are_checked_when_the_shop_uses_those_lengths() -> None:
    rules = CardRules(min_length=8, max_length=13, first_number=1, ean_lengths=frozenset({8, 12, 13}))
    assert decode("96385074", rules) == CardNumber("96385074")  # EAN-8
    assert decode("96385075", rules).reason == "bad_check_digit"
    assert decode("036000291452", rules) == CardNumber("036000291452")  # UPC-A
    assert decode("036000291453", rules).reason == "bad_check_digit"
    # Without those lengths in ean_lengths, an 8-digit number is just a card number.
    assert decode("96385075", CardRules(min_length=8, first_number=1)) == CardNumber("96385075")


def test_aim_identifier_is_stripped_and_recorded() -> None:
    result = decode("]E05901234123457")
    assert result == CardNumber("5901234123457")
    assert result.symbology == "]E0"
    code128 = decode("]C010042")
    assert code128 == CardNumber("10042") and code128.symbology == "]C0"


def test_aim_ean_identifier_forces_the_check_digit_for_any_length() -> None:
    rules = CardRules(min_length=8, first_number=1)
    assert decode("]E496385074", rules) == CardNumber("96385074")  # EAN-8 says ]E4
    assert decode("]E496385075", rules).reason == "bad_check_digit"
    assert decode("]E012345", rules).reason == "wrong_length"


def test_upc_e_under_its_aim_identifier_is_expanded_for_the_check() -> None:
    assert upc_e_to_upc_a("04252614") == "042100005264"
    rules = CardRules(min_length=8, first_number=1)
    assert decode("]E004252614", rules) == CardNumber("04252614")
    assert decode("]E004252615", rules).reason == "bad_check_digit"


def test_code128_text_prefix_of_the_shop() -> None:
    rules = CardRules(text_prefix="LK")
    assert decode("LK10001", rules) == CardNumber("10001")
    assert decode("lk10001", rules) == CardNumber("10001")
    assert decode("XX10001", rules) == Unrecognised("XX10001", "not_a_card")


def test_other_code128_text_is_not_a_card() -> None:
    assert decode("HELLO-123") == Unrecognised("HELLO-123", "not_a_card")


def test_gs1_separator_inside_the_data_is_refused_not_guessed() -> None:
    assert decode("]C1010590123412345\x1d10ABC").reason == "control_characters"


# --- QR codes -----------------------------------------------------------------------------------------
def test_digital_card_qr_gives_the_signed_token() -> None:
    assert decode("lk://card/eyJhbGciOi.eyJjYXJkIjoxMDAwMX0.c2lnbmF0dXJl") == DigitalCardToken(
        "eyJhbGciOi.eyJjYXJkIjoxMDAwMX0.c2lnbmF0dXJl")
    assert decode("]Q1lk://card/abc_DEF-123") == DigitalCardToken("abc_DEF-123")
    assert decode("lk://card/").reason == "empty_token"
    assert decode("lk://card/has space").reason == "bad_token"


def test_enrolment_qr_for_the_technician() -> None:
    assert decode("lk://enrol?server=https://shop.example:8700&token=T0k3n&role=cashier") == EnrolmentCode(
        "https://shop.example:8700", "T0k3n", "cashier")
    assert decode("lk://enrol?server=https://shop.example&token=T").role is None
    assert decode("lk://enrol?token=T").reason == "enrolment_incomplete"
    assert decode("lk://enrol?server=ftp://x&token=T").reason == "enrolment_bad_server"


def test_url_with_a_card_parameter() -> None:
    assert decode("https://shop.example/loyalty?utm=qr&card=10042") == CardNumber("10042")
    assert decode("https://shop.example/loyalty?card=09999").reason == "below_first_number"
    assert decode("https://shop.example/loyalty?card=abc").reason == "not_a_card"
    assert decode("https://shop.example/about").reason == "url_without_card"
    assert decode("http://[::1/?card=10001").reason == "bad_url"


# --- edges --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("payload", "reason"), [
    ("", "empty"), ("   \r\n", "empty"), ("]E0", "empty"),
    ("x" * (MAX_PAYLOAD + 1), "too_long"),
    ("1" * 5000, "too_long"),  # int() of this many digits would raise ValueError
])
def test_degenerate_payloads(payload: str, reason: str) -> None:
    assert decode(payload).reason == reason


def test_non_text_is_unrecognised_not_a_crash() -> None:
    assert decode(b"10001").reason == "not_text"  # type: ignore[arg-type]


def test_non_ascii_digits_are_not_card_numbers() -> None:
    assert decode("١٠٠٠١").reason == "not_a_card"  # Arabic-Indic digits: str.isdigit() would say yes


def test_split_aim_and_check_digit_helpers() -> None:
    assert split_aim("]E05901234123457") == ("]E0", "5901234123457")
    assert split_aim("]5901234123457") == (None, "]5901234123457")
    assert gs1_check_digit_ok("5901234123457")
    assert not gs1_check_digit_ok("5")
    assert not gs1_check_digit_ok("59012x4123457")


# --- properties ---------------------------------------------------------------------------------------
RESULT_TYPES = (CardNumber, DigitalCardToken, EnrolmentCode, Unrecognised)
rules_strategy = st.builds(
    CardRules,
    min_length=st.integers(1, 8), max_length=st.integers(5, 20), first_number=st.integers(0, 10**6),
    ean_lengths=st.frozensets(st.sampled_from([8, 12, 13, 14])), text_prefix=st.sampled_from(["", "LK", "]"]),
)
payloads = st.one_of(
    st.text(),
    st.text(alphabet="0123456789]ECQ \r\n", max_size=30),
    st.builds(lambda a, b: a + b, st.sampled_from(["", "]E0", "]E4", "]C1", "]Q1", "lk://card/", "lk://enrol?",
                                                   "https://x/?card=", "http://[", "LK"]), st.text(max_size=60)),
)


@settings(max_examples=400, deadline=None)
@given(payload=payloads, rules=rules_strategy)
def test_no_payload_makes_decode_raise(payload: str, rules: CardRules) -> None:
    result = decode(payload, rules)
    assert isinstance(result, RESULT_TYPES)
    if isinstance(result, CardNumber):
        assert result.number.isascii() and result.number.isdigit()
        assert rules.min_length <= len(result.number) <= rules.max_length
        assert int(result.number) >= rules.first_number
    if isinstance(result, Unrecognised):
        assert result.reason and result.reason.islower()


@settings(max_examples=200, deadline=None)
@given(number=st.integers(10001, 10**12 - 1))
def test_every_issued_card_number_decodes_to_itself(number: int) -> None:
    assert decode(str(number)) == CardNumber(str(number))


@settings(max_examples=200, deadline=None)
@given(body=st.text(alphabet="0123456789", min_size=12, max_size=12), wrong=st.integers(1, 9))
def test_ean13_check_digit_accepts_the_right_digit_only(body: str, wrong: int) -> None:
    good = with_check_digit(body)
    bad = good[:-1] + str((int(good[-1]) + wrong) % 10)
    rules = CardRules(first_number=0)
    assert decode(good, rules) == CardNumber(good)
    assert decode(bad, rules).reason == "bad_check_digit"
