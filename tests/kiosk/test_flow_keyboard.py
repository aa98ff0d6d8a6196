"""The on-screen keyboard's flow: alphabets of the shop's languages, pages that fit the screen, Vietnamese tones."""

from __future__ import annotations

import pytest

from kiosk.flows.keyboard import ALPHABETS, Key, KeyboardFlow


def typing(text: str = "", languages=("uk", "en"), **kwargs) -> tuple[KeyboardFlow, list[str]]:
    got: list[str] = []
    return KeyboardFlow("Your name", list(languages), got.append, text=text, **kwargs), got


def press(flow: KeyboardFlow, *actions: str) -> None:
    for action in actions:
        flow.press(Key("type", action) if len(action) == 1 else Key(action))


def test_a_name_starts_with_a_capital_and_shift_lasts_one_letter():
    flow, got = typing()
    press(flow, "о", "л", "е", "space", "space", "к")
    assert flow.text == "Оле к"  # one space however often it is pressed
    assert flow.press(Key("done"))
    assert got == ["Оле к"]


def test_delete_and_back_give_nothing_back():
    flow, got = typing("Олена")
    press(flow, "delete", "delete")
    assert flow.text == "Оле"
    assert flow.press(Key("back")) and got == []


def test_the_alphabet_key_goes_through_the_shops_languages_then_latin_and_digits():
    flow, _ = typing(languages=("kk", "ru", "kk"))
    seen = [flow.alphabet]
    for _ in range(4):
        flow.press(Key("alphabet"))
        seen.append(flow.alphabet)
    assert seen == ["kk", "ru", "en", "digits", "kk"]
    assert {"ә", "ғ", "қ", "ң", "ө", "ұ", "ү", "һ", "і"} <= set(ALPHABETS["kk"])
    assert {"ґ", "є", "і", "ї"} <= set(ALPHABETS["uk"])


@pytest.mark.parametrize("room", [10, 27, 30, 36])
def test_pages_hold_every_key_once(room):
    flow, _ = typing(languages=("kk",))
    seen = []
    for page in range(flow.pages(room)):
        flow.page = page
        keys = flow.page_keys(room)
        assert len(keys) <= room
        seen += keys
    assert seen == flow.keys()
    flow.page = flow.pages(room)  # the page key past the last page comes back to the first
    assert flow.page_keys(room) == flow.keys()[:room]


def test_vietnamese_tones_are_on_every_page_and_land_where_the_spelling_puts_them():
    flow, _ = typing(languages=("vi",))
    for page in range(flow.pages(27)):
        flow.page = page
        assert [k.action for k in flow.page_keys(27)[:5]] == ["tone"] * 5
    for word, tone, expected in [("viêt", "\u0323", "việt"), ("ngươi", "\u0300", "người"), ("mua", "\u0301", "múa"),
                                 ("toan", "\u0301", "toán"), ("qua", "\u0301", "quá"), ("gia", "\u0300", "già"),
                                 ("việt", "\u0301", "viết"), ("Nam", "\u0303", "Nãm"), ("xyz st", "\u0301", "xyz st")]:
        flow.text = word
        flow.press(Key("tone", tone))
        assert flow.text == expected, word


def test_the_length_is_capped_and_a_real_keyboard_types_too():
    flow, _ = typing(max_length=5)
    press(flow, *"abcdefg")
    assert flow.text == "Abcde"
    flow.type_text("https://shop.example:8700")
    assert flow.text == "https"
