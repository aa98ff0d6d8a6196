"""The one stream of scans the app reads: every scanner (evdev, serial, keyboard wedge) on one `ScanQueue`,
each scan naming its source."""

from __future__ import annotations

import threading
import time

import serial

from drivers.scanner.base import Scan, ScanQueue
from drivers.scanner.config import ScannerConfig
from drivers.scanner.keyboard import KEY_BACKSPACE, KEY_ENTER, KEY_ESCAPE, KEY_TAB, KeyboardWedge
from drivers.scanner.manager import ScannerManager
from drivers.scanner.serial_scanner import READ_TIMEOUT
from tests.drivers.evdev_fakes import FakeInputKernel, scanner_events


def test_evdev_and_serial_scanners_share_one_queue_with_their_sources() -> None:
    kernel = FakeInputKernel()
    kbd = [kernel.plug("/dev/input/event6"), kernel.plug("/dev/input/event7")]
    ports: list[serial.SerialBase] = []

    def opener(config):
        ports.append(serial.serial_for_url(config.port, timeout=READ_TIMEOUT))
        return ports[-1]

    config = ScannerConfig.from_dict({"evdev": [{"vendor": 0x0C2E, "product": 0x0B61}],
                                      "serial": [{"port": "loop://", "terminator": "CR"}]})
    rejected = []
    with ScannerManager(config, evdev_backend=kernel, serial_opener=opener,
                        on_reject=lambda source, r: rejected.append((source, r.reason))) as manager:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and (len(manager.status()) < 3 or not ports):
            time.sleep(0.01)
        assert manager.status() == {"/dev/input/event6": "reading", "/dev/input/event7": "reading",
                                    "loop://": "reading"}
        kbd[0].emit(scanner_events("10001\n"))
        kbd[1].emit(scanner_events("10002\n"))
        ports[0].write(b"10003\r")
        scans = []
        while len(scans) < 3 and time.monotonic() < deadline:
            scan = manager.queue.get(timeout=0.05)
            if scan:
                scans.append(scan)
        kbd[0].emit(scanner_events("10"))  # a half scan, then stop: nothing half is delivered
    assert sorted((s.source, s.payload) for s in scans) == [
        ("evdev:/dev/input/event6", "10001"), ("evdev:/dev/input/event7", "10002"), ("serial:loop://", "10003")]
    assert all(d.grabber is None for d in kbd)
    assert manager.queue.get() is None


def test_queue_takes_scans_from_many_threads() -> None:
    queue = ScanQueue()

    def produce(n: int) -> None:
        for i in range(500):
            queue.put(Scan(f"{n}-{i}", f"t{n}"))

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    scans = queue.drain()
    assert len(scans) == 2000 and len({s.payload for s in scans}) == 2000
    for n in range(4):  # each source's scans stay in order
        mine = [int(s.payload.split("-")[1]) for s in scans if s.source == f"t{n}"]
        assert mine == sorted(mine)
    assert queue.get(timeout=0.01) is None


def test_keyboard_wedge_turns_typed_text_and_enter_into_a_scan() -> None:
    queue = ScanQueue()
    wedge = KeyboardWedge(queue)
    for char in "]C010001":
        wedge.on_textinput(None, char)
    assert wedge.on_key_down(None, KEY_ENTER) is True
    scan = queue.get()
    assert (scan.payload, scan.source, scan.symbology) == ("]C010001", "keyboard", "]C0")


def test_keyboard_wedge_editing_keys_and_empty_enter() -> None:
    queue = ScanQueue()
    wedge = KeyboardWedge(queue, terminators=("enter",))
    wedge.on_textinput(None, "10009")
    assert wedge.on_key_down(None, KEY_BACKSPACE) is True
    wedge.on_textinput(None, "1")
    assert wedge.on_key_down(None, KEY_TAB) is False  # not a terminator here
    assert wedge.on_key_down(None, KEY_ENTER) is True
    assert queue.get().payload == "10001"
    wedge.on_textinput(None, "junk")
    assert wedge.on_key_down(None, KEY_ESCAPE) is True and wedge.partial == ""
    assert wedge.on_key_down(None, KEY_ENTER) is False  # nothing typed: Enter stays with the UI
    assert queue.get() is None


def test_keyboard_wedge_caps_its_buffer() -> None:
    wedge = KeyboardWedge(ScanQueue(), max_length=8)
    wedge.on_textinput(None, "1" * 20)
    assert wedge.partial == "1" * 8


def test_two_entries_matching_one_scanner_read_it_once() -> None:
    kernel = FakeInputKernel()
    device = kernel.plug("/dev/input/event6")
    config = ScannerConfig.from_dict({"evdev": [{"vendor": 0x0C2E}, {"name": "Honeywell"}]})
    with ScannerManager(config, evdev_backend=kernel) as manager:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(s.open_paths for s in manager.scanners):
            time.sleep(0.01)
        time.sleep(0.1)  # both entries have looked at the node by now
        assert manager.status() == {"/dev/input/event6": "reading"}
        device.emit(scanner_events("10001\n"))
        assert manager.queue.get(timeout=2).payload == "10001"
        time.sleep(0.05)
        assert manager.queue.get() is None
