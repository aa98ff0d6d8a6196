"""The shop's questionnaire (GET /config `questionnaire`: [{key, label, type, choices, required, min_age}]),
asked one field at a time during registration. A date is picked on `DatePicker` (day, month, year; `min_age`:
the youngest age in years a birthday may say). Checks answers the way the server will (store_server/customers.py)
so the customer hears about a slip here, not in a rejected operation later."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from .date_picker import DatePicker

TYPES = ("text", "number", "date", "choice")
MAX_TEXT = 500


def label(field: dict, lang: str) -> str:
    """The shop writes labels itself: one string, or one per language."""
    text = field.get("label") or field["key"]
    if isinstance(text, dict):
        return text.get(lang) or text.get("en") or next(iter(text.values()), field["key"])
    return str(text)


class Questionnaire:
    def __init__(self, fields: list[dict] | None, *, today: Callable[[], date] = date.today) -> None:
        self.fields = [f for f in fields or [] if isinstance(f, dict) and f.get("key") and f.get("type") in TYPES]
        self.index = 0
        self.answers: dict[str, str] = {}
        self.typed = ""
        self.error: str | None = None
        self.error_args: dict = {}  # what the error's message names (the day that does not exist, the age)
        self.today = today
        self._picker: tuple[int, DatePicker] | None = None

    @property
    def done(self) -> bool:
        return self.index >= len(self.fields)

    @property
    def field(self) -> dict | None:
        return None if self.done else self.fields[self.index]

    @property
    def date(self) -> DatePicker | None:
        """The picker of a date question (day, month, year), made when the question comes up, with the answer
        given before when the customer comes back to it."""
        field = self.field
        if field is None or field["type"] != "date":
            return None
        if self._picker is None or self._picker[0] != self.index:
            picker = DatePicker(self.today(), min_age=field.get("min_age"),
                                value=self.answers.get(field["key"], "") or self.typed)
            self._picker = (self.index, picker)
        return self._picker[1]

    def date_part(self, part: str) -> None:
        """A part of the date tapped: the numpad or the months now fill it."""
        if self.date is not None:
            self.error = None
            self.date.select(part)

    def choose_month(self, month: int) -> None:
        if self.date is not None:
            self.date.choose_month(month)
            self.error, self.error_args = self.date.error, self.date.error_args  # a date checked once complete

    def press(self, key: str) -> None:
        """Numpad keys: the digits of a number, the day or year of a date; text fields get `type_text`."""
        self.error = None
        if self.date is not None:
            self.date.press(key)
            self.error, self.error_args = self.date.error, self.date.error_args
            return
        if key == "back":
            self.typed = self.typed[:-1]
        elif key == "clear":
            self.typed = ""
        elif len(key) == 1 and (key.isdigit() or key in "-.") and len(self.typed) < 20:
            self.typed += key

    def type_text(self, text: str) -> None:
        self.error, self.typed = None, text[:MAX_TEXT]

    def choose(self, choice: str) -> None:
        self.typed = choice
        self.answer()

    def _clean(self, field: dict, value: str) -> str | None:
        value = value.strip()
        if field["type"] == "number":
            try:
                float(value)
            except ValueError:
                return None
        elif field["type"] == "choice" and value not in (field.get("choices") or []):
            return None
        return value

    def answer(self) -> bool:
        field = self.field
        if field is None:
            return True
        self.error_args = {}
        picker = self.date
        if picker is not None:
            if not picker.empty:
                self.typed = picker.result() or ""
                if picker.error:
                    self.error, self.error_args = picker.error, picker.error_args
                    return False
            else:
                self.typed = ""
        if not self.typed.strip():
            if field.get("required"):
                self.error = "answer_required"
                return False
            return self.skip()
        cleaned = self._clean(field, self.typed)
        if cleaned is None:
            self.error = f"bad_{field['type']}"
            return False
        self.answers[field["key"]] = cleaned
        self.index, self.typed, self.error = self.index + 1, "", None
        return True

    def skip(self) -> bool:
        field = self.field
        if field is not None and field.get("required"):
            self.error = "answer_required"
            return False
        self.index, self.typed, self.error = self.index + 1, "", None
        return True

    def previous(self) -> None:
        if self.index > 0:
            self.index -= 1
            self.typed = self.answers.get(self.fields[self.index]["key"], "")
            self._picker = None  # made again with the answer given
