"""SMS texts per purpose and language, the kk code through the modem emulator, and delivery reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from drivers.modem import Modem
from store_server.data.db import create_schema, make_engine, sms_log, sms_status_events
from store_server.messaging.sms import delivery, templates
from store_server.messaging.sms.failover import FailoverGateway
from store_server.messaging.sms.twilio import TwilioGateway
from tests.emulators.gsm_modem import GsmModemEmulator

PHONE = "+380671234567"


@pytest.mark.parametrize("purpose", sorted(templates.TEMPLATES))
@pytest.mark.parametrize("lang", templates.LANGUAGES)
def test_every_purpose_has_every_language_with_the_shop_name(purpose, lang):
    values = dict(code="123456", card="10001", other="10002", points="12,50", balance="40,00", amount="250,00",
                  spent="10,00", phone="+380 •• ••• •• 01", operation="sale", when="2026-11-26 14:00",
                  device="Till 1", cashier="Olena", limit=100)
    text = templates.render(purpose, lang, shop="Kavun", **values)
    assert text.startswith("Kavun: ") and "{" not in text  # the name never inside a sentence: no case to get wrong
    assert text != templates.render(purpose, "en" if lang != "en" else "uk", shop="Kavun", **values)


@pytest.mark.parametrize("lang", templates.LANGUAGES)
def test_the_code_stands_alone_as_a_word(lang):
    text = templates.render("code", lang, shop="Kavun", code="042137")
    assert "042137" in text.split() and "042137" in text.replace(":", " ").split()


@pytest.mark.parametrize("lang", templates.LANGUAGES)
def test_welcome_says_how_to_opt_out(lang):
    assert "STOP" in templates.render("welcome", lang, shop="Kavun", card="10001")


def test_unknown_language_falls_back_to_english_and_missing_values_are_named():
    assert templates.render("code", "de", shop="S", code="111111").startswith("S: your code 111111")
    with pytest.raises(templates.TemplateError, match="code"):
        templates.render("code", "en", shop="S")
    with pytest.raises(templates.TemplateError):
        templates.render("nope", "en", shop="S")


SHOP_20 = {"en": "Green Apple Market 1", "vi": "Green Apple Market 1", "uk": "Магазин Квіточка 123",
           "ru": "Магазин Ромашка 1234", "kk": "Дүкен Қарлығаш 12345"}


@pytest.mark.parametrize("lang", templates.LANGUAGES)
@pytest.mark.parametrize("purpose", sorted(templates.TEMPLATES))
def test_every_text_is_one_sms_part_for_a_20_character_shop_name(purpose, lang):
    """160 GSM-7 characters in English and Vietnamese (written without diacritics, as Vietnamese SMS are), 70
    in Cyrillic; money as the shop writes it, with the longest amounts and a ten-digit card number. Transaction
    notices carry several amounts, the card and "Not you? Reply NO": one part where the alphabet is GSM-7, at
    most three in Cyrillic; the owner's alerts (a masked phone, the till, the cashier; the shop's SMS cap) go to the
    owner only."""
    from drivers.sms_pdu import is_gsm7, split_message
    from loyalty_common.money import format_money_sms

    assert len(SHOP_20[lang]) == 20
    money = [format_money_sms(v, currency, lang, country) for v in (123450, 1234567)
             for currency, country in (("UAH", "UA"), ("KZT", "KZ"), ("VND", "VN"))]
    if purpose in ("owner_alert", "pumping_alert"):  # to the shop's owner, not a customer
        return
    parts = 1 if lang in ("en", "vi") or not purpose.startswith("notice_") or purpose == "notice_flagged" else 3
    for amount in money:
        text = templates.render(purpose, lang, shop=SHOP_20[lang], code="123456", card="9000000001",
                                other="9000000002", points=amount, balance=amount, amount=amount, spent=amount)
        assert len(split_message(text)) <= parts, (len(text), text)
        if lang in ("en", "vi"):
            assert is_gsm7(text), text


@pytest.mark.parametrize("lang", templates.LANGUAGES)
def test_the_welcome_with_the_card_link_takes_at_most_two_parts(lang):
    from drivers.sms_pdu import split_message

    link = "https://loyalty.example.com/c/Ab3dEf6hIj9kLm2nOp5qRs8tUv"
    text = templates.render("welcome", lang, shop=SHOP_20[lang], card="9000000001", link=link)
    assert link in text.split() and "STOP" in text and len(split_message(text)) <= (1 if lang in ("en", "vi") else 2)


@pytest.mark.parametrize("lang", templates.LANGUAGES)
def test_each_code_says_what_it_is_for(lang):
    register = templates.render("code_register", lang, shop="S", code="123456")
    redeem = templates.render("code_redeem", lang, shop="S", code="123456", amount="50,00 ₴")
    assert "123456" in register.split() and "123456" in redeem.split() and "50,00 ₴" in redeem
    assert register != redeem != templates.render("code_return", lang, shop="S", code="123456", amount="50,00 ₴")
    # a self-service code is typed on the screen: it never asks to tell it to a cashier
    assert "cashier" not in templates.render("code_register", "en", shop="S", code="1")
    assert "screen" in templates.render("code_register", "en", shop="S", code="1")


def test_money_in_an_sms_is_the_shops_currency_in_the_readers_language():
    from loyalty_common.money import format_money_sms

    assert format_money_sms(123450, "UAH", "uk", "UA") == "1 234,50 ₴"
    assert format_money_sms(-300, "KZT", "kk", "KZ") == "-3,00 ₸"
    assert format_money_sms(150000, "VND", "vi", "VN") == "150.000 VND"  # dong have no decimals; ₫ is not GSM-7
    assert format_money_sms(123450, "KZT", "en", "KZ") == "KZT 1,234.50"
    assert format_money_sms(123450, "EUR", "en", "DE") == "1.234,50 €"  # CLDR: English as written in Germany


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop! ", "СТОП", "стоп"])
def test_stop_words(text):
    assert templates.is_stop(text)


def test_kazakh_code_sms_round_trip_through_the_modem_emulator(tmp_path):
    text = templates.render("code", "kk", shop="Kavun", code="123456")
    assert "Сіздің кодыңыз: 123456" in text
    with GsmModemEmulator(tmp_path) as emu, Modem(emu.port, timeout=0.5, send_timeout=0.5) as modem:
        modem.send_sms(PHONE, text)
        assert emu.messages() == [(PHONE, text)]
        assert all(sms.dcs == 0x08 for sms in emu.sent)  # UCS2: Kazakh letters are not in GSM-7
        # and back: the customer's answer in Kazakh is read from SIM storage unchanged
        emu.deliver(PHONE, "Сіздің кодыңыз: 123456")
        assert [m.text for m in modem.read_messages()] == ["Сіздің кодыңыз: 123456"]


# -- delivery reports ---------------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(eng)
    with eng.begin() as conn:
        conn.execute(insert(sms_log), [
            dict(phone=PHONE, purpose="redeem", gateway="twilio", gateway_message_id="SM1", status="queued",
                 sent_at=datetime.now(UTC)),
            dict(phone=PHONE, purpose="redeem", gateway="smsc", gateway_message_id="77", status="queued",
                 sent_at=datetime.now(UTC)),
        ])
    yield eng
    eng.dispose()


def status_of(engine, message_id):
    with engine.connect() as conn:
        return conn.execute(select(sms_log.c.status, sms_log.c.status_at)
                            .where(sms_log.c.gateway_message_id == message_id)).one()


def test_reports_move_status_forward_only(engine):
    with engine.begin() as conn:
        assert delivery.record_status(conn, gateway="twilio", message_id="SM1", status="sent") == "sent"
        assert delivery.record_status(conn, gateway="twilio", message_id="SM1", status="delivered") == "delivered"
        assert delivery.record_status(conn, gateway="twilio", message_id="SM1", status="sent") == "delivered"
        assert delivery.record_status(conn, gateway="twilio", message_id="SM1", status="failed") == "delivered"
        with pytest.raises(delivery.UnknownMessage):
            delivery.record_status(conn, gateway="smsc", message_id="SM1", status="sent")
        events = conn.execute(select(sms_status_events.c.status)).scalars().all()
    assert events == ["sent", "delivered", "sent", "failed"]
    status, at = status_of(engine, "SM1")
    assert status == "delivered" and at is not None


@pytest.mark.parametrize("provider,fields,expected", [
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"},
     ("twilio", "SM1", "failed")),
    ("twilio", {"SmsSid": "SM1", "SmsStatus": "delivered"}, ("twilio", "SM1", "delivered")),
    ("eskiz", {"message_id": "4385062", "user_sms_id": "x", "status": "DELIVRD"}, ("eskiz", "4385062", "delivered")),
    ("eskiz", {"message_id": "4385062", "status": "REJECTD"}, ("eskiz", "4385062", "failed")),
    ("smsc", {"id": "77", "phone": "380671234567", "status": "1"}, ("smsc", "77", "delivered")),
    ("smsc", {"id": "77", "status": "20"}, ("smsc", "77", "failed")),
    ("generic", {"gateway": "alphasms", "message_id": "m1", "status": "sent"}, ("alphasms", "m1", "sent")),
    ("generic", {"id": "m1", "status": "queued"}, ("generic_http", "m1", "queued")),
])
def test_provider_report_formats(provider, fields, expected):
    assert delivery.parse_report(provider, fields) == expected


@pytest.mark.parametrize("provider,fields", [
    ("twilio", {"MessageStatus": "sent"}), ("smsc", {"id": "1", "status": "x"}), ("generic", {"id": "1"}),
    ("generic", {"id": "1", "status": "lost"}),
])
def test_bad_reports_are_refused(provider, fields):
    with pytest.raises(ValueError):
        delivery.parse_report(provider, fields)


def test_poll_asks_the_gateway_that_sent_it(engine, provider):
    twilio = TwilioGateway("AC1", "tok", from_number="+15005550006", base_url=provider.url, timeout=2)
    provider.reply(200, {"sid": "SM1", "status": "delivered"})
    # the smsc message is not Twilio's: it is skipped, not asked of the wrong provider
    assert delivery.poll(engine, FailoverGateway([twilio])) == 1
    assert [r.path for r in provider.requests] == ["/2010-04-01/Accounts/AC1/Messages/SM1.json"]
    assert status_of(engine, "SM1")[0] == "delivered" and status_of(engine, "77")[0] == "queued"
    provider.reply(500, {"message": "down"})
    assert delivery.poll(engine, twilio) == 0  # a provider error leaves the status as it was


def test_cli_sms_status_polls_the_configured_provider(tmp_path, engine, provider):
    import subprocess
    import sys

    from store_server.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path, secret_key="k")
    toml = config.to_toml() + (f'\n[[sms.gateways]]\ntype = "twilio"\naccount_sid = "AC1"\nauth_token = "t"\n'
                               f'from_number = "+15005550006"\nbase_url = "{provider.url}"\ntimeout = 2\n')
    (tmp_path / "server.toml").write_text(toml, encoding="utf-8")
    provider.reply(200, {"sid": "SM1", "status": "sent"})
    out = subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(tmp_path / "server.toml"),
                          "sms-status"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "updated for 1 message" in out.stdout
    assert status_of(engine, "SM1")[0] == "sent"
