"""Turn one keyboard-emulating scanner's evdev events into scanned text.

One `KeystrokeAssembler` per event node: modifier state and the partial scan belong to a device, and two
scanners typing at once must never interleave. It is pure (no I/O, time comes from the events or the
caller), so it is tested with recorded `evdev.InputEvent` sequences.

A scan ends on a terminator key (Enter / keypad Enter / Tab, per config) or, for a scanner with its
suffix turned off, after `idle_end` seconds without a key. Without `idle_end`, text that no terminator
follows within `partial_timeout` seconds is discarded: a half scan is never passed on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from evdev import ecodes

from drivers.scanner.keymap import (
    ALT_KEYS,
    CAPS_LOCK,
    CTRL_KEYS,
    IGNORED_KEYS,
    KEYPAD_DIGITS,
    SHIFT_KEYS,
    TERMINATOR_KEYS,
    US,
    Keymap,
)

KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2


@dataclass(frozen=True)
class KeystrokeSettings:
    terminators: frozenset[str] = frozenset({"enter", "tab"})
    idle_end: float | None = None
    partial_timeout: float = 0.5
    max_length: int = 4096
    keymap: Keymap = US


@dataclass(frozen=True)
class Completed:
    payload: str
    at: float  # event time of the last key, seconds (the kernel's clock, normally CLOCK_REALTIME)


@dataclass(frozen=True)
class Rejected:
    """A scan that was thrown away; `reason` is a stable code, `partial` the text collected so far."""

    reason: str
    partial: str


Result = Completed | Rejected


class KeystrokeAssembler:
    def __init__(self, settings: KeystrokeSettings = KeystrokeSettings()) -> None:
        self.settings = settings
        self._buffer: list[str] = []
        self._last_key_at: float | None = None
        self._spoiled: str | None = None  # reason the current scan will be rejected at its end
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._alt: set[int] = set()
        self._alt_digits: list[int] = []
        self._caps = False
        self._dropping = False
        #: True after SYN_DROPPED has been resolved: the caller should pass `active_keys()` to `resync`.
        self.wants_resync = False

    @property
    def partial(self) -> str:
        return "".join(self._buffer)

    def deadline(self) -> float | None:
        """Event-clock time at which `expire` has something to do, or None."""
        if self._last_key_at is None or not (self._buffer or self._spoiled):
            return None
        wait = self.settings.idle_end if self.settings.idle_end is not None else self.settings.partial_timeout
        return self._last_key_at + wait

    def expire(self, now: float) -> list[Result]:
        """Finish or discard the partial scan if the scanner has been silent long enough."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        return [self._finish_on_silence()]

    def resync(self, active_keys: Iterable[int]) -> None:
        """Re-read modifier state after dropped events (`InputDevice.active_keys()`)."""
        held = set(active_keys)
        self._shift = held & SHIFT_KEYS
        self._ctrl = held & CTRL_KEYS
        self._alt = held & ALT_KEYS
        self._alt_digits.clear()
        self.wants_resync = False

    def feed(self, event) -> list[Result]:
        """Take one `evdev.InputEvent` (or anything with sec, usec, type, code, value)."""
        if event.type == ecodes.EV_SYN:
            return self._syn(event)
        if self._dropping or event.type != ecodes.EV_KEY:
            return []
        at = event.sec + event.usec / 1_000_000
        code, value = event.code, event.value
        if value == KEY_UP:
            return self._release(code)
        if value != KEY_DOWN:
            # Autorepeat (2): the kernel repeating a key the scanner holds a little long. A scanner types
            # each character with its own press, so a repeat would be a character nobody sent.
            return []
        results: list[Result] = []
        if self._last_key_at is not None and (self._buffer or self._spoiled):
            deadline = self.deadline()
            if deadline is not None and at >= deadline:
                results.append(self._finish_on_silence())
        self._last_key_at = at
        results.extend(self._press(code, at))
        return results

    def _syn(self, event) -> list[Result]:
        if event.code == ecodes.SYN_DROPPED:
            # libevdev: discard everything up to and including the next SYN_REPORT, then resync state.
            # The keys the kernel dropped were part of the scan being typed, so what arrives after them
            # up to the terminator is a fragment too: the whole scan is spoiled, not just the text so far.
            self._dropping = True
            self._spoil("syn_dropped")
            self._last_key_at = event.sec + event.usec / 1_000_000
            return []
        if event.code == ecodes.SYN_REPORT and self._dropping:
            self._dropping = False
            self.wants_resync = True
        return []

    def _release(self, code: int) -> list[Result]:
        self._shift.discard(code)
        self._ctrl.discard(code)
        if code in self._alt:
            self._alt.discard(code)
            if self._alt_digits and not self._alt:
                return self._alt_code_done()
        return []

    def _press(self, code: int, at: float) -> list[Result]:
        if code in SHIFT_KEYS:
            self._shift.add(code)
        elif code in CTRL_KEYS:
            self._ctrl.add(code)
        elif code in ALT_KEYS:
            self._alt.add(code)
            self._alt_digits.clear()
        elif code == CAPS_LOCK:
            self._caps = not self._caps
        elif code in IGNORED_KEYS:
            pass
        elif self._alt and code in KEYPAD_DIGITS:
            # Alt + keypad digits: the "ALT mode" scanners use for characters outside the layout.
            self._alt_digits.append(KEYPAD_DIGITS[code])
        elif code in TERMINATOR_KEYS and TERMINATOR_KEYS[code] in self.settings.terminators:
            return self._finish(at)
        else:
            char = self.settings.keymap.char(code, shift=bool(self._shift), caps=self._caps,
                                             ctrl=bool(self._ctrl))
            if char is None:
                self._spoil("unmapped_key")
            else:
                self._append(char)
        return []

    def _alt_code_done(self) -> list[Result]:
        value = int("".join(map(str, self._alt_digits)))
        self._alt_digits.clear()
        if 0 < value <= 0x10FFFF:
            self._append(chr(value))
        else:
            self._spoil("unmapped_key")
        return []

    def _append(self, char: str) -> None:
        if len(self._buffer) >= self.settings.max_length:
            self._spoil("too_long")
        elif self._spoiled is None:
            self._buffer.append(char)

    def _spoil(self, reason: str) -> None:
        if self._spoiled is None:
            self._spoiled = reason

    def _finish(self, at: float) -> list[Result]:
        partial, spoiled = self.partial, self._spoiled
        self._reset_scan()
        if spoiled:
            return [Rejected(spoiled, partial)]
        return [Completed(partial, at)] if partial else []

    def _finish_on_silence(self) -> Result:
        at = self._last_key_at or 0.0
        partial, spoiled = self.partial, self._spoiled
        self._reset_scan()
        if spoiled:
            return Rejected(spoiled, partial)
        if self.settings.idle_end is not None:
            return Completed(partial, at)
        return Rejected("partial_timeout", partial)

    def _reset_scan(self) -> None:
        self._buffer.clear()
        self._spoiled = None
        self._alt_digits.clear()
