""""Find my card" and "Join" from a phone that has a card, against a real server: the phone's owner proves it
with a code and then sees their own card; nobody sees a card, or learns whether a phone has one, without it."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import requests

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.find_card import FindCardFlow, FindState
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker

PHONE = "+380679990011"


@pytest.fixture()
def backend(store_server, tmp_path):
    store_server.cli("settings", "set", "otp", json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 50,
                                                          "sends_per_phone_day": 50}))
    enrolled = store_server.enrol("entrance")
    client = StoreClient(store_server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "k.db")
    backend = Backend(store, client, SyncWorker(store, client))
    backend.device_key = enrolled["device_key"]
    return backend


def _register(backend, store_server, phone: str) -> str:
    flow = RegisterFlow(backend)
    for key in phone:
        flow.press(key)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    for key in store_server.last_code(phone):
        flow.press(key)
    assert flow.submit_code() is RegisterState.DONE, flow.error
    backend.sync.drain()
    assert flow.settle() and not flow.refused, flow.error
    return flow.card_number


def _code(flow: FindCardFlow, code: str) -> FindState:
    for key in code:
        flow.press(key)
    return flow.submit_code()


def test_a_returning_customer_finds_their_own_card_with_a_code(backend, store_server):
    number = _register(backend, store_server, PHONE)
    time.sleep(1.05)  # the shop's pause between two codes to one phone (shortened)
    flow = FindCardFlow(backend)
    for key in "0679990011":
        flow.press(key)
    assert flow.submit_phone() is FindState.CODE, flow.error
    right = store_server.last_code(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    assert _code(flow, wrong) is FindState.CODE
    assert flow.error == "wrong_code" and flow.attempts_left == 4 and flow.code == ""
    assert _code(flow, right) is FindState.FOUND, flow.error
    card = flow.view.card
    assert flow.view.own and card["number"] == number and card["state"] == "active"
    assert card["phone_masked"] != PHONE and "balance" in card and "history" in card
    # the page link is for the owner's eyes only: the cache (which answers whoever scans the card) has no link
    cached, _at = backend.store.cached_card(number)
    assert "card_link" not in cached


def test_a_phone_without_a_card_learns_so_only_after_the_code_and_is_offered_to_join(backend, store_server):
    phone = "+380679990022"
    flow = FindCardFlow(backend)
    for key in phone:
        flow.press(key)
    # the code goes out whether or not the phone has a card: typing a number reveals nothing
    assert flow.submit_phone() is FindState.CODE, flow.error
    assert _code(flow, store_server.last_code(phone)) is FindState.NO_CARD
    assert flow.view is None and flow.error == "customer_not_found"


def test_join_from_a_phone_that_has_a_card_shows_that_card_and_issues_no_second(backend, store_server):
    phone = "+380679990033"
    number = _register(backend, store_server, phone)
    db = sqlite3.connect(store_server.database)
    cards_before = db.execute("select count(*) from cards").fetchone()[0]
    time.sleep(1.05)
    flow = RegisterFlow(backend)
    for key in phone:
        flow.press(key)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    for key in store_server.last_code(phone):
        flow.press(key)
    assert flow.submit_code() is RegisterState.OWN_CARD, flow.error
    assert flow.own_view.own and flow.own_view.card["number"] == number
    assert flow.error == "already_have_card" and flow.operation_id is None
    assert backend.store.counts()["pending"] == 0  # nothing queued: no register to be refused later
    assert db.execute("select count(*) from cards").fetchone()[0] == cards_before  # no digital card reserved


def test_the_entrance_cannot_look_a_phone_up_without_a_code(backend, store_server):
    r = requests.get(f"{store_server.url}/api/v1/customers", params={"phone": PHONE}, timeout=5,
                     headers={"Authorization": f"Bearer {backend.device_key}"})
    assert r.status_code == 403 and r.json()["error"] == "role_not_allowed"


def test_find_my_card_needs_the_server(tmp_path):
    store = LocalStore(tmp_path / "k.db")
    backend = Backend(store, StoreClient("http://127.0.0.1:9", device_key="x", timeout=0.5), None)
    flow = FindCardFlow(backend)
    for key in "0679990011":
        flow.press(key)
    assert flow.submit_phone() is FindState.PHONE and flow.error == "server_unreachable"
    flow.press("back")
    assert flow.digits == "067999001" and flow.error is None
