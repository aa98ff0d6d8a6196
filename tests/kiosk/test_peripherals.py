"""The kiosk's peripherals from kiosk.toml: a serial scanner on a pty, the keyboard wedge, the lights."""

from __future__ import annotations

import os
import pty
import time
import tty

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.scanner.config import ScannerConfigError
from kiosk.config import KioskConfig
from kiosk.peripherals import Peripherals

KEY_ENTER = 13


class WindowEvents:
    """Stands in for Kivy's Window as an event source: bind/unbind and dispatching typed text."""

    def __init__(self) -> None:
        self.handlers: dict[str, list] = {}

    def bind(self, **handlers) -> None:
        for name, fn in handlers.items():
            self.handlers.setdefault(name, []).append(fn)

    def unbind(self, **handlers) -> None:
        for name, fn in handlers.items():
            self.handlers[name].remove(fn)

    def type(self, text: str) -> None:
        for ch in text:
            for fn in self.handlers.get("on_textinput", []):
                fn(self, ch)
        for fn in self.handlers.get("on_key_down", []):
            fn(self, KEY_ENTER, 40, None, [])


@pytest.fixture
def pty_port():
    master, slave = pty.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def wait_scan(queue, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scan = queue.get()
        if scan is not None:
            return scan
        time.sleep(0.01)
    raise AssertionError("no scan arrived")


def test_serial_scanner_and_keyboard_feed_one_queue_and_lights_show_ready(pty_port, tmp_path):
    master, port = pty_port
    factory = MockFactory()
    config = KioskConfig(state_dir=tmp_path, scanners={"serial": [{"port": port, "terminator": "CR"}]},
                         indicators={"green": 17, "red": 27})
    window = WindowEvents()
    peripherals = Peripherals(config, pin_factory=factory).start(window)
    try:
        assert factory.pin(17).state == 1  # ready: green on
        deadline = time.monotonic() + 3
        while peripherals.scanners.status().get(port) != "reading" and time.monotonic() < deadline:
            time.sleep(0.01)  # bytes sent before the port is open are not the scanner's to keep
        os.write(master, b"10001\r")
        assert wait_scan(peripherals.queue).payload == "10001"
        window.type("10002")
        scan = wait_scan(peripherals.queue)
        assert (scan.payload, scan.source) == ("10002", "keyboard")
    finally:
        peripherals.stop()
    assert window.handlers == {"on_key_down": [], "on_textinput": []}
    assert factory.pin(17).state == 0  # closing switches the lights off


def test_a_broken_scanner_table_stops_start_up_with_its_message(tmp_path):
    config = KioskConfig(state_dir=tmp_path, scanners={"serial": [{"port": "/dev/ttyACM0", "baud": "fast"}]})
    with pytest.raises(ScannerConfigError, match="baud"):
        Peripherals(config)


def test_the_documented_example_config_is_valid():
    from pathlib import Path

    from drivers.indicators import IndicatorConfig
    from drivers.scanner.config import ScannerConfig

    example = Path(__file__).resolve().parents[2] / "docs" / "kiosk.example.toml"
    config = KioskConfig.load(example)
    assert config.source == example  # on-screen enrolment rewrites the file the kiosk was started with
    assert ScannerConfig.from_dict(config.scanners).serial[0].terminator == "CR"
    assert IndicatorConfig.from_dict(config.indicators).green == 17
