"""Inbound texts through a shop's own gateway (issue 19): a customer texting a card number or STOP to the Almaty
shop's number is answered through the Almaty shop's own gateway, not the chain's. The webhook says the shop: the
shop's own webhook secret, or the receiving number being one of its gateways' senders. The provider is faked at
the wire (tests/sms/conftest.py); the server is a real process on SQLite and (KIOSK_TEST_PG=1) PostgreSQL."""

from __future__ import annotations

import json

import pytest
import requests

from store_server.messaging.sms.webhooks import inbound_shop
from tests.server.conftest import BACKENDS, demo_server_on
from tests.sms.conftest import running_provider

ALMATY_NUMBER = "+77001112233"


@pytest.fixture(scope="module", params=BACKENDS)
def chain(request, tmp_path_factory):
    with running_provider() as provider:
        server = demo_server_on(request.param, tmp_path_factory.mktemp("smsin"), request)
        text = server.config_path.read_text(encoding="utf-8")
        assert "webhook_secret" not in text
        with server.config_path.open("a", encoding="utf-8") as f:
            if "[sms]" not in text:
                f.write('\n[sms]\n')
            f.write(f'\n[sms.shops.ALA1]\nwebhook_secret = "almaty-hook-secret"\n'
                    f'\n[[sms.shops.ALA1.gateways]]\ntype = "generic_http"\nname = "almaty_http"\n'
                    f'url = "{provider.url}/send"\nsender = "{ALMATY_NUMBER}"\n'
                    f'body = {{ to = "{{phone}}", text = "{{text}}", from = "{{sender}}" }}\n')
        text = server.config_path.read_text(encoding="utf-8")
        server.config_path.write_text(text.replace("[sms]\n", '[sms]\nwebhook_secret = "chain-hook-secret"\n', 1),
                                      encoding="utf-8")
        server.cli("shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ",
            "--public-name", "ru=Кавун Алматы")
        server.cli("settings", "set", "--shop", "ALA1", "languages", "ru,kk")
        server.start()
        try:
            yield server, provider
        finally:
            provider.release.set()
            server.stop()


def inbound(server, secret: str, body: dict) -> dict:
    r = requests.post(f"{server.url}/api/v1/sms/hooks/{secret}/inbound/generic", json=body, timeout=20)
    assert r.status_code == 200, r.text
    return r.json()


def console_texts(server, phone: str) -> list[str]:
    if not server.sms_file.exists():
        return []
    lines = server.sms_file.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if json.loads(line)["to"] == phone]


def sent_to(provider, phone: str) -> list[dict]:
    return [body for body in (json.loads(r.body) for r in provider.requests) if body["to"] == phone]


def test_a_text_to_a_shops_own_number_is_answered_through_that_shops_gateway(chain):
    server, provider = chain
    # on the shop's own webhook secret: the welcome goes through the Almaty gateway, in Russian, under its name
    provider.reply(200, {"ok": True})
    assert inbound(server, "almaty-hook-secret", {"from": "+77011239001", "text": "10071"})["outcome"] == "activated"
    welcome = sent_to(provider, "+77011239001")
    assert len(welcome) == 1 and welcome[0]["from"] == ALMATY_NUMBER and "Кавун Алматы" in welcome[0]["text"]
    assert console_texts(server, "+77011239001") == []  # nothing through the chain's gateway

    # on the chain's secret, but to the Almaty number: STOP's confirmation goes back the same way
    provider.reply(200, {"ok": True})
    body = {"from": "+77011239001", "to": ALMATY_NUMBER, "text": "STOP"}
    assert inbound(server, "chain-hook-secret", body)["outcome"] == "opted_out"
    assert len(sent_to(provider, "+77011239001")) == 2 and console_texts(server, "+77011239001") == []

    # the chain's own number: the chain's gateway, as before
    assert inbound(server, "chain-hook-secret", {"from": "+380501239002", "text": "10072"})["outcome"] == "activated"
    assert len(console_texts(server, "+380501239002")) == 1 and sent_to(provider, "+380501239002") == []

    # each text is recorded with the shop whose gateway it reached (inbound_sms.shop), the chain's with none
    import tomllib

    from sqlalchemy import select

    from store_server.data.db import inbound_sms, make_engine

    engine = make_engine(tomllib.loads(server.config_path.read_text(encoding="utf-8"))["database_url"])
    try:
        with engine.connect() as conn:
            recorded = conn.execute(select(inbound_sms.c.phone, inbound_sms.c.outcome, inbound_sms.c.shop)
                                    .order_by(inbound_sms.c.id)).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in recorded] == [
        ("+77011239001", "activated", "ALA1"), ("+77011239001", "opted_out", "ALA1"),
        ("+380501239002", "activated", None)]

    # a wrong secret is still no route at all
    r = requests.post(f"{server.url}/api/v1/sms/hooks/nope/inbound/generic", json={"from": "+1", "text": "x"},
                      timeout=20)
    assert r.status_code == 404


def test_which_shop_a_webhook_speaks_for():
    sms = {"webhook_secret": "c", "twilio_auth_token": "chain-token",
           "shops": {"ALA1": {"gateways": [{"type": "twilio", "account_sid": "AC1", "auth_token": "ala-token",
                                            "from_number": "+7 700 111 22 33"}]},
                     "AST1": {"gateways": [{"type": "generic_http", "url": "x", "sender": "ShopName"}]}}}
    assert inbound_shop(sms, by_secret="AST1", twilio_token=None, to=None) == "AST1"
    assert inbound_shop(sms, by_secret=None, twilio_token="ala-token", to=None) == "ALA1"  # its own account
    assert inbound_shop(sms, by_secret=None, twilio_token="chain-token", to="+77001112233") == "ALA1"  # its number
    assert inbound_shop(sms, by_secret=None, twilio_token="chain-token", to="+380441112233") is None
    assert inbound_shop(sms, by_secret=None, twilio_token=None, to="ShopName") is None  # a name is not a number
    assert inbound_shop(sms, by_secret=None, twilio_token=None, to=None) is None
