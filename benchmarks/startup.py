"""Kiosk start-up: process start -> attract screen drawn, and the process's RSS once it is up.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--size 800x480]

Each run is a fresh Python process (cold imports of Kivy, the flows and the catalogues; the OS file cache
is warm after the first) that builds the real runtime from a real local store and opens the real app; it
reports the wall time from just before the process was spawned to the first frame flipped with the attract
screen on it, and VmRSS at that moment. The sync worker runs but its server is a closed port, as at a shop
whose server is still booting. Under Xvfb (started here when there is no display). Goals: <= 2 s, <= 120 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


# The code of Mesa's software renderer: under Xvfb every GL call runs on the CPU through llvmpipe, which
# JIT-compiles with LLVM. A Pi draws with its V3D GPU driver instead, so this share says nothing about it.
SOFTWARE_GL = ("libLLVM", "swrast_dri", "libgallium", "kms_swrast")


def _software_gl_kb() -> int:
    """kB resident in the file mappings of the software renderer's libraries (from /proc/self/smaps)."""
    total, counting = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(maxsplit=6)
            if "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line: range perms ... path
                counting = len(head) > 5 and any(name in head[5] for name in SOFTWARE_GL)
            elif counting and head[0] == "Rss:":
                total += int(head[1])
    return total


def child(state_dir: str, size: str) -> None:
    """Runs inside the measured process; prints 'drawn <epoch seconds> <rss kB>' on the first attract frame."""
    from kiosk.config import KioskConfig
    from kiosk.launch import configure_window
    from kiosk.runtime import build_runtime

    width, height = (int(v) for v in size.split("x"))
    config = KioskConfig(server_url="http://127.0.0.1:9", state_dir=Path(state_dir), fullscreen=False,
                         width=width, height=height, language="uk")
    runtime = build_runtime(config)
    configure_window(config)
    import kivy.app  # noqa: F401 - everything but the window, to tell the GL stack's share apart
    import qrcode  # noqa: F401

    before_window = _rss()
    from kivy.core.window import Window

    from drivers.scanner.base import ScanQueue
    from kiosk.app import KioskApp

    app = KioskApp(config, runtime.backend, ScanQueue())

    def flipped(*_args) -> None:
        if getattr(app, "sm", None) is not None and app.sm.current == "attract":
            Window.unbind(on_flip=flipped)
            print(f"drawn {time.time():.6f} {_rss()} {before_window} {_software_gl_kb()}", flush=True)
            app.stop()

    Window.bind(on_flip=flipped)
    runtime.sync.start()
    try:
        app.run()
    finally:
        runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="800x480")
    parser.add_argument("--child", nargs=2, metavar=("STATE_DIR", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if not os.environ.get("DISPLAY"):
        return subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1920x1920x24", sys.executable, *sys.argv])
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1")
    times, rss, python_side, software_gl = [], [], [], []
    for _ in range(args.runs):
        state = tempfile.mkdtemp(prefix="kiosk-startup-")
        try:
            started = time.time()
            out = subprocess.run([sys.executable, __file__, "--child", state, args.size], env=env,
                                 capture_output=True, text=True, timeout=60, cwd=ROOT)
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("drawn ")), None)
            if line is None:
                print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
                return 1
            _, at, kb, kb_before_window, kb_software_gl = line.split()
            times.append(float(at) - started)
            rss.append(int(kb) / 1024)
            python_side.append(int(kb_before_window) / 1024)
            software_gl.append(int(kb_software_gl) / 1024)
        finally:
            shutil.rmtree(state, ignore_errors=True)
    print(f"startup to attract drawn ({args.runs} runs, {args.size}): median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s (goal <= 2 s)")
    print(f"RSS after start: median {statistics.median(rss):.0f} MB, max {max(rss):.0f} MB (goal <= 120 MB)")
    print(f"  of which before the window and GL context were opened: {statistics.median(python_side):.0f} MB "
          f"(the rest is SDL2 + the GL driver; here Mesa's software llvmpipe under Xvfb)")
    gl = statistics.median(software_gl)
    print(f"  of which the software renderer's code (LLVM, swrast): {gl:.0f} MB; without it "
          f"{statistics.median(rss) - gl:.0f} MB (a Pi's V3D driver replaces it; llvmpipe's own buffers and "
          f"JIT code are still counted in this figure)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
