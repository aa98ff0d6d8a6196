"""Building gateways from the [sms] config table."""

from __future__ import annotations

import json

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.console import ConsoleGateway
from store_server.messaging.sms.failover import FailoverGateway
from store_server.messaging.sms.registry import GatewayConfigError, build_gateway
from store_server.messaging.sms.smsc import SmscGateway
from store_server.messaging.sms.turbosms import TurboSmsGateway


def test_one_entry_gives_that_gateway():
    gw = build_gateway({"gateways": [{"type": "turbosms", "token": "t", "sender": "Shop", "timeout": 3}]}, demo=False)
    assert isinstance(gw, TurboSmsGateway) and gw.timeout == 3


def test_several_entries_give_failover_in_order():
    gw = build_gateway({"gateways": [{"type": "smsc", "login": "l", "password": "p"},
                                     {"type": "turbosms", "token": "t", "sender": "S"},
                                     {"type": "gsm_modem", "port": "/dev/ttyUSB2"}]}, demo=False)
    assert isinstance(gw, FailoverGateway)
    assert [g.name for g in gw.gateways] == ["smsc", "turbosms", "gsm_modem"]
    assert isinstance(gw.gateways[0], SmscGateway)


def test_single_table_form():
    assert build_gateway({"type": "twilio", "account_sid": "AC1", "auth_token": "x", "from_number": "+1500"},
                         demo=False).name == "twilio"


def test_empty_config_is_console_in_demo_and_an_error_otherwise(tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    gw = build_gateway({}, demo=True, console_outbox=outbox)
    assert isinstance(gw, ConsoleGateway)
    gw.send("+380671234567", "Код 123456")
    assert json.loads(outbox.read_text(encoding="utf-8"))["text"] == "Код 123456"
    with pytest.raises(GatewayConfigError, match="no SMS gateway configured"):
        build_gateway({}, demo=False)


def test_console_refuses_outside_demo(tmp_path):
    with pytest.raises(GatewayError, match="demo only") as err:
        build_gateway({"gateways": [{"type": "console", "outbox_file": str(tmp_path / "o")}]}, demo=False)
    assert not err.value.retryable


@pytest.mark.parametrize(("entry", "message"), [
    ({"type": "turbosms", "token": "t"}, "missing sender"),
    ({"type": "turbosms", "token": "t", "sender": "S", "tokne": "x"}, "unknown key"),
    ({"type": "sms.ru"}, "unknown; use one of"),
    ({"type": "twilio", "account_sid": "AC", "auth_token": "x"}, "from_number or messaging_service_sid"),
    ({"type": "generic_http", "url": "http://x", "body_format": "xml"}, "json or form"),
])
def test_config_mistakes_are_clear_and_not_retryable(entry, message):
    with pytest.raises(GatewayError, match=message) as err:
        build_gateway({"gateways": [entry]}, demo=False)
    assert not err.value.retryable
