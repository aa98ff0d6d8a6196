"""`kiosk selftest`: each check against real parts (a store server process, a GSM modem emulated on a pty,
a serial scanner port on a pty, gpiozero's MockFactory) and device/sysfs folders laid out as on a Pi."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk import selftest
from kiosk.config import KioskConfig
from kiosk.selftest import FAIL, OK, SKIP, WARN, Places
from tests.appliance.notify import enrolled_device
from tests.emulators.gsm_modem import GsmModemEmulator


def pi_places(tmp_path: Path, *, connected: bool = True, render_ok: bool = True) -> Places:
    """/dev/dri and /sys/class/drm as on a Pi 4 with the official DSI panel."""
    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    (dev / "dri").mkdir(parents=True)
    (dev / "input").mkdir()
    for name in ("card0", "card1", "renderD128"):
        (dev / "dri" / name).write_text("")
    if not render_ok:
        (dev / "dri" / "renderD128").chmod(0)
    for connector, state in (("card1-DSI-1", "connected" if connected else "disconnected"),
                             ("card1-HDMI-A-1", "disconnected")):
        (sysfs / "class/drm" / connector).mkdir(parents=True)
        (sysfs / "class/drm" / connector / "status").write_text(state + "\n")
    return Places(dev=dev, sys=sysfs, modem=str(tmp_path / "no-modem"))


KMS = {"SDL_VIDEODRIVER": "kmsdrm"}


def test_display_connected_panel(tmp_path: Path) -> None:
    check = selftest.check_display(KMS, pi_places(tmp_path))
    assert (check.status, check.detail) == (
        OK, "card1-DSI-1 connected; if the screen stays black: SDL_KMSDRM_DEVICE_INDEX=1 in /etc/kiosk/kiosk.env")
    hinted = selftest.check_display({**KMS, "SDL_KMSDRM_DEVICE_INDEX": "1"}, pi_places(tmp_path / "again"))
    assert hinted.detail == "card1-DSI-1 connected; SDL_KMSDRM_DEVICE_INDEX=1"


def test_display_without_a_connected_panel_fails(tmp_path: Path) -> None:
    check = selftest.check_display(KMS, pi_places(tmp_path, connected=False))
    assert check.status == FAIL and "no display connected" in check.detail


def test_display_without_kms_fails(tmp_path: Path) -> None:
    check = selftest.check_display(KMS, Places(dev=tmp_path, sys=tmp_path))
    assert check.status == FAIL and "vc4-kms-v3d" in check.detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_display_without_render_access_warns(tmp_path: Path) -> None:
    check = selftest.check_display(KMS, pi_places(tmp_path, render_ok=False))
    assert check.status == WARN and "render group" in check.detail


def test_serial_scanner_port_present_and_missing(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        port = os.ttyname(slave)
        places = pi_places(tmp_path)
        present = KioskConfig(scanners={"serial": [{"port": port}]})
        assert selftest.check_scanners(present, places) == selftest.Check("scanners", OK, f"found {port}")
        missing = KioskConfig(scanners={"serial": [{"port": port}, {"port": str(tmp_path / "ttyACM9")}]})
        check = selftest.check_scanners(missing, places)
        assert check.status == FAIL and "ttyACM9 does not exist" in check.detail and f"found {port}" in check.detail
    finally:
        os.close(master)
        os.close(slave)


def test_evdev_scanner_that_is_not_plugged_in(tmp_path: Path) -> None:
    config = KioskConfig(scanners={"evdev": [{"vendor": 0x0C2E, "product": 0x0B61}]})
    check = selftest.check_scanners(config, pi_places(tmp_path))
    assert check.status == FAIL and "0c2e:0b61" in check.detail and "not found" in check.detail


def test_no_scanners_configured_is_a_warning(tmp_path: Path) -> None:
    assert selftest.check_scanners(KioskConfig(), pi_places(tmp_path)).status == WARN


def test_indicators_play_on_the_pins() -> None:
    factory = MockFactory()
    config = KioskConfig(indicators={"green": 17, "red": 27, "buzzer": 22})
    check = selftest.check_indicators(config, pin_factory=factory)
    assert check.status == OK and "green 17" in check.detail
    # The beep really reached the buzzer pin (and it is off again).
    buzzer = factory.pin(22)
    assert any(state.state for state in buzzer.states) and not buzzer.state


def test_no_indicator_pins_is_skipped() -> None:
    assert selftest.check_indicators(KioskConfig()).status == SKIP


def test_modem_answers_with_signal(tmp_path: Path) -> None:
    with GsmModemEmulator(tmp_path) as modem:
        check = selftest.check_modem(Places(modem=modem.port))
    assert check.status == OK and "signal 21/31 (-71 dBm)" in check.detail


def test_hung_modem_fails(tmp_path: Path) -> None:
    with GsmModemEmulator(tmp_path) as modem:
        modem.hang()
        check = selftest.check_modem(Places(modem=modem.port), timeout=0.5)
    assert check.status == FAIL


def test_no_modem_is_skipped(tmp_path: Path) -> None:
    assert selftest.check_modem(Places(modem=str(tmp_path / "modem"))).status == SKIP


def test_server_reachable_then_down(store_server, tmp_path: Path) -> None:
    env = enrolled_device(store_server, tmp_path / "device")
    config = KioskConfig.from_dict({"server_url": store_server.url, "state_dir": env["KIOSK_STATE_DIR"]})
    up = selftest.check_server(config)
    assert up.status == OK and "answered in" in up.detail and "outbox 0 pending" in up.detail
    elsewhere = KioskConfig.from_dict({"server_url": "http://127.0.0.1:9", "state_dir": env["KIOSK_STATE_DIR"],
                                       "request_timeout": 1})
    down = selftest.check_server(elsewhere)
    assert down.status == FAIL and "unreachable" in down.detail


def test_unenrolled_kiosk_fails_the_server_check(tmp_path: Path) -> None:
    check = selftest.check_server(KioskConfig.from_dict({"state_dir": str(tmp_path)}))
    assert check.status == FAIL and "kiosk provision" in check.detail


def test_kiosk_selftest_command_prints_every_check(store_server, tmp_path: Path) -> None:
    env = enrolled_device(store_server, tmp_path / "device")
    # The display check is tested above; here any X display name makes it pass.
    x11 = {"SDL_VIDEODRIVER": "x11", "DISPLAY": os.environ.get("DISPLAY", ":0")}
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "selftest"], capture_output=True, text=True,
                            timeout=60, check=False, env={**os.environ, **env, **x11})
    names = [line.split()[1] for line in result.stdout.splitlines()[:-1]]
    assert names == ["display", "scanners", "indicators", "modem", "server", "storage", "languages", "cards"], \
        result.stdout
    assert result.stdout.splitlines()[-1] == "all checks passed"
    assert result.returncode == 0

    store_server.stop()
    try:
        down = subprocess.run([sys.executable, "-m", "kiosk.cli", "selftest", "all"], capture_output=True,
                              text=True, timeout=60, check=False, env={**os.environ, **env, **x11})
    finally:
        store_server.start()
    assert down.returncode == 1
    assert "1 check(s) failed" in down.stdout and "FAIL  server" in down.stdout


def test_languages_without_a_compiled_catalogue_fail(tmp_path: Path) -> None:
    from kiosk import i18n

    # A locale folder as a wheel built without the compile step leaves it: .po files, no .mo.
    locale = tmp_path / "i18n"
    for lang in ("uk", "en"):
        (locale / lang / "LC_MESSAGES").mkdir(parents=True)
        (locale / lang / "LC_MESSAGES" / "kiosk.po").write_text("")
    (locale / "en" / "LC_MESSAGES" / "kiosk.mo").write_bytes((i18n.LOCALE_DIR / "en/LC_MESSAGES/kiosk.mo").read_bytes())
    check = selftest.check_languages(KioskConfig(language="uk", languages=["uk", "en"]), locale)
    assert check.status == FAIL and check.detail.startswith("no compiled catalogue for uk:")
    # The package's own catalogues (compiled by scripts/test, as by the wheel's build): all there.
    full = selftest.check_languages(KioskConfig(language="uk", languages=["uk", "en", "ru", "kk", "vi"]))
    assert (full.status, full.detail) == (OK, "uk, en, ru, kk, vi")
