"""GET /customers?phone= on a real store server process: the till finds a customer by phone; the entrance
kiosk may not (anyone at the door could read a stranger's balance), and the answer never shows the phone."""

from __future__ import annotations

import pytest
import requests

from tests.server.test_otp_api import CUSTOMER, Device
from tests.support.server import init_demo_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("customer-lookup"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write("\n[otp]\nresend_after_seconds = 1\n")
    srv.start()
    srv.cli("settings", "set", "identify_code_required", "false")  # the code is tested at the end, switched on
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def devices(server):
    entrance, till = Device(server, "entrance"), Device(server, "cashier")
    token = entrance.token(server, "register", CUSTOMER, card_number="10001")
    assert entrance.op("register", token, phone=CUSTOMER, card_number="10001", consent=True)["status"] == "applied"
    return entrance, till


def find(device, phone: str, key: str | None = "device") -> requests.Response:
    headers = {"Authorization": f"Bearer {device.key}"} if key else {}
    return requests.get(f"{device.url}/customers", params={"phone": phone}, headers=headers, timeout=5)


def test_till_finds_the_card_by_phone_in_local_format_and_the_phone_stays_masked(devices):
    _entrance, till = devices
    r = find(till, "050 111 22 01")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["number"] == "10001" and body["state"] == "active"
    assert body["phone_masked"] == "+380 •• ••• •• 01"
    assert "501112201" not in r.text


def test_entrance_kiosk_and_strangers_may_not_look_up_by_phone(devices):
    entrance, _till = devices
    r = find(entrance, CUSTOMER)
    assert (r.status_code, r.json()["error"]) == (403, "role_not_allowed")
    assert "10001" not in r.text
    r = find(entrance, CUSTOMER, key=None)
    assert (r.status_code, r.json()["error"]) == (401, "no_device_key")


def test_unknown_and_malformed_phones(devices):
    _entrance, till = devices
    r = find(till, "+380509999999")
    assert (r.status_code, r.json()["error"]) == (404, "customer_not_found")
    r = find(till, "12ab")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_phone")


def test_with_identify_code_required_the_phone_look_up_needs_the_customers_code(server, devices):
    """Seed 000: a cashier typing their own phone number finds nothing without the code sent to it, and the
    code sent to one phone opens no other (a cashier's phone cannot stand in for the customer's)."""
    _entrance, till = devices
    server.cli("settings", "set", "identify_code_required", "true")
    try:
        r = find(till, CUSTOMER)
        assert (r.status_code, r.json()["error"]) == (403, "verification_required")
        assert "10001" not in r.text
        cashier_phone = "+380671112299"
        own = till.token(server, "identify", cashier_phone)
        r = requests.get(f"{till.url}/customers", params={"phone": CUSTOMER}, timeout=5,
                         headers={"Authorization": f"Bearer {till.key}", "X-Verification-Token": own})
        assert (r.status_code, r.json()["error"]) == (400, "verification_mismatch")
        token = till.token(server, "identify", CUSTOMER)
        headers = {"Authorization": f"Bearer {till.key}", "X-Verification-Token": token}
        r = requests.get(f"{till.url}/customers", params={"phone": "050 111 22 01"}, headers=headers, timeout=5)
        assert r.status_code == 200 and r.json()["number"] == "10001"
        r = requests.get(f"{till.url}/customers", params={"phone": CUSTOMER}, headers=headers, timeout=5)
        assert (r.status_code, r.json()["error"]) == (400, "verification_used")
    finally:
        server.cli("settings", "set", "identify_code_required", "false")
