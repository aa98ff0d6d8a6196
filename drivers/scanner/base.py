"""What every scanner backend produces: `Scan` records on one thread-safe queue."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scan:
    """One complete barcode read.

    `source` names the device it came from ("keyboard", "evdev:<path>", "serial:<port>") so that the
    app and the technician screen can tell several scanners apart.
    """

    payload: str
    source: str
    at: float = field(default_factory=time.monotonic)
    symbology: str | None = None


class ScanQueue:
    """The single stream of scans the app consumes; drivers put, the UI clock polls."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[Scan] = queue.SimpleQueue()

    def put(self, scan: Scan) -> None:
        self._q.put(scan)

    def get(self, timeout: float | None = None) -> Scan | None:
        try:
            return self._q.get(timeout=timeout) if timeout else self._q.get_nowait()
        except queue.Empty:
            return None

    def drain(self) -> list[Scan]:
        scans = []
        while (scan := self.get()) is not None:
            scans.append(scan)
        return scans
