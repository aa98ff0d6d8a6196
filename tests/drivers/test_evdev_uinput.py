"""The evdev scanner against the real kernel: a virtual scanner made with /dev/uinput (on a Pi or any Linux
machine where the uinput module is loaded and this user may write to it; skipped elsewhere)."""

from __future__ import annotations

import os
import time

import pytest
from evdev import ecodes

from drivers.scanner.base import ScanQueue
from drivers.scanner.config import EvdevScannerConfig
from drivers.scanner.evdev_scanner import EvdevScanner
from tests.drivers.evdev_fakes import scanner_events

pytestmark = pytest.mark.skipif(not os.access("/dev/uinput", os.W_OK),
                                reason="needs a writable /dev/uinput (modprobe uinput; root or the input group)")

VENDOR, PRODUCT = 0x1209, 0x5CA7  # pid.codes test id: never a real device on the machine


def type_into(ui, text: str) -> None:
    for event in scanner_events(text):
        if event.type == ecodes.EV_KEY:
            ui.write(ecodes.EV_KEY, event.code, event.value)
        elif event.type == ecodes.EV_SYN:
            ui.syn()
            time.sleep(0.0005)


def test_virtual_scanner_is_found_grabbed_read_and_survives_unplug() -> None:
    from evdev import UInput

    keys = list(range(ecodes.KEY_ESC, ecodes.KEY_KPDOT + 1))
    queue = ScanQueue()
    scanner = EvdevScanner(EvdevScannerConfig(vendor=VENDOR, product=PRODUCT), queue)
    scanner.MAX_BACKOFF = 0.5
    ui = UInput({ecodes.EV_KEY: keys}, name="Kiosk Test Scanner", vendor=VENDOR, product=PRODUCT, bustype=3)
    try:
        with scanner:
            deadline = time.monotonic() + 10
            while not scanner.open_paths and time.monotonic() < deadline:
                time.sleep(0.05)
            assert scanner.open_paths == [ui.device.path]
            type_into(ui, "Lk10001\n")
            scan = queue.get(timeout=3)
            assert scan is not None and (scan.payload, scan.source) == ("Lk10001", f"evdev:{ui.device.path}")
            ui.close()  # unplug
            deadline = time.monotonic() + 5
            while scanner.open_paths and time.monotonic() < deadline:
                time.sleep(0.05)
            assert scanner.open_paths == []
            ui = UInput({ecodes.EV_KEY: keys}, name="Kiosk Test Scanner", vendor=VENDOR, product=PRODUCT, bustype=3)
            deadline = time.monotonic() + 10
            while not scanner.open_paths and time.monotonic() < deadline:
                time.sleep(0.05)
            type_into(ui, "10002\n")
            scan = queue.get(timeout=3)
            assert scan is not None and scan.payload == "10002"
    finally:
        ui.close()
