"""The shop's questionnaire (GET /config `questionnaire`: [{key, label, type, choices, required}]), asked
one field at a time during registration. Checks answers the way the server will (store_server/customers.py)
so the customer hears about a slip here, not in a rejected operation later."""

from __future__ import annotations

from datetime import date

TYPES = ("text", "number", "date", "choice")
MAX_TEXT = 500


def label(field: dict, lang: str) -> str:
    """The shop writes labels itself: one string, or one per language."""
    text = field.get("label") or field["key"]
    if isinstance(text, dict):
        return text.get(lang) or text.get("en") or next(iter(text.values()), field["key"])
    return str(text)


class Questionnaire:
    def __init__(self, fields: list[dict] | None) -> None:
        self.fields = [f for f in fields or [] if isinstance(f, dict) and f.get("key") and f.get("type") in TYPES]
        self.index = 0
        self.answers: dict[str, str] = {}
        self.typed = ""
        self.error: str | None = None

    @property
    def done(self) -> bool:
        return self.index >= len(self.fields)

    @property
    def field(self) -> dict | None:
        return None if self.done else self.fields[self.index]

    def press(self, key: str) -> None:
        """Numpad keys for number and date fields ('-' between date parts); text fields get `type_text`."""
        self.error = None
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
        elif field["type"] == "date":
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError:
                return None
        elif field["type"] == "choice" and value not in (field.get("choices") or []):
            return None
        return value

    def answer(self) -> bool:
        field = self.field
        if field is None:
            return True
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
