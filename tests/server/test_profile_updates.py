"""A customer's consent and answers change only with the customer's code, or from the kiosk that just
registered them; the server stamps them with its own time (against a real server process)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from tests.server.test_otp_api import Device
from tests.support.server import init_demo_server

PHONE = "+380501117701"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = init_demo_server(tmp_path_factory.mktemp("profile"))
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write("\n[otp]\nresend_after_seconds = 1\nsends_per_phone_15min = 20\n")
    srv.start()
    yield srv
    srv.stop()


def customer(server) -> dict:
    db = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("select * from customers where phone = ?", [PHONE]).fetchone())
    finally:
        db.close()


def test_another_kiosk_cannot_change_a_customers_choices(server):
    registering, stranger = Device(server, "entrance"), Device(server, "entrance")
    token = registering.token(server, "register", PHONE, card_number="10061")
    assert registering.op("register", token, phone=PHONE, card_number="10061", consent=True,
                          marketing=False)["status"] == "applied"
    # Another entrance kiosk, backdating its change by a month: refused, nothing changes.
    backdated = {"card_number": "10061", "consent": False, "marketing": True}
    before = customer(server)
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    op = {"id": "stranger-0001", "type": "update_customer", "at": month_ago, "payload": backdated}
    r = stranger.post("/operations:batch", {"operations": [op]}).json()["results"][0]
    assert r["status"] == "rejected" and r["error"] == "verification_required"
    assert customer(server) == before
    # The registering kiosk, a moment later, may: stamped with the server's time, not the device's.
    op = {**op, "id": "registering-0001"}
    r = registering.post("/operations:batch", {"operations": [op]}).json()["results"][0]
    assert r["status"] == "applied", r
    after = customer(server)
    assert after["marketing_opt_in"] == 1 and after["consent_at"] is None
    assert after["marketing_opt_in_at"].startswith(datetime.now(UTC).strftime("%Y-%m-%d"))
    # Any kiosk with the customer's own code (an identify token for the card's phone) may too, once.
    token = stranger.token(server, "identify", PHONE)
    assert stranger.op("update_customer", token, card_number="10061", marketing=False)["status"] == "applied"
    assert customer(server)["marketing_opt_in"] == 0
    assert stranger.op("update_customer", token, card_number="10061", marketing=True)["error"] == \
        "verification_used"
    wrong = stranger.token(server, "identify", "+380501117702")  # a code to some other phone
    assert stranger.op("update_customer", wrong, card_number="10061", marketing=True)["error"] == \
        "verification_mismatch"
