"""The HTTP API of a real `store-server serve` process: authentication, devices, config, batches."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import requests

from tests.support.server import init_demo_server
from tests.support.times import iso_ago

API = "/api/v1"


def call(server, method, path, key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, f"{server.url}{API}{path}", headers=headers, timeout=10, **kw)


def sale(number, amount, op_id=None, **extra):
    return {"id": op_id or str(uuid.uuid4()), "type": "sale", "at": iso_ago(hours=2),
            "payload": {"card_number": number, "amount": amount, **extra}}


def test_every_call_needs_a_device_key(store_server):
    for method, path, body in (("GET", "/config", None), ("GET", "/cards/10001", None),
                               ("POST", "/operations:batch", {"operations": []}),
                               ("POST", "/otp", {"phone": "+380501234567", "purpose": "register"}),
                               ("POST", "/otp/x/check", {"code": "123456"})):
        r = call(store_server, method, path, json=body)
        assert r.status_code == 401 and r.json()["error"] == "no_device_key", path
        r = call(store_server, method, path, key="not-a-key", json=body)
        assert r.status_code == 401 and r.json()["error"] == "device_key_invalid", path


def test_enrolment_token_is_one_time_and_expires(store_server):
    token = store_server.enrolment_token("cashier")
    body = {"enrolment_token": token, "name": "till", "role": "cashier"}
    assert call(store_server, "POST", "/devices/enrol", json=body).status_code == 200
    again = call(store_server, "POST", "/devices/enrol", json=body)
    assert again.status_code == 401 and again.json()["error"] == "enrolment_token_invalid"
    wrong_role = call(store_server, "POST", "/devices/enrol",
                      json={**body, "enrolment_token": store_server.enrolment_token("cashier"), "role": "entrance"})
    assert wrong_role.json()["error"] == "role_not_allowed"
    out = store_server.cli("enrolment-token", "--role", "entrance", "--hours=-1")
    expired = out.split("enrolment token: ", 1)[1].split()[0]
    r = call(store_server, "POST", "/devices/enrol", json={"enrolment_token": expired, "name": "x", "role": "entrance"})
    assert r.status_code == 401 and r.json()["error"] == "enrolment_token_expired"
    assert "lk://enrol?server=" in out


def test_revoked_device_is_refused_within_the_key_cache_time_on_every_process(tmp_path):
    # Each process trusts a checked key for device_auth_cache_seconds (5 s by default): the revocation by
    # the CLI, another process, must reach both workers within that, and stay.
    server = init_demo_server(tmp_path)
    server.start()
    dev = server.enrol("entrance", name="door")
    server.stop()
    server.start(workers=2)
    try:
        with requests.Session() as first, requests.Session() as second:  # two connections: both workers
            for s in (first, second) * 10:
                r = s.get(f"{server.url}{API}/cards/10001", headers={"Authorization": f"Bearer {dev['device_key']}"},
                          timeout=10)
                assert r.status_code in (200, 404), r.text
        listing = server.cli("devices", "list")
        assert dev["device_id"] in listing and "door" in listing
        server.cli("devices", "revoke", dev["device_id"])
        revoked_at = time.monotonic()
        # New connections land on either worker, as the kernel likes: one worker may refuse while the other
        # still trusts its cached key, so what counts is when the last call got in, and that none did after.
        last_let_in, refused = None, 0
        while time.monotonic() - revoked_at < 12:
            for answer in [call(server, "GET", "/config", dev["device_key"]) for _ in range(6)]:
                if answer.status_code == 401:
                    assert answer.json()["error"] == "device_revoked"
                    refused += 1
                else:
                    assert answer.status_code == 200, answer.text
                    last_let_in = time.monotonic() - revoked_at
            time.sleep(0.2)
        assert last_let_in is None or last_let_in <= 5 + 1.5, last_let_in
        assert refused >= 60  # ~5 s of calls after the cache time: both workers asked many times
        assert "revoked" in server.cli("devices", "list")
    finally:
        server.stop()


def test_config_has_what_devices_need(store_server):
    dev = store_server.enrol("entrance")
    cfg = call(store_server, "GET", "/config", dev["device_key"]).json()
    assert cfg["public_name"] == "Demo Shop" and cfg["country"] == "UA"
    assert cfg["languages"][0] == "uk" and cfg["questionnaire"] == []
    assert cfg["code_required"]["redeem"] is True and cfg["no_code_limit"] == 0


def test_sale_return_cancel_over_http(store_server):
    key = store_server.enrol("cashier")["device_key"]
    s1, s2 = sale("10020", 100_000), sale("10020", 40_000)
    res = call(store_server, "POST", "/operations:batch", key, json={"operations": [s1, s2]}).json()["results"]
    assert [r["result"]["accrued"] for r in res] == [10_000, 4_000]
    ret = {"id": str(uuid.uuid4()), "type": "return", "at": iso_ago(hours=1),
           "payload": {"sale_id": s1["id"], "amount": 50_000}}
    cancel = {"id": str(uuid.uuid4()), "type": "cancel", "at": iso_ago(hours=1),
              "payload": {"operation_id": s2["id"]}}
    res = call(store_server, "POST", "/operations:batch", key, json={"operations": [ret, cancel]}).json()["results"]
    assert res[0]["result"]["bonuses_taken"] == 5_000 and res[1]["result"]["money_refund"] == 40_000
    assert call(store_server, "GET", "/cards/10020", key).json()["balance"] == 5_000


def test_redeem_needs_the_customers_code(store_server):
    kiosk = store_server.enrol("entrance")["device_key"]
    till = store_server.enrol("cashier")["device_key"]
    phone = "+380631112299"
    ch = call(store_server, "POST", "/otp", kiosk, json={"phone": phone, "purpose": "register",
                                                          "card_number": "10021"}).json()
    tok = call(store_server, "POST", f"/otp/{ch['challenge_id']}/check", kiosk,
               json={"code": store_server.last_code(phone)}).json()["verification_token"]
    reg = {"id": str(uuid.uuid4()), "type": "register", "at": iso_ago(minutes=10), "verification_token": tok,
           "payload": {"phone": phone, "card_number": "10021", "consent": True}}
    call(store_server, "POST", "/operations:batch", kiosk, json={"operations": [reg]})
    call(store_server, "POST", "/operations:batch", till, json={"operations": [sale("10021", 50_000)]})
    store_server.cli("settings", "set", "otp", '{"resend_after_seconds": 1}')
    time.sleep(1.1)  # the second code goes to the same phone; the resend pause is the OTP tests' subject
    redeem = {"id": str(uuid.uuid4()), "type": "redeem", "at": iso_ago(minutes=5),
              "payload": {"card_number": "10021", "amount": 2_000}}
    res = call(store_server, "POST", "/operations:batch", till, json={"operations": [redeem]}).json()["results"][0]
    assert res["status"] == "rejected" and res["error"] == "verification_required"
    ch = call(store_server, "POST", "/otp", till, json={"purpose": "redeem", "card_number": "10021",
                                                         "amount": 2_000, "phone": phone}).json()
    tok = call(store_server, "POST", f"/otp/{ch['challenge_id']}/check", till,
               json={"code": store_server.last_code(phone)}).json()["verification_token"]
    redeem = {**redeem, "id": str(uuid.uuid4()), "verification_token": tok}
    res = call(store_server, "POST", "/operations:batch", till, json={"operations": [redeem]}).json()["results"][0]
    assert res["status"] == "applied" and res["result"]["balance"] == 3_000


def test_batch_limit_and_bad_bodies_are_422(store_server):
    key = store_server.enrol("cashier")["device_key"]
    too_many = [sale("10022", 100) for _ in range(501)]
    r = call(store_server, "POST", "/operations:batch", key, json={"operations": too_many})
    assert r.status_code == 422 and r.json()["error"] == "bad_request" and "operations" in r.json()["message"]
    r = call(store_server, "POST", "/operations:batch", key, json={"operations": [{"id": "short"}]})
    assert r.status_code == 422
    r = requests.post(f"{store_server.url}{API}/operations:batch", data=b"{not json", timeout=10,
                      headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert r.status_code == 422


def test_exactly_once_under_concurrent_devices_and_retries(store_server):
    keys = [store_server.enrol("cashier")["device_key"] for _ in range(2)]
    ops = [sale("10023", 1_000, op_id=f"concurrent-{i:04d}") for i in range(60)]
    seen: list[tuple[int, str, str, str | None]] = []
    lock = threading.Lock()

    def send(device: int):
        for _ in range(3):  # each sender retries the whole batch
            res = call(store_server, "POST", "/operations:batch", keys[device], json={"operations": ops}).json()
            with lock:
                seen.extend((device, r["id"], r["status"], r.get("error")) for r in res["results"])

    # Three senders of one device race each other (a till retrying while its first try is still in flight);
    # a fourth, another device, reuses the same ids: ids are per device, so it must learn nothing.
    threads = [threading.Thread(target=send, args=(d,)) for d in (0, 0, 0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = [(d, op_id) for d, op_id, status, _ in seen if status == "applied"]
    assert len(applied) == 60 and len({op_id for _, op_id in applied}) == 60
    owner = dict((op_id, d) for d, op_id in applied)
    for d, op_id, status, error in seen:
        if d == owner[op_id]:
            assert status in ("applied", "duplicate")
        else:
            assert (status, error) == ("rejected", "id_reused")
    assert call(store_server, "GET", "/cards/10023", keys[0]).json()["balance"] == 60 * 100


def test_openapi_is_served(store_server):
    spec = requests.get(f"{store_server.url}{API}/openapi.json", timeout=5).json()
    assert "/api/v1/operations:batch" in spec["paths"]


def test_cli_help_lists_admin_commands():
    out = subprocess.run([sys.executable, "-m", "store_server.cli", "--help"], capture_output=True, text=True).stdout
    for command in ("cards", "rules", "tiers", "devices", "import-customers", "report", "enrolment-token"):
        assert command in out
