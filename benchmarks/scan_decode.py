"""Scanner events -> `Scan` -> decoded payload: latency and throughput, for a 13-digit EAN and a 120-char
QR URL.

    .venv/bin/python benchmarks/scan_decode.py [--scans N]

1. Decoder only: `KeystrokeAssembler` + `decode` over prebuilt `evdev.InputEvent`s (CPU cost per scan).
2. Through the reader thread: `EvdevScanner` reading a node (the pipe-backed kernel stand-in of the tests,
   read by python-evdev's own code). Latency is from the Enter key-down report being written to the
   `Scan` coming out of the queue, with the rest of the scan already typed, as with a real scanner.
   Throughput is a burst of back-to-back scans written at once, until the last one is out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evdev import ecodes  # noqa: E402

from drivers.scanner.base import ScanQueue  # noqa: E402
from drivers.scanner.config import EvdevScannerConfig  # noqa: E402
from drivers.scanner.decode import CardNumber, CardRules, decode  # noqa: E402
from drivers.scanner.evdev_scanner import EvdevScanner  # noqa: E402
from drivers.scanner.keystrokes import Completed, KeystrokeAssembler  # noqa: E402
from tests.drivers.evdev_fakes import FakeInputKernel, scanner_events  # noqa: E402

EAN = "5901234123457"
QR_URL = "https://loyalty.example-shop.com.ua/card?card=5901234123457&utm_source=kiosk_qr&utm_medium=print&ref=AbC-123_x"
QR_URL += "&z=" + "q" * (120 - len(QR_URL) - 3)
assert len(QR_URL) == 120
RULES = CardRules(first_number=0)
LATENCY_GOAL_MS = 20.0  # well under what a person notices between the beep and the screen (~100 ms)
RATE_GOAL = 50.0  # scans/s: a hand scanner reads a few codes a second at most


def decoder_only(payload: str, n: int) -> tuple[float, float]:
    """(scans/s, µs per scan) for assembling and decoding `n` scans with no I/O."""
    events = scanner_events(payload + "\n", step=0.001)
    assembler = KeystrokeAssembler()
    started = time.perf_counter()
    for _ in range(n):
        for event in events:
            for result in assembler.feed(event):
                assert isinstance(result, Completed)
                decode(result.payload, RULES)
    elapsed = time.perf_counter() - started
    return n / elapsed, elapsed / n * 1e6


def through_reader(payload: str, n: int, burst: int) -> tuple[list[float], float]:
    """(latencies in ms, burst scans/s) through a running `EvdevScanner`."""
    kernel = FakeInputKernel()
    device = kernel.plug("/dev/input/event6")
    queue = ScanQueue()
    scanner = EvdevScanner(EvdevScannerConfig(vendor=0x0C2E, product=0x0B61), queue, backend=kernel).start()
    try:
        deadline = time.monotonic() + 5
        while not scanner.open_paths and time.monotonic() < deadline:
            time.sleep(0.01)
        latencies = []
        for _ in range(n):
            events = scanner_events(payload + "\n", start=time.time(), step=0.0005)
            enter_down = next(j for j, e in enumerate(events) if e.type == ecodes.EV_KEY
                              and e.code == ecodes.KEY_ENTER and e.value == 1)
            device.emit(events[:enter_down - 1])  # MSC_SCAN comes before the key event
            time.sleep(0.003)  # the reader takes the typed part in, as it would between keystrokes
            started = time.perf_counter()
            device.emit(events[enter_down - 1:])
            scan = queue.get(timeout=2)
            latencies.append((time.perf_counter() - started) * 1000)
            assert scan is not None and scan.payload == payload, scan
        events = []
        for i in range(burst):
            events += scanner_events(payload + "\n", start=1_700_000_000 + i * 0.2, step=0.0005)
        started = time.perf_counter()
        device.emit(events)
        for _ in range(burst):
            assert queue.get(timeout=5) is not None
        rate = burst / (time.perf_counter() - started)
        return latencies, rate
    finally:
        scanner.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300, help="scans per latency run (default 300)")
    args = parser.parse_args()
    assert isinstance(decode(EAN, RULES), CardNumber) and isinstance(decode(QR_URL, RULES), CardNumber)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cpus)")
    for label, payload in (("EAN-13", EAN), ("QR URL 120 chars", QR_URL)):
        rate, per_scan = decoder_only(payload, 2000)
        print(f"{label}: decoder only: {rate:,.0f} scans/s ({per_scan:.0f} µs/scan)  goal >= {RATE_GOAL:.0f} scans/s")
        latencies, burst_rate = through_reader(payload, args.scans, 200)
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"{label}: Enter -> Scan latency: median {statistics.median(latencies):.2f} ms, p95 {p95:.2f} ms, "
              f"max {latencies[-1]:.2f} ms  goal p95 < {LATENCY_GOAL_MS:.0f} ms")
        print(f"{label}: through the reader, burst of 200: {burst_rate:,.0f} scans/s  goal >= {RATE_GOAL:.0f} scans/s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
