"""Twilio Messaging against a local server answering like api.twilio.com."""

from __future__ import annotations

import base64

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.twilio import TwilioGateway

PHONE = "+380671234567"
SID = "AC00000000000000000000000000000001"


@pytest.fixture
def gateway(provider):
    return TwilioGateway(SID, "auth-tok", from_number="+15005550006", base_url=provider.url, timeout=0.5)


def test_sends_form_with_basic_auth(provider, gateway):
    provider.reply(201, {"sid": "SM1234", "status": "queued", "to": PHONE, "body": "Code 123456"})
    result = gateway.send(PHONE, "Code 123456")
    assert (result.gateway, result.message_id, result.status) == ("twilio", "SM1234", "queued")
    [req] = provider.requests
    assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:auth-tok".encode()).decode()
    assert req.form() == {"To": PHONE, "Body": "Code 123456", "From": "+15005550006"}


def test_invalid_number_is_not_retryable(provider, gateway):
    provider.reply(400, {"code": 21211, "message": "The 'To' number +380 is not a valid phone number.",
                         "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "21211" in str(err.value)


def test_bad_credentials_are_not_retryable(provider, gateway):
    provider.reply(401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                         "status": 401})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "auth_token" in str(err.value)


def test_rate_limit_5xx_and_timeout_are_retryable(provider, gateway):
    provider.reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429})
    provider.reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
    provider.reply(201, {}, stall=True)
    for _ in range(3):
        with pytest.raises(GatewayError) as err:
            gateway.send(PHONE, "x")
        assert err.value.retryable


def test_delivery_status(provider, gateway):
    provider.reply(200, {"sid": "SM1234", "status": "undelivered", "error_code": 30003})
    assert gateway.status("SM1234", PHONE) == "failed"
    assert provider.requests[0].path == f"/2010-04-01/Accounts/{SID}/Messages/SM1234.json"
