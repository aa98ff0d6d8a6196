"""A date of the customer's life (a birthday) picked with a finger: the day and the year on a numpad, the month
from twelve named buttons. No YYYY-MM-DD to know, no keyboard.

The three parts come in the order the screen's language writes dates (Babel's short date pattern: day first in
uk/ru/kk/vi, the month first in en); each part moves on to the next when it is complete, and any part can be
tapped to change it. The answer is an ISO date, checked when the customer goes on: a day the month does not
have (31 February), a date not come yet, more than 120 years ago, or younger than the question's `min_age`
each get their own message. Plain Python: the screen draws `parts`, `month_names` and `error`.
"""

from __future__ import annotations

import calendar
from datetime import date

from babel.core import Locale, UnknownLocaleError
from babel.dates import get_date_format, get_month_names

PARTS = ("day", "month", "year")
MAX_AGE = 120  # years: older than that is a slip in the year
DEFAULT_ORDER = ("day", "month", "year")


def part_order(lang: str) -> tuple[str, ...]:
    """The parts in the order the language writes a date: its short date pattern, d/M/y letters first seen."""
    try:
        pattern = get_date_format("short", locale=Locale.parse(lang)).pattern
    except (UnknownLocaleError, ValueError):
        return DEFAULT_ORDER
    seen: list[str] = []
    for ch in pattern:
        part = {"d": "day", "M": "month", "L": "month", "y": "year"}.get(ch)
        if part and part not in seen:
            seen.append(part)
    return tuple(seen) if len(seen) == 3 else DEFAULT_ORDER


def month_names(lang: str) -> list[str]:
    """January..December as the language names a month on its own (uk "травень", not "травня"), capitalised."""
    try:
        names = get_month_names("wide", context="stand-alone", locale=Locale.parse(lang))
    except (UnknownLocaleError, ValueError):
        names = get_month_names("wide", context="stand-alone", locale="en")
    return [names[m][:1].upper() + names[m][1:] for m in range(1, 13)]


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class DatePicker:
    """One date being picked. `today` is the kiosk's date; `min_age` the youngest age the question accepts."""

    def __init__(self, today: date, *, order: tuple[str, ...] = DEFAULT_ORDER, min_age: int | None = None,
                 value: str = "") -> None:
        self.today = today
        self.order = order if sorted(order) == sorted(PARTS) else DEFAULT_ORDER
        self.min_age = min_age if isinstance(min_age, int) and not isinstance(min_age, bool) and min_age > 0 else None
        self.day = ""  # digits typed
        self.month: int | None = None
        self.year = ""
        self.error: str | None = None
        self.error_args: dict = {}
        self.part = self.order[0]
        self._retype = False  # the part an error pointed at: the next digit starts it over ("90", then "1985")
        if value:
            self.set_iso(value)

    # what the screen shows ------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not (self.day or self.month or self.year)

    @property
    def complete(self) -> bool:
        return bool(self.day) and self.month is not None and len(self.year) == 4

    def text(self, part: str, names: list[str] | None = None) -> str:
        """A part as typed ('' when not yet): the day, the month's name (or number), the year."""
        if part == "day":
            return self.day
        if part == "year":
            return self.year
        if self.month is None:
            return ""
        return names[self.month - 1] if names else f"{self.month:02d}"

    def years(self) -> tuple[int, int]:
        """The years a date can be in: MAX_AGE years back, to this year (or the youngest age allowed)."""
        return self.today.year - MAX_AGE, self.today.year - (self.min_age or 0)

    def use_order(self, order: tuple[str, ...]) -> None:
        """The screen's language changed: the parts in its order (what is typed stays)."""
        if sorted(order) == sorted(PARTS):
            self.order = order
            if self.empty:  # nothing picked yet: start where the language starts
                self.part = order[0]

    # what the customer does -----------------------------------------------------------------------
    def select(self, part: str) -> None:
        if part in PARTS:
            self.part, self.error, self._retype = part, None, False

    def press(self, key: str) -> None:
        """A numpad key for the day or the year part: a digit, 'back' or 'clear'."""
        self.error = None
        if self.part == "month":  # the month has buttons; a digit typed on it starts the next number part
            nxt = self._next_part()
            if nxt is None or not key.isdigit():
                return
            self.part = nxt
        value = self.day if self.part == "day" else self.year
        if self._retype and key.isdigit():
            value = ""
        self._retype = False
        if key == "back":
            if not value:  # back from an empty part goes to the part before, like a phone's date field
                self._step_back()
                return
            value = value[:-1]
        elif key == "clear":
            value = ""
        elif len(key) == 1 and key.isdigit():
            if len(value) >= (2 if self.part == "day" else 4):
                value = ""  # a full part typed again: starts over
            value += key
        else:
            return
        if self.part == "day":
            self.day = value
            # a day is complete at two digits, or at one that no second digit can follow (4..9)
            if len(value) == 2 or (len(value) == 1 and value > "3"):
                self._advance()
        else:
            self.year = value
            if len(value) == 4:
                self._advance()

    def choose_month(self, month: int) -> None:
        if 1 <= month <= 12:
            self.month, self.error = month, None
            self._advance()

    def set_iso(self, value: str) -> None:
        try:
            picked = date.fromisoformat(value)
        except (TypeError, ValueError):
            return
        self.day, self.month, self.year = str(picked.day), picked.month, f"{picked.year:04d}"

    def clear(self) -> None:
        self.day, self.month, self.year, self.error, self.part = "", None, "", None, self.order[0]

    # the answer -----------------------------------------------------------------------------------
    def result(self) -> str | None:
        """The ISO date, or None with `error` (and `error_args` for its message) saying what is wrong."""
        self.error, self.error_args = None, {}
        if not self.complete:
            # "90" for 1990: the year needs its four digits, said as such
            self.error = "year_incomplete" if self.year and self.day and self.month else "date_incomplete"
            self.part = next(p for p in self.order if not self.text(p) or (p == "year" and len(self.year) < 4))
            self._retype = self.error == "year_incomplete"
            return None
        year, day = int(self.year), int(self.day)
        if not 1 <= day <= calendar.monthrange(max(year, 1), self.month)[1] or year < 1:
            self.error, self.part = "date_impossible", "day"
            self.error_args = {"day": day, "month": self.month}
            return None
        picked = date(year, self.month, day)
        if picked > self.today:
            self.error, self.part = "date_future", "year"
            return None
        if age_on(picked, self.today) > MAX_AGE:
            self.error, self.part = "date_too_old", "year"
            return None
        if self.min_age and age_on(picked, self.today) < self.min_age:
            self.error, self.part = "date_too_young", "year"
            self.error_args = {"age": self.min_age}
            return None
        return picked.isoformat()

    # moving between parts -------------------------------------------------------------------------
    def _next_part(self) -> str | None:
        at = self.order.index(self.part)
        return self.order[at + 1] if at + 1 < len(self.order) else None

    def _advance(self) -> None:
        """To the next part still empty; when none is, the date is checked at once (31 September is said while
        the finger is still on the numpad, not after Next) and a good one stays on its last part."""
        at = self.order.index(self.part)
        for part in self.order[at + 1:] + self.order[:at]:
            if not self.text(part):
                self.part = part
                return
        self.result()

    def _step_back(self) -> None:
        at = self.order.index(self.part)
        if at > 0:
            self.part = self.order[at - 1]
