"""Registration with the shop's questionnaire, against a real server that stores the answers."""

from __future__ import annotations

import json
import sqlite3
import time

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.register import RegisterFlow, RegisterState
from kiosk.store import LocalStore
from kiosk.sync import SyncWorker

QUESTIONS = [{"key": "birthday", "label": "Birthday", "type": "date", "required": True},
             {"key": "city", "label": "City", "type": "choice", "choices": ["Kyiv", "Lviv"]}]


def test_questionnaire_answers_reach_the_server(store_server, tmp_path):
    store_server.cli("settings", "set", "questionnaire", json.dumps(QUESTIONS))
    enrolled = store_server.enrol("entrance")
    client = StoreClient(store_server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "k.db")
    backend = Backend(store, client, SyncWorker(store, client))
    flow = RegisterFlow(backend, questionnaire=client.config()["questionnaire"])
    for key in "0679998877":
        flow.press(key)
    flow.toggle_consent()
    assert flow.submit_phone() is RegisterState.QUESTIONS
    assert flow.finish_questions() is RegisterState.QUESTIONS  # the required birthday is not answered yet
    for key in "01":  # the day on the numpad, the month by name, the year on the numpad
        flow.press(key)
    flow.questions.choose_month(7)
    for key in "1985":
        flow.press(key)
    assert flow.questions.answer()
    flow.questions.choose("Kyiv")
    assert flow.finish_questions() is RegisterState.CODE, flow.error
    for key in store_server.last_code("+380679998877"):
        flow.press(key)
    assert flow.submit_code() is RegisterState.DONE, flow.error
    backend.sync.drain()
    assert store.counts()["failed"] == 0, store.failed()
    db = sqlite3.connect(store_server.database)
    answers = dict(db.execute("select field, value from customer_answers").fetchall())
    assert answers == {"birthday": "1985-07-01", "city": "Kyiv"}


def test_a_registration_the_server_refuses_is_shown_refused_and_the_welcome_follows_the_language(store_server,
                                                                                                tmp_path):
    """Two cards for one phone, each with its own code, both queued: the server takes the first and refuses
    the second; that flow, shown as done at once, learns it. The welcome came in the screen's language."""
    from kiosk import i18n

    store_server.cli("settings", "set", "otp", json.dumps({"resend_after_seconds": 1, "sends_per_phone_15min": 50,
                                                          "sends_per_phone_day": 50}))
    enrolled = store_server.enrol("entrance")
    client = StoreClient(store_server.url, device_key=enrolled["device_key"], timeout=5)
    store = LocalStore(tmp_path / "k.db")
    backend = Backend(store, client, SyncWorker(store, client))
    phone = "+380679998801"
    flows = []
    i18n.set_language("kk")
    try:
        for card in ("10081", "10082"):
            flow = RegisterFlow(backend, card_number=card)
            for key in phone:
                flow.press(key)
            flow.toggle_consent()
            if flows:
                time.sleep(1.05)  # the shop's resend pause between two codes to one phone (shortened here)
            assert flow.submit_phone() is RegisterState.CODE, flow.error
            for key in store_server.last_code(phone):
                flow.press(key)
            assert flow.submit_code() is RegisterState.DONE, flow.error
            flows.append(flow)
    finally:
        i18n.set_language("en")
    backend.sync.drain()
    first, second = flows
    assert first.settle() and not first.refused
    assert second.settle() and second.refused and second.error == "phone_has_card"
    welcome = store_server.last_sms(phone)["text"]
    assert "10081" in welcome and "STOP" in welcome and "Demo Shop" in welcome
    assert "картасы белсенді" in welcome, welcome  # Kazakh: not the shop's first language
    store.close()


def test_the_terms_are_read_then_accepted_and_the_till_needs_no_tap(tmp_path):
    """At the entrance the consent is accepting the shop's terms on their own screen (declining leaves it off);
    at the till no consent is tapped for the customer: their code is it (the server records it)."""
    from kiosk.flows.register import terms_text

    store = LocalStore(tmp_path / "k.db")
    backend = Backend(store, StoreClient("http://127.0.0.1:9", device_key="k", timeout=1), None)
    flow = RegisterFlow(backend)
    for key in "0679998877":
        flow.press(key)
    assert flow.submit_phone() is RegisterState.PHONE and flow.error == "consent_required"
    flow.read_terms()
    assert flow.state is RegisterState.TERMS
    flow.decline_terms()
    assert (flow.state, flow.consent) == (RegisterState.PHONE, False)
    flow.read_terms()
    flow.accept_terms()
    assert (flow.state, flow.consent) == (RegisterState.PHONE, True)
    till = RegisterFlow(backend, at_till=True)
    for key in "0679998877":
        till.press(key)
    assert till.submit_phone() is RegisterState.PHONE and till.error == "server_unreachable"  # asked for the code
    config = {"terms": {"uk": "Умови", "en": "Terms", "ru": " "}}
    assert [terms_text(config, lang) for lang in ("uk", "en", "ru", "kk")] == ["Умови", "Terms", "Умови", "Умови"]
    assert terms_text({}, "en") is None
