"""Start every configured scanner on one `ScanQueue`; stop them all.

    manager = ScannerManager(ScannerConfig.from_dict(config.scanners), on_reject=lambda src, r: beep())
    manager.start()
    ... scan = manager.queue.get() ...    # from the UI clock
    manager.stop()                         # joins every reader thread

`on_reject(source, Rejected)` is called from reader threads for scans that were discarded (dropped
events, unmapped keys, a half scan): a good place to flash the error indicator.
"""

from __future__ import annotations

from drivers.scanner.base import ScanQueue
from drivers.scanner.config import ScannerConfig
from drivers.scanner.serial_scanner import Opener, RejectHandler, SerialScanner, open_port


class ScannerManager:
    def __init__(self, config: ScannerConfig, queue: ScanQueue | None = None, *, evdev_backend=None,
                 serial_opener: Opener = open_port, on_reject: RejectHandler | None = None) -> None:
        self.config = config
        self.queue = queue or ScanQueue()
        self.scanners: list = []
        if config.evdev:
            # Imported only when configured: evdev exists on Linux only, serial scanners work anywhere.
            from drivers.scanner.evdev_scanner import EvdevScanner

            self.scanners += [EvdevScanner(entry, self.queue, backend=evdev_backend, on_reject=on_reject)
                              for entry in config.evdev]
        self.scanners += [SerialScanner(entry, self.queue, opener=serial_opener, on_reject=on_reject)
                          for entry in config.serial]

    def start(self) -> ScannerManager:
        try:
            for scanner in self.scanners:
                scanner.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop all readers (each stop wakes its thread at once) and join them. Safe to call twice."""
        for scanner in self.scanners:
            scanner.stop(timeout)

    def status(self) -> dict[str, str]:
        """Device -> "reading" or what is wrong with it, across all scanners."""
        merged: dict[str, str] = {}
        for scanner in self.scanners:
            for device, state in scanner.status().items():
                # Two entries may match one node; the one reading it wins over the one refused its grab.
                if merged.get(device) != "reading":
                    merged[device] = state
        return merged

    def __enter__(self) -> ScannerManager:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
