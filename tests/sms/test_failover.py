"""Failover between real gateways: two local provider servers answering in their own formats."""

from __future__ import annotations

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.failover import FailoverGateway
from store_server.messaging.sms.smsc import SmscGateway
from store_server.messaging.sms.turbosms import TurboSmsGateway

PHONE = "+380671234567"
OK_TURBO = {"response_code": 800, "response_status": "SUCCESS_MESSAGE_ACCEPTED",
            "response_result": [{"phone": "380671234567", "response_code": 0, "message_id": "t-1"}]}

@pytest.fixture
def chain(provider, second_provider) -> FailoverGateway:
    return FailoverGateway([SmscGateway("l", "p", base_url=provider.url, timeout=0.3),
                            TurboSmsGateway("t", "Shop", base_url=second_provider.url, timeout=0.3)])


def test_first_gateway_5xx_moves_to_the_second(provider, second_provider, chain):
    provider.reply(503, "down")
    second_provider.reply(200, OK_TURBO)
    result = chain.send(PHONE, "Код 123456")
    assert (result.gateway, result.message_id) == ("turbosms", "t-1")
    assert len(provider.requests) == len(second_provider.requests) == 1


def test_first_gateway_timeout_moves_to_the_second(provider, second_provider, chain):
    provider.reply(200, {}, stall=True)
    second_provider.reply(200, OK_TURBO)
    assert chain.send(PHONE, "x").gateway == "turbosms"


def test_first_gateway_success_does_not_touch_the_second(provider, second_provider, chain):
    provider.reply(200, {"id": 5, "cnt": 1})
    assert chain.send(PHONE, "x").gateway == "smsc"
    assert second_provider.requests == []


def test_invalid_number_stops_the_chain(provider, second_provider, chain):
    provider.reply(200, {"error": "invalid number", "error_code": 7})
    with pytest.raises(GatewayError) as err:
        chain.send(PHONE, "x")
    assert not err.value.retryable
    assert second_provider.requests == []


def test_all_failing_is_one_retryable_error_naming_each(provider, second_provider, chain):
    provider.reply(500, "x")
    second_provider.reply(502, "y")
    with pytest.raises(GatewayError) as err:
        chain.send(PHONE, "x")
    assert err.value.retryable and "smsc" in str(err.value) and "turbosms" in str(err.value)


def test_member_lookup_for_status_queries(chain):
    assert chain.member("turbosms").name == "turbosms"
    with pytest.raises(KeyError):
        chain.member("twilio")
