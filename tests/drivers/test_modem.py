"""The GSM modem driver against a modem emulated on a pty pair, byte for byte."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from drivers.errors import DriverError
from drivers.modem import Modem, ModemCommandError, ModemDisconnected, ModemTimeout
from drivers.sms_pdu import GSM7_BASIC, decode_deliver, encode_submit, pack_septets, split_message
from tests.emulators.gsm_modem import GSM, GsmModemEmulator, decode_submit, encode_deliver

PHONE = "+380671234567"
KAZAKH = "Сіздің кодыңыз: 123456"
UKRAINIAN_LONG = (
    "Дякуємо, що обрали нашу крамницю! Ваша картка лояльності активована. Бонуси нараховуються з кожної "
    "покупки, а списати їх можна лише після підтвердження кодом з SMS. Щоб відмовитися від розсилки, "
    "надішліть СТОП у відповідь на це повідомлення. Гарного дня!"
)


@pytest.fixture
def emulator(tmp_path):
    with GsmModemEmulator(tmp_path) as emu:
        yield emu


@pytest.fixture
def modem(emulator):
    with Modem(emulator.port, timeout=0.5, send_timeout=0.5) as m:
        yield m


def test_the_driver_and_the_emulator_agree_on_the_gsm_alphabet():
    assert GSM == list(GSM7_BASIC)


def test_known_pdu_vector_hellohello():
    # 3GPP TS 23.038 worked example, independent of either implementation.
    assert pack_septets([ord(c) for c in "hellohello"]).hex().upper() == "E8329BFD4697D9EC37"


def test_init_turns_echo_off_numeric_errors_on_and_pdu_mode(emulator, modem):
    assert emulator.commands[:4] == ["AT", "ATE0", "AT+CMEE=1", "AT+CMGF=0"]
    assert emulator.echo is False and emulator.cmee == 1


def test_plain_ascii_code_goes_in_text_mode(emulator, modem):
    refs = modem.send_sms(PHONE, "Your code: 123456")
    assert refs == [1]
    [sms] = emulator.sent
    assert (sms.mode, sms.to, sms.text) == ("text", PHONE, "Your code: 123456")
    assert 'AT+CMGS="+380671234567"' in emulator.commands


def test_ucs2_round_trip_of_kazakh_code(emulator, modem):
    modem.send_sms(PHONE, KAZAKH)
    [sms] = emulator.sent
    assert sms.mode == "pdu" and sms.dcs == 0x08 and sms.concat is None
    assert sms.to == PHONE and sms.text == KAZAKH
    assert sms.septets_or_octets == 2 * len(KAZAKH)


def test_long_ukrainian_message_is_split_into_67_char_parts_and_reassembled(emulator, modem):
    refs = modem.send_sms(PHONE, UKRAINIAN_LONG)
    parts = emulator.sent
    assert len(refs) == len(parts) == -(-len(UKRAINIAN_LONG) // 67)
    assert [len(p.text) for p in parts[:-1]] == [67] * (len(parts) - 1)
    assert {p.concat[0] for p in parts} == {parts[0].concat[0]}  # one reference number for all parts
    assert [p.concat[1:] for p in parts] == [(len(parts), i) for i in range(1, len(parts) + 1)]
    assert all(p.dcs == 0x08 and p.septets_or_octets <= 140 for p in parts)
    assert emulator.messages() == [(PHONE, UKRAINIAN_LONG)]


def test_long_gsm7_message_uses_153_septet_parts_with_escapes_kept_whole(emulator, modem):
    text = "Promo {A} " * 20 + "€ end"
    modem.send_sms(PHONE, text)
    parts = emulator.sent
    assert all(p.dcs == 0 and p.septets_or_octets <= 160 for p in parts)
    assert emulator.messages() == [(PHONE, text)]
    assert len(parts) == 2


def test_short_text_with_non_ascii_gsm_chars_goes_as_gsm7_pdu(emulator, modem):
    modem.send_sms(PHONE, "Öl è: 123 @ Ñ")
    [sms] = emulator.sent
    assert (sms.mode, sms.dcs, sms.text) == ("pdu", 0, "Öl è: 123 @ Ñ")


def test_two_long_messages_get_different_reference_numbers(emulator, modem):
    modem.send_sms(PHONE, UKRAINIAN_LONG)
    modem.send_sms("+77011234567", UKRAINIAN_LONG)
    refs = {(p.to, p.concat[0]) for p in emulator.sent}
    assert len({ref for _, ref in refs}) == 2
    assert emulator.messages() == [(PHONE, UKRAINIAN_LONG), ("+77011234567", UKRAINIAN_LONG)]


def test_works_with_echo_left_on(emulator):
    with Modem(emulator.port, timeout=0.5) as m:
        emulator.echo = True  # a modem that ignores ATE0
        m.send_sms(PHONE, KAZAKH)
        assert emulator.sent[-1].text == KAZAKH
        emulator.deliver("+380501112233", "1000234")
        assert [s.text for s in m.read_messages()] == ["1000234"]


def test_read_and_delete_received_messages(emulator, modem):
    when = datetime(2025, 3, 1, 9, 15, 0, tzinfo=timezone(timedelta(hours=2)))
    emulator.deliver("+380501112233", "10001", when)
    emulator.deliver("+77011234567", "Картам 10002", when + timedelta(minutes=1))
    messages = modem.read_messages()
    assert [(m.sender, m.text, m.received_at, m.index) for m in messages] == [
        ("+380501112233", "10001", when, 1),
        ("+77011234567", "Картам 10002", when + timedelta(minutes=1), 2),
    ]
    modem.delete_message(messages[0].index)
    assert [m.text for m in modem.read_messages()] == ["Картам 10002"]
    assert sorted(emulator.storage) == [2]


def test_unread_only_listing(emulator, modem):
    emulator.deliver("+380501112233", "10001")
    assert len(modem.read_messages(unread_only=True)) == 1
    assert modem.read_messages(unread_only=True) == []
    assert len(modem.read_messages()) == 1


def test_long_received_message_is_joined_and_all_parts_can_be_deleted(emulator, modem):
    emulator.deliver("+380501112233", "", parts=["Прошу активувати картку ", "10003, дякую"])
    [msg] = modem.read_messages()
    assert msg.text == "Прошу активувати картку 10003, дякую" and msg.complete
    assert msg.indexes == (1, 2)
    modem.delete_messages(msg.indexes)
    assert emulator.storage == {}


def test_missing_part_is_reported_incomplete(emulator, modem):
    emulator.deliver("+380501112233", "", parts=["first ", "second"])
    del emulator.storage[2]
    [msg] = modem.read_messages()
    assert msg.complete is False and msg.text == "first "


def test_text_mode_listing(emulator, modem):
    when = datetime(2025, 3, 1, 9, 15, 0, tzinfo=timezone(timedelta(hours=5)))
    emulator.deliver("+77011234567", "10004", when)
    [msg] = modem.read_messages_text_mode()
    assert (msg.sender, msg.text, msg.received_at, msg.index) == ("+77011234567", "10004", when, 1)


def test_deleting_an_empty_slot_is_a_clear_cms_error(emulator, modem):
    with pytest.raises(ModemCommandError) as err:
        modem.delete_message(9)
    assert (err.value.kind, err.value.code) == ("CMS", 321)
    assert "invalid memory index" in str(err.value)


def test_plain_error_answer(emulator, modem):
    emulator.fail("AT+CMGS", "ERROR")
    with pytest.raises(ModemCommandError) as err:
        modem.send_sms(PHONE, KAZAKH)
    assert err.value.kind == "ERROR" and not err.value.retryable
    modem.send_sms(PHONE, KAZAKH)  # the session is still usable
    assert emulator.sent[-1].text == KAZAKH


def test_no_network_is_retryable_cms_error(emulator, modem):
    emulator.fail("AT+CMGS", "+CMS ERROR: 331")
    with pytest.raises(ModemCommandError) as err:
        modem.send_sms(PHONE, "code 123456")
    assert err.value.code == 331 and err.value.retryable
    assert "no network service" in str(err.value)


def test_sim_pin_is_a_cme_error_that_needs_a_person(emulator):
    emulator.fail("AT+CMGF", "+CME ERROR: 11")
    with pytest.raises(ModemCommandError) as err:
        Modem(emulator.port, timeout=0.5)
    assert (err.value.kind, err.value.code, err.value.retryable) == ("CME", 11, False)
    assert "SIM PIN required" in str(err.value)


def test_hung_modem_times_out_instead_of_blocking(emulator, modem):
    emulator.hang()
    started = time.monotonic()
    with pytest.raises(ModemTimeout) as err:
        modem.send_sms(PHONE, KAZAKH)
    # A hung modem without the timeout blocks for ever: any bound tells them apart, and 10 s holds on a busy machine.
    assert time.monotonic() - started < 10
    assert isinstance(err.value, DriverError) and "did not answer" in str(err.value)


def test_modem_that_hangs_after_the_prompt_times_out(emulator, modem):
    emulator.hang(from_command="AT+CMGS")
    with pytest.raises(ModemTimeout):
        modem.send_sms(PHONE, "code 123456")


def test_modem_that_never_answers_at_open(emulator):
    emulator.hang()
    with pytest.raises(ModemTimeout):
        Modem(emulator.port, timeout=0.3)


def test_unplugged_modem_gives_disconnected_error(emulator, modem):
    emulator.unplug()
    with pytest.raises(ModemDisconnected) as err:
        modem.send_sms(PHONE, KAZAKH)
    assert "plugged" in str(err.value)


def test_missing_port_gives_disconnected_error(tmp_path):
    with pytest.raises(ModemDisconnected) as err:
        Modem(str(tmp_path / "ttyUSB9"), timeout=0.3)
    assert "cannot open the modem port" in str(err.value)


def test_close_is_safe_twice(modem):
    modem.close()
    modem.close()
    with pytest.raises(ModemDisconnected):
        modem.send_sms(PHONE, "x")


def test_pdu_codecs_round_trip_without_a_port():
    when = datetime(2025, 12, 31, 23, 59, 58, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    for text in ("10001", KAZAKH, "a[b]c€"):
        got = decode_deliver(encode_deliver("+380501112233", text, when, None))
        assert (got.sender, got.text, got.sent_at) == ("+380501112233", text, when)
    for part in split_message(UKRAINIAN_LONG, ref=200):
        to, text, dcs, concat, _ = decode_submit(encode_submit(PHONE, part)[0])
        assert (to, text, dcs, concat) == (PHONE, part.text, 8, (200, part.total, part.seq))
