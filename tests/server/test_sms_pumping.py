"""SMS pumping against a real server: the numbers the review got codes sent to are refused, the shop's cap
stops a flood and tells the owner once, inbound texts do not get endless replies, and the fraud report
(with --fail-on-signal) sees a device that texted many new numbers."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
import requests

from tests.support.cli import run_cli
from tests.support.server import init_demo_server

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("pumping"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[otp]\nresend_after_seconds = 1\n\n[sms]\nwebhook_secret = "pump-secret-0123456789"\n')
    srv.start()
    yield srv
    srv.stop()


def cli(server, *args, ok: bool = True) -> subprocess.CompletedProcess:
    out = run_cli("--config", str(server.config_path), *args)
    assert (out.returncode == 0) is ok, out.stdout + out.stderr
    return out


def sent_to(server, phone: str) -> list[str]:
    if not server.sms_file.exists():
        return []
    return [m["text"] for m in map(json.loads, server.sms_file.read_text(encoding="utf-8").splitlines())
            if m["to"] == phone]


def ask(server, key: str, phone: str) -> requests.Response:
    return requests.post(f"{server.url}{API}/otp", json={"phone": phone, "purpose": "register"}, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})


def test_premium_satellite_landline_and_foreign_numbers_get_no_code(server):
    key = server.enrol("entrance")["device_key"]
    refused = {"+449098790001": ("phone_country_not_allowed", "GB"),  # UK premium rate
               "+881631234567": ("phone_country_not_allowed", "001"),  # Iridium satellite
               "+37322123456": ("phone_country_not_allowed", "MD"),  # a Moldovan landline
               "+2693212345": ("phone_country_not_allowed", "KM"),  # Comoros, from a Ukrainian shop
               "+380442345678": ("phone_not_mobile", None),  # a Kyiv landline
               "+380891234567": ("phone_not_mobile", None)}  # Ukrainian VoIP
    for phone, (code, country) in refused.items():
        r = ask(server, key, phone)
        assert r.status_code == 400 and r.json()["error"] == code, (phone, r.text)
        assert country is None or r.json()["country"] == country
        assert sent_to(server, phone) == []
    assert ask(server, key, "+380501110001").status_code == 200  # a Ukrainian mobile is fine
    # The shop may allow more countries; the number must still be a mobile one.
    cli(server, "settings", "set", "sms_countries", '["UA", "KZ"]')
    try:
        assert ask(server, key, "+77012345678").status_code == 200
        assert ask(server, key, "+37322123456").json()["error"] == "phone_country_not_allowed"
    finally:
        cli(server, "settings", "set", "sms_countries", "null")
    assert "sms_countries: 'XX' is not an ISO 3166 country code" in cli(server, "settings", "set", "sms_countries",
                                                                        '["XX"]', ok=False).stderr


def test_the_shop_cap_stops_codes_from_all_devices_and_tells_the_owner_once(server):
    owner = "+380671234500"
    cli(server, "settings", "set", "owner_phone", json.dumps(owner))
    keys = [server.enrol("entrance")["device_key"] for _ in range(3)]
    try:
        db = sqlite3.connect(server.database)  # the cap counts every code of the last hour
        already = db.execute("select count(*) from otp_challenges").fetchone()[0]
        db.close()
        cli(server, "settings", "set", "sms_shop_per_hour", str(already + 6))
        statuses = [ask(server, keys[i % 3], f"+38050222{i:04d}").status_code for i in range(10)]
        assert statuses == [200] * 6 + [429] * 4, statuses
        r = ask(server, keys[0], "+380502229999")
        assert r.json()["error"] == "shop_code_limit" and r.json()["retry_after"] > 0
        alerts = sent_to(server, owner)
        assert len(alerts) == 1 and "fraud-report" in alerts[0], alerts  # once, not once per refusal
    finally:
        cli(server, "settings", "set", "sms_shop_per_hour", "100")
        cli(server, "settings", "set", "owner_phone", "null")


def test_inbound_texts_get_a_few_replies_an_hour_not_one_each(server):
    hook = f"{server.url}{API}/sms/hooks/pump-secret-0123456789/inbound/generic"
    for i in range(25):
        r = requests.post(hook, json={"from": "+380631119999", "text": f"hello {i}"}, timeout=10)
        assert r.status_code == 200 and r.json() == {"outcome": "no_number"}
    assert len(sent_to(server, "+380631119999")) == 3


def test_fraud_report_fails_on_a_device_texting_many_new_numbers(server):
    assert cli(server, "fraud-report", "--fail-on-signal", "--min-unverified", "1000").returncode == 0
    pump = server.enrol("entrance", name="pumping kiosk")["device_key"]
    for i in range(30):
        assert ask(server, pump, f"+38066333{i:04d}").status_code == 200
    out = cli(server, "fraud-report", "--fail-on-signal", ok=False)
    assert out.returncode == 1
    assert "pumping kiosk  30 numbers without their code entered" in out.stdout, out.stdout
    assert "+38066333" not in out.stdout  # phones stay masked


def test_fraud_report_sees_many_wrong_codes(server):
    key = server.enrol("entrance", name="guessing kiosk")["device_key"]
    wrong = 0
    for i in range(5):
        challenge = ask(server, key, f"+38093444{i:04d}").json()["challenge_id"]
        for _ in range(5):
            r = requests.post(f"{server.url}{API}/otp/{challenge}/check", json={"code": "000000"}, timeout=10,
                              headers={"Authorization": f"Bearer {key}"})
            wrong += r.json().get("error") == "wrong_code"
    out = cli(server, "fraud-report", "--min-unverified", "1000", "--fail-on-signal", ok=False).stdout
    assert f"guessing kiosk  {wrong} wrong codes" in out, out
