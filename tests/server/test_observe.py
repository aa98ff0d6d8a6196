"""What a technician sees of a real `store-server serve`: its journal lines, GET /healthz and GET /metrics."""

from __future__ import annotations

import json
import re
import time
import uuid

import requests

from store_server import logs
from store_server.data import migrate
from tests.support.times import iso_ago

API = "/api/v1"
PHONE = "+380631117755"


def call(server, method, path, key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=10, **kw)


def metric(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_health_metrics_and_the_journal(store_server):
    health = call(store_server, "GET", "/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "schema": "ok", "sms": "ok (console)"}

    kiosk = store_server.enrol("entrance", name="door kiosk")["device_key"]
    till = store_server.enrol("cashier", name="till 1")["device_key"]
    ch = call(store_server, "POST", f"{API}/otp", kiosk, json={"phone": PHONE, "purpose": "register",
                                                               "card_number": "10031"}).json()
    tok = call(store_server, "POST", f"{API}/otp/{ch['challenge_id']}/check", kiosk,
               json={"code": store_server.last_code(PHONE)}).json()["verification_token"]
    reg = {"id": str(uuid.uuid4()), "type": "register", "at": iso_ago(minutes=10), "verification_token": tok,
           "payload": {"phone": PHONE, "card_number": "10031", "consent": True}}
    assert call(store_server, "POST", f"{API}/operations:batch", kiosk,
                json={"operations": [reg]}).json()["results"][0]["status"] == "applied"
    refused = {"id": str(uuid.uuid4()), "type": "redeem", "at": iso_ago(minutes=5),
               "payload": {"card_number": "10031", "amount": 999_999}}
    res = call(store_server, "POST", f"{API}/operations:batch", till,
               json={"operations": [refused], "outbox_backlog": 7}).json()["results"][0]
    assert res["status"] == "rejected"
    for _ in range(3):
        assert call(store_server, "GET", f"{API}/cards/10031", till).status_code == 200
    # the entrance may not look customers up by phone: a refusal the journal keeps
    assert call(store_server, "GET", f"{API}/customers", kiosk, params={"phone": PHONE}).status_code == 403

    text = call(store_server, "GET", "/metrics").text
    assert metric(text, "store_http_requests_total", route="/cards/{number}", method="GET", status="200") >= 3
    assert metric(text, "store_http_request_seconds_count", route="/cards/{number}") >= 3
    assert metric(text, "store_operations_total", type="register", status="applied") >= 1
    assert metric(text, "store_operations_total", type="redeem", status="rejected") >= 1
    assert metric(text, "store_sms_total", gateway="console", purpose="register", status="sent") >= 1
    assert metric(text, "store_device_outbox_backlog", device="till 1") == 7
    assert "10031" not in re.sub(r"route=\"[^\"]*\"", "", text)  # no card numbers as label values

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "refused redeem" not in store_server.stderr_text(100_000):
        time.sleep(0.1)
    journal = store_server.stderr_text(100_000)
    start = next(line for line in journal.splitlines() if "listening on" in line)
    backend = "PostgreSQL" if "postgresql" in store_server.config_path.read_text(encoding="utf-8") else "SQLite"
    assert f"http://127.0.0.1:{store_server.port}" in start and backend in start
    assert f"schema {migrate.head()}" in start
    assert " INFO " in start
    activated = next(line for line in journal.splitlines() if "card 10031 activated" in line)
    assert "door kiosk" in activated and "+380 •• ••• •• 55" in activated
    assert "refused redeem" in journal and "till 1" in journal
    assert "refused GET /api/v1/customers: role_not_allowed" in journal
    server_lines = [line for line in journal.splitlines() if "store_server" in line]
    assert server_lines and not any(PHONE in line for line in server_lines)  # [SMS to ...] is the demo's console


def test_journal_priority_prefixes_json_and_masking(monkeypatch, capsys):
    import io
    import logging

    monkeypatch.setenv("JOURNAL_STREAM", "8:123")
    out = io.StringIO()
    logs.setup("INFO", "text", stream=out)
    log = logging.getLogger("store_server.test")
    log.info("code sent to %s", "+380501234567")
    log.warning("gateway down")
    log.debug("not shown at INFO")
    assert out.getvalue().splitlines() == ["<6>store_server.test: code sent to +380 •• ••• •• 67",
                                           "<4>store_server.test: gateway down"]
    out = io.StringIO()
    logs.setup("INFO", "json", stream=out)
    logs.event(log, "card %s activated for %s", "10001", "+77011234567", card="10001", phone="+77011234567")
    entry = json.loads(out.getvalue())
    assert entry["level"] == "info" and entry["card"] == "10001" and entry["phone"] == "+7 ••• ••• •• 67"
    assert entry["message"] == "card 10001 activated for +7 ••• ••• •• 67"
    logs.setup("INFO", "text", stream=io.StringIO())


def test_api_docs_work_without_internet(store_server):
    for page in ("/api/docs", "/api/redoc"):
        html = call(store_server, "GET", page).text
        assert "cdn." not in html and "unpkg" not in html, page
        assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css|png))"', html)
        assert assets, page
        for asset in assets:
            assert call(store_server, "GET", asset).status_code == 200, asset
