"""The kernel side of /dev/input, for tests on machines without input devices or /dev/uinput.

`scanner_events()` produces what a USB HID scanner in keyboard mode makes the kernel emit (as `evtest`
shows it): per key an EV_MSC/MSC_SCAN with the HID usage, the EV_KEY press or release and a SYN_REPORT,
with Shift pressed around upper-case letters and symbols. The character table here is written out
independently of `drivers.scanner.keymap`, so a wrong entry there fails the tests.

`FakeInputKernel` stands in for the kernel only: each opened node is a pipe carrying real `struct
input_event` records, read by python-evdev's own `EventIO.read()` (its C `device_read_many`). It keeps
EVIOCGRAB semantics (the grabbing handle alone gets events; a second grab is EBUSY) and unplugging (the
descriptor stays readable and every read raises ENODEV, as the real kernel does).
"""

from __future__ import annotations

import errno
import os
import select
import struct
import threading
from dataclasses import dataclass, field

from evdev import InputEvent, ecodes
from evdev.eventio import EventIO

from drivers.scanner.discovery import DeviceInfo

_ROWS = [
    ("`1234567890-=", "~!@#$%^&*()_+",
     ["GRAVE", "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "MINUS", "EQUAL"]),
    ("qwertyuiop[]\\", "QWERTYUIOP{}|", [*"QWERTYUIOP", "LEFTBRACE", "RIGHTBRACE", "BACKSLASH"]),
    ("asdfghjkl;'", 'ASDFGHJKL:"', [*"ASDFGHJKL", "SEMICOLON", "APOSTROPHE"]),
    ("zxcvbnm,./", "ZXCVBNM<>?", [*"ZXCVBNM", "COMMA", "DOT", "SLASH"]),
]
US_KEYS: dict[str, tuple[int, bool]] = {" ": (ecodes.KEY_SPACE, False)}
for plain, shifted, names in _ROWS:
    for p, s, name in zip(plain, shifted, names, strict=True):
        code = getattr(ecodes, f"KEY_{name}")
        US_KEYS[p] = (code, False)
        US_KEYS[s] = (code, True)

# HID keyboard usages (page 7) for the MSC_SCAN value a real scanner sends before each key.
_HID = {ecodes.KEY_ENTER: 0x28, ecodes.KEY_TAB: 0x2B, ecodes.KEY_LEFTSHIFT: 0xE1, ecodes.KEY_CAPSLOCK: 0x39}
for i, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _HID[getattr(ecodes, f"KEY_{letter}")] = 0x04 + i
for i, digit in enumerate("1234567890"):
    _HID[getattr(ecodes, f"KEY_{digit}")] = 0x1E + i

_CHUNK = (select.PIPE_BUF // struct.calcsize("llHHi")) * struct.calcsize("llHHi")
TERMINATOR = {"\n": ecodes.KEY_ENTER, "\t": ecodes.KEY_TAB}


def _at(t: float) -> tuple[int, int]:
    sec = int(t)
    return sec, int(round((t - sec) * 1_000_000))


def key(t: float, code: int, value: int) -> list[InputEvent]:
    """One key report: MSC_SCAN, the key event, SYN_REPORT, all stamped `t`."""
    sec, usec = _at(t)
    return [InputEvent(sec, usec, ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + _HID.get(code, 0x73)),
            InputEvent(sec, usec, ecodes.EV_KEY, code, value),
            InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0)]


def syn_dropped(t: float) -> InputEvent:
    sec, usec = _at(t)
    return InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_DROPPED, 0)


def scanner_events(text: str, start: float = 1_700_000_000.0, step: float = 0.001,
                   hold_repeats: dict[int, int] | None = None) -> list[InputEvent]:
    """Events for typing `text` (with "\\n" for Enter, "\\t" for Tab), one report every `step` seconds.

    `hold_repeats` {character index: n} adds n autorepeat events (value 2) while that key is down, as
    the kernel does when a scanner holds a key longer than the repeat delay.
    """
    events: list[InputEvent] = []
    t = start
    for index, char in enumerate(text):
        if char in TERMINATOR:
            code, shift = TERMINATOR[char], False
        else:
            code, shift = US_KEYS[char]
        if shift:
            events += key(t, ecodes.KEY_LEFTSHIFT, 1)
            t += step
        events += key(t, code, 1)
        for _ in range((hold_repeats or {}).get(index, 0)):
            t += step
            events += key(t, code, 2)
        t += step
        events += key(t, code, 0)
        t += step
        if shift:
            events += key(t, ecodes.KEY_LEFTSHIFT, 0)
            t += step
    return events


def pack(events: list[InputEvent]) -> bytes:
    return b"".join(struct.pack("llHHi", e.sec, e.usec, e.type, e.code, e.value) for e in events)


def keyboard_caps(*, rel: bool = False) -> dict:
    keys = frozenset(range(ecodes.KEY_ESC, ecodes.KEY_KPDOT + 1))
    return {"keys": keys, "has_rel": rel}


@dataclass
class FakeDevice:
    info: DeviceInfo
    handles: list[FakeHandle] = field(default_factory=list)
    grabber: FakeHandle | None = None
    held: set[int] = field(default_factory=set)
    unplugged: bool = False

    def emit(self, events: list[InputEvent], *, held_after: set[int] | None = None) -> None:
        """The device sends events: to the grabbing handle only, or to every open handle.

        `held_after` is the kernel's key state once they are sent, for sequences that lost events
        (SYN_DROPPED): the kernel knows a key went up even when the reader never sees that event.
        """
        for e in events:
            if e.type == ecodes.EV_KEY:
                (self.held.add if e.value else self.held.discard)(e.code)
        if held_after is not None:
            self.held = set(held_after)
        data = pack(events)
        for handle in [self.grabber] if self.grabber else list(self.handles):
            # The kernel hands out whole input_event records only. Pipe writes up to PIPE_BUF are atomic,
            # so chunks of whole records keep every read a whole number of records.
            for offset in range(0, len(data), _CHUNK):
                os.write(handle.write_fd, data[offset:offset + _CHUNK])


class FakeHandle(EventIO):
    """One open() of a node: what `evdev.InputDevice` would be, reading through python-evdev's code."""

    def __init__(self, device: FakeDevice) -> None:
        self.device = device
        self.path = device.info.path
        self.fd, self.write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        self.reads = 0
        self.closed = False
        device.handles.append(self)

    def read(self):
        self.reads += 1
        if self.device.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        return super().read()

    def grab(self) -> None:
        if self.device.grabber is not None:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.device.grabber = self

    def ungrab(self) -> None:
        if self.device.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if self.device.grabber is not self:
            raise OSError(errno.EINVAL, "Invalid argument")
        self.device.grabber = None

    def active_keys(self, verbose: bool = False) -> list[int]:
        return sorted(self.device.held)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.device.grabber is self:
            self.device.grabber = None
        if self in self.device.handles:
            self.device.handles.remove(self)
        os.close(self.fd)
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1


class FakeInputKernel:
    """A `DeviceBackend` for `EvdevScanner`: list_devices() and open(path) over fake nodes."""

    def __init__(self) -> None:
        self.devices: dict[str, FakeDevice] = {}
        self.lock = threading.Lock()
        self.list_calls = 0
        self.refuse: dict[str, OSError] = {}

    def plug(self, path: str, name: str = "Honeywell Scanner", vendor: int = 0x0C2E, product: int = 0x0B61,
             *, rel: bool = False, links: tuple[str, ...] = (), keys: frozenset[int] | None = None) -> FakeDevice:
        caps = keyboard_caps(rel=rel)
        info = DeviceInfo(path=path, name=name, vendor=vendor, product=product, bustype=3,
                          keys=caps["keys"] if keys is None else keys, has_rel=rel, links=links)
        device = FakeDevice(info)
        with self.lock:
            self.devices[path] = device
        return device

    def unplug(self, path: str) -> FakeDevice:
        with self.lock:
            device = self.devices.pop(path)
        device.unplugged = True
        for handle in list(device.handles):
            # The reader's descriptor now polls readable for ever; read() raises ENODEV.
            if handle.write_fd >= 0:
                os.close(handle.write_fd)
                handle.write_fd = -1
        return device

    def list_devices(self) -> list[DeviceInfo]:
        with self.lock:
            self.list_calls += 1
            return [d.info for d in self.devices.values()]

    def open(self, path: str) -> FakeHandle:
        if path in self.refuse:
            raise self.refuse[path]
        with self.lock:
            device = self.devices.get(path)
        if device is None:
            raise OSError(errno.ENODEV, "No such device")
        return FakeHandle(device)
