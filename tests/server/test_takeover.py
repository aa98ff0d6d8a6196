"""Card takeover closed, against a real server: a stranger who knows an issued card's number cannot make it
theirs once it holds bonuses, neither by texting the number nor at the entrance kiosk; the till (card in hand)
and the code printed on a protected range can."""

from __future__ import annotations

import csv

import pytest
import requests

from tests.server.test_till_money_flow import Device
from tests.support.server import init_demo_server

SECRET = "takeover-hook-secret-0123"
STRANGER = "+380631119901"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("takeover"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write(f'\n[otp]\nresend_after_seconds = 1\nsends_per_phone_15min = 50\n'
                f'\n[sms]\nwebhook_secret = "{SECRET}"\n')
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def devices(server):
    till, kiosk = Device(server, "cashier", "Till"), Device(server, "entrance", "Entrance")
    # An anonymous card used at the till before its owner registered it: 1 234.00 bonuses on it.
    assert till.op("sale", card_number="10005", amount=1_234_000)["status"] == "applied"
    return till, kiosk


def text_the_shop(server, phone: str, text: str) -> str:
    r = requests.post(f"{server.url}/api/v1/sms/hooks/{SECRET}/inbound/generic", json={"from": phone, "text": text},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["outcome"]


def card(device, number: str) -> dict:
    return device.get(f"/cards/{number}").json()


def test_a_card_with_bonuses_is_not_activated_by_sms(server, devices):
    till, _kiosk = devices
    assert card(till, "10005")["activation"] == "till"
    assert text_the_shop(server, STRANGER, "10005") == "card_needs_till"
    reply = server.last_sms(STRANGER)["text"]
    assert "10005" in reply and "касі" in reply  # the shop's first language: uk; it says: at the till
    assert card(till, "10005")["state"] == "issued"
    # A fresh card with nothing on it still activates by SMS, as before.
    assert card(till, "10006")["activation"] is None
    assert text_the_shop(server, "+380631119902", "10006") == "activated"


def test_a_card_with_bonuses_is_not_activated_at_the_entrance(server, devices):
    _till, kiosk = devices
    time_ok = kiosk.post("/otp", {"phone": STRANGER, "purpose": "register", "card_number": "10005"})
    assert (time_ok.status_code, time_ok.json()["error"]) == (400, "card_needs_till")  # no SMS for nothing
    # A register token for the phone alone, then the operation names the card: refused all the same.
    token = kiosk.token("register", STRANGER)
    res = kiosk.op("register", token, cashier=None, phone=STRANGER, card_number="10005", consent=True)
    assert (res["status"], res["error"]) == ("rejected", "card_needs_till")
    assert card(kiosk, "10005")["state"] == "issued"


def test_the_till_activates_it_with_the_card_in_hand(server, devices):
    till, _kiosk = devices
    owner = "+380631119903"
    token = till.token("register", owner, card_number="10005")
    res = till.op("register", token, cashier=None, phone=owner, card_number="10005", consent=True)
    assert res["status"] == "applied", res
    view = card(till, "10005")
    assert view["state"] == "active" and view["balance"] == 123_400


def test_a_range_with_printed_codes_needs_its_code(server, devices, tmp_path):
    till, kiosk = devices
    out = tmp_path / "codes.csv"
    server.cli("cards", "issue", "20001", "20003", "--activation-codes", str(out))
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    codes = {row["card_number"]: row["activation_code"] for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert sorted(codes) == ["20001", "20002", "20003"] and all(len(c) == 8 for c in codes.values())
    assert card(till, "20001")["activation"] == "code"

    # Entrance: without the code, with a wrong one, then the right one (which works once).
    phone = "+380631119904"
    for extra, error in (({}, "activation_code_required"), ({"activation_code": "00000000"}, "activation_code_wrong")):
        token = kiosk.token("register", phone, card_number="20001")
        res = kiosk.op("register", token, cashier=None, phone=phone, card_number="20001", consent=True, **extra)
        assert (res["status"], res["error"]) == ("rejected", error)
    token = kiosk.token("register", phone, card_number="20001")
    res = kiosk.op("register", token, cashier=None, phone=phone, card_number="20001", consent=True,
                   activation_code=codes["20001"])
    assert res["status"] == "applied", res

    # By SMS: the number alone is answered with how to send the code; number and code activate.
    sender = "+380631119905"
    assert text_the_shop(server, sender, "20002") == "activation_code_required"
    assert "20002" in server.last_sms(sender)["text"]
    assert text_the_shop(server, sender, f"20002 {codes['20003']}") == "activation_code_wrong"
    assert text_the_shop(server, sender, f"20002 {codes['20002']}") == "activated"
    assert card(till, "20002")["state"] == "active"

    # A re-print makes new codes; the old one stops working.
    server.cli("cards", "export-codes", "20003", "20003", "--out", str(out))
    new = next(csv.DictReader(out.open(encoding="utf-8")))["activation_code"]
    assert text_the_shop(server, "+380631119906", f"20003 {codes['20003']}") == "activation_code_wrong"
    assert text_the_shop(server, "+380631119906", f"20003 {new}") == "activated"
