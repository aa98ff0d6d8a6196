"""SMS gateways per shop (issue 19): a shop of the chain sends its customers' codes through its own gateway and
sender ([sms.shops.CODE] in server.toml); every other shop through the chain's. The provider is faked at the wire
(tests/sms/conftest.py), the server is a real process; `shops list` says which gateway serves which shop."""

from __future__ import annotations

import json
import sqlite3

import pytest
import requests

from tests.sms.conftest import running_provider
from tests.support.server import init_demo_server


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with running_provider() as provider:
        server = init_demo_server(tmp_path_factory.mktemp("smsshops"))
        with server.config_path.open("a", encoding="utf-8") as f:
            f.write(f'\n[[sms.shops.ALA1.gateways]]\ntype = "generic_http"\nname = "almaty_http"\n'
                    f'url = "{provider.url}/send"\nsender = "Qauyn"\n'
                    f'body = {{ to = "{{phone}}", text = "{{text}}", from = "{{sender}}" }}\n'
                    f'\n[[sms.shops.ALA2.gateways]]\ntype = "console"\n')  # a shop that was never added
        server.cli("shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ")
        server.start()
        try:
            yield server, provider
        finally:
            provider.release.set()
            server.stop()


def ask(server, key: str, phone: str) -> requests.Response:
    return requests.post(f"{server.url}/api/v1/otp", json={"phone": phone, "purpose": "register"}, timeout=20,
                         headers={"Authorization": f"Bearer {key}"})


def logged_gateway(server, phone: str) -> list[tuple[str, str | None]]:
    """(gateway, shop) of each message logged for `phone`: the log names the shop the code was for."""
    db = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute("select gateway, shop from sms_log where phone = ?", [phone])]
    finally:
        db.close()


def test_a_shops_customers_get_codes_through_the_shops_own_gateway(chain):
    server, provider = chain
    almaty = server.enrol("entrance", shop="ALA1")["device_key"]
    kyiv = server.enrol("entrance", shop="main")["device_key"]
    provider.reply(200, {"ok": True})
    assert ask(server, almaty, "+77011234567").status_code == 200
    sent = [r.json() for r in provider.requests]
    assert len(sent) == 1 and sent[0]["to"] == "+77011234567" and sent[0]["from"] == "Qauyn"
    assert any(w.isdigit() and len(w) == 6 for w in sent[0]["text"].split())
    assert logged_gateway(server, "+77011234567") == [("almaty_http", "ALA1")]

    # the chain's shop keeps the chain's gateway (the demo's console): nothing reaches the Almaty provider
    assert ask(server, kyiv, "+380501239200").status_code == 200
    assert len(provider.requests) == 1
    assert server.last_sms("+380501239200")["to"] == "+380501239200"
    assert logged_gateway(server, "+380501239200") == [("console", "main")]

    # which gateway serves which shop, for the operator
    shops = {s["code"]: s["sms"] for s in json.loads(server.cli("shops", "list", "--json"))}
    assert shops == {"main": {"gateways": "console", "own": False}, "ALA1": {"gateways": "almaty_http", "own": True}}
    assert "SMS: almaty_http (own)" in server.cli("shops", "list")
    assert "[sms.shops.ALA2]: no shop ALA2 in the database" in server.stderr_text(20000)  # a typo is not silent


def test_the_example_server_toml_reads_and_builds_its_gateways():
    """docs/server.example.toml is a config the server accepts: its gateways build, ALA1 has its own, and its
    card_rules examples are settings the server accepts."""
    import re
    from pathlib import Path

    from store_server import settings_schema
    from store_server.config import ServerConfig
    from store_server.messaging.sms.registry import ShopGateways, build_gateway, serving

    path = Path(__file__).resolve().parents[2] / "docs" / "server.example.toml"
    config = ServerConfig.load(path)
    gateway = build_gateway(config.sms, demo=False)
    assert isinstance(gateway, ShopGateways) and gateway.for_shop("ALA1").name == "smsc"
    assert gateway.for_shop("main") is gateway.default and gateway.default.name == "failover"
    assert serving(config.sms, ["main", "ALA1"]) == {"main": {"gateways": "turbosms -> gsm_modem", "own": False},
                                                     "ALA1": {"gateways": "smsc", "own": True}}
    examples = re.findall(r"card_rules '(\{.*\})'", path.read_text(encoding="utf-8"))
    assert len(examples) == 3
    for raw in examples:
        settings_schema.validate("card_rules", json.loads(raw))


def test_delivery_reports_from_a_shops_own_twilio_account_are_verified_with_its_token():
    """A report does not say which shop's account sent the message: every configured Twilio token may sign it,
    the shops' own ones included (without them a shop's reports were all refused as bad_signature)."""
    from store_server.messaging.sms.webhooks import _twilio_tokens

    sms = {"gateways": [{"type": "twilio", "auth_token": "chain-token"}, {"type": "smsc", "password": "x"}],
           "shops": {"ALA1": {"gateways": [{"type": "twilio", "auth_token": "almaty-token"}]}, "KYIV": {}}}
    assert _twilio_tokens(sms) == ["chain-token", "almaty-token"]
