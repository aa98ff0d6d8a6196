"""The on-screen keyboard: letters of the shop's languages, digits and signs, typed into one line of text.

A 7" 800x480 panel fits nine 15 mm keys across, so a QWERTY or ЙЦУКЕН row of 10-12 keys cannot be kept:
each alphabet comes in its own alphabetical order instead (what a customer finds without knowing a layout),
cut into pages of as many keys as the screen has room for (`page_keys`). Vietnamese tones are keys of their
own that put the tone on the last vowel typed (Telex-like, without having to know Telex). Plain Python: the
keyboard screen draws `page_keys` and sends `press`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

# Letters in each language's own alphabetical order, then the signs names and answers use.
ALPHABETS: dict[str, str] = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'",
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "kk": "аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя",
    # the 29 letters of the Vietnamese alphabet, then f j w z for names and foreign words
    "vi": "aăâbcdđeêghiklmnoôơpqrstuưvxyfjwz",
}
SIGNS = "-.,'"
DIGITS = "1234567890@.-_/:+#&,!?()%*='\""
# the five Vietnamese tones as combining marks; each key is labelled with the tone on "a"
TONES = {"\u0301": "á", "\u0300": "à", "\u0309": "ả", "\u0303": "ã", "\u0323": "ạ"}
VOWELS = set("aeiouy")
# what the alphabet key shows for each set of keys: the language's first letters, "123" for digits
NAMES = {"en": "ABC", "uk": "АБВ", "ru": "АБВ", "kk": "ӘБВ", "vi": "ĂÂĐ", "digits": "123"}


@dataclass(frozen=True)
class Key:
    action: str  # "type", "tone" or a control (back, shift, alphabet, page, space, delete, done)
    value: str = ""  # the letter typed, the tone's combining mark

    def label(self, shift: bool) -> str:
        if self.action == "type":
            return self.value.upper() if shift else self.value
        if self.action == "tone":
            return TONES[self.value]
        return ""  # the screen labels controls (translated, with symbols)


@dataclass
class KeyboardFlow:
    """One line being typed: `prompt` says what for; `done(text)` takes it back to the screen that asked."""

    prompt: str
    languages: list[str]
    done: Callable[[str], None]
    text: str = ""
    max_length: int = 500
    start: str | None = None  # the alphabet shown first (default: the first language's)
    shift: bool = False
    alphabet: str = field(init=False)
    page: int = 0

    def __post_init__(self) -> None:
        self.sets = [lang for lang in dict.fromkeys(self.languages) if lang in ALPHABETS] or ["en"]
        if "en" not in self.sets:  # e-mail addresses, Latin names and server addresses need Latin letters
            self.sets.append("en")
        self.sets.append("digits")
        self.alphabet = self.start if self.start in self.sets else self.sets[0]
        self.text = self.text[:self.max_length]
        # a name starts with a capital; shift is one-shot, like a phone's keyboard
        self.shift = not self.text

    # the keys ----------------------------------------------------------------------------------------
    def keys(self) -> list[Key]:
        """The keys that turn pages (letters, signs); `every_page` keys come first on each page."""
        if self.alphabet == "digits":
            return [Key("type", c) for c in DIGITS]
        letters = [Key("type", c) for c in ALPHABETS[self.alphabet]]
        return letters + [Key("type", c) for c in SIGNS if c not in ALPHABETS[self.alphabet]]

    def every_page(self) -> list[Key]:
        """Vietnamese tones: typed after nearly every word, so on every page, first."""
        return [Key("tone", mark) for mark in TONES] if self.alphabet == "vi" else []

    def pages(self, room: int) -> int:
        """How many pages the keys take when `room` keys fit on the screen besides the controls."""
        room = max(1, room - len(self.every_page()))
        return max(1, -(-len(self.keys()) // room))

    def page_keys(self, room: int) -> list[Key]:
        fixed = self.every_page()
        self.page %= self.pages(room)
        room = max(1, room - len(fixed))
        return fixed + self.keys()[self.page * room:(self.page + 1) * room]

    # pressing ----------------------------------------------------------------------------------------
    def press(self, key: Key) -> bool:
        """Applies a key; True when typing is over (done or back: the app goes back to the asking screen)."""
        if key.action == "type":
            self._insert(key.value.upper() if self.shift else key.value)
            self.shift = False
        elif key.action == "tone":
            self.add_tone(key.value)
        elif key.action == "space":
            if self.text and not self.text.endswith(" "):
                self._insert(" ")
        elif key.action == "delete":
            self.text = self.text[:-1]
            self.shift = not self.text
        elif key.action == "shift":
            self.shift = not self.shift
        elif key.action == "alphabet":
            self.alphabet = self.sets[(self.sets.index(self.alphabet) + 1) % len(self.sets)]
            self.page = 0
        elif key.action == "page":
            self.page += 1  # wraps in page_keys, which knows the room
        elif key.action == "done":
            self.done(self.text.strip())
            return True
        elif key.action == "back":
            return True
        return False

    def type_text(self, text: str) -> None:
        """Typed on a real keyboard into the screen's field (a technician's USB keyboard)."""
        self.text = text[:self.max_length]

    def _insert(self, chars: str) -> None:
        if len(self.text) + len(chars) <= self.max_length:
            self.text += chars

    def add_tone(self, mark: str) -> None:
        """Puts a Vietnamese tone on the vowel of the last word that carries it (replacing the tone it had):
        "viêt" + ̣ -> "việt", "muon" ... "người", "múa", "toán", "quá". Nothing happens without a vowel."""
        word_start = len(self.text) - len(self.text.split(" ")[-1])
        at = _tone_position(self.text[word_start:])
        if at is None:
            return
        i = word_start + at
        parts = unicodedata.normalize("NFD", self.text[i])
        kept = "".join(m for m in parts[1:] if m not in TONES)  # the hat, breve or horn stay
        self.text = self.text[:i] + unicodedata.normalize("NFC", parts[0] + kept + mark) + self.text[i + 1:]


def _base(char: str) -> tuple[str, bool]:
    """The letter without marks, lower case, and whether it has a hat, breve or horn (â ă ê ô ơ ư)."""
    parts = unicodedata.normalize("NFD", char.lower())
    return parts[0], any(m not in TONES for m in parts[1:])


def _tone_position(word: str) -> int | None:
    """Where the tone goes in `word`: the usual spelling rules. In the last run of vowels, a vowel with a
    hat, breve or horn takes it (the last of them: ươ -> ơ); else, before a final consonant, the last vowel;
    at the end of the word, the one before the last (múa, tài). The u of "qu" and the i of "gi" are consonant
    letters there."""
    vowels = [i for i, c in enumerate(word) if _base(c)[0] in VOWELS]
    if not vowels:
        return None
    run = [vowels[-1]]
    while len(run) < len(vowels) and vowels[-len(run) - 1] == run[0] - 1:
        run.insert(0, vowels[-len(run) - 1])
    if len(run) > 1 and run[0] > 0:
        before, first = _base(word[run[0] - 1])[0], _base(word[run[0]])[0]
        if (before, first) in (("q", "u"), ("g", "i")):
            run = run[1:]
    marked = [i for i in run if _base(word[i])[1]]
    if marked:
        return marked[-1]
    if len(run) > 1 and run[-1] == len(word) - 1:
        return run[-2]
    return run[-1]
