"""Keyboard wedge for development: typed text + Enter becomes a `Scan(source="keyboard")`.

On a development machine without a scanner (or with a scanner the OS treats as a keyboard) the app binds
the Kivy window to this class::

    wedge = KeyboardWedge(scan_queue)
    Window.bind(on_key_down=wedge.on_key_down, on_textinput=wedge.on_textinput)

Text comes from `on_textinput` (already layout- and shift-resolved by SDL); `on_key_down` only supplies
Enter / Tab (end of scan), Backspace and Escape. Kivy is not imported here: the methods take Kivy's
event arguments, so tests call them directly.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.scanner.base import Scan, ScanQueue
from drivers.scanner.decode import split_aim

# Kivy key codes (SDL keysyms as Kivy reports them in on_key_down).
KEY_TAB, KEY_ENTER, KEY_KP_ENTER, KEY_BACKSPACE, KEY_ESCAPE = 9, 13, 271, 8, 27


class KeyboardWedge:
    def __init__(self, queue: ScanQueue, *, source: str = "keyboard",
                 terminators: tuple[str, ...] = ("enter", "tab"), max_length: int = 4096,
                 ignore: Callable[[], bool] | None = None) -> None:
        self.queue = queue
        # True while the keys are somebody's typing, not a scan (a text field of the app has the focus)
        self._ignore = ignore
        self.source = source
        self.max_length = max_length
        self._end_keys = set()
        if "enter" in terminators:
            self._end_keys |= {KEY_ENTER, KEY_KP_ENTER}
        if "tab" in terminators:
            self._end_keys.add(KEY_TAB)
        self._buffer: list[str] = []

    @property
    def partial(self) -> str:
        return "".join(self._buffer)

    def on_key_down(self, window, key: int, scancode: int | None = None, codepoint: str | None = None,
                    modifiers=()) -> bool:
        """Kivy `Window.on_key_down`; returns True when it used the key (Kivy then stops dispatching)."""
        if self._ignoring():
            return False
        if key in self._end_keys:
            return self.finish()
        if key == KEY_BACKSPACE and self._buffer:
            self._buffer.pop()
            return True
        if key == KEY_ESCAPE and self._buffer:
            self._buffer.clear()
            return True
        return False

    def on_textinput(self, window, text: str) -> bool:
        """Kivy `Window.on_textinput`. Text is collected, not consumed: other widgets still see it."""
        if self._ignoring():
            return False
        room = self.max_length - len(self._buffer)
        self._buffer.extend(text[:room])
        return False

    def _ignoring(self) -> bool:
        if self._ignore is not None and self._ignore():
            self._buffer.clear()  # what came before the field took the focus is not half a scan either
            return True
        return False

    def finish(self) -> bool:
        """End the scan now (as Enter does); False if nothing was typed."""
        payload = self.partial.strip()
        self._buffer.clear()
        if not payload:
            return False
        symbology, _ = split_aim(payload)
        self.queue.put(Scan(payload, self.source, symbology=symbology))
        return True

    def bind(self, window) -> None:
        window.bind(on_key_down=self.on_key_down, on_textinput=self.on_textinput)

    def unbind(self, window) -> None:
        window.unbind(on_key_down=self.on_key_down, on_textinput=self.on_textinput)
