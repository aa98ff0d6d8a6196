"""The kiosk's hardware around the screen: scanners feeding one `ScanQueue`, and the lights and buzzer.

Built from `[scanners]` and `[indicators]` in kiosk.toml. The keyboard wedge is always there too: a scanner
the OS treats as a keyboard (or a developer typing digits + Enter) still works when no scanner is configured.
"""

from __future__ import annotations

import logging

from drivers.indicators import NullIndicators, make_indicators
from drivers.scanner.base import ScanQueue
from drivers.scanner.config import ScannerConfig
from drivers.scanner.keyboard import KeyboardWedge
from drivers.scanner.manager import ScannerManager

from .config import KioskConfig

log = logging.getLogger(__name__)


class Peripherals:
    def __init__(self, config: KioskConfig, queue: ScanQueue | None = None, *, pin_factory=None,
                 evdev_backend=None, serial_opener=None) -> None:
        self.queue = queue or ScanQueue()
        # Both parse now, so a broken [scanners] or [indicators] table stops start-up with its message.
        scanner_config = ScannerConfig.from_dict(config.scanners)
        self.indicators: NullIndicators = make_indicators(config.indicators, pin_factory=pin_factory)
        extra = {"serial_opener": serial_opener} if serial_opener is not None else {}
        self.scanners = ScannerManager(scanner_config, self.queue, evdev_backend=evdev_backend,
                                       on_reject=self._rejected, **extra)
        self.wedge = KeyboardWedge(self.queue, ignore=self._text_field_has_focus)
        self._window = None

    def start(self, window=None) -> Peripherals:
        self.scanners.start()
        if window is not None:
            self.wedge.bind(window)
            self._window = window
        self.indicators.ready()
        return self

    def stop(self) -> None:
        if self._window is not None:
            self.wedge.unbind(self._window)
            self._window = None
        self.scanners.stop()
        self.indicators.close()

    def _text_field_has_focus(self) -> bool:
        """Typing into a text field of the app (a technician's server URL, a questionnaire answer) is not a
        scan: without this, Enter there would look the typed text up as a card."""
        children = getattr(self._window, "children", None)
        if not children:
            return False
        from kivy.uix.behaviors.focus import FocusBehavior

        return any(isinstance(w, FocusBehavior) and w.focus for root in children for w in root.walk())

    def _rejected(self, source: str, rejected) -> None:
        # Called on a reader thread: the customer hears the error at once, the screen stays as it is.
        log.info("scan from %s discarded: %s", source, getattr(rejected, "reason", rejected))
        self.indicators.error()
