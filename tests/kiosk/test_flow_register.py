"""Registration with the shop's questionnaire, against a real server that stores the answers."""

from __future__ import annotations

import json
import sqlite3

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
    for key in "1985-07-01":
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
