"""The walking skeleton end to end: the kiosk's flows against a real store server process."""

from __future__ import annotations

import json

import requests

from drivers.scanner.base import Scan
from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.identify import IdentifyFlow, IdentifyState
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker


def make_backend(server, tmp_path, role="entrance"):
    enrolled = server.enrol(role)
    client = StoreClient(server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "kiosk.db")
    return Backend(store, client, SyncWorker(store, client)), enrolled


def type_in(flow, text):
    for ch in text:
        flow.press(ch)


def test_scan_card_shows_balance(store_server, tmp_path):
    backend, _ = make_backend(store_server, tmp_path)
    flow = IdentifyFlow(backend)
    assert flow.on_scan(Scan("10001", "test")) is IdentifyState.CARD
    assert flow.card["number"] == "10001"
    assert flow.card["balance"] == 0
    assert flow.card["state"] == "issued"


def test_scan_of_something_else_is_not_ours(store_server, tmp_path):
    backend, _ = make_backend(store_server, tmp_path)
    flow = IdentifyFlow(backend)
    assert flow.on_scan(Scan("hello world", "test")) is IdentifyState.NOT_OURS
    assert flow.on_scan(Scan("99999", "test")) is IdentifyState.NOT_FOUND


def test_register_phone_with_sms_code_then_sync_is_visible_on_server(store_server, tmp_path):
    backend, enrolled = make_backend(store_server, tmp_path)
    flow = RegisterFlow(backend, card_number="10002")
    type_in(flow, "+380501234567")
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE, flow.error
    type_in(flow, store_server.last_code("+380501234567"))
    assert flow.submit_code() is RegisterState.DONE, flow.error
    assert backend.store.counts()["pending"] == 1

    backend.sync.drain()
    assert backend.store.counts() == {"pending": 0, "done": 1, "failed": 0}
    card = backend.client.card("10002")
    assert card["state"] == "active"
    assert card["phone_masked"] == "+380 •• ••• •• 67"

    # The same batch again (a retry after a lost answer) applies nothing new.
    row = backend.store.operation(flow.operation_id)
    payload = json.loads(row["payload"])
    assert {"phone": "+380501234567", "card_number": "10002", "consent": True, "marketing": False}.items() <= \
        payload.items()
    op = {"id": row["id"], "type": "register", "at": row["at"], "payload": payload,
          "verification_token": row["verification_token"]}
    results = backend.client.send_batch([op])
    assert results == [{"id": op["id"], "status": "duplicate", "result": {"card_number": "10002"}}]


def test_same_sale_batch_twice_accrues_once(store_server, tmp_path):
    backend, _ = make_backend(store_server, tmp_path, role="cashier")
    op_id = backend.store.enqueue("sale", {"card_number": "10003", "amount": 50_000})
    batch = backend.store.pending()
    first = backend.client.send_batch(batch)
    second = backend.client.send_batch(batch)
    assert first[0]["status"] == "applied" and first[0]["result"]["accrued"] == 5_000
    assert second[0]["status"] == "duplicate"
    assert backend.client.card("10003")["balance"] == 5_000
    assert op_id == batch[0]["id"]


def test_wrong_code_says_attempts_left(store_server, tmp_path):
    backend, _ = make_backend(store_server, tmp_path)
    flow = RegisterFlow(backend)
    type_in(flow, "0671112233")  # national format, default region UA
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.CODE
    right = store_server.last_code("+380671112233")
    type_in(flow, "000000" if right != "000000" else "111111")
    assert flow.submit_code() is RegisterState.CODE
    assert flow.error == "wrong_code" and flow.attempts_left == 4


def test_device_without_key_is_refused(store_server):
    r = requests.get(f"{store_server.url}/api/v1/cards/10001", timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "no_device_key"


def test_the_code_sms_comes_in_the_language_on_the_screen(store_server, tmp_path):
    from kiosk import i18n

    backend, _ = make_backend(store_server, tmp_path)
    flow = RegisterFlow(backend, card_number="10009")
    type_in(flow, "+380501234599")
    flow.toggle_consent()
    i18n.set_language("kk")
    try:
        assert flow.submit_phone() is RegisterState.CODE, flow.error
    finally:
        i18n.set_language("en")
    text = store_server.last_sms("+380501234599")["text"]
    assert "экранына енгізіңіз" in text, text  # Kazakh, not the shop's first language (uk)
