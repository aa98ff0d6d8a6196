"""SMSC against a local server answering in SMSC's fmt=3 JSON (HTTP 200 even for errors)."""

from __future__ import annotations

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.smsc import SmscGateway

PHONE = "+77011234567"


@pytest.fixture
def gateway(provider):
    return SmscGateway("shop", "secret", sender="MyShop", base_url=provider.url, timeout=0.5)


def test_sends_utf8_form_and_returns_id(provider, gateway):
    provider.reply(200, {"id": 4211, "cnt": 1})
    result = gateway.send(PHONE, "Сіздің кодыңыз: 123456")
    assert (result.gateway, result.message_id) == ("smsc", "4211")
    [req] = provider.requests
    assert (req.method, req.path) == ("POST", "/sys/send.php")
    assert req.form() == {"login": "shop", "psw": "secret", "phones": "77011234567",
                          "mes": "Сіздің кодыңыз: 123456", "charset": "utf-8", "sender": "MyShop", "fmt": "3"}


@pytest.mark.parametrize(("code", "retryable"), [(2, False), (7, False), (8, False), (3, True), (9, True)])
def test_documented_errors(provider, gateway, code, retryable):
    provider.reply(200, {"error": "some text", "error_code": code})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert err.value.retryable is retryable and f"error {code}" in str(err.value)


def test_bad_login_message_names_the_setting(provider, gateway):
    provider.reply(200, {"error": "authorise error", "error_code": 2})
    with pytest.raises(GatewayError, match="login or password"):
        gateway.send(PHONE, "x")


def test_5xx_and_timeout_are_retryable(provider, gateway):
    provider.reply(503, "Service Unavailable")
    provider.reply(200, {}, stall=True)
    for _ in range(2):
        with pytest.raises(GatewayError) as err:
            gateway.send(PHONE, "x")
        assert err.value.retryable


def test_delivery_status(provider, gateway):
    provider.reply(200, {"status": 1, "last_date": "01.03.2025 10:20:30", "last_timestamp": 1740817230, "err": 0})
    assert gateway.status("4211", PHONE) == "delivered"
    req = provider.requests[0]
    assert (req.method, req.path) == ("GET", "/sys/status.php")
    assert {k: v[0] for k, v in req.query.items()} == {"login": "shop", "psw": "secret", "phone": "77011234567",
                                                        "id": "4211", "fmt": "3"}
