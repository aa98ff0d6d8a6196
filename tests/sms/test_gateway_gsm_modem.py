"""The GSM modem gateway over the pty modem emulator, alone and as a failover member."""

from __future__ import annotations

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.failover import FailoverGateway
from store_server.messaging.sms.gsm_modem import GsmModemGateway
from store_server.messaging.sms.turbosms import TurboSmsGateway
from tests.emulators.gsm_modem import GsmModemEmulator

PHONE = "+380671234567"


@pytest.fixture
def emulator(tmp_path):
    with GsmModemEmulator(tmp_path) as emu:
        yield emu


@pytest.fixture
def gateway(emulator):
    gw = GsmModemGateway(emulator.port, timeout=0.4, send_timeout=0.4)
    yield gw
    gw.close()


def test_sends_through_the_modem(emulator, gateway):
    result = gateway.send(PHONE, "Сіздің кодыңыз: 123456")
    assert (result.gateway, result.message_id.split("@")[0], result.status) == ("gsm_modem", "1", "sent")
    assert emulator.messages() == [(PHONE, "Сіздің кодыңыз: 123456")]


def test_a_message_reference_used_again_is_logged_again(emulator, gateway, tmp_path):
    """The modem's reference wraps at 256 (and a chain's modems count alike): the 257th message is logged, not
    refused by the log's unique (gateway, id) after it went out."""
    from sqlalchemy import select

    from store_server.data.db import create_schema, make_engine, sms_log
    from store_server.messaging.sms.outbound import send_logged

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    try:
        first = send_logged(engine, gateway, phone=PHONE, text="one", purpose="test")
        emulator._mr = 0  # as after 256 messages
        again = send_logged(engine, gateway, phone=PHONE, text="two", purpose="test")
        assert first.message_id.split("@")[0] == again.message_id.split("@")[0] == "1"
        with engine.connect() as conn:
            assert len(set(conn.execute(select(sms_log.c.gateway_message_id)).scalars())) == 2
    finally:
        engine.dispose()


def test_inbound_messages_for_activation(emulator, gateway):
    emulator.deliver("+380501112233", "10001")
    [msg] = gateway.read_messages()
    assert (msg.sender, msg.text) == ("+380501112233", "10001")
    gateway.delete_messages(msg.indexes)
    assert gateway.read_messages() == []


def test_invalid_number_is_not_retryable(gateway):
    with pytest.raises(GatewayError) as err:
        gateway.send("12", "x")
    assert not err.value.retryable


def test_no_network_is_retryable(emulator, gateway):
    emulator.fail("AT+CMGS", "+CMS ERROR: 331")
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "code 1")
    assert err.value.retryable and "no network service" in str(err.value)


def test_replugged_modem_is_reopened(tmp_path, emulator, gateway):
    gateway.send(PHONE, "one")
    emulator.unplug()
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "two")
    assert err.value.retryable
    with GsmModemEmulator(tmp_path) as replugged:
        gateway.send(PHONE, "three")
        assert replugged.messages() == [(PHONE, "three")]


def test_hung_modem_fails_over_to_http_gateway(emulator, gateway, provider):
    emulator.hang()
    provider.reply(200, {"response_code": 800, "response_status": "SUCCESS_MESSAGE_ACCEPTED",
                         "response_result": [{"phone": "380671234567", "response_code": 0, "message_id": "t-9"}]})
    chain = FailoverGateway([gateway, TurboSmsGateway("t", "Shop", base_url=provider.url, timeout=0.5)])
    assert chain.send(PHONE, "Код 123456").gateway == "turbosms"
