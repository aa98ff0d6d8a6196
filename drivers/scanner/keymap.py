"""US keyboard layout as a barcode scanner emulates it: integer evdev key code -> (plain, shifted).

Decoding works on integer codes (`event.code`), never on `ecodes.KEY[...]` names: some codes map to a
tuple of names. Scanners should be set to the US layout with their configuration barcodes; only digits,
A-Z, Space and Tab survive a layout mismatch unchanged, so a table for another layout would be a new
`Keymap` built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from evdev import ecodes as e

_US_SYMBOLS = {
    e.KEY_1: ("1", "!"), e.KEY_2: ("2", "@"), e.KEY_3: ("3", "#"), e.KEY_4: ("4", "$"),
    e.KEY_5: ("5", "%"), e.KEY_6: ("6", "^"), e.KEY_7: ("7", "&"), e.KEY_8: ("8", "*"),
    e.KEY_9: ("9", "("), e.KEY_0: ("0", ")"),
    e.KEY_MINUS: ("-", "_"), e.KEY_EQUAL: ("=", "+"), e.KEY_LEFTBRACE: ("[", "{"),
    e.KEY_RIGHTBRACE: ("]", "}"), e.KEY_SEMICOLON: (";", ":"), e.KEY_APOSTROPHE: ("'", '"'),
    e.KEY_GRAVE: ("`", "~"), e.KEY_BACKSLASH: ("\\", "|"), e.KEY_COMMA: (",", "<"),
    e.KEY_DOT: (".", ">"), e.KEY_SLASH: ("/", "?"), e.KEY_SPACE: (" ", " "),
    # Tab when it is not configured as a terminator: kept as data, so decode can say what it is.
    e.KEY_TAB: ("\t", "\t"),
    # Keypad keys as sent with Num Lock on, which is how scanners use them.
    e.KEY_KP0: ("0", "0"), e.KEY_KP1: ("1", "1"), e.KEY_KP2: ("2", "2"), e.KEY_KP3: ("3", "3"),
    e.KEY_KP4: ("4", "4"), e.KEY_KP5: ("5", "5"), e.KEY_KP6: ("6", "6"), e.KEY_KP7: ("7", "7"),
    e.KEY_KP8: ("8", "8"), e.KEY_KP9: ("9", "9"), e.KEY_KPMINUS: ("-", "-"), e.KEY_KPPLUS: ("+", "+"),
    e.KEY_KPASTERISK: ("*", "*"), e.KEY_KPSLASH: ("/", "/"), e.KEY_KPDOT: (".", "."),
}
_LETTERS = {getattr(e, f"KEY_{c}"): c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
# Ctrl+key control characters (GS1 FNC1 arrives as Ctrl+] = GS, ASCII 29).
_CONTROL = {e.KEY_LEFTBRACE: "\x1b", e.KEY_BACKSLASH: "\x1c", e.KEY_RIGHTBRACE: "\x1d",
            e.KEY_6: "\x1e", e.KEY_MINUS: "\x1f", e.KEY_2: "\x00"}
KEYPAD_DIGITS = {e.KEY_KP0: 0, e.KEY_KP1: 1, e.KEY_KP2: 2, e.KEY_KP3: 3, e.KEY_KP4: 4,
                 e.KEY_KP5: 5, e.KEY_KP6: 6, e.KEY_KP7: 7, e.KEY_KP8: 8, e.KEY_KP9: 9}

SHIFT_KEYS = frozenset({e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT})
CTRL_KEYS = frozenset({e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL})
ALT_KEYS = frozenset({e.KEY_LEFTALT})
CAPS_LOCK = e.KEY_CAPSLOCK
# Keys that change nothing in the text: lock keys the scanner may toggle, AltGr (unused on US).
IGNORED_KEYS = frozenset({e.KEY_NUMLOCK, e.KEY_SCROLLLOCK, e.KEY_RIGHTALT, e.KEY_LEFTMETA, e.KEY_RIGHTMETA})
TERMINATOR_KEYS = {e.KEY_ENTER: "enter", e.KEY_KPENTER: "enter", e.KEY_TAB: "tab"}


@dataclass(frozen=True)
class Keymap:
    """Characters for key codes. `char()` returns None for a key the layout does not map."""

    name: str
    symbols: dict[int, tuple[str, str]]
    letters: dict[int, str]

    def char(self, code: int, *, shift: bool, caps: bool, ctrl: bool = False) -> str | None:
        if ctrl:
            if code in self.letters:
                return chr(ord(self.letters[code]) - 64)
            return _CONTROL.get(code)
        if code in self.letters:
            upper = self.letters[code]
            # Caps Lock inverts the case Shift gives, as on a real keyboard.
            return upper if shift != caps else upper.lower()
        pair = self.symbols.get(code)
        if pair is None:
            return None
        return pair[1] if shift else pair[0]


US = Keymap("us", _US_SYMBOLS, _LETTERS)
KEYMAPS = {"us": US}
