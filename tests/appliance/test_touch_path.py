"""Exactly one touch path on the device: with the shipped Kivy config.ini the kiosk adds no mouse provider
(SDL's synthesized clicks would repeat every tap); without it (demo, development) the mouse works."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = ("from kiosk.config import KioskConfig; from kiosk.launch import configure_window; "
         "configure_window(KioskConfig(state_dir='{state}')); from kivy.config import Config; "
         "print(dict(Config.items('input')))")


def input_providers(kivy_home: Path, state: Path) -> dict:
    env = dict(os.environ, KIVY_HOME=str(kivy_home), KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
               KIVY_NO_FILELOG="1")
    out = subprocess.run([sys.executable, "-c", PROBE.format(state=state)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return ast.literal_eval(out.strip().splitlines()[-1])


def test_appliance_config_reads_the_panel_once(tmp_path):
    home = tmp_path / "kivy"
    home.mkdir()
    shutil.copy(REPO / "firmware_config/kivy/config.ini", home / "config.ini")
    providers = input_providers(home, tmp_path)
    assert providers == {"touch": "probesysfs,provider=mtdev,select_all=0"}


def test_development_machine_keeps_the_mouse(tmp_path):
    providers = input_providers(tmp_path / "fresh-kivy-home", tmp_path)
    assert providers["mouse"] == "mouse,disable_multitouch"
