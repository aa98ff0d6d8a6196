"""Status lights, buzzer and an optional relay, driven by gpiozero, with named patterns.

Steady patterns (what the kiosk is doing):

    ready     green on
    busy      green blinking fast (a lookup or sync is running)
    offline   green on, red blinking slowly (the server is unreachable; scans still queue)

Short patterns (what just happened) play once, then the last steady pattern comes back:

    scan_ok   one short beep with green on
    error     two beeps with red on
    lamp_test green, red, both, each for 0.4 s, silent (the technician's self-test)
    beep_test one long beep, lights off (the technician's self-test)

A steady pattern asked for while a short one plays waits for it to finish, so a confirmation beep is
never cut off. `make_indicators()` picks the backend: `GpioIndicators` on a Pi (any gpiozero pin factory,
`MockFactory` in tests) or `NullIndicators` where there are no pins.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass, fields

from drivers.errors import DriverError

log = logging.getLogger(__name__)

STEADY = ("ready", "busy", "offline")
SHORT = ("scan_ok", "error", "lamp_test", "beep_test")
PATTERNS = STEADY + SHORT

# (seconds, green, red, buzzer) steps of the short patterns.
SHORT_STEPS: dict[str, tuple[tuple[float, bool, bool, bool], ...]] = {
    "scan_ok": ((0.08, True, False, True), (0.22, True, False, False)),
    "error": ((0.15, False, True, True), (0.1, False, True, False), (0.15, False, True, True),
              (0.6, False, True, False)),
    "lamp_test": ((0.4, True, False, False), (0.4, False, True, False), (0.4, True, True, False)),
    "beep_test": ((0.5, False, False, True),),
}
BUSY_BLINK = (0.2, 0.2)
OFFLINE_BLINK = (0.5, 1.5)


class IndicatorConfigError(DriverError, ValueError):
    """The [indicators] configuration is wrong; the message names the setting."""


@dataclass(frozen=True)
class IndicatorConfig:
    """`[indicators]` in kiosk.toml. Pins are BCM numbers or gpiozero pin names ("GPIO17", "BOARD11")."""

    backend: str = "auto"  # auto: GPIO if the pins work, else none | gpio: GPIO or fail | none
    green: int | str | None = None
    red: int | str | None = None
    buzzer: int | str | None = None
    relay: int | str | None = None
    buzzer_active_high: bool = True
    relay_active_high: bool = True  # many relay boards switch on a low input: set false for those

    @classmethod
    def from_dict(cls, raw: dict | None) -> IndicatorConfig:
        raw = raw or {}
        if not isinstance(raw, dict):
            raise IndicatorConfigError(f"indicators: expected a table, got {raw!r}")
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise IndicatorConfigError(f"indicators: unknown setting(s) {', '.join(unknown)}; "
                                       f"allowed: {', '.join(sorted(allowed))}")
        if raw.get("backend", "auto") not in ("auto", "gpio", "none"):
            raise IndicatorConfigError(f"indicators.backend: expected auto, gpio or none, got {raw['backend']!r}")
        for key in ("green", "red", "buzzer", "relay"):
            value = raw.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)
                                      or (isinstance(value, int) and not 0 <= value <= 53)):
                raise IndicatorConfigError(f"indicators.{key}: expected a GPIO number (e.g. 17) or pin name, "
                                           f"got {value!r}")
        for key in ("buzzer_active_high", "relay_active_high"):
            if key in raw and not isinstance(raw[key], bool):
                raise IndicatorConfigError(f"indicators.{key}: expected true or false, got {raw[key]!r}")
        pins = [raw[k] for k in ("green", "red", "buzzer", "relay") if raw.get(k) is not None]
        if len(pins) != len(set(pins)):
            raise IndicatorConfigError(f"indicators: two outputs share a pin: {pins}")
        return cls(**raw)

    @property
    def has_pins(self) -> bool:
        return any(p is not None for p in (self.green, self.red, self.buzzer, self.relay))


def prepare_lgpio_workdir() -> str:
    """Point LG_WD at a writable directory before lgpio loads.

    lgpio creates its notification pipes in its working directory (the process CWD unless LG_WD is
    set); under systemd that is "/", the pipes fail, and gpiozero silently falls back to another pin
    factory (gpiozero#1106, joan2937/lg#22).
    """
    current = os.environ.get("LG_WD")
    if current and os.path.isdir(current) and os.access(current, os.W_OK):
        return current
    candidate = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    if not (os.path.isdir(candidate) and os.access(candidate, os.W_OK)):
        candidate = tempfile.gettempdir()
    if current:
        log.warning("LG_WD=%s is not a writable directory; using %s", current, candidate)
    os.environ["LG_WD"] = candidate
    return candidate


class NullIndicators:
    """For machines without GPIO: remembers what it was asked to show (the app and tests can read it)."""

    def __init__(self) -> None:
        self.history: list[str] = []
        self.pattern: str | None = None
        self.relay_on = False

    def show(self, pattern: str) -> None:
        _check(pattern)
        self.history.append(pattern)
        if pattern in STEADY:
            self.pattern = pattern

    def ready(self) -> None:
        self.show("ready")

    def busy(self) -> None:
        self.show("busy")

    def offline(self) -> None:
        self.show("offline")

    def scan_ok(self) -> None:
        self.show("scan_ok")

    def error(self) -> None:
        self.show("error")

    def set_relay(self, on: bool) -> None:
        self.relay_on = bool(on)

    def pulse_relay(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("relay pulse must be longer than 0 s")

    def wait_idle(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass

    def __enter__(self) -> NullIndicators:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class GpioIndicators(NullIndicators):
    def __init__(self, config: IndicatorConfig, *, pin_factory=None) -> None:
        super().__init__()
        prepare_lgpio_workdir()
        from gpiozero import LED, Buzzer, DigitalOutputDevice

        self.config = config
        self.green = self.red = self.buzzer = self.relay = None
        self._lock = threading.RLock()
        self._runner: threading.Thread | None = None
        self._runner_stop = threading.Event()
        self._steady = "ready"
        try:
            if config.green is not None:
                self.green = LED(config.green, pin_factory=pin_factory)
            if config.red is not None:
                self.red = LED(config.red, pin_factory=pin_factory)
            if config.buzzer is not None:
                self.buzzer = Buzzer(config.buzzer, active_high=config.buzzer_active_high,
                                     pin_factory=pin_factory)
            if config.relay is not None:
                self.relay = DigitalOutputDevice(config.relay, active_high=config.relay_active_high,
                                                 initial_value=False, pin_factory=pin_factory)
        except Exception:
            self.close()
            raise

    def show(self, pattern: str) -> None:
        super().show(pattern)
        if pattern in STEADY:
            with self._lock:
                self._steady = pattern
                if self._runner is None:
                    self._apply_steady()
            return
        self._stop_runner()
        with self._lock:
            # The first step is on before show() returns: the beep answers the scan at once, and a steady
            # pattern asked for right after it already finds the short one playing.
            self._set(*SHORT_STEPS[pattern][0][1:])
            stop = threading.Event()
            self._runner_stop = stop
            self._runner = threading.Thread(target=self._play, args=(pattern, stop), daemon=True,
                                            name=f"indicators {pattern}")
            self._runner.start()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until a short pattern has finished (True) or the timeout passed (False)."""
        runner = self._runner
        if runner is not None:
            runner.join(timeout)
            return not runner.is_alive()
        return True

    def set_relay(self, on: bool) -> None:
        super().set_relay(on)
        if self.relay is not None:
            self.relay.value = bool(on)

    def pulse_relay(self, seconds: float) -> None:
        """Switch the relay on for `seconds` (a door strike, a light), in the background."""
        super().pulse_relay(seconds)
        if self.relay is not None:
            self.relay.blink(on_time=seconds, off_time=0, n=1, background=True)

    def close(self) -> None:
        """Turn everything off and release the pins. Safe to call twice."""
        if hasattr(self, "_runner"):
            self._stop_runner()
        for device in (getattr(self, name, None) for name in ("green", "red", "buzzer", "relay")):
            if device is not None and not device.closed:
                # Closing only makes the pin an input: drive it off first so no LED, buzzer or door
                # relay is left in whatever state the last pattern had.
                try:
                    device.off()
                finally:
                    device.close()

    def _play(self, pattern: str, stop: threading.Event) -> None:
        for seconds, green, red, buzz in SHORT_STEPS[pattern]:
            with self._lock:
                if stop.is_set():
                    return
                self._set(green, red, buzz)
            if stop.wait(seconds):
                return
        with self._lock:
            if not stop.is_set():
                self._runner = None
                self._apply_steady()

    def _stop_runner(self) -> None:
        with self._lock:
            runner, stop = self._runner, self._runner_stop
            self._runner = None
        if runner is not None:
            stop.set()
            runner.join()

    def _apply_steady(self) -> None:
        if self.buzzer is not None:
            self.buzzer.off()
        if self._steady == "ready":
            self._set(True, False, False)
        elif self._steady == "busy":
            self._set(None, False, False)
            if self.green is not None:
                self.green.blink(*BUSY_BLINK, background=True)
        else:  # offline
            self._set(True, None, False)
            if self.red is not None:
                self.red.blink(*OFFLINE_BLINK, background=True)

    def _set(self, green: bool | None, red: bool | None, buzz: bool | None) -> None:
        for device, value in ((self.green, green), (self.red, red), (self.buzzer, buzz)):
            if device is not None and value is not None:
                device.value = value  # also stops a blink running on that device


def make_indicators(config: IndicatorConfig | dict | None = None, *, pin_factory=None) -> NullIndicators:
    """The indicators the config asks for; `NullIndicators` when there are no pins to drive."""
    if not isinstance(config, IndicatorConfig):
        config = IndicatorConfig.from_dict(config)
    if config.backend == "none" or not config.has_pins:
        return NullIndicators()
    from gpiozero.exc import GPIOZeroError

    try:
        return GpioIndicators(config, pin_factory=pin_factory)
    except GPIOZeroError as e:
        if config.backend == "gpio":
            raise DriverError(f"indicators: cannot drive the GPIO pins ({e}); check that the kiosk user is in "
                              "the gpio group and that lgpio is installed") from e
        log.warning("indicators: no usable GPIO (%s); lights and buzzer are off", e)
        return NullIndicators()


def _check(pattern: str) -> None:
    if pattern not in PATTERNS:
        raise ValueError(f"unknown indicator pattern {pattern!r}; known: {', '.join(PATTERNS)}")
