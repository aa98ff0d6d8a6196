"""`kiosk selftest scanners`: the devices it sees, which it would use, and why the others are skipped."""

from __future__ import annotations

import os
import pty
from pathlib import Path

import pytest
from evdev import ecodes

from drivers.scanner import selftest
from drivers.scanner.config import ScannerConfig
from drivers.scanner.discovery import DeviceInfo
from drivers.scanner.selftest import SerialPortInfo, scanner_report
from kiosk.cli import main

KEYBOARD_KEYS = frozenset(range(ecodes.KEY_ESC, ecodes.KEY_KPDOT + 1))
HONEYWELL_KBD = DeviceInfo("/dev/input/event6", "Honeywell Imaging & Mobility 1900", 0x0C2E, 0x0B61, 3,
                           keys=KEYBOARD_KEYS, links=("/dev/input/by-id/usb-Honeywell_1900-event-kbd",))
DEVICES = [
    DeviceInfo("/dev/input/event0", "Power Button", 0, 1, 25, keys=frozenset({ecodes.KEY_POWER})),
    DeviceInfo("/dev/input/event2", "Dell KB216 Wired Keyboard", 0x413C, 0x2113, 3, keys=KEYBOARD_KEYS),
    HONEYWELL_KBD,
    DeviceInfo("/dev/input/event7", "Honeywell Imaging & Mobility 1900 Mouse", 0x0C2E, 0x0B61, 3,
               keys=frozenset({ecodes.BTN_LEFT}), has_rel=True),
    DeviceInfo("/dev/input/event8", "Honeywell Imaging & Mobility 1900 Consumer Control", 0x0C2E, 0x0B61, 3,
               keys=frozenset({ecodes.KEY_VOLUMEUP})),
    DeviceInfo("/dev/input/event9", error="Permission denied (is the kiosk user in the input group?)"),
]
CONFIGURED = ScannerConfig.from_dict({"evdev": [{"vendor": 0x0C2E, "product": 0x0B61}]})


def block(lines: list[str], path: str) -> str:
    """The device's lines of the report: its verdict line and the indented lines under it."""
    start = next(i for i, line in enumerate(lines) if path in line and line.startswith("  "))
    end = start + 1
    while end < len(lines) and lines[end].startswith("         "):
        end += 1
    return "\n".join(lines[start:end])


def test_uses_the_scanners_keyboard_node_and_says_why_each_other_is_skipped() -> None:
    lines, status = scanner_report(CONFIGURED, DEVICES)
    assert status == 0
    assert lines[0] == "Input devices under /dev/input: 6"
    used = block(lines, "event6")
    assert used.startswith("  USE  /dev/input/event6  0c2e:0b61")
    assert "also /dev/input/by-id/usb-Honeywell_1900-event-kbd" in used and "matches 0c2e:0b61" in used
    assert "vendor 413c is not the configured 0c2e" in block(lines, "event2")
    assert "pointer or touch node" in block(lines, "event7")
    assert "cannot type a barcode" in block(lines, "event8")
    assert "cannot open: Permission denied (is the kiosk user in the input group?)" in block(lines, "event9")
    assert sum(line.startswith("  USE ") for line in lines) == 1


def test_nothing_configured_suggests_the_settings_for_a_scanner_it_sees() -> None:
    lines, status = scanner_report(ScannerConfig(), [HONEYWELL_KBD])
    skipped = block(lines, "event6")
    assert skipped.startswith("  skip ")
    assert "no evdev scanners configured" in skipped
    assert "add vendor = 0x0c2e, product = 0x0b61 to [[scanners.evdev]]" in skipped
    assert "No [[scanners.evdev]] configured." in lines and status == 0


def test_a_configured_scanner_that_is_missing_fails_the_check() -> None:
    lines, status = scanner_report(CONFIGURED, DEVICES[:2])
    assert status == 1
    assert any(line.startswith("Scanner #0 (0c2e:0b61): no device matches") for line in lines)


def test_no_input_devices_at_all_is_explained() -> None:
    lines, _ = scanner_report(ScannerConfig(), [])
    assert "none visible" in lines[1] and "input group" in lines[1]


def test_serial_ports_present_missing_and_listed(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        port = os.ttyname(slave)
        config = ScannerConfig.from_dict({"serial": [{"port": port, "baud": 115200, "terminator": "CR"}]})
        listed = [SerialPortInfo(port, 0x05E0, 0x1701, "Symbol Bar Code Scanner"), SerialPortInfo("/dev/ttyS0")]
        lines, status = scanner_report(config, [], listed)
        assert status == 0
        assert f"  USE  (serial scanner #0) {port}  05e0:1701  Symbol Bar Code Scanner" in lines
        assert "  skip (not configured) /dev/ttyS0  ----:----  " in lines
        assert f"Serial scanner #0 ({port}, 115200 baud, terminator CR): present" in lines
    finally:
        os.close(master)
        os.close(slave)
    missing = ScannerConfig.from_dict({"serial": [{"port": str(tmp_path / "ttyACM9")}]})
    lines, status = scanner_report(missing, [])
    assert status == 1 and any("not present" in line and "/dev/serial/by-id/" in line for line in lines)


# --- through the command line ---------------------------------------------------------------------------
def write_config(tmp_path: Path, scanners: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'server_url = "http://127.0.0.1:8700"\nstate_dir = "{tmp_path}"\n{scanners}')
    return path


def test_cli_reports_on_a_device_tree(tmp_path: Path, capsys, monkeypatch) -> None:
    # A /dev/input look-alike: the node is a plain file, so opening it as an input device fails for real.
    root = tmp_path / "input"
    (root / "by-id").mkdir(parents=True)
    (root / "event3").write_bytes(b"")
    (root / "by-id" / "usb-Honeywell_1900-event-kbd").symlink_to("../event3")
    monkeypatch.setattr(selftest, "list_serial_ports", lambda: [])
    config = write_config(tmp_path, "[[scanners.evdev]]\nvendor = 0x0c2e\nproduct = 0x0b61\n")
    status = main(["--config", str(config), "selftest", "scanners", "--input-root", str(root)])
    out = capsys.readouterr().out
    assert status == 1
    assert f"  skip {root}/event3\n" in out
    assert f"also {root}/by-id/usb-Honeywell_1900-event-kbd" in out
    assert "cannot open: Inappropriate ioctl for device" in out
    assert "Scanner #0 (0c2e:0b61): no device matches" in out


def test_cli_with_injected_devices_shows_the_one_it_would_use(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(selftest, "read_input_devices", lambda root: DEVICES)
    monkeypatch.setattr(selftest, "list_serial_ports", lambda: [])
    config = write_config(tmp_path, "[scanners]\nevdev = [{ vendor = 0x0c2e, product = 0x0b61 }]\n")
    assert main(["--config", str(config), "selftest", "scanners"]) == 0
    out = capsys.readouterr().out
    assert "  USE  /dev/input/event6  0c2e:0b61  'Honeywell Imaging & Mobility 1900'" in out


def test_cli_names_a_config_mistake(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, "[[scanners.evdev]]\nterminators = ['enter']\n")
    assert main(["--config", str(config), "selftest", "scanners"]) == 2
    assert "scanners.evdev[0]: say which device" in capsys.readouterr().err


def test_cli_without_any_config_still_lists_devices(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    monkeypatch.setattr("kiosk.config.DEFAULT_PATH", tmp_path / "absent.toml")
    monkeypatch.setattr(selftest, "read_input_devices", lambda root: [HONEYWELL_KBD])
    monkeypatch.setattr(selftest, "list_serial_ports", lambda: [])
    assert main(["selftest", "scanners"]) == 0
    out = capsys.readouterr().out
    assert "listing devices with no scanners configured" in out
    assert "add vendor = 0x0c2e, product = 0x0b61" in out


@pytest.mark.parametrize("argv", [["selftest", "--help"], ["selftest", "scanners", "--help"]])
def test_selftest_scanners_is_documented_in_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "scanners" in capsys.readouterr().out
