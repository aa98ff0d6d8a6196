"""Eskiz.uz against a local server: login for a token, send by form, re-login on 401."""

from __future__ import annotations

import pytest

from store_server.messaging.sms.base import GatewayError
from store_server.messaging.sms.eskiz import EskizGateway

PHONE = "+998901234567"
TOKEN_REPLY = {"message": "token_generated", "data": {"token": "jwt-1"}, "token_type": "bearer"}
SENT_REPLY = {"id": "4385062", "message": "Waiting for SMS provider", "status": "waiting"}


@pytest.fixture
def gateway(provider):
    return EskizGateway("shop@example.uz", "pw", sender="4546", base_url=provider.url + "/api", timeout=0.5)


def test_logs_in_once_then_sends_with_bearer(provider, gateway):
    provider.reply(200, TOKEN_REPLY)
    provider.reply(200, SENT_REPLY)
    provider.reply(200, SENT_REPLY)
    assert gateway.send(PHONE, "Kod: 123456").message_id == "4385062"
    gateway.send(PHONE, "Kod: 654321")
    login, send, second = provider.requests
    assert (login.path, login.form()) == ("/api/auth/login", {"email": "shop@example.uz", "password": "pw"})
    assert send.path == "/api/message/sms/send" and send.headers["Authorization"] == "Bearer jwt-1"
    assert send.form() == {"mobile_phone": "998901234567", "message": "Kod: 123456", "from": "4546"}
    assert second.headers["Authorization"] == "Bearer jwt-1"


def test_expired_token_logs_in_again_once(provider, gateway):
    provider.reply(200, TOKEN_REPLY)
    provider.reply(401, {"message": "Expired"})
    provider.reply(200, {**TOKEN_REPLY, "data": {"token": "jwt-2"}})
    provider.reply(200, SENT_REPLY)
    assert gateway.send(PHONE, "x").message_id == "4385062"
    assert provider.requests[-1].headers["Authorization"] == "Bearer jwt-2"


def test_wrong_password_is_not_retryable(provider, gateway):
    provider.reply(401, {"message": "Неверный логин или пароль"})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "email and password" in str(err.value)


def test_unapproved_text_is_refused_not_retried(provider, gateway):
    provider.reply(200, TOKEN_REPLY)
    provider.reply(400, {"status": "error", "message": "Этот смс текст еще не прошел модерацию"})
    with pytest.raises(GatewayError) as err:
        gateway.send(PHONE, "x")
    assert not err.value.retryable and "модерацию" in str(err.value)


def test_5xx_and_timeout_are_retryable(provider, gateway):
    provider.reply(200, TOKEN_REPLY)
    provider.reply(500, "Server Error")
    provider.reply(200, {}, stall=True)
    for _ in range(2):
        with pytest.raises(GatewayError) as err:
            gateway.send(PHONE, "x")
        assert err.value.retryable
