"""The config-described HTTP gateway against a local server."""

from __future__ import annotations

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.generic_http import GenericHttpGateway

PHONE = "+380671234567"


def make(provider, **options):
    return GenericHttpGateway(provider.url + "/send", timeout=0.5, **options)


def test_json_body_template_and_json_success_rule(provider):
    gateway = make(provider, name="alphasms", body={"auth": "KEY", "data": [
        {"type": "sms", "phone": "{phone_digits}", "sms_signature": "{sender}", "sms_message": "{text}"}]},
        sender="MyShop", success={"json_field": "success", "equals": True}, message_id_field="data.0.data.msg_id")
    provider.reply(200, {"success": True, "data": [{"success": True, "data": {"id": 1, "msg_id": 987, "parts": 1}}]})
    result = gateway.send(PHONE, 'Код "123456" {не шаблон}')
    assert (result.gateway, result.message_id) == ("alphasms", "987")
    assert provider.requests[0].json() == {"auth": "KEY", "data": [
        {"type": "sms", "phone": "380671234567", "sms_signature": "MyShop", "sms_message": 'Код "123456" {не шаблон}'}]}


def test_get_with_query_template_and_body_contains_rule(provider):
    gateway = make(provider, method="GET", params={"to": "{phone}", "msg": "{text}", "key": "K"}, body=None,
                   success={"body_contains": "OK"})
    provider.reply(200, "OK 1 sent")
    assert gateway.send(PHONE, "a&b=c").message_id is None
    req = provider.requests[0]
    assert req.method == "GET" and {k: v[0] for k, v in req.query.items()} == {"to": PHONE, "msg": "a&b=c", "key": "K"}


def test_form_body(provider):
    gateway = make(provider, body={"phone": "{phone}", "text": "{text}"}, body_format="form")
    provider.reply(202, "")
    gateway.send(PHONE, "Сәлем")
    assert provider.requests[0].form() == {"phone": PHONE, "text": "Сәлем"}


def test_success_rule_not_met_is_refusal(provider):
    gateway = make(provider, body={"to": "{phone}"}, success={"json_field": "status", "equals": "OK"})
    provider.reply(200, {"status": "ERROR", "error": "bad number"})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "bad number" in str(err.value)


def test_failure_retryable_option(provider):
    gateway = make(provider, body={}, success={"json_field": "ok", "equals": True}, failure_retryable=True)
    provider.reply(200, {"ok": False})
    provider.reply(400, {"ok": False})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert err.value.retryable
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable  # a 4xx says our request is wrong: no point elsewhere


def test_5xx_and_timeout_are_retryable(provider):
    gateway = make(provider, body={})
    provider.reply(500, "boom")
    provider.reply(200, {}, stall=True)
    for _ in range(2):
        with pytest.raises(GatewayError) as err:
            gateway.send(PHONE, "x")
        assert err.value.retryable
