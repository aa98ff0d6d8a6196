"""Serial and USB-CDC barcode scanners through pyserial.

The port is opened by URL (`serial.serial_for_url`), so a real port, a pty and `loop://` all work. Lines
are framed here rather than with `serial.threaded.LineReader`, whose default CRLF terminator never
completes a line from a CR-only scanner and whose buffer grows without bound. After a disconnect the
port is closed and reopened with a growing backoff; `stop()` cancels the blocking read.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import serial

from drivers.scanner.base import Scan, ScanQueue
from drivers.scanner.config import SerialScannerConfig
from drivers.scanner.decode import split_aim
from drivers.scanner.keystrokes import Completed, Rejected

log = logging.getLogger(__name__)

READ_TIMEOUT = 0.2
Opener = Callable[[SerialScannerConfig], serial.SerialBase]
RejectHandler = Callable[[str, Rejected], None]


def open_port(config: SerialScannerConfig) -> serial.SerialBase:
    # exclusive: a second reader (a getty, a stray screen session) would steal half of each barcode.
    return serial.serial_for_url(config.port, baudrate=config.baud, timeout=READ_TIMEOUT, exclusive=True)


class LineFramer:
    """Bytes in, complete lines out. `terminator=b""` accepts CR, LF or CRLF."""

    def __init__(self, terminator: bytes = b"", *, partial_timeout: float = 1.0, max_length: int = 4096):
        self._split = re.compile(re.escape(terminator) if terminator else rb"\r\n|\r|\n")
        self.partial_timeout = partial_timeout
        self.max_length = max_length
        self._buffer = bytearray()
        self._overflow = False
        self._last_at = 0.0

    def feed(self, data: bytes, now: float) -> list[Completed | Rejected]:
        results = self.expire(now)
        self._last_at = now
        self._buffer += data
        *lines, rest = self._split.split(bytes(self._buffer))
        self._buffer = bytearray(rest)
        for line in lines:
            if self._overflow:
                self._overflow = False
                results.append(Rejected("too_long", _text(line[: self.max_length])))
                continue
            # A CR-only config meeting a CRLF scanner leaves the LF at the start of the next line.
            line = line.strip(b"\r\n")
            if len(line) > self.max_length:
                results.append(Rejected("too_long", _text(line[: self.max_length])))
            elif line:
                results.append(Completed(_text(line), now))
        if len(self._buffer) > self.max_length:
            self._overflow = True
            del self._buffer[: len(self._buffer) - self.max_length]
        return results

    def expire(self, now: float) -> list[Completed | Rejected]:
        if (self._buffer or self._overflow) and now - self._last_at >= self.partial_timeout:
            partial = _text(bytes(self._buffer))
            reason = "too_long" if self._overflow else "partial_timeout"
            self._buffer.clear()
            self._overflow = False
            return [Rejected(reason, partial)]
        return []


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # every byte maps to one character: nothing is lost


class SerialScanner:
    MIN_BACKOFF = 0.05
    MAX_BACKOFF = 5.0
    STABLE_AFTER = 1.0

    def __init__(self, config: SerialScannerConfig, queue: ScanQueue, *, opener: Opener = open_port,
                 on_reject: RejectHandler | None = None) -> None:
        self.config = config
        self.queue = queue
        self.opener = opener
        self.on_reject = on_reject or _log_reject
        self.source = f"serial:{config.port}"
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._port: serial.SerialBase | None = None
        self._state = "not started"
        #: How many times the port was opened successfully (a reconnect makes it 2).
        self.connections = 0
        self.open_attempts = 0

    def start(self) -> SerialScanner:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=f"serial-scanner {self.config.port}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        with self._lock:
            if self._port is not None and hasattr(self._port, "cancel_read"):
                self._port.cancel_read()
        thread.join(timeout)
        if thread.is_alive():
            log.error("serial scanner %s did not stop within %.1fs", self.config.port, timeout)

    def __enter__(self) -> SerialScanner:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def status(self) -> dict[str, str]:
        return {self.config.port: self._state}

    def _run(self) -> None:
        backoff = self.MIN_BACKOFF
        while not self._stopping.is_set():
            self.open_attempts += 1
            try:
                port = self.opener(self.config)
            except (serial.SerialException, OSError, ValueError) as e:
                self._state = f"cannot open: {e}"
                log.debug("serial scanner %s: %s", self.config.port, e)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.MAX_BACKOFF)
                continue
            connected_at = time.monotonic()
            self.connections += 1
            with self._lock:
                self._port = port
            self._state = "reading"
            try:
                self._read(port)
            except (serial.SerialException, OSError) as e:
                self._state = f"disconnected: {e}"
                log.info("serial scanner %s disconnected (%s); reconnecting", self.config.port, e)
            except Exception as e:
                # A bug must not end scanning until the next restart: reopen after a pause.
                self._state = f"failed: {e!r}"
                log.exception("serial scanner %s failed; reopening", self.config.port)
            finally:
                with self._lock:
                    self._port = None
                port.close()
            # A port that opens and fails at once (a flapping cable, a half-gone USB device) must not
            # make a reopen loop: only a connection that lasted a while starts the backoff over.
            lasted = time.monotonic() - connected_at >= self.STABLE_AFTER
            backoff = self.MIN_BACKOFF if lasted else min(backoff * 2, self.MAX_BACKOFF)
            self._stopping.wait(backoff)
        self._state = "stopped"

    def _read(self, port: serial.SerialBase) -> None:
        framer = LineFramer(self.config.terminator_bytes, partial_timeout=self.config.partial_timeout)
        while not self._stopping.is_set():
            data = port.read(max(1, port.in_waiting))
            now = time.monotonic()
            for result in framer.feed(data, now) if data else framer.expire(now):
                if isinstance(result, Completed):
                    symbology, _ = split_aim(result.payload)
                    self.queue.put(Scan(result.payload, self.source, symbology=symbology))
                else:
                    self.on_reject(self.source, result)


def _log_reject(source: str, rejected: Rejected) -> None:
    log.warning("scan from %s discarded: %s (%d chars)", source, rejected.reason, len(rejected.partial))
