"""Questionnaire answers added after activation, from the card screen (issue 18): the card look-up says which
questions the customer answered (keys only), and any device completes them with the customer's own code (an
`identify` token for the card's phone) through `update_customer`; a cashier's own phone's code changes nobody
else's answers, answers are checked against the shop's questionnaire, one token updates once even when two
devices race it. Against a real server on SQLite and (KIOSK_TEST_PG=1) PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from tests.server.conftest import BACKENDS, demo_server_on
from tests.server.test_otp_api import Device
from tests.support.cli import run_cli
from tests.support.server import ServerProcess, free_port

PHONE = "+380501117731"
CASHIER_PHONE = "+380501117732"
FIELDS = [{"key": "name", "label": "Name", "type": "text"},
          {"key": "pet", "label": "Pet", "type": "choice", "choices": ["cat", "dog"]}]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    srv = demo_server_on(request.param, tmp_path_factory.mktemp("answers"), request)
    with srv.config_path.open("a", encoding="utf-8") as f:
        f.write("\n[otp]\nresend_after_seconds = 1\nsends_per_phone_15min = 20\n")
    run_cli("--config", str(srv.config_path), "settings", "set", "questionnaire", json.dumps(FIELDS), check=True)
    srv.start()
    yield srv
    srv.stop()


def look_up(device: Device, number: str) -> dict:
    r = requests.get(f"{device.url}/cards/{number}", headers={"Authorization": f"Bearer {device.key}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def batch(device: Device, op: dict) -> dict:
    r = device.post("/operations:batch", {"operations": [op]})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def token_by_card(server, device: Device, number: str, phone: str) -> str:
    """The card screen's code: asked by card number (the device knows only the masked phone), sent to the
    card's phone."""
    time.sleep(1.05)  # resend_after_seconds = 1
    r = device.post("/otp", {"purpose": "identify", "card_number": number})
    assert r.status_code == 200, r.text
    assert r.json()["phone_masked"] != phone
    r = device.post(f"/otp/{r.json()['challenge_id']}/check", {"code": server.last_code(phone)})
    assert r.status_code == 200, r.text
    return r.json()["verification_token"]


def update(token: str | None, **payload) -> dict:
    return {"id": str(uuid.uuid4()), "type": "update_customer", "at": datetime.now(UTC).isoformat(),
            "payload": payload, "verification_token": token}


def test_answers_are_completed_with_the_customers_code(server):
    registering, kiosk, till = Device(server, "entrance"), Device(server, "entrance"), Device(server, "cashier")
    token = registering.token(server, "register", PHONE, card_number="10071")
    assert registering.op("register", token, phone=PHONE, card_number="10071", consent=True,
                          answers={"pet": "cat"})["status"] == "applied"
    assert look_up(kiosk, "10071")["answered"] == ["pet"]

    # another kiosk without the code: refused
    assert batch(kiosk, update(None, card_number="10071", answers={"name": "Olena"}))["error"] == \
        "verification_required"
    # an answer the questionnaire does not allow is refused and leaves the code unused
    token = token_by_card(server, kiosk, "10071", PHONE)
    assert batch(kiosk, update(token, card_number="10071", answers={"pet": "horse"}))["error"] == "bad_answer"
    assert batch(kiosk, update(token, card_number="10071", answers={"age": "3"}))["error"] == "bad_answer"
    # the right answers with the code: added once; the device's retry of the same operation is a duplicate
    op = update(token, card_number="10071", answers={"name": "Olena"})
    assert batch(kiosk, op)["status"] == "applied"
    assert batch(kiosk, op)["status"] == "duplicate"
    card = look_up(till, "10071")
    assert card["answered"] == ["name", "pet"]
    assert "Olena" not in json.dumps(card)  # the look-up names the questions, never the answers
    # the same code for another change: used
    assert batch(kiosk, update(token, card_number="10071", answers={"pet": "dog"}))["error"] == "verification_used"

    # a cashier's code for their own phone does not change this customer's answers
    own = till.token(server, "identify", CASHIER_PHONE)
    assert batch(till, update(own, card_number="10071", answers={"pet": "dog"}))["error"] == \
        "verification_mismatch"
    # a card with no phone yet gets no code
    r = till.post("/otp", {"purpose": "identify", "card_number": "10079"})
    assert r.status_code == 400 and r.json()["error"] == "card_not_active", r.text
    # the customer's code read out at the till does
    token = till.token(server, "identify", PHONE)
    assert batch(till, update(token, card_number="10071", answers={"pet": "dog"}))["status"] == "applied"


def test_one_code_raced_by_two_devices_updates_once(server):
    """Two devices on two server processes over one database send the same code's update at the same moment."""
    second = ServerProcess(server.data_dir, free_port()).start()
    try:
        race_one_code(server, second)
    finally:
        second.stop()


def race_one_code(server, second) -> None:
    registering, a, b = Device(server, "entrance"), Device(server, "entrance"), Device(second, "cashier")
    phone = "+380501117733"
    token = registering.token(server, "register", phone, card_number="10072")
    assert registering.op("register", token, phone=phone, card_number="10072", consent=True)["status"] == "applied"
    assert look_up(a, "10072")["answered"] == []
    for _ in range(3):
        token = a.token(server, "identify", phone)
        with ThreadPoolExecutor(2) as pool:
            ops = [(dev, update(token, card_number="10072", answers={"name": dev.key[:8]})) for dev in (a, b)]
            results = list(pool.map(lambda pair: batch(*pair), ops))
        assert sorted(r["status"] for r in results) == ["applied", "rejected"], results
        assert next(r for r in results if r["status"] == "rejected")["error"] == "verification_used"
    assert look_up(b, "10072")["answered"] == ["name"]
