"""The till's money flow against a real server process: a named cashier signs in, one receipt with bonus
payment and the customer's code, then partial and full returns of it at another till."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.support.server import init_demo_server

CUSTOMER = "+380501113301"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("till-money"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write("\n[otp]\nresend_after_seconds = 1\nsends_per_phone_15min = 50\n")
    srv.start()
    yield srv
    srv.stop()


class Device:
    def __init__(self, server, role: str, name: str) -> None:
        self.server, self.url = server, f"{server.url}/api/v1"
        self.key = server.enrol(role, name=name)["device_key"]
        self.cashier: str | None = None

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, body: dict, **kw) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=10, headers={**self.headers, **kw})

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, headers={**self.headers, **kw})

    def op(self, type_: str, token: str | None = None, cashier: str | None = "signed-in", **payload) -> dict:
        op = {"id": str(uuid.uuid4()), "type": type_, "at": datetime.now(UTC).isoformat(), "payload": payload,
              "verification_token": token, "cashier": self.cashier if cashier == "signed-in" else cashier}
        r = self.post("/operations:batch", {"operations": [op]})
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    def token(self, purpose: str, phone: str | None = None, **kw) -> str:
        time.sleep(1.05)
        r = self.post("/otp", {"phone": phone, "purpose": purpose, **kw})
        assert r.status_code == 200, r.text
        code = self.server.last_code(phone or CUSTOMER)
        r = self.post(f"/otp/{r.json()['challenge_id']}/check", {"code": code})
        assert r.status_code == 200, r.text
        return r.json()["verification_token"]


def add_cashier(server, name: str, *extra: str) -> tuple[str, str]:
    out = server.cli("cashiers", "add", name, *extra)  # "cashier 3 Olena added; PIN 123456"
    return out.split()[1], out.rsplit("PIN ", 1)[1].strip()


@pytest.fixture(scope="module")
def shop(server):
    olena, olena_pin = add_cashier(server, "Olena", "--phone", "+380671110001")
    petro, petro_pin = add_cashier(server, "Petro", "--badge", "STAFF-0002-XYZ")
    till_a, till_b = Device(server, "cashier", "Till A"), Device(server, "cashier", "Till B")
    kiosk = Device(server, "entrance", "Entrance")
    token = kiosk.token("register", CUSTOMER, card_number="10001")
    assert kiosk.op("register", token, cashier=None, phone=CUSTOMER, card_number="10001",
                    consent=True)["status"] == "applied"
    till_a.cashier, till_b.cashier = olena, petro  # signed in (each test may run on its own)
    assert till_a.op("sale", card_number="10001", amount=200_000)["status"] == "applied"  # 20 000 bonuses
    return {"olena": (olena, olena_pin), "petro": (petro, petro_pin), "a": till_a, "b": till_b, "kiosk": kiosk}


def test_cashier_signs_in_with_pin_or_badge_and_a_wrong_pin_counts(server, shop):
    till = shop["a"]
    olena, pin = shop["olena"]
    r = till.post("/cashiers/login", {"pin": pin})
    assert r.status_code == 200 and r.json()["cashier_id"] == olena and r.json()["name"] == "Olena"
    r = shop["b"].post("/cashiers/login", {"badge": "STAFF-0002-XYZ"})
    assert r.status_code == 200 and r.json()["name"] == "Petro"
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    r = till.post("/cashiers/login", {"pin": wrong})
    assert r.status_code == 401 and r.json()["error"] == "cashier_pin_wrong" and r.json()["attempts_left"] == 4
    assert till.post("/cashiers/login", {"pin": pin}).status_code == 200  # a right PIN clears the count
    r = shop["kiosk"].post("/cashiers/login", {"pin": pin})
    assert r.status_code == 403 and r.json()["error"] == "role_not_allowed"


def test_operations_name_an_active_cashier_once_the_shop_has_cashiers(server, shop):
    till = shop["a"]
    res = till.op("sale", cashier=None, card_number="10002", amount=1000)
    assert (res["status"], res["error"]) == ("rejected", "cashier_required")
    res = till.op("sale", cashier="999", card_number="10002", amount=1000)
    assert (res["status"], res["error"]) == ("rejected", "cashier_unknown")
    assert till.op("sale", card_number="10002", amount=1000)["status"] == "applied"


def test_full_receipt_with_bonus_payment_then_returns_at_another_till(server, shop):
    till_a, till_b = shop["a"], shop["b"]
    r = till_a.post("/receipts:preview", {"card_number": "10001", "amount": 25_000, "bonus_payment": 1_000})
    assert r.status_code == 200, r.text
    shown = r.json()
    assert (shown["discount"], shown["bonus_payment"], shown["to_pay"], shown["accrued"]) == (0, 1_000, 24_000, 2_400)
    assert (shown["code_purpose"], shown["code_amount"]) == ("redeem", 1_000)
    assert shown["balance_after"] == 20_000 - 1_000 + 2_400

    res = till_a.op("sale", card_number="10001", amount=25_000, bonus_payment=1_000)
    assert (res["status"], res["error"]) == ("rejected", "verification_required")
    token = till_a.token("redeem", card_number="10001", amount=1_000)
    sale = till_a.op("sale", token, card_number="10001", amount=25_000, bonus_payment=1_000)
    assert sale["status"] == "applied", sale
    booked = sale["result"]
    for key in ("discount", "bonus_payment", "to_pay", "accrued"):
        assert booked[key] == shown[key]
    assert booked["balance"] == shown["balance_after"] == 21_400

    # Till B never saw this sale: it finds it by the card, by the printed number and by the receipt's QR.
    listed = till_b.get("/cards/10001/sales").json()["sales"]
    assert listed[0]["operation_id"] == sale["id"] and listed[0]["bonus_payment"] == 1_000
    assert listed[0]["device_name"] == "Till A" and listed[0]["cashier_name"] == "Olena"
    assert listed[0]["returnable_amount"] == 25_000 and listed[0]["cancellable"] is True
    for receipt in (str(booked["receipt_no"]), sale["id"], f"lk://receipt/{sale['id']}"):
        r = till_b.get(f"/sales/{receipt}")
        assert r.status_code == 200 and r.json()["operation_id"] == sale["id"], receipt
    assert till_b.get("/sales/99999999").json()["error"] == "sale_not_found"
    assert shop["kiosk"].get("/cards/10001/sales").status_code == 403

    # A partial return at till B: code to the card's phone, bonuses paid come back pro rata.
    token = till_b.token("return", card_number="10001", amount=400)
    part = till_b.op("return", token, sale_id=sale["id"], amount=10_000)
    assert part["status"] == "applied", part
    assert part["result"]["bonus_payment_refunded"] == 400 and part["result"]["bonuses_taken"] == 960
    assert part["result"]["money_refund"] == 9_600
    left = till_b.get(f"/sales/{booked['receipt_no']}").json()
    assert left["returnable_amount"] == 15_000 and left["cancellable"] is False

    token = till_b.token("return", card_number="10001", amount=600)
    rest = till_b.op("return", token, sale_id=sale["id"], amount=15_000)
    assert rest["status"] == "applied", rest
    assert part["result"]["bonus_payment_refunded"] + rest["result"]["bonus_payment_refunded"] == 1_000
    assert rest["result"]["balance"] == 20_000  # as before the receipt: no bonus more, none less
    assert sale["id"] not in [s["operation_id"] for s in till_b.get("/cards/10001/sales").json()["sales"]]
    again = till_b.op("return", sale_id=sale["id"], amount=1)
    assert again["status"] == "rejected"


def test_cancel_from_another_till(server, shop):
    sale = shop["a"].op("sale", card_number="10001", amount=5_000)
    assert sale["status"] == "applied"
    res = shop["b"].op("cancel", operation_id=sale["id"])
    assert res["status"] == "applied" and res["result"]["money_refund"] == 5_000


def test_reports_audit_and_lockout_show_the_cashier(server, shop):
    audit = server.cli("audit", "10001")
    assert ",Olena," in audit and ",Petro," in audit
    report = server.cli("report", "--by", "cashier")
    assert "Olena,sale,applied" in report
    listing = server.cli("cashiers", "list")
    assert "Olena" in listing and "+380 •• ••• •• 01" in listing
    server.cli("cashiers", "block", shop["petro"][0])
    r = shop["b"].post("/cashiers/login", {"badge": "STAFF-0002-XYZ"})
    assert r.status_code == 403 and r.json()["error"] == "cashier_blocked"
    res = shop["b"].op("sale", card_number="10001", amount=1000)
    assert (res["status"], res["error"]) == ("rejected", "cashier_blocked")
    server.cli("cashiers", "unblock", shop["petro"][0])
    # Five wrong PINs lock this till (not the cashier) for a while, on the server's clock.
    till = Device(server, "cashier", "Till C")
    for left in (4, 3, 2, 1):
        assert till.post("/cashiers/login", {"pin": "00000000"}).json()["attempts_left"] == left
    r = till.post("/cashiers/login", {"pin": "00000000"})
    assert r.status_code == 423 and r.json()["error"] == "cashier_locked" and r.json()["until"]
    r = till.post("/cashiers/login", {"pin": shop["olena"][1]})
    assert r.status_code == 423  # even the right PIN waits
    assert shop["a"].post("/cashiers/login", {"pin": shop["olena"][1]}).status_code == 200  # other tills do not


def test_cli_pin_from_stdin_must_be_unique_and_reset_pin_replaces_it(server, shop):
    def cli(*args: str, pin: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(server.config_path), *args],
                              input=pin + "\n", capture_output=True, text=True)

    taken = cli("cashiers", "add", "Ivan", "--pin-stdin", pin=shop["olena"][1])
    assert taken.returncode == 1 and "pin_taken" in taken.stderr
    assert cli("cashiers", "add", "Ivan", "--pin-stdin", pin="12a4").returncode == 1  # 4-8 digits only
    added = cli("cashiers", "add", "Ivan", "--pin-stdin", pin="24682468")
    assert added.returncode == 0 and "24682468" not in added.stdout  # a PIN typed in is never echoed
    ivan = added.stdout.split()[1]
    till = Device(server, "cashier", "Till D")
    assert till.post("/cashiers/login", {"pin": "24682468"}).json()["cashier_id"] == ivan
    assert cli("cashiers", "reset-pin", ivan, "--pin-stdin", pin="13571357").returncode == 0
    assert till.post("/cashiers/login", {"pin": "24682468"}).status_code == 401
    assert till.post("/cashiers/login", {"pin": "13571357"}).json()["name"] == "Ivan"
