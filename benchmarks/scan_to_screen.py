"""Scan -> card screen drawn: from the scanner's last event to the first frame showing that card.

    .venv/bin/python benchmarks/scan_to_screen.py [--scans 40]

The real app (Kivy under Xvfb, started here when there is no display) with a real local store, against a
real store server process on loopback with the demo shop. A scan is put on the app's scan queue the way a
driver does at the scanner's final key/byte; the time runs until the window flips a frame with the card
screen showing that card's number. Two cases:
  via server  - the server answers the look-up (the normal case);
  cache hit   - the server process is stopped, the card comes from the device's cache.
Goals: p95 <= 150 ms via server, <= 50 ms from the cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run(scans: int) -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    from tests.support.server import init_demo_server

    tmp = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    server = init_demo_server(tmp / "server").start()
    try:
        from kiosk.config import KioskConfig
        from kiosk.launch import configure_window
        from kiosk.runtime import build_runtime

        enrolled = server.enrol("entrance")
        config = KioskConfig(server_url=server.url, state_dir=tmp / "kiosk", fullscreen=False, language="uk",
                             idle_timeout=3600)
        runtime = build_runtime(config)
        runtime.store.set_setting("device_key", enrolled["device_key"])
        runtime.client.device_key = enrolled["device_key"]
        configure_window(config)
        from kivy.clock import Clock
        from kivy.core.window import Window

        from drivers.scanner.base import Scan, ScanQueue
        from kiosk.app import KioskApp

        queue = ScanQueue()
        app = KioskApp(config, runtime.backend, queue)
        numbers = [str(10001 + i % 50) for i in range(scans)]
        results: dict[str, list[float]] = {"via server": [], "cache hit": []}
        state = {"phase": "via server", "i": 0, "t0": 0.0, "want": None}

        def flipped(*_args) -> None:
            want = state["want"]
            if want is None or app.sm.current != "card" or app.sm.get_screen("card").number != want:
                return
            results[state["phase"]].append((time.perf_counter() - state["t0"]) * 1000)
            state["want"] = None
            Clock.schedule_once(next_scan, 0.05)

        def next_scan(_dt) -> None:
            if state["i"] >= len(numbers):
                if state["phase"] == "cache hit":
                    app.stop()
                    return
                server.stop()  # every card scanned is now in the cache; the server is gone
                state["phase"], state["i"] = "cache hit", 0
            app.go_home()
            number = numbers[state["i"]]
            state["i"] += 1
            Clock.schedule_once(lambda _dt: put(number), 0.05)

        def put(number: str) -> None:
            state["want"], state["t0"] = number, time.perf_counter()
            queue.put(Scan(number, "benchmark"))

        app.transition_duration = 0
        Window.bind(on_flip=flipped)
        app.bind(on_start=lambda _app: Clock.schedule_once(next_scan, 0.5))
        app.run()
        runtime.close()
    finally:
        server.stop()
    for phase, goal in (("via server", 150), ("cache hit", 50)):
        values = results[phase]
        if not values:
            print(f"{phase}: no measurements")
            return 1
        print(f"{phase:>10}: n={len(values)} median {statistics.median(values):.1f} ms, p95 {p95(values):.1f} ms, "
              f"max {max(values):.1f} ms (goal p95 <= {goal} ms)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=40)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1920x1920x24", sys.executable, *sys.argv])
    return run(args.scans)


if __name__ == "__main__":
    sys.exit(main())
