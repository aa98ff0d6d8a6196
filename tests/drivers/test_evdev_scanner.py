"""`EvdevScanner` end to end: discovery, exclusive grab, one decoder per node, unplug and replug, stop.

/dev/input and /dev/uinput do not exist here, so the kernel is faked at the device boundary
(`tests/drivers/evdev_fakes.py`): the reader gets pipes carrying real input_event structs and reads them
with python-evdev's own code; unplugged nodes stay readable and raise ENODEV like the real ones.
"""

from __future__ import annotations

import errno
import time

import pytest
from evdev import ecodes

from drivers.scanner.base import ScanQueue
from drivers.scanner.config import EvdevScannerConfig
from drivers.scanner.evdev_scanner import EvdevScanner
from tests.drivers.evdev_fakes import FakeInputKernel, key, scanner_events, syn_dropped

HONEYWELL = dict(vendor=0x0C2E, product=0x0B61)


def wait_for(condition, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def next_scans(queue: ScanQueue, n: int, timeout: float = 3.0) -> list:
    scans = []
    end = time.monotonic() + timeout
    while len(scans) < n and time.monotonic() < end:
        scan = queue.get(timeout=0.05)
        if scan is not None:
            scans.append(scan)
    return scans


@pytest.fixture
def kernel() -> FakeInputKernel:
    return FakeInputKernel()


@pytest.fixture
def rejects() -> list:
    return []


@pytest.fixture
def make_scanner(kernel, rejects):
    started: list[EvdevScanner] = []

    def make(**config) -> tuple[EvdevScanner, ScanQueue]:
        queue = ScanQueue()
        scanner = EvdevScanner(EvdevScannerConfig(**{**HONEYWELL, **config}), queue, backend=kernel,
                               on_reject=lambda source, rejected: rejects.append((source, rejected)))
        started.append(scanner.start())
        return scanner, queue

    yield make
    for scanner in started:
        scanner.stop()


def test_scans_arrive_with_their_source_and_the_device_is_grabbed(kernel, make_scanner) -> None:
    device = kernel.plug("/dev/input/event3")
    scanner, queue = make_scanner()
    assert wait_for(lambda: scanner.open_paths == ["/dev/input/event3"])
    ui_view = kernel.open("/dev/input/event3")  # the TTY or Kivy reading the same node
    device.emit(scanner_events("10001\n"))
    [scan] = next_scans(queue, 1)
    assert (scan.payload, scan.source) == ("10001", "evdev:/dev/input/event3")
    with pytest.raises(BlockingIOError):
        list(ui_view.read())  # grabbed: nobody else saw the keystrokes
    assert scanner.status() == {"/dev/input/event3": "reading"}
    scanner.stop()
    assert device.grabber is None and device.handles == [ui_view]  # ungrabbed and closed on stop
    ui_view.close()


def test_only_the_keyboard_node_of_the_configured_scanner_is_used(kernel, make_scanner) -> None:
    kernel.plug("/dev/input/event1", name="AT Translated Set 2 keyboard", vendor=0x0001, product=0x0001)
    kernel.plug("/dev/input/event4", name="Honeywell Scanner Mouse", rel=True)
    kernel.plug("/dev/input/event5", name="Honeywell Scanner Consumer Control",
                keys=frozenset({ecodes.KEY_VOLUMEUP, ecodes.KEY_MUTE}))
    kernel.plug("/dev/input/event6")
    scanner, _ = make_scanner()
    assert wait_for(lambda: scanner.open_paths == ["/dev/input/event6"])
    time.sleep(0.1)
    assert scanner.open_paths == ["/dev/input/event6"]


def test_two_identical_scanners_typing_at_once_never_mix(kernel, make_scanner) -> None:
    # Same vendor/product, no serial: by-id would name only one of them; both must be read.
    a = kernel.plug("/dev/input/event6", links=("/dev/input/by-id/usb-Honeywell_Scanner-event-kbd",))
    b = kernel.plug("/dev/input/event7")
    scanner, queue = make_scanner()
    assert wait_for(lambda: len(scanner.open_paths) == 2)
    events_a = scanner_events("10001\n", step=0.001)
    events_b = scanner_events("20002\n", step=0.001)
    for i in range(0, max(len(events_a), len(events_b)), 3):  # interleave report by report
        a.emit(events_a[i:i + 3])
        b.emit(events_b[i:i + 3])
    scans = next_scans(queue, 2)
    assert sorted((s.source, s.payload) for s in scans) == [
        ("evdev:/dev/input/event6", "10001"), ("evdev:/dev/input/event7", "20002")]


def test_fast_burst_of_scans_in_one_read(kernel, make_scanner) -> None:
    device = kernel.plug("/dev/input/event6")
    scanner, queue = make_scanner()
    assert wait_for(lambda: scanner.open_paths)
    burst = []
    for i in range(50):
        burst += scanner_events(f"lk://card/tok{i}\n", start=1_700_000_000 + i * 0.05, step=0.0002)
    device.emit(burst)
    assert [s.payload for s in next_scans(queue, 50)] == [f"lk://card/tok{i}" for i in range(50)]


def test_unplug_drops_the_node_without_spinning_and_replug_is_found(kernel, make_scanner) -> None:
    kernel.plug("/dev/input/event6")
    scanner, queue = make_scanner()
    assert wait_for(lambda: scanner.open_paths)
    handle = kernel.devices["/dev/input/event6"].grabber
    kernel.unplug("/dev/input/event6")
    assert wait_for(lambda: not scanner.open_paths)
    before = kernel.list_calls
    time.sleep(1.0)
    # Backoff 0.05, 0.1, 0.2, 0.4, 0.8 s: a handful of rescans in a second, and the dead descriptor,
    # readable for ever, was read exactly once.
    assert 2 <= kernel.list_calls - before <= 8
    assert handle.reads == 1 and handle.closed
    device = kernel.plug("/dev/input/event6")
    assert wait_for(lambda: scanner.open_paths == ["/dev/input/event6"], timeout=5)
    device.emit(scanner_events("10003\n"))
    assert [s.payload for s in next_scans(queue, 1)] == ["10003"]


def test_unplug_in_the_middle_of_a_scan_reports_the_half_scan(kernel, make_scanner, rejects) -> None:
    device = kernel.plug("/dev/input/event6")
    scanner, queue = make_scanner()
    assert wait_for(lambda: scanner.open_paths)
    device.emit(scanner_events("100"))
    time.sleep(0.05)
    kernel.unplug("/dev/input/event6")
    assert wait_for(lambda: not scanner.open_paths)
    assert [(r.reason, r.partial) for _, r in rejects] == [("unplugged", "100")]
    assert queue.get() is None


def test_syn_dropped_discards_the_scan_and_resyncs_from_active_keys(kernel, make_scanner, rejects) -> None:
    device = kernel.plug("/dev/input/event6")
    scanner, queue = make_scanner()
    assert wait_for(lambda: scanner.open_paths)
    t = 1_700_000_000.0
    # Shift went down, the kernel's buffer overflowed, and Shift's release was among the lost events.
    events = scanner_events("100", start=t) + key(t + 0.01, ecodes.KEY_LEFTSHIFT, 1) + [syn_dropped(t + 0.02)]
    events += key(t + 0.03, ecodes.KEY_1, 0)[1:] + scanner_events("1\n", start=t + 0.04)
    device.emit(events, held_after=set())  # what EVIOCGKEY reports: Shift is up
    assert wait_for(lambda: rejects)
    assert [(src, r.reason) for src, r in rejects] == [("evdev:/dev/input/event6", "syn_dropped")]
    device.emit(scanner_events("abc\n", start=t + 1))
    assert [s.payload for s in next_scans(queue, 1)] == ["abc"]  # not "ABC": Shift was resynced


def test_half_scan_is_discarded_after_the_partial_timeout(kernel, make_scanner, rejects) -> None:
    device = kernel.plug("/dev/input/event6")
    scanner, queue = make_scanner(partial_timeout=0.2)
    assert wait_for(lambda: scanner.open_paths)
    device.emit(scanner_events("1000", start=time.time()))
    assert wait_for(lambda: rejects, timeout=2)
    assert rejects[0][1].reason == "partial_timeout" and rejects[0][1].partial == "1000"
    assert queue.get() is None


def test_scanner_without_suffix_ends_scans_on_silence(kernel, make_scanner) -> None:
    device = kernel.plug("/dev/input/event6")
    scanner, queue = make_scanner(terminators=(), idle_end=0.08)
    assert wait_for(lambda: scanner.open_paths)
    device.emit(scanner_events("5901234123457", start=time.time()))
    [scan] = next_scans(queue, 1)
    assert scan.payload == "5901234123457"


def test_a_device_grabbed_by_another_program_is_reported_not_read(kernel, make_scanner) -> None:
    kernel.plug("/dev/input/event6")
    other = kernel.open("/dev/input/event6")
    other.grab()  # keyd, another kiosk instance ...
    scanner, _ = make_scanner()
    assert wait_for(lambda: scanner.status().get("/dev/input/event6", "").startswith("cannot grab"))
    assert scanner.open_paths == []
    assert kernel.devices["/dev/input/event6"].handles == [other]  # our handle was closed again
    other.close()


def test_permission_denied_is_reported(kernel, make_scanner) -> None:
    kernel.plug("/dev/input/event6")
    kernel.refuse["/dev/input/event6"] = PermissionError(errno.EACCES, "Permission denied")
    scanner, _ = make_scanner()
    assert wait_for(lambda: "/dev/input/event6" in scanner.status())
    assert scanner.status()["/dev/input/event6"] == "cannot open: Permission denied"


def test_stop_returns_at_once_and_releases_everything(kernel, make_scanner) -> None:
    devices = [kernel.plug(f"/dev/input/event{n}") for n in (6, 7)]
    scanner, _ = make_scanner()
    assert wait_for(lambda: len(scanner.open_paths) == 2)
    time.sleep(0.2)  # now in a 5 s select: only the wake-up pipe can end it
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 0.5
    assert all(d.grabber is None and d.handles == [] for d in devices)
    scanner.stop()  # twice is fine
