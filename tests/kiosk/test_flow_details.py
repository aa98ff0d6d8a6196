"""Answers added from the card screen after activation (issue 18), against a real server: the card look-up
says which questions are open, the customer answers them, proves the card's phone with the code sent to it
(the kiosk never sees the number) and the answers reach the server through the outbox."""

from __future__ import annotations

import json
import time

import pytest

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.details import DetailsFlow, DetailsState, missing_fields
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker

PHONE = "+380679990031"
FIELDS = [{"key": "name", "label": {"en": "Name", "uk": "Ім'я"}, "type": "text"},
          {"key": "pet", "label": "Pet", "type": "choice", "choices": ["cat", "dog"]}]


@pytest.fixture()
def backend(store_server, tmp_path):
    store_server.cli("settings", "set", "otp", json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 50,
                                                          "sends_per_phone_day": 50}))
    store_server.cli("settings", "set", "questionnaire", json.dumps(FIELDS))
    enrolled = store_server.enrol("entrance")
    client = StoreClient(store_server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "k.db")
    return Backend(store, client, SyncWorker(store, client))


def register(backend, store_server, phone: str = PHONE, card: str = "10041") -> str:
    """A customer registered at the entrance with no answers (the registration asked none)."""
    flow = RegisterFlow(backend, card_number=card)
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


def test_missing_answers_are_added_with_the_code_to_the_cards_phone(backend, store_server):
    number = register(backend, store_server)
    card = backend.lookup_card(number).card
    assert card["answered"] == []
    assert [f["key"] for f in missing_fields(FIELDS, card)] == ["name", "pet"]

    flow = DetailsFlow(backend, number, missing_fields(FIELDS, card))
    flow.questions.skip()
    flow.questions.skip()
    assert flow.finish_questions() is DetailsState.QUESTIONS and flow.error == "no_answers"
    flow.back_to_questions()
    flow.questions.index = 0
    flow.questions.type_text("Olena")
    assert flow.questions.answer()
    flow.questions.skip()  # the pet another time
    time.sleep(1.05)  # the shop's pause between two codes to one phone (shortened)
    assert flow.finish_questions() is DetailsState.CODE, flow.error
    for key in "000000" if store_server.last_code(PHONE) != "000000" else "111111":
        flow.press(key)
    assert flow.submit_code() is DetailsState.CODE and flow.error == "wrong_code"
    for key in store_server.last_code(PHONE):
        flow.press(key)
    assert flow.submit_code() is DetailsState.DONE, flow.error
    backend.sync.drain()
    assert flow.settle() and flow.outcome.status == "done", flow.outcome

    card = backend.lookup_card(number).card
    assert card["answered"] == ["name"]
    assert [f["key"] for f in missing_fields(FIELDS, card)] == ["pet"]


def test_nothing_is_offered_for_a_card_without_a_customer_or_from_the_cache():
    assert missing_fields(FIELDS, {"state": "issued", "answered": []}) == []
    assert missing_fields(FIELDS, {"state": "active"}) == []  # an older server, the offline cache
    assert missing_fields([], {"state": "active", "answered": []}) == []
    assert missing_fields(FIELDS, {"state": "active", "answered": ["name", "pet"]}) == []
