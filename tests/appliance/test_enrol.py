"""Enrolment against a real store server: the boot-partition file (kiosk-firstboot -> `kiosk provision`),
the typed command, a QR payload and a QR read by a serial scanner on a pty all give the same kiosk.toml."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from kiosk.store import LocalStore

REPO = Path(__file__).resolve().parents[2]
FIRSTBOOT = [sys.executable, "-m", "kiosk.cli", "firstboot"]  # as kiosk-firstboot.service runs it
VENV_BIN = Path(sys.executable).parent
# A technician's own settings that enrolment must keep.
EXISTING = 'language = "en"\n\n[scanners]\nserial = [{ port = "PORT", baud = 9600, terminator = "CR" }]\n'


def kiosk(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})})


def qr_payload(server, role: str | None = "cashier") -> str:
    query = {"server": server.url, "token": server.enrolment_token(role or "entrance")}
    if role:
        query["role"] = role
    return "lk://enrol?" + urlencode(query)


def device_dir(tmp_path: Path, name: str, existing: str = EXISTING) -> tuple[Path, Path]:
    folder = tmp_path / name
    (folder / "state").mkdir(parents=True)
    config = folder / "kiosk.toml"
    config.write_text(existing)
    return config, folder / "state"


def normalised(config: Path, state: Path) -> dict:
    data = tomllib.loads(config.read_text())
    assert data.pop("state_dir") == str(state)
    return data


def assert_enrolled(server, state: Path, role: str) -> None:
    store = LocalStore(state / "kiosk.db")
    try:
        key = store.get_setting("device_key")
        assert store.get_setting("role") == role
        assert store.get_setting("shop_name")
    finally:
        store.close()
    answer = requests.get(f"{server.url}/api/v1/config", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert answer.status_code == 200, answer.text


def test_command_and_qr_payload_give_the_same_config(store_server, tmp_path: Path) -> None:
    typed_cfg, typed_state = device_dir(tmp_path, "typed")
    qr_cfg, qr_state = device_dir(tmp_path, "qr")

    typed = kiosk("--config", str(typed_cfg), "provision", "--server", store_server.url, "--token",
                  store_server.enrolment_token("cashier"), "--role", "cashier", "--state-dir", str(typed_state))
    scanned = kiosk("--config", str(qr_cfg), "provision", "--qr", qr_payload(store_server),
                    "--state-dir", str(qr_state))

    assert typed.returncode == 0, typed.stderr
    assert scanned.returncode == 0, scanned.stderr
    assert normalised(typed_cfg, typed_state) == normalised(qr_cfg, qr_state) == {
        "server_url": store_server.url, "role": "cashier", "language": "en",
        "scanners": {"serial": [{"port": "PORT", "baud": 9600, "terminator": "CR"}]},
    }
    assert_enrolled(store_server, typed_state, "cashier")
    assert_enrolled(store_server, qr_state, "cashier")


def test_boot_partition_file_and_scanned_qr_give_the_same_config(store_server, tmp_path: Path) -> None:
    # The boot-file path: kiosk-firstboot runs the real `kiosk provision` from the venv.
    boot = tmp_path / "boot"
    boot.mkdir()
    file_cfg, file_state = device_dir(tmp_path, "file")
    token = store_server.enrolment_token("entrance")
    (boot / "kiosk-provision.toml").write_text(
        f'[kiosk]\nserver = "{store_server.url}"\ntoken = "{token}"\nrole = "entrance"\n')
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "KIOSK_BOOT_DIR": str(boot), "KIOSK_CONFIG": str(file_cfg),
           "KIOSK_STATE_DIR": str(file_state), "KIOSK_ENV_FILE": str(tmp_path / "kiosk.env"),
           "NM_CONNECTIONS_DIR": str(tmp_path / "nm"), "KIOSK_USER": "no-such-user-here",
           "KIOSK_FIRSTBOOT_DEADLINE": "20", "KIOSK_FIRSTBOOT_RETRY": "0.2",
           "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1"}
    booted = subprocess.run(FIRSTBOOT, env=env, capture_output=True, text=True, cwd=REPO,
                            timeout=60, check=False)
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert token not in booted.stdout + booted.stderr
    assert not (boot / "kiosk-provision.toml").exists()

    # The QR path: a serial scanner on a pty reads the code the store server printed.
    master, slave = pty.openpty()
    try:
        port = os.ttyname(slave)
        qr_cfg, qr_state = device_dir(tmp_path, "scan", EXISTING.replace("PORT", port))
        file_cfg.write_text(file_cfg.read_text().replace("PORT", port))
        waiting = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--config", str(qr_cfg), "provision", "--scan",
             "--scan-timeout", "30", "--state-dir", str(qr_state)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "scan the enrolment QR" in waiting.stdout.readline()
        time.sleep(0.3)  # the reader thread opens the port after printing
        os.write(master, b"10001\r")  # a customer's card first: ignored, not an enrolment
        os.write(master, qr_payload(store_server, role="entrance").encode() + b"\r")
        out, err = waiting.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert waiting.returncode == 0, out + err
    assert "ignored" in out
    assert normalised(file_cfg, file_state) == normalised(qr_cfg, qr_state)
    assert_enrolled(store_server, file_state, "entrance")
    assert_enrolled(store_server, qr_state, "entrance")


def test_qr_without_a_role_takes_the_role_argument(store_server, tmp_path: Path) -> None:
    config, state = device_dir(tmp_path, "d", "")
    without_role = qr_payload(store_server, role=None)
    refused = kiosk("--config", str(config), "provision", "--qr", without_role, "--state-dir", str(state))
    assert refused.returncode == 2 and "--role" in refused.stderr
    done = kiosk("--config", str(config), "provision", "--qr", without_role, "--role", "entrance",
                 "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    assert_enrolled(store_server, state, "entrance")


@pytest.mark.parametrize(
    ("args", "code", "complaint"),
    [
        (["--qr", "10001"], 2, "not an enrolment QR"),
        (["--qr", "lk://enrol?server=ftp://x&token=t&role=cashier"], 2, "not an enrolment QR"),
        (["--server", "SERVER", "--token", "not-a-real-token", "--role", "cashier"], 1, "enrolment failed"),
        (["--server", "SERVER", "--role", "cashier"], 2, "--token"),
    ],
)
def test_unusable_enrolment_is_refused_and_nothing_written(store_server, tmp_path: Path, args, code,
                                                           complaint) -> None:
    config, state = device_dir(tmp_path, "d")
    args = [a.replace("SERVER", store_server.url) for a in args]
    result = kiosk("--config", str(config), "provision", *args, "--state-dir", str(state))
    assert result.returncode == code, result.stderr
    assert complaint in result.stderr
    assert config.read_text() == EXISTING


def test_unreachable_server_is_a_temporary_failure(tmp_path: Path) -> None:
    from tests.support.server import free_port

    config, state = device_dir(tmp_path, "d")
    result = kiosk("--config", str(config), "provision", "--server", f"http://127.0.0.1:{free_port()}",
                   "--token", "t", "--role", "entrance", "--state-dir", str(state))
    assert result.returncode == 75, result.stderr  # EX_TEMPFAIL: kiosk-firstboot tries again
    assert config.read_text() == EXISTING


def test_a_blank_device_reads_the_qr_from_any_scanner_found(tmp_path: Path) -> None:
    from drivers.scanner.config import ScannerConfig, SerialScannerConfig
    from kiosk.enrol import EnrolmentError, enrolment_scanners

    (tmp_path / "input").mkdir()
    master, slave = pty.openpty()
    try:
        (tmp_path / "ttyACM0").symlink_to(os.ttyname(slave))
        found = enrolment_scanners(tmp_path / "no-kiosk.toml", input_root=str(tmp_path / "input"),
                                   serial_globs=(str(tmp_path / "ttyACM*"),))
        assert found == ScannerConfig(serial=(SerialScannerConfig(port=str(tmp_path / "ttyACM0")),))
        # Scanners named in an existing kiosk.toml win over discovery.
        config, _state = device_dir(tmp_path, "d")
        assert enrolment_scanners(config, input_root=str(tmp_path / "input"),
                                  serial_globs=(str(tmp_path / "ttyACM*"),)).serial[0].port == "PORT"
    finally:
        os.close(master)
        os.close(slave)
    with pytest.raises(EnrolmentError, match="no scanner found"):
        enrolment_scanners(tmp_path / "no-kiosk.toml", input_root=str(tmp_path / "input"), serial_globs=())



def test_waiting_for_a_qr_ends_when_the_device_is_enrolled_another_way(store_server, tmp_path: Path) -> None:
    """kiosk-enrol.service waits up to an hour for a scan; a technician enrols the device by hand over SSH
    (the one-device shop's way): the wait ends at once, exit 0, so kiosk-enrol's ExecStartPost starts the
    kiosk and a `systemctl start kiosk` queued behind it does not wait out the hour."""
    master, slave = pty.openpty()
    try:
        # Scanners from kiosk.toml, as a device has them once configured (a blank one discovers them).
        config, state = device_dir(tmp_path, "d", EXISTING.replace("PORT", os.ttyname(slave)))
        started = time.monotonic()
        waiting = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--config", str(config), "provision", "--scan",
             "--scan-timeout", "3600", "--state-dir", str(state)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert "scan the enrolment QR" in waiting.stdout.readline()
            by_hand = kiosk("--config", str(config), "provision", "--server", store_server.url, "--token",
                            store_server.enrolment_token("entrance"), "--role", "entrance", "--state-dir", str(state))
            assert by_hand.returncode == 0, by_hand.stderr
            out, err = waiting.communicate(timeout=30)
        finally:
            waiting.kill()
    finally:
        os.close(master)
        os.close(slave)
    assert waiting.returncode == 0, out + err
    assert f"enrolled meanwhile by another way ({config} written); no QR needed" in out
    assert time.monotonic() - started < 60
    assert_enrolled(store_server, state, "entrance")
