"""The real app at a till, driven by simulated touches on its buttons and scans, against a real store
server: the cashier's sign-in, activation of a pre-issued card, a receipt with accrual, a receipt paid
partly with bonuses and the SMS code, the next customer's scan on a result screen, a partial return from the
server's list of the card's sales, a cancel, finding the card by the customer's phone and its code, idle
sign-out. Each step waits for the balance the server reports; screenshots are kept in test-output/till/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# ~60 steps against a real server: one minute alone, several times that on a loaded machine (load 16 made
# the customer journey four times slower). The deadline is there to catch a hung window, not a slow machine.
JOURNEY_SECONDS = 1200
pytestmark = [pytest.mark.ui, pytest.mark.timeout(JOURNEY_SECONDS + 120)]

ROOT = Path(__file__).resolve().parents[2]
KEEP = ROOT / "test-output" / "till"


def test_till_journey_by_touch_against_a_real_server(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.fail("the UI tests need a display: run them through ./scripts/test, which starts Xvfb")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_FILELOG="1", KIVY_NO_CONSOLELOG="1")
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "demo", "--scripted", "--role", "cashier",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=JOURNEY_SECONDS, env=env)
    shots = tmp_path / "screenshots"
    if shots.exists():
        if KEEP.exists():
            shutil.rmtree(KEEP)
        shutil.copytree(shots, KEEP)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = [p.stem for p in sorted(shots.glob("*.png"))]
    for step in ("till-signed-in", "till-activate-done", "till-sale-preview", "till-sale-accrued",
                 "till-bonus-applied", "till-bonus-code", "till-bonus-synced", "till-next-scan", "till-returned",
                 "till-cancelled", "till-after-cancel", "till-receipt-qr", "till-found-by-phone",
                 "till-idle-signed-out", "till-sign-out",
                 "tech-new-pin-again", "tech-log", "tech-new-pin-works"):
        assert any(name.endswith(step) for name in names), step
