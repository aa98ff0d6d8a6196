"""The small parts flows are built from: typing amounts, the accrual estimate, the questionnaire, when a
code is needed."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.backend import Backend
from kiosk.client import StoreClient
from kiosk.flows.accrual import estimate_accrual
from kiosk.flows.cashier import local_operations
from kiosk.flows.code import code_required
from kiosk.flows.entry import MAX_AMOUNT, AmountEntry, DigitEntry
from kiosk.flows.questionnaire import Questionnaire, label
from kiosk.store import LocalStore


def typed(keys) -> AmountEntry:
    entry = AmountEntry()
    for key in keys:
        entry.press(key)
    return entry


def test_amount_entry_like_a_till():
    assert typed("12.5").minor == 1250
    assert typed("12.509").minor == 1250
    assert typed(".5").text == "0.5"
    assert typed("007").text == "7"
    assert typed("1..2").minor == 120
    assert typed(["1", "2", "back"]).minor == 100
    assert typed("9" * 20).minor <= MAX_AMOUNT
    entry = AmountEntry()
    entry.set_minor(1205)
    assert entry.text == "12.05"
    entry.set_minor(1200)
    assert entry.text == "12"


def test_digit_entry_stops_at_its_length():
    entry = DigitEntry(4)
    for key in "123456+":
        entry.press(key)
    assert entry.text == "1234"


MORNING = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 09:30 in Kyiv
EVENING = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
SHOP = {"timezone": "Europe/Kyiv", "rules": [
    {"id": 1, "kind": "percent", "value": 2000, "priority": 0, "combine": False, "time_from": 540, "time_to": 660},
    {"id": 2, "kind": "percent", "value": 1000, "priority": 10, "combine": True},
    {"id": 3, "kind": "fixed", "value": 500, "priority": 20, "combine": True, "card_type": "gold"},
]}


def test_accrual_estimate_follows_the_servers_rules():
    assert estimate_accrual(SHOP, 10000, now=MORNING) == 2000  # 20% alone in the morning
    assert estimate_accrual(SHOP, 10000, now=EVENING) == 1000
    assert estimate_accrual(SHOP, 10000, now=EVENING, card_type="gold") == 1500
    assert estimate_accrual({}, 10000) is None
    assert estimate_accrual({"rules": [{"kind": "percent"}]}, 10000) is None


def test_code_required_mirrors_the_shop_switches_and_the_no_code_limit():
    shop = {"code_required": {"redeem": True, "discount": False, "return": True}, "no_code_limit": 5000}
    assert not code_required(shop, "redeem", 5000)
    assert code_required(shop, "redeem", 5001)
    assert not code_required(shop, "discount", 100)
    assert code_required(shop, "return", 1)
    assert not code_required({}, "redeem", 100)


FIELDS = [
    {"key": "name", "label": {"en": "Your name", "uk": "Ваше ім'я"}, "type": "text"},
    {"key": "birthday", "label": "Birthday", "type": "date", "required": True},
    {"key": "kids", "label": "Children", "type": "number"},
    {"key": "city", "label": "City", "type": "choice", "choices": ["Kyiv", "Lviv"]},
    {"key": "broken", "type": "colour"},  # a field type this device does not know is not asked
]


def test_questionnaire_asks_each_field_and_checks_answers_like_the_server():
    q = Questionnaire(FIELDS)
    assert [f["key"] for f in q.fields] == ["name", "birthday", "kids", "city"]
    assert label(q.field, "uk") == "Ваше ім'я" and label(q.field, "kk") == "Your name"
    assert q.skip()  # optional
    assert not q.skip() and q.error == "answer_required"
    for key in "2026-13-01":
        q.press(key)
    assert not q.answer() and q.error == "bad_date"
    q.press("clear")
    for key in "1990-02-03":
        q.press(key)
    assert q.answer()
    q.press("x")  # not a numpad key
    q.press("2")
    assert q.answer()
    q.typed = "Odesa"
    assert not q.answer() and q.error == "bad_choice"
    q.choose("Lviv")
    assert q.done and q.answers == {"birthday": "1990-02-03", "kids": "2", "city": "Lviv"}
    q.previous()
    assert q.field["key"] == "city" and q.typed == "Lviv"


def test_the_tills_pickers_see_its_own_operations_newest_first_without_refused_ones(tmp_path):
    store = LocalStore(tmp_path / "k.db")
    first = store.enqueue("sale", {"card_number": "10001", "amount": 100})
    store.enqueue("redeem", {"card_number": "10001", "amount": 50})
    refused = store.enqueue("sale", {"card_number": "10001", "amount": 300})
    store.mark_failed(refused, "card_blocked: blocked")
    last = store.enqueue("sale", {"card_number": "10002", "amount": 200})
    backend = Backend(store, StoreClient("http://127.0.0.1:9"))
    sales = local_operations(backend, ("sale",))
    assert [(s["id"], s["payload"]["amount"]) for s in sales] == [(last, 200), (first, 100)]
    assert len(local_operations(backend, ("sale", "redeem"), limit=2)) == 2
    store.close()
