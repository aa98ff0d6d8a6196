"""The birthday picker: day and year on the numpad, the month by name, in the language's order; every kind of
impossible date gets its own message and the answer is an ISO date."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.flows.date_picker import DatePicker, age_on, month_names, part_order
from kiosk.flows.questionnaire import Questionnaire

TODAY = date(2026, 11, 26)


def typed(picker: DatePicker, keys: str) -> DatePicker:
    for key in keys:
        picker.press(key)
    return picker


def test_parts_come_in_the_languages_order_and_months_have_their_own_names():
    assert part_order("uk") == part_order("ru") == part_order("kk") == part_order("vi") == ("day", "month", "year")
    assert part_order("en") == ("month", "day", "year")  # Babel's "en" writes 11/26/26
    assert part_order("xx-nonsense") == ("day", "month", "year")
    assert month_names("uk")[4] == "Травень"  # the month on its own, not "травня" of a date
    assert month_names("kk")[0] == "Қаңтар" and month_names("vi")[9] == "Tháng 10"
    assert month_names("en")[1] == "February" and len(month_names("ru")) == 12


def test_each_part_moves_on_when_complete():
    picker = typed(DatePicker(TODAY), "31")
    assert picker.day == "31" and picker.part == "month"
    picker.choose_month(5)
    assert picker.part == "year"
    typed(picker, "1990")
    assert picker.complete and picker.result() == "1990-05-31" and picker.error is None
    # one digit that no second can follow is a whole day
    picker = typed(DatePicker(TODAY), "7")
    assert picker.day == "7" and picker.part == "month"
    # a digit typed while the months are shown goes on to the year
    picker.press("1")
    assert picker.part == "year" and picker.year == "1"


def test_english_order_starts_with_the_month_and_back_steps_to_the_previous_part():
    picker = DatePicker(TODAY, order=part_order("en"))
    assert picker.part == "month"
    picker.choose_month(2)
    assert picker.part == "day"
    typed(picker, "29")
    assert picker.part == "year"
    typed(picker, "19")
    picker.press("back")
    picker.press("back")
    assert picker.year == "" and picker.part == "year"
    picker.press("back")  # nothing left in the year: back to the day
    assert picker.part == "day" and picker.day == "29"
    picker.press("clear")
    assert picker.day == ""


def test_a_new_order_starts_an_empty_picker_at_its_first_part():
    picker = DatePicker(TODAY)
    picker.use_order(part_order("en"))
    assert picker.part == "month"
    picker.choose_month(3)
    picker.use_order(("day", "month", "year"))  # the language changed half-way: the part being filled stays
    assert picker.part == "day" and picker.order == ("day", "month", "year")
    picker.use_order(("day", "day", "year"))
    assert picker.order == ("day", "month", "year")


def test_a_part_can_be_tapped_and_typed_again():
    picker = typed(DatePicker(TODAY, value="1985-07-01"), "")
    assert (picker.day, picker.month, picker.year) == ("1", 7, "1985")
    picker.select("year")
    typed(picker, "1986")
    assert picker.result() == "1986-07-01"
    picker.select("year")
    typed(picker, "2")  # a full part typed again starts over
    assert picker.year == "2"
    picker.select("nonsense")
    assert picker.part == "year"


@pytest.mark.parametrize(("day", "month", "year", "error"), [
    ("31", 2, "1990", "date_impossible"),
    ("29", 2, "2023", "date_impossible"),  # not a leap year
    ("31", 4, "1990", "date_impossible"),
    ("00", 1, "1990", "date_impossible"),
    ("27", 11, "2026", "date_future"),
    ("1", 1, "2027", "date_future"),
    ("26", 11, "1905", "date_too_old"),  # 121 today
    ("1", 1, "0000", "date_impossible"),
])
def test_impossible_dates_get_their_own_message(day, month, year, error):
    picker = DatePicker(TODAY)
    picker.day, picker.month, picker.year = day, month, year
    assert picker.result() is None and picker.error == error
    if error == "date_impossible":
        assert picker.error_args == {"day": int(day), "month": month} and picker.part == "day"
    else:
        assert picker.part == "year"


def test_a_date_that_cannot_be_is_said_as_soon_as_it_is_complete():
    picker = typed(DatePicker(TODAY), "31")
    picker.choose_month(9)
    typed(picker, "199")
    assert picker.error is None  # not complete yet
    picker.press("0")
    assert picker.error == "date_impossible" and picker.part == "day"  # before Next
    typed(picker, "30")  # the day typed again
    assert picker.error is None and picker.day == "30" and picker.result() == "1990-09-30"


def test_the_edges_that_are_fine():
    for day, month, year in (("29", 2, "2024"), ("26", 11, "2026"), ("27", 11, "1905")):  # 120 until tomorrow
        picker = DatePicker(TODAY)
        picker.day, picker.month, picker.year = day, month, year
        assert picker.result() == f"{year}-{month:02d}-{int(day):02d}", (day, month, year)


def test_minimum_age_of_the_question():
    picker = DatePicker(TODAY, min_age=18)
    picker.day, picker.month, picker.year = "27", 11, "2008"  # 18 tomorrow
    assert picker.result() is None and picker.error == "date_too_young" and picker.error_args == {"age": 18}
    picker.day = "26"
    assert picker.result() == "2008-11-26"
    assert age_on(date(2008, 11, 27), TODAY) == 17
    assert DatePicker(TODAY, min_age=True).min_age is None and DatePicker(TODAY, min_age="18").min_age is None
    assert DatePicker(TODAY, min_age=18).years() == (1906, 2008)


def test_an_incomplete_date_says_so_and_shows_the_missing_part():
    picker = typed(DatePicker(TODAY), "12")
    assert picker.result() is None and picker.error == "date_incomplete" and picker.part == "month"
    picker.choose_month(3)
    typed(picker, "90")  # two digits of the year: the four are asked for
    assert picker.result() is None and picker.error == "year_incomplete" and picker.part == "year"
    typed(picker, "1985")  # typed again whole after the message, not appended to "90"
    assert picker.year == "1985" and picker.result() == "1985-03-12"
    picker.year = "19"
    picker.select("day")
    assert picker.result() is None and picker.part == "year"
    picker.select("year")  # the part tapped by the customer: digits go on where they stopped
    picker.press("8")
    assert picker.year == "198"


QUESTIONS = [{"key": "birthday", "label": "Birthday", "type": "date", "required": True, "min_age": 14},
             {"key": "wedding", "label": "Wedding day", "type": "date"}]


def test_the_questionnaire_asks_dates_on_the_picker_and_keeps_iso_answers():
    q = Questionnaire(QUESTIONS, today=lambda: TODAY)
    assert not q.answer() and q.error == "answer_required"
    for key in "31":
        q.press(key)
    q.choose_month(2)
    for key in "1990":
        q.press(key)
    assert q.error == "date_impossible"  # said at once, on the screen with the numpad still under the finger
    assert not q.answer() and q.error == "date_impossible" and q.error_args == {"day": 31, "month": 2}
    q.date_part("day")
    assert q.date.part == "day" and q.error is None
    q.press("2")
    q.press("8")
    assert q.answer() and q.answers == {"birthday": "1990-02-28"}
    assert q.field["key"] == "wedding" and q.date.empty  # a new picker for the next question
    assert q.answer() and q.done  # optional and untouched: skipped
    q.previous()
    q.previous()
    assert q.date.text("day") == "28" and q.date.month == 2  # the answer given comes back
    q.date_part("year")
    for key in "2020":
        q.press(key)
    assert not q.answer() and q.error == "date_too_young" and q.error_args == {"age": 14}
