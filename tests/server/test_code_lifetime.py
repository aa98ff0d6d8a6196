"""A shop's code lifetime (issue 19): the shop's `otp` setting (token_ttl_seconds, code_ttl_seconds) reaches its
devices in /config and the heartbeat's answer, so a kiosk reuses a token only while the server takes it; and the
token a code gives lasts the asking device's shop's token_ttl, not the chain's. Real CLI and server, on SQLite and
(KIOSK_TEST_PG=1) PostgreSQL."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import requests

from tests.support.cli import run_cli

API = "/api/v1"


def cli(server, *args) -> str:
    return run_cli("--config", str(server.config_path), *args, check=True).stdout


def call(server, method: str, path: str, key: str, **kw) -> requests.Response:
    return requests.request(method, f"{server.url}{API}{path}", headers={"Authorization": f"Bearer {key}"},
                            timeout=20, **kw)


def token_for(server, key: str, phone: str, card: str) -> str:
    ch = call(server, "POST", "/otp", key, json={"phone": phone, "purpose": "register", "card_number": card})
    assert ch.status_code == 200, ch.text
    checked = call(server, "POST", f"/otp/{ch.json()['challenge_id']}/check", key,
                   json={"code": server.last_code(phone)})
    assert checked.status_code == 200, checked.text
    return checked.json()["verification_token"]


def register(server, key: str, phone: str, card: str, token: str) -> dict:
    op = {"id": str(uuid.uuid4()), "type": "register", "at": datetime.now(UTC).isoformat(),
          "verification_token": token, "payload": {"phone": phone, "card_number": card, "consent": True}}
    r = call(server, "POST", "/operations:batch", key, json={"operations": [op]})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def test_a_shops_code_lifetime_reaches_its_devices_and_bounds_its_tokens(store_server):
    server = store_server
    cli(server, "shops", "add", "ALA1", "--name", "Almaty", "--timezone", "Asia/Almaty", "--country", "KZ")
    cli(server, "settings", "set", "--shop", "ALA1", "otp", '{"token_ttl_seconds": 2, "code_ttl_seconds": 60}')
    almaty = server.enrol("entrance", shop="ALA1")["device_key"]
    kyiv = server.enrol("entrance", shop="main")["device_key"]

    assert call(server, "GET", "/config", almaty).json()["otp"] == {"code_seconds": 60, "token_seconds": 2}
    assert call(server, "GET", "/config", kyiv).json()["otp"] == {"code_seconds": 300, "token_seconds": 600}
    beat = call(server, "POST", "/devices/heartbeat", almaty, json={})
    assert beat.status_code == 200 and beat.json()["otp"]["token_seconds"] == 2  # the kiosk's regular refresh

    # the shop's 2 seconds, not the chain's 10 minutes: after 3 s its token is refused, the chain's still taken
    short, long = (token_for(server, almaty, "+77011230001", "10061"),
                   token_for(server, kyiv, "+380501230001", "10062"))
    time.sleep(3)
    late = register(server, almaty, "+77011230001", "10061", short)
    assert (late["status"], late["error"]) == ("rejected", "verification_expired")
    kept = register(server, kyiv, "+380501230001", "10062", long)
    assert kept["status"] == "applied", kept

    cli(server, "settings", "reset", "--shop", "ALA1", "otp")
    assert call(server, "GET", "/config", almaty).json()["otp"] == {"code_seconds": 300, "token_seconds": 600}
