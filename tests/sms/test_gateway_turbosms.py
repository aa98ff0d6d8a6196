"""TurboSMS against a local server answering in TurboSMS's wire format."""

from __future__ import annotations

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.turbosms import TurboSmsGateway

PHONE = "+380671234567"


@pytest.fixture
def gateway(provider):
    return TurboSmsGateway("tok-123", "MyShop", base_url=provider.url, timeout=0.5)


def test_sends_json_with_bearer_token_and_returns_message_id(provider, gateway):
    provider.reply(200, {"response_code": 800, "response_status": "SUCCESS_MESSAGE_ACCEPTED", "response_result": [
        {"phone": "380671234567", "response_code": 0, "message_id": "f83f8868-5e46-c6cf-e4fb-615e5a293754",
         "response_status": "OK"}]})
    result = gateway.send(PHONE, "Ваш код: 123456")
    assert (result.gateway, result.message_id, result.status) == (
        "turbosms", "f83f8868-5e46-c6cf-e4fb-615e5a293754", "queued")
    [req] = provider.requests
    assert (req.method, req.path) == ("POST", "/message/send.json")
    assert req.headers["Authorization"] == "Bearer tok-123"
    assert req.json() == {"recipients": ["380671234567"], "sms": {"sender": "MyShop", "text": "Ваш код: 123456"}}


def test_bad_token_is_not_retryable(provider, gateway):
    provider.reply(200, {"response_code": 301, "response_status": "INVALID_TOKEN", "response_result": None})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "token" in str(err.value)


def test_invalid_recipient_is_not_retryable(provider, gateway):
    provider.reply(200, {"response_code": 802, "response_status": "SUCCESS_MESSAGE_PARTIAL_ACCEPTED",
                         "response_result": [{"phone": "3806712", "response_code": 305,
                                              "message_id": None, "response_status": "INVALID_PHONE"}]})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "INVALID_PHONE" in str(err.value)


def test_empty_balance_lets_another_gateway_try(provider, gateway):
    provider.reply(200, {"response_code": 203, "response_status": "REQUIRED_BALANCE", "response_result": None})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert err.value.retryable


def test_http_5xx_is_retryable(provider, gateway):
    provider.reply(502, "<html>Bad Gateway</html>")
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert err.value.retryable and "502" in str(err.value)


def test_timeout_is_retryable(provider, gateway):
    provider.reply(200, {}, stall=True)
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert err.value.retryable and "no answer within 0.5 s" in str(err.value)


def test_delivery_status(provider, gateway):
    provider.reply(200, {"response_code": 0, "response_status": "OK", "response_result": [
        {"message_id": "m-1", "response_code": 0, "response_status": "OK", "status": "Delivered"}]})
    assert gateway.status("m-1", PHONE) == "delivered"
    assert provider.requests[0].json() == {"messages": ["m-1"]}
    assert provider.requests[0].path == "/message/status.json"
