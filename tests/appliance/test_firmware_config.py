"""Sanity of the OS configuration fragments in firmware_config/ (what a Pi would read at boot)."""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware_config"
_spec = importlib.util.spec_from_file_location("install_rootfs", REPO / "image_build/install_rootfs.py")
assert _spec and _spec.loader
install_rootfs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install_rootfs)  # image_build/ holds scripts, not a package

# Keys that only the legacy (firmware) display stack read; under KMS they silently do nothing.
LEGACY_DISPLAY_KEYS = {"display_rotate", "lcd_rotate", "display_hdmi_rotate", "display_lcd_rotate",
                       "ignore_lcd", "framebuffer_width", "framebuffer_height"}


def config_txt_settings() -> list[tuple[str, str]]:
    settings = []
    for raw in (FIRMWARE / "config.txt").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if re.fullmatch(r"\[[a-z0-9_=:\- ]+\]", line):
            settings.append(("[section]", line))
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[a-z0-9_]+", key) and value and " " not in value, f"bad line {raw!r}"
        settings.append((key, value))
    return settings


def test_config_txt_uses_full_kms_with_watchdog_and_no_splash() -> None:
    settings = config_txt_settings()
    assert ("dtoverlay", "vc4-kms-v3d") in settings
    assert ("dtparam", "watchdog=on") in settings
    assert ("disable_splash", "1") in settings
    assert ("display_auto_detect", "1") in settings
    assert settings[0] == ("[section]", "[all]")


def test_config_txt_has_no_legacy_display_settings() -> None:
    keys = {key for key, _ in config_txt_settings()}
    assert not keys & LEGACY_DISPLAY_KEYS
    overlays = [value for key, value in config_txt_settings() if key == "dtoverlay"]
    assert not any(value.startswith("vc4-fkms") for value in overlays)  # fake KMS is gone on Pi 5


def test_cmdline_fragment_blanking_off_and_console_away_from_the_panel() -> None:
    add, remove = install_rootfs.parse_cmdline_fragment((FIRMWARE / "cmdline.txt").read_text())
    assert "consoleblank=0" in add
    assert "console=tty1" in remove and "console=tty3" in add
    assert "vt.global_cursor_default=0" in add
    merged = install_rootfs.merge_cmdline(
        "console=serial0,115200 console=tty1 root=PARTUUID=1-02 rootwait consoleblank=600 quiet", add, remove
    ).split()
    assert merged.count("quiet") == 1
    assert "consoleblank=600" not in merged and "consoleblank=0" in merged
    assert merged[:3] == ["console=serial0,115200", "root=PARTUUID=1-02", "rootwait"]


def kivy_config() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(FIRMWARE / "kivy/config.ini")
    return parser


def installed_kivy_config_version() -> int:
    spec = importlib.util.find_spec("kivy")
    if spec is None or spec.origin is None:
        pytest.skip("kivy is not installed in this environment")
    source = (Path(spec.origin).parent / "config.py").read_text()
    match = re.search(r"^KIVY_CONFIG_VERSION = (\d+)$", source, re.MULTILINE)
    assert match, "KIVY_CONFIG_VERSION not found in kivy/config.py"
    return int(match.group(1))


def test_kivy_escape_does_not_quit_and_cursor_hidden() -> None:
    config = kivy_config()
    assert config.get("kivy", "exit_on_escape") == "0"
    assert config.get("graphics", "show_cursor") == "0"
    assert config.get("graphics", "allow_screensaver") == "0"
    assert config.get("graphics", "rotation") in ("0", "90", "180", "270")


def test_kivy_has_exactly_one_touch_provider() -> None:
    providers = dict(kivy_config().items("input"))
    assert len(providers) == 1, providers
    (value,) = providers.values()
    options = value.split(",")
    assert options[0] == "probesysfs"
    assert "provider=mtdev" in options or "provider=hidinput" in options
    assert "mouse" not in providers


def test_kivy_config_version_matches_installed_kivy() -> None:
    # An older number makes Kivy add its default "mouse" and probesysfs providers back: double touches.
    assert kivy_config().getint("kivy", "config_version") == installed_kivy_config_version()


def test_kivy_itself_loads_one_input_provider_from_a_read_only_home(tmp_path: Path) -> None:
    home = tmp_path / "kivy"
    for folder in (home, home / "mods", home / "icon"):
        folder.mkdir()
    (home / "config.ini").write_bytes((FIRMWARE / "kivy/config.ini").read_bytes())
    before = sorted(p.name for p in home.iterdir())
    env = {**os.environ, "KIVY_HOME": str(home), "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_NO_FILELOG": "1"}
    probe = ("from kivy.config import Config; "
             "print(repr(Config.items('input'))); print(Config.get('kivy', 'exit_on_escape'))")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    items, escape = result.stdout.strip().splitlines()[-2:]
    assert items == repr([("touch", "probesysfs,provider=mtdev,select_all=0")])
    assert escape == "0"
    # Nothing written: the same files, and config.ini untouched (it lives on a read-only /etc).
    assert sorted(p.name for p in home.iterdir()) == before
    assert (home / "config.ini").read_bytes() == (FIRMWARE / "kivy/config.ini").read_bytes()


def test_journal_is_volatile_and_hardware_watchdog_on() -> None:
    journald = configparser.ConfigParser()
    journald.read(FIRMWARE / "journald.conf.d/90-kiosk-volatile.conf")
    assert journald.get("Journal", "Storage") == "volatile"
    manager = configparser.ConfigParser()
    manager.read(FIRMWARE / "system.conf.d/90-kiosk-watchdog.conf")
    seconds = int(manager.get("Manager", "RuntimeWatchdogSec").removesuffix("s"))
    assert 0 < seconds <= 15  # the BCM2835 watchdog cannot count further


def test_sysusers_puts_kiosk_in_the_device_groups() -> None:
    members = set()
    for raw in (FIRMWARE / "sysusers/kiosk.conf").read_text().splitlines():
        fields = raw.split()
        if fields and fields[0] == "m" and fields[1] == "kiosk":
            members.add(fields[2])
    assert members == {"input", "dialout", "video", "render", "gpio"}


def test_tmpfiles_lines_are_well_formed() -> None:
    for raw in (FIRMWARE / "tmpfiles/kiosk.conf").read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split()
        assert len(fields) == 6, raw
        assert fields[0] in {"d", "D", "e", "R", "r", "z", "Z", "f", "L"}, raw
        assert fields[1].startswith("/"), raw


# --- udev rules ---------------------------------------------------------------------------------------
MATCH_ONLY = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS",
              "ATTRS", "TAGS", "CONST", "TEST", "PROGRAM", "RESULT"}
ASSIGN_ONLY = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "RUN", "LABEL", "GOTO", "IMPORT",
               "OPTIONS"}
EITHER = {"ATTR", "SYSCTL", "ENV", "TAG"}
NEEDS_ATTRIBUTE = {"ATTR", "ATTRS", "SYSCTL", "ENV", "IMPORT", "SECLABEL", "CONST"}
MAY_HAVE_ATTRIBUTE = NEEDS_ATTRIBUTE | {"TEST", "RUN"}
PAIR = re.compile(r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]*)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*'
                  r'"(?P<value>(?:[^"\\]|\\.)*)"\s*(?:,|$)')


def udev_rule_errors(text: str) -> list[str]:
    """Syntax problems in a udev rules file, in the terms of udev(7); an empty list means clean."""
    errors: list[str] = []
    labels: set[str] = set()
    gotos: list[tuple[int, str]] = []
    logical: list[tuple[int, str]] = []
    pending = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append((number, pending + line))
        pending = ""
    if pending:
        errors.append("file ends inside a continued line")
    for number, line in logical:
        position = 0
        matches = 0
        while position < len(line):
            found = PAIR.match(line, position)
            if not found:
                errors.append(f"line {number}: cannot parse at {line[position:position + 30]!r}")
                break
            matches += 1
            position = found.end()
            key, attr, op, value = found["key"], found["attr"], found["op"], found["value"]
            if key not in MATCH_ONLY | ASSIGN_ONLY | EITHER:
                errors.append(f"line {number}: unknown key {key}")
            elif key in MATCH_ONLY and op not in ("==", "!="):
                errors.append(f"line {number}: {key} can only be matched, not assigned with {op}")
            elif key in ASSIGN_ONLY and op in ("==", "!="):
                errors.append(f"line {number}: {key} can only be assigned, not matched with {op}")
            if key in NEEDS_ATTRIBUTE and not attr:
                errors.append(f"line {number}: {key} needs {{attribute}}")
            if attr is not None and key not in MAY_HAVE_ATTRIBUTE:
                errors.append(f"line {number}: {key} takes no {{attribute}}")
            if key == "LABEL":
                labels.add(value)
            if key == "GOTO":
                gotos.append((number, value))
            if key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", value):
                errors.append(f"line {number}: MODE {value!r} is not an octal mode")
        if matches == 0:
            errors.append(f"line {number}: no key=value pair")
    for number, target in gotos:
        if target not in labels:
            errors.append(f"line {number}: GOTO {target!r} has no matching LABEL")
    return errors


UDEV_RULES = sorted((FIRMWARE / "udev").glob("*.rules"))


@pytest.mark.parametrize("rules", UDEV_RULES, ids=[p.name for p in UDEV_RULES])
def test_udev_rules_parse(rules: Path) -> None:
    assert udev_rule_errors(rules.read_text()) == []


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ('SUBSYSTEM="tty", GROUP="dialout"', "can only be matched"),
        ('SUBSYSTEM=="tty", GROUP=="dialout"', "can only be assigned"),
        ('SUBSYSTEM=="tty", GOTO="nowhere"', "no matching LABEL"),
        ('SUBSYSTEM=="tty" GROUP="dialout"', "cannot parse"),
        ('ENV="1"', "needs {attribute}"),
        ('KERNEL=="ttyUSB*", MODE="rw"', "not an octal mode"),
        ('KERNAL=="ttyUSB*", MODE="0660"', "unknown key"),
    ],
)
def test_udev_checker_catches_mistakes(bad: str, complaint: str) -> None:
    errors = udev_rule_errors(bad + "\n")
    assert any(complaint in error for error in errors), errors


def test_modem_rule_names_the_at_port_and_keeps_modemmanager_away() -> None:
    text = (FIRMWARE / "udev/71-kiosk-modem.rules").read_text()
    assert 'SYMLINK+="kiosk/modem"' in text
    assert 'GROUP="dialout"' in text and 'MODE="0660"' in text
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in text
