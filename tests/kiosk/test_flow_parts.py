"""The small parts flows are built from: typing amounts, the questionnaire, when a code is needed."""

from __future__ import annotations

from kiosk.flows.code import code_required
from kiosk.flows.entry import MAX_AMOUNT, AmountEntry, DigitEntry
from kiosk.flows.questionnaire import Questionnaire, label


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
    for key in "31":  # the birthday on its picker (tests/kiosk/test_flow_date_picker.py)
        q.press(key)
    q.choose_month(2)
    for key in "1990":
        q.press(key)
    assert not q.answer() and q.error == "date_impossible"
    q.date_part("day")
    for key in "03":
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
