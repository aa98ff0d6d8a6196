"""`kiosk run` under a stand-in for systemd: READY=1 once the attract screen is drawn, then watchdog pings
from the Kivy clock (kiosk.service is Type=notify with WatchdogSec=)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.appliance.notify import enrolled_device, run_until_ready

pytestmark = pytest.mark.ui


def test_kiosk_run_reports_ready_on_the_attract_screen_and_pings(store_server, tmp_path: Path) -> None:
    env = enrolled_device(store_server, tmp_path / "device")
    messages = run_until_ready([sys.executable, "-m", "kiosk.cli", "run"], env, tmp_path / "notify.sock")
    ready = [m for m in messages if m.startswith("READY=1")]
    assert ready == ["READY=1\nSTATUS=kiosk up, screen attract"], messages


def test_unenrolled_kiosk_refuses_to_run(tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "kiosk.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n')
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "run"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "kiosk provision" in result.stderr
