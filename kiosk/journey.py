"""A scripted customer journey through the real app: used by `kiosk demo --scripted` and the UI tests.

Each step acts like a customer (a scan, numpad presses) and waits, with a deadline, until the screen
shows the result, then saves a screenshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kivy.clock import Clock

from drivers.scanner.base import Scan


@dataclass
class Step:
    name: str
    act: Callable[[], None]
    until: Callable[[], bool]
    timeout: float = 15.0


class JourneyFailed(Exception):
    pass


class Journey:
    def __init__(self, app, steps: list[Step], out_dir: Path, on_finish: Callable[[str | None], None]) -> None:
        self.app = app
        self.steps = steps
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.on_finish = on_finish
        self.shots: list[Path] = []
        self._index = -1
        self._deadline = 0.0

    def start(self) -> None:
        Clock.schedule_once(lambda _dt: self._next(), 0.5)

    def _next(self) -> None:
        self._index += 1
        if self._index >= len(self.steps):
            self.on_finish(None)
            return
        step = self.steps[self._index]
        step.act()
        self._deadline = time.monotonic() + step.timeout
        Clock.schedule_once(self._wait, 0.05)

    def _wait(self, _dt) -> None:
        step = self.steps[self._index]
        if step.until() and not self.app.busy:
            # two frames so the screen is drawn before the picture is taken
            Clock.schedule_once(lambda _dt: Clock.schedule_once(self._shoot, 0), 0.25)
            return
        if time.monotonic() > self._deadline:
            self.on_finish(f"step {step.name!r} did not reach its screen within {step.timeout:.0f} s "
                           f"(on {self.app.sm.current!r})")
            return
        Clock.schedule_once(self._wait, 0.05)

    def _shoot(self, _dt) -> None:
        path = self.out_dir / f"{self._index + 1:02d}-{self.steps[self._index].name}.png"
        self.app.root_window.screenshot(name=str(path))
        # Window.screenshot appends a counter before the extension; keep our own name.
        written = sorted(self.out_dir.glob(f"{path.stem}*.png"), key=lambda p: p.stat().st_mtime)[-1]
        if written != path:
            written.replace(path)
        self.shots.append(path)
        self._next()


def type_on_window(text: str) -> None:
    """Types `text` + Enter into the window, as a scanner in keyboard mode does (the keyboard wedge)."""
    from kivy.core.window import Window

    for ch in text:
        Window.dispatch("on_textinput", ch)
    Window.dispatch("on_key_down", 13, 40, None, [])


def customer_steps(app, *, card: str, phone: str, read_code: Callable[[str], str],
                   lang: str = "en") -> list[Step]:
    """Scan a card and see the balance; then join with a phone number and the SMS code."""
    current = lambda: app.sm.current  # noqa: E731

    def press_all(keys: str) -> None:
        for key in keys:
            app.numpad(key)

    def enter_code() -> None:
        press_all(read_code(phone))

    return [
        Step("attract", lambda: app.switch_language(lang), lambda: current() == "attract"),
        Step("card-balance", lambda: type_on_window(card), lambda: current() == "card"),
        Step("not-our-card", lambda: (app.go_home(), app.scans.put(Scan("HELLO-123", "demo"))),
             lambda: current() == "attract" and bool(app.sm.get_screen("attract").notice)),
        Step("register-phone", lambda: app.start_registration(), lambda: current() == "register_phone"),
        Step("register-phone-typed", lambda: (press_all(phone), app.register_event("toggle_consent")),
             lambda: app.register is not None and app.register.consent),
        Step("register-code", lambda: app.register_event("submit_phone"), lambda: current() == "register_code"),
        Step("register-code-typed", enter_code, lambda: len(app.register.code) == 6),
        Step("register-done", lambda: app.register_event("submit_code"), lambda: current() == "register_done"),
        Step("synced", lambda: app.backend.sync.kick(),
             lambda: app.backend.store.counts()["pending"] == 0, timeout=30),
    ]
