"""Inbound activation: a customer texts the card number; real SQLite, and the GSM modem on a pty pair."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from store_server import shop
from store_server.data.db import cards, create_schema, customers, inbound_sms, make_engine, sms_log
from store_server.messaging import activation
from store_server.messaging.sms import templates
from store_server.messaging.sms.base import GatewayError, SendResult
from store_server.messaging.sms.gsm_modem import GsmModemGateway
from tests.emulators.gsm_modem import GsmModemEmulator

NEW = "+380501112233"
OWNER = "+380671112244"
AT = datetime(2026, 1, 1, tzinfo=UTC)


class Outbox:
    """Collects replies: the remote end of a gateway that cannot exist here is the customer's phone."""

    name = "outbox"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> SendResult:
        self.sent.append((phone, text))
        return SendResult(self.name, str(len(self.sent)))


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(eng)
    with eng.begin() as conn:
        shop.put(conn, "public_name", "Kavun")
        shop.put(conn, "languages", ["en", "uk"])
        owner = conn.execute(insert(customers).values(phone=OWNER, created_at=AT, consent_at=AT)
                             ).inserted_primary_key[0]
        conn.execute(insert(cards), [
            dict(number="10001", state="issued", customer_id=None, created_at=AT),
            dict(number="10002", state="issued", customer_id=None, created_at=AT),
            dict(number="10005", state="active", customer_id=owner, created_at=AT),
            dict(number="10009", state="blocked", customer_id=None, created_at=AT),
        ])
    yield eng
    eng.dispose()


def receive(engine, outbox, text, sender=NEW):
    return activation.receive(engine, outbox, sender=sender, text=text, source="test")


def card(engine, number):
    with engine.connect() as conn:
        return conn.execute(select(cards, customers.c.phone).select_from(cards.outerjoin(customers))
                            .where(cards.c.number == number)).mappings().one()


@pytest.mark.parametrize("text,number", [
    ("10001", "10001"), (" 10 001 ", "10001"), ("Card 10001 please", "10001"), ("4820-0000-1234", "482000001234"),
    ("hello", None), ("", None), ("1234", None), ("code 12 and 34", None),
])
def test_card_number_in_text(text, number):
    assert activation.card_number_in(text) == number


def test_card_number_binds_the_phone_and_welcomes_with_how_to_opt_out(engine):
    outbox = Outbox()
    out = receive(engine, outbox, "10001")
    assert out.outcome == "activated"
    row = card(engine, "10001")
    assert (row["state"], row["phone"]) == ("active", NEW) and row["activated_at"] is not None
    [(to, text)] = outbox.sent
    assert to == NEW and "Kavun" in text and "10001" in text and "STOP" in text
    with engine.connect() as conn:
        logged = conn.execute(select(inbound_sms)).mappings().one()
        assert (logged["phone"], logged["outcome"], logged["card_number"]) == (NEW, "activated", "10001")
        assert conn.execute(select(sms_log.c.purpose)).scalar() == "welcome"


@pytest.mark.parametrize("text,sender,outcome,must_say", [
    ("hello, I want a card", NEW, "no_number", "number"),
    ("77777", NEW, "unknown_card", "77777"),
    ("10005", NEW, "card_other_phone", "another phone"),
    ("10005", OWNER, "already_active", "already active"),
    ("10009", NEW, "card_blocked", "blocked"),
])
def test_advice_replies(engine, text, sender, outcome, must_say):
    outbox = Outbox()
    assert receive(engine, outbox, text, sender).outcome == outcome
    [(to, reply)] = outbox.sent
    assert to == sender and must_say in reply
    assert card(engine, "10005")["phone"] == OWNER  # nothing was rebound


def test_phone_that_already_has_a_card_is_told_which(engine):
    outbox = Outbox()
    assert receive(engine, outbox, "10001").outcome == "activated"
    out = receive(engine, outbox, "10002")
    assert out.outcome == "phone_has_card"
    assert "10001" in outbox.sent[-1][1] and "10002" in outbox.sent[-1][1]
    assert card(engine, "10002")["state"] == "issued"


def test_reply_in_the_shops_first_language(engine):
    with engine.begin() as conn:
        shop.put(conn, "languages", ["uk", "en"])
    outbox = Outbox()
    receive(engine, outbox, "no digits here")
    assert "надішліть" in outbox.sent[0][1]


def test_a_digital_card_held_for_another_phone_is_not_taken(engine):
    with engine.begin() as conn:
        conn.execute(insert(cards).values(number="9000000001", state="issued", digital=True, customer_id=None,
                                          reserved_phone=OWNER, created_at=AT))
    assert receive(engine, Outbox(), "9000000001").outcome == "card_other_phone"


def test_stop_opts_out_of_notices_but_not_of_codes(engine):
    outbox = Outbox()
    receive(engine, outbox, "10001")
    with engine.connect() as conn:
        assert templates.may_send(conn, NEW, "notice_accrual")
        assert not templates.may_send(conn, NEW, "marketing")  # no marketing opt-in was given
    assert receive(engine, outbox, "stop").outcome == "opted_out"
    assert "no more" in outbox.sent[-1][1]
    with engine.connect() as conn:
        assert not templates.may_send(conn, NEW, "notice_accrual")
        assert templates.may_send(conn, NEW, "code")
    receive(engine, outbox, "STOP")  # twice is fine


def test_notices_only_to_confirmed_customers(engine):
    with engine.begin() as conn:
        conn.execute(insert(customers).values(phone="+380501110000", created_at=AT))  # no consent, no card
        assert not templates.may_send(conn, "+380501110000", "notice_accrual")
        assert not templates.may_send(conn, "+380509999999", "notice_redeem")
        assert templates.may_send(conn, OWNER, "notice_redeem")


def test_alphanumeric_sender_gets_no_answer(engine):
    outbox = Outbox()
    assert receive(engine, outbox, "Your balance is 10001", sender="Kyivstar").outcome == "bad_sender"
    assert outbox.sent == []


def test_failed_reply_keeps_the_binding(engine):
    class Down:
        name = "down"

        def send(self, phone, text):
            raise GatewayError("no network")

    assert receive(engine, Down(), "10001").outcome == "activated"
    assert card(engine, "10001")["state"] == "active"
    with engine.connect() as conn:
        assert conn.execute(select(sms_log.c.status)).scalar() == "failed"


# -- through the GSM modem ----------------------------------------------------------------------------


@pytest.fixture
def modem(tmp_path):
    with GsmModemEmulator(tmp_path) as emu:
        gateway = GsmModemGateway(emu.port, timeout=0.5, send_timeout=0.5)
        yield emu, gateway
        gateway.close()


def test_modem_poller_activates_replies_and_deletes_the_message(engine, modem):
    emu, gateway = modem
    emu.deliver(NEW, "10001")
    emu.deliver(OWNER, "Картка 10002")
    outcomes = activation.ModemPoller(engine, gateway).poll_once()
    assert [o.outcome for o in outcomes] == ["activated", "phone_has_card"]
    assert emu.storage == {}  # handled messages leave the SIM
    replies = dict(emu.messages())
    assert "STOP" in replies[NEW] and "10005" in replies[OWNER]
    assert card(engine, "10001")["phone"] == NEW
    assert activation.ModemPoller(engine, gateway).poll_once() == []


def test_modem_poller_joins_a_long_message_and_waits_for_missing_parts(engine, modem):
    emu, gateway = modem
    emu.deliver(NEW, "", parts=["Hello! Please activate card ", "10002 for me"])
    emu.deliver(OWNER, "", parts=["first part only ", "never comes"], ref=9)
    del emu.storage[max(emu.storage)]  # the second part of the second message was lost
    at = datetime(2025, 3, 1, 8, 25, tzinfo=UTC)  # 5 minutes after the emulator's time stamp
    poller = activation.ModemPoller(engine, gateway, now=lambda: at)
    assert [o.card_number for o in poller.poll_once()] == ["10002"]
    assert len(emu.storage) == 1  # the incomplete one stays for now
    late = activation.ModemPoller(engine, gateway, now=lambda: at + timedelta(minutes=10))
    assert [o.outcome for o in late.poll_once()] == ["no_number"]
    assert emu.storage == {}


def test_modem_poller_thread_survives_an_unplugged_modem(engine, modem):
    emu, gateway = modem
    emu.deliver(NEW, "10001")
    poller = activation.ModemPoller(engine, gateway, interval=0.05).start()
    try:
        # Waits for the activation itself; the limit only ends a failing run (5 s was short once under load).
        deadline = time.monotonic() + 60
        while card(engine, "10001")["state"] != "active" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert card(engine, "10001")["state"] == "active"
        emu.unplug()
        time.sleep(0.3)  # polls against a vanished port: logged, not fatal
        assert poller._thread.is_alive()
    finally:
        poller.stop()
    assert card(engine, "10001")["state"] == "active"


def test_a_shops_own_modem_answers_through_that_shops_gateway_and_records_the_shop(engine, modem):
    """[[sms.shops.ALA1.gateways]] with a GSM modem: a text read from that modem is Almaty's. The welcome goes
    back through Almaty's modem (not the chain's gateway), in its language, and both logs name the shop."""
    from store_server import shops
    from store_server.messaging.sms.registry import ShopGateways

    emu, gateway = modem
    with engine.begin() as conn:
        shops.ensure_default(conn)
        shops.add(conn, "ALA1", name="Almaty", country="KZ", public_names={"ru": "Кавун Алматы"})
        shops.set_setting(conn, "ALA1", "languages", ["ru", "kk"])
    chain_outbox = Outbox()
    gateways = ShopGateways(chain_outbox, {"ALA1": gateway})
    assert activation.modems_of(gateways) == [(gateway, "ALA1")]
    emu.deliver("+77011239001", "10001")  # a Kazakh mobile, and STOP from another one
    emu.deliver("87011239002", "STOP")  # written the Kazakh way: the shop's country reads it
    poller = activation.ModemPoller(engine, gateway, gateways, shop_code="ALA1")
    assert [o.outcome for o in poller.poll_once()] == ["activated", "opted_out"]
    assert chain_outbox.sent == []
    replies = dict(emu.messages())
    assert "Кавун Алматы" in replies["+77011239001"] and set(replies) == {"+77011239001", "+77011239002"}
    with engine.connect() as conn:
        assert sorted(conn.execute(select(inbound_sms.c.phone, inbound_sms.c.shop))) == [
            ("+77011239001", "ALA1"), ("+77011239002", "ALA1")]
        assert {tuple(r) for r in conn.execute(select(sms_log.c.phone, sms_log.c.shop))} == {
            ("+77011239001", "ALA1"), ("+77011239002", "ALA1")}
    assert card(engine, "10001")["phone"] == "+77011239001"


def test_the_chains_modem_stays_the_chains():
    from store_server.messaging.sms.registry import ShopGateways

    class Modem(Outbox):
        def read_messages(self):
            return []

    chain_modem, shop_modem, other = Modem(), Modem(), Outbox()
    assert activation.modems_of(chain_modem) == [(chain_modem, None)]
    assert activation.modems_of(other) == []
    gateways = ShopGateways(chain_modem, {"ALA1": shop_modem, "AST1": other})
    assert activation.modems_of(gateways) == [(chain_modem, None), (shop_modem, "ALA1")]


def test_one_modem_port_in_two_tables_is_refused(tmp_path):
    from store_server.messaging.sms.registry import GatewayConfigError, build_gateway

    modem = {"type": "gsm_modem", "port": "/dev/ttyUSB0"}
    with pytest.raises(GatewayConfigError, match=r"sms.shops.ALA1: the GSM modem /dev/ttyUSB0 is already in sms;"):
        build_gateway({"gateways": [modem], "shops": {"ALA1": {"gateways": [modem]}}}, demo=False)
    with pytest.raises(GatewayConfigError, match="already in sms.shops.ALA1"):
        build_gateway({"gateways": [{"type": "console", "outbox_file": str(tmp_path / "sms")}],
                       "shops": {"ALA1": {"gateways": [modem]}, "AST1": {"gateways": [modem]}}}, demo=True)
    built = build_gateway({"gateways": [{"type": "console", "outbox_file": str(tmp_path / "sms")}],
                           "shops": {"ALA1": {"gateways": [modem]}}}, demo=True)
    assert [code for _, code in activation.modems_of(built)] == ["ALA1"]
