"""USB barcode scanners in keyboard mode, read through python-evdev with an exclusive grab.

One `EvdevScanner` serves one `[[scanners.evdev]]` entry and may read several nodes (two identical
scanners, or a scanner replugged into another port). Its thread selects on every open node plus a
wake-up pipe, so `stop()` returns at once; each node has its own `KeystrokeAssembler`.

Devices come from a backend (`list_devices()`, `open(path)`): `EvdevBackend` is the real one; tests pass
one whose nodes are pipes carrying real `input_event` structs. A node whose read fails (ENODEV after an
unplug, EIO) is ungrabbed, closed and dropped, and the entry is rediscovered with a growing backoff, so a
dead descriptor never makes the loop spin.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from drivers.scanner.base import Scan, ScanQueue
from drivers.scanner.config import EvdevScannerConfig
from drivers.scanner.decode import split_aim
from drivers.scanner.discovery import DeviceInfo, match, open_input_device, read_input_devices
from drivers.scanner.keymap import KEYMAPS
from drivers.scanner.keystrokes import Completed, KeystrokeAssembler, KeystrokeSettings, Rejected

log = logging.getLogger(__name__)

RejectHandler = Callable[[str, Rejected], None]


class InputSource(Protocol):
    """The part of `evdev.InputDevice` the reader uses."""

    def fileno(self) -> int: ...
    def read(self) -> Iterable: ...
    def grab(self) -> None: ...
    def ungrab(self) -> None: ...
    def active_keys(self) -> list[int]: ...
    def close(self) -> None: ...


class DeviceBackend(Protocol):
    def list_devices(self) -> list[DeviceInfo]: ...
    def open(self, path: str) -> InputSource: ...


class EvdevBackend:
    """The real thing: /dev/input via python-evdev."""

    def __init__(self, root: str = "/dev/input") -> None:
        self.root = root

    def list_devices(self) -> list[DeviceInfo]:
        return read_input_devices(self.root)

    def open(self, path: str) -> InputSource:
        return open_input_device(path)


@dataclass
class _Node:
    path: str
    source: InputSource
    assembler: KeystrokeAssembler
    # (event time, monotonic time) of the last event read. Scan deadlines are in the event clock
    # (CLOCK_REALTIME), which jumps when a Pi without an RTC syncs its time; measuring the silence since
    # the last event on the monotonic clock keeps a half scan from expiring early or never.
    anchor: tuple[float, float] | None = None

    def event_now(self, monotonic_now: float) -> float | None:
        if self.anchor is None:
            return None
        event_at, seen_at = self.anchor
        return event_at + (monotonic_now - seen_at)


class EvdevScanner:
    MIN_BACKOFF = 0.05
    MAX_BACKOFF = 5.0

    def __init__(self, config: EvdevScannerConfig, queue: ScanQueue, *, backend: DeviceBackend | None = None,
                 on_reject: RejectHandler | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.queue = queue
        self.backend = backend or EvdevBackend()
        self.on_reject = on_reject or _log_reject
        self._clock = clock
        self._settings = KeystrokeSettings(
            terminators=frozenset(config.terminators), idle_end=config.idle_end,
            partial_timeout=config.partial_timeout, keymap=KEYMAPS[config.layout])
        self._nodes: dict[str, _Node] = {}
        self._lock = threading.Lock()  # guards _nodes/_refused for status() from other threads
        self._refused: dict[str, str] = {}  # path -> why it could not be grabbed (shown by status())
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        #: How many times the backend was asked for devices; lets tests prove there is no busy loop.
        self.discoveries = 0

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> EvdevScanner:
        if self._thread is not None:
            return self
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"evdev-scanner {self.config.describe()}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the reader, ungrab and close every node. Safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        thread.join(timeout)
        if thread.is_alive():
            # Closing the pipe under a thread still in select() could hand its numbers to new files.
            log.error("evdev scanner thread did not stop within %.1fs; leaving its wake-up pipe open", timeout)
            return
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> EvdevScanner:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def open_paths(self) -> list[str]:
        with self._lock:
            return sorted(self._nodes)

    def status(self) -> dict[str, str]:
        """path -> "reading" or why the node is not read (cannot open / cannot grab)."""
        with self._lock:
            states = {path: "reading" for path in self._nodes}
            states.update(self._refused)
        return states

    # -- the reader thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = self.MIN_BACKOFF
        next_discovery = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    now = self._clock()
                    if now >= next_discovery:
                        opened = self._discover()
                        # Found something: slow rescans for more scanners. Found nothing: back off.
                        backoff = self.MAX_BACKOFF if opened else min(backoff * 2, self.MAX_BACKOFF)
                        next_discovery = now + backoff
                    fds = [self._wake_r, *(node.source.fileno() for node in self._nodes.values())]
                    timeout = max(0.0, min(next_discovery - now, self._until_expiry()))
                    readable, _, _ = select.select(fds, [], [], timeout)
                    if self._wake_r in readable:
                        break
                    dropped = False
                    for node in list(self._nodes.values()):
                        if node.source.fileno() in readable and not self._read(node):
                            dropped = True
                    self._expire()
                    if dropped:
                        backoff = self.MIN_BACKOFF
                        next_discovery = self._clock() + backoff
                except Exception:
                    # A bug must not end scanning until the next restart: drop the nodes (ungrabbing
                    # them), wait, and start over from discovery.
                    log.exception("evdev scanner %s failed; starting over", self.config.describe())
                    for node in list(self._nodes.values()):
                        self._close(node)
                    backoff = self.MAX_BACKOFF
                    next_discovery = self._clock() + backoff
                    self._stopping.wait(self.MIN_BACKOFF)
        finally:
            for node in list(self._nodes.values()):
                self._close(node)

    def _discover(self) -> int:
        self.discoveries += 1
        try:
            devices = self.backend.list_devices()
        except OSError as e:
            log.warning("cannot list input devices: %s", e)
            return 0
        with self._lock:
            present = {device.path for device in devices}
            for path in [p for p in self._refused if p not in present]:
                del self._refused[path]
        opened = 0
        for device in devices:
            if device.path in self._nodes or not match(self.config, device)[0]:
                continue
            try:
                source = self.backend.open(device.path)
            except OSError as e:
                with self._lock:
                    self._refused[device.path] = f"cannot open: {e.strerror or e}"
                continue
            registered = False
            try:
                source.grab()
                with self._lock:
                    self._refused.pop(device.path, None)
                    self._nodes[device.path] = _Node(device.path, source, KeystrokeAssembler(self._settings))
                registered = True
            except OSError as e:
                # EBUSY: another program (or another scanner entry) holds the grab; reading without it
                # would type the barcode into the UI as well.
                with self._lock:
                    self._refused[device.path] = f"cannot grab: {e.strerror or e}"
                continue
            finally:
                if not registered:
                    # Nothing may leave a node grabbed and unread: the scanner would go silent for
                    # every program until this process exits.
                    _release(source)
            log.info("scanner %s: reading %s (%s)", self.config.describe(), device.path, device.name)
            opened += 1
        return opened

    def _read(self, node: _Node) -> bool:
        """Feed what the node has; False if the node is gone and was dropped."""
        try:
            events = list(node.source.read())
        except BlockingIOError:
            return True
        except OSError as e:
            level = logging.INFO if e.errno == errno.ENODEV else logging.WARNING
            log.log(level, "scanner %s gone (%s); will look for it again", node.path, e.strerror or e)
            self._close(node)
            if node.assembler.partial:
                self._deliver(node, Rejected("unplugged", node.assembler.partial))
            return False
        if events:
            last = events[-1]
            node.anchor = (last.sec + last.usec / 1_000_000, self._clock())
        for event in events:
            for result in node.assembler.feed(event):
                self._deliver(node, result)
            if node.assembler.wants_resync:
                try:
                    node.assembler.resync(node.source.active_keys())
                except OSError:
                    node.assembler.resync(())
        return True

    def _until_expiry(self) -> float:
        now = self._clock()
        waits = [deadline - event_now for node in self._nodes.values()
                 if (deadline := node.assembler.deadline()) is not None
                 and (event_now := node.event_now(now)) is not None]
        return min(waits) if waits else self.MAX_BACKOFF

    def _expire(self) -> None:
        now = self._clock()
        for node in list(self._nodes.values()):
            event_now = node.event_now(now)
            if event_now is not None:
                for result in node.assembler.expire(event_now):
                    self._deliver(node, result)

    def _deliver(self, node: _Node, result: Completed | Rejected) -> None:
        source = f"evdev:{node.path}"
        if isinstance(result, Completed):
            symbology, _ = split_aim(result.payload)
            self.queue.put(Scan(result.payload, source, symbology=symbology))
        else:
            self.on_reject(source, result)

    def _close(self, node: _Node) -> None:
        with self._lock:
            self._nodes.pop(node.path, None)
        _release(node.source)


def _release(source: InputSource) -> None:
    try:
        source.ungrab()
    except OSError:
        pass  # never grabbed, or unplugged: the kernel drops the grab with the device
    finally:
        try:
            source.close()
        except OSError:
            pass


def _log_reject(source: str, rejected: Rejected) -> None:
    log.warning("scan from %s discarded: %s (%d chars)", source, rejected.reason, len(rejected.partial))
