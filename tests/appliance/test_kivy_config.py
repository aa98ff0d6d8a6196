"""The shipped Kivy config.ini (firmware_config/kivy/config.ini) against the installed Kivy's own defaults.

With config_version equal to Kivy's, Kivy adds none of its defaults, so a missing option is a crash at
`from kivy.clock import Clock` on the device, and kiosk.service's restarts reboot the Pi in a loop. Kivy
itself writes its defaults here (a fresh KIVY_HOME), and then starts its clock and window on the shipped
file from a read-only home, as kiosk.service does."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "firmware_config" / "kivy" / "config.ini"
# Kivy's defaults the kiosk leaves out on purpose: its mouse provider and the catch-all probesysfs
# provider would deliver every touch a second time (the one touch path is the shipped [input] line).
LEFT_OUT = {("input", "mouse"), ("input", "%(name)s")}


def kivy_env(home: Path) -> dict[str, str]:
    return {**os.environ, "KIVY_HOME": str(home), "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
            "KIVY_NO_FILELOG": "1"}


def read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # Kivy's own parser keeps the case
    parser.read(path)
    return parser


def kivy_defaults(tmp_path: Path) -> configparser.RawConfigParser:
    home = tmp_path / "fresh-kivy-home"
    home.mkdir()
    result = subprocess.run([sys.executable, "-c", "import kivy.config"], env=kivy_env(home),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return read_ini(home / "config.ini")


def test_shipped_config_has_every_option_kivy_reads(tmp_path: Path) -> None:
    defaults, shipped = kivy_defaults(tmp_path), read_ini(SHIPPED)
    missing = [f"[{section}] {option}" for section in defaults.sections() for option in defaults.options(section)
               if (section, option) not in LEFT_OUT and not shipped.has_option(section, option)]
    assert not missing, f"config.ini lacks options Kivy reads (add them with Kivy's default): {missing}"
    unknown = [f"[{section}] {option}" for section in shipped.sections() for option in shipped.options(section)
               if section != "input" and not defaults.has_option(section, option)]
    assert not unknown, f"config.ini sets options this Kivy does not know (a typo, or a newer Kivy): {unknown}"
    assert shipped.get("kivy", "config_version") == defaults.get("kivy", "config_version")


def test_kivy_clock_and_window_start_on_the_shipped_config(tmp_path: Path) -> None:
    """The imports `kiosk run` makes first, on the shipped file in a read-only home (as on the device)."""
    home = tmp_path / "kivy"
    for folder in (home, home / "mods", home / "icon"):
        folder.mkdir(parents=True)
    shutil.copy(SHIPPED, home / "config.ini")
    probe = (
        "from kivy.clock import Clock\n"
        "from kivy.core.window import Window\n"
        "assert Window is not None, 'no window provider'\n"
        "Clock.tick()\n"
        "print('window', type(Window).__name__)\n"
    )
    for path in (home / "config.ini", home / "mods", home / "icon", home):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        env = {**kivy_env(home), "KIVY_WINDOW": "sdl2"}
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                timeout=120, check=False)
    finally:
        for path in (home, home / "mods", home / "icon"):
            path.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "window WindowSDL" in result.stdout, result.stdout + result.stderr[-2000:]
