"""kiosk-firstboot against a fake boot partition folder, with fake `kiosk`, `nmcli` and `raspi-config`
programs on PATH that record how they were called (the real ones exist only on a Pi)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# `kiosk firstboot`, as kiosk-firstboot.service runs it (the venv's console script is `python -m kiosk.cli`).
FIRSTBOOT = [sys.executable, "-m", "kiosk.cli", "firstboot"]
TOKEN = "enrol-7f3a9c2e1b"
PSK = "shop-wifi-secret"

RECORDER = """#!{python}
import json, os, sys
from pathlib import Path
name = Path(sys.argv[0]).name
record = Path(os.environ["FAKE_RECORD"])
with record.open("a") as f:
    f.write(json.dumps({{"program": name, "argv": sys.argv[1:],
                        "state_dir": os.environ.get("KIOSK_STATE_DIR")}}) + "\\n")
if name == "kiosk":
    codes = Path(os.environ["FAKE_KIOSK_EXITS"])
    queue = codes.read_text().split() if codes.exists() else []
    code = int(queue.pop(0)) if queue else 0
    codes.write_text(" ".join(queue))
    if code == 0:
        Path(os.environ["KIOSK_STATE_DIR"], "device.json").write_text("{{}}")
        print("enrolled as device 17")
    else:
        print("enrolment refused for token " + sys.argv[sys.argv.index("--token") + 1], file=sys.stderr)
    sys.exit(code)
"""

PROVISION = f"""
[wifi]
ssid = "Shop Floor"
psk = "{PSK}"
country = "ua"

[kiosk]
server = "https://loyalty.example.com"
token = "{TOKEN}"
role = "entrance"

[display]
rotation = 90
"""


@dataclass
class Device:
    root: Path
    boot: Path
    bin: Path
    record: Path
    kiosk_exits: Path

    def env(self, deadline_s: str) -> dict[str, str]:
        return {
            "PATH": str(self.bin),
            "KIOSK_BOOT_DIR": str(self.boot),
            "NM_CONNECTIONS_DIR": str(self.root / "etc/NetworkManager/system-connections"),
            "KIOSK_ENV_FILE": str(self.root / "etc/kiosk/kiosk.env"),
            "KIOSK_CONFIG": str(self.root / "etc/kiosk/kiosk.toml"),
            "KIOSK_STATE_DIR": str(self.root / "var/lib/kiosk"),
            "KIOSK_FIRSTBOOT_DEADLINE": deadline_s,
            "KIOSK_FIRSTBOOT_RETRY": "0.05",
            "KIOSK_USER": "no-such-user-here",
            "FAKE_RECORD": str(self.record),
            "FAKE_KIOSK_EXITS": str(self.kiosk_exits),
        }

    def boot_with(
        self, provision: str | None, kiosk_exits: str = "", deadline_s: str = "30"
    ) -> subprocess.CompletedProcess[str]:
        if provision is not None:
            (self.boot / "kiosk-provision.toml").write_text(provision)
        self.kiosk_exits.write_text(kiosk_exits)
        return subprocess.run(FIRSTBOOT, env=self.env(deadline_s), capture_output=True, cwd=REPO,
                              text=True, timeout=60, check=False)

    def calls(self, program: str) -> list[list[str]]:
        if not self.record.exists():
            return []
        entries = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [e["argv"] for e in entries if e["program"] == program]

    def boot_files_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.boot.iterdir() if p.is_file())


@pytest.fixture
def device(tmp_path: Path) -> Device:
    root = tmp_path / "root"
    boot = root / "boot/firmware"
    fake_bin = tmp_path / "bin"
    for folder in (boot, fake_bin, root / "var/lib/kiosk"):
        folder.mkdir(parents=True)
    (boot / "config.txt").write_text("dtoverlay=vc4-kms-v3d\n")
    for name in ("kiosk", "nmcli", "raspi-config"):
        program = fake_bin / name
        program.write_text(RECORDER.format(python=sys.executable))
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return Device(root, boot, fake_bin, tmp_path / "calls.jsonl", tmp_path / "kiosk-exits")


def test_enrols_with_exact_arguments_and_removes_secrets(device: Device) -> None:
    result = device.boot_with(PROVISION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert device.calls("kiosk") == [["provision", "--server", "https://loyalty.example.com",
                                      "--token", TOKEN, "--role", "entrance"]]
    assert not (device.boot / "kiosk-provision.toml").exists()
    assert TOKEN not in device.boot_files_text()
    assert PSK not in device.boot_files_text()
    done = (device.boot / "kiosk-provision.done").read_text()
    assert "role = entrance" in done and "server = https://loyalty.example.com" in done
    assert (device.root / "var/lib/kiosk/device.json").exists()


def test_kiosk_sees_the_state_dir(device: Device) -> None:
    device.boot_with(PROVISION)
    entries = [json.loads(line) for line in device.record.read_text().splitlines()]
    kiosk_entry = next(e for e in entries if e["program"] == "kiosk")
    assert kiosk_entry["state_dir"] == str(device.root / "var/lib/kiosk")


def test_wifi_becomes_a_private_networkmanager_connection(device: Device) -> None:
    device.boot_with(PROVISION)

    keyfile = device.root / "etc/NetworkManager/system-connections/kiosk-wifi.nmconnection"
    text = keyfile.read_text()
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert "ssid=Shop Floor\n" in text
    assert f"psk={PSK}\n" in text
    assert "key-mgmt=wpa-psk" in text
    assert device.calls("raspi-config") == [["nonint", "do_wifi_country", "UA"]]
    assert ["connection", "reload"] in device.calls("nmcli")
    assert ["--wait", "45", "connection", "up", "kiosk-wifi"] in device.calls("nmcli")


def test_wifi_is_configured_before_enrolment(device: Device) -> None:
    device.boot_with(PROVISION)
    order = [json.loads(line)["program"] for line in device.record.read_text().splitlines()]
    assert order.index("nmcli") < order.index("kiosk")


def test_rotation_goes_to_the_kiosk_environment_once(device: Device) -> None:
    env_file = device.root / "etc/kiosk/kiosk.env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text("# site settings\nKCFG_GRAPHICS_ROTATION=0\nSDL_KMSDRM_DEVICE_INDEX=1\n")

    device.boot_with(PROVISION)

    lines = env_file.read_text().splitlines()
    assert lines.count("KCFG_GRAPHICS_ROTATION=90") == 1
    assert not any(line == "KCFG_GRAPHICS_ROTATION=0" for line in lines)
    assert "SDL_KMSDRM_DEVICE_INDEX=1" in lines


def test_refused_enrolment_keeps_the_file_and_explains(device: Device) -> None:
    result = device.boot_with(PROVISION, kiosk_exits="1")

    assert result.returncode == 1
    assert (device.boot / "kiosk-provision.toml").read_text() == PROVISION
    error = (device.boot / "kiosk-provision-error.txt").read_text()
    assert "enrolment refused" in error
    assert TOKEN not in error  # the program's output is redacted before it reaches the card
    assert not (device.boot / "kiosk-provision.done").exists()


def test_retries_while_the_server_is_unreachable(device: Device) -> None:
    result = device.boot_with(PROVISION, kiosk_exits="75 75 0")

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(device.calls("kiosk")) == 3
    assert not (device.boot / "kiosk-provision.toml").exists()


def test_gives_up_after_the_deadline(device: Device) -> None:
    result = device.boot_with(PROVISION, kiosk_exits=" ".join(["75"] * 500), deadline_s="0.5")

    assert result.returncode == 1
    assert "unreachable" in (device.boot / "kiosk-provision-error.txt").read_text()
    assert (device.boot / "kiosk-provision.toml").exists()


def test_success_after_a_failed_boot_clears_the_error(device: Device) -> None:
    device.boot_with(PROVISION, kiosk_exits="1")
    result = device.boot_with(None, kiosk_exits="0")

    assert result.returncode == 0
    assert not (device.boot / "kiosk-provision-error.txt").exists()
    assert (device.boot / "kiosk-provision.done").exists()


@pytest.mark.parametrize(
    ("provision", "complaint"),
    [
        ('[kiosk]\nserver = "https://x.example"\ntoken = "t"\nrole = "manager"\n', "role must be one of"),
        ('[kiosk]\nserver = "loyalty.example.com"\ntoken = "t"\nrole = "cashier"\n', "http:// or https://"),
        ('[kiosk]\nserver = "https://x.example"\nrole = "cashier"\n', "token is missing"),
        ('[kiosk]\nserver = "https://x.example"\ntoken = "t"\nrloe = "cashier"\n', "unknown key(s) in [kiosk]"),
        ('[wifi]\nssid = "Shop"\npsk = "short"\n', "psk must be 8 to 63"),
        ('[display]\nrotation = 45\n', "rotation must be 0, 90, 180 or 270"),
        ("[kiosk\nserver=", "not valid TOML"),
    ],
)
def test_bad_file_is_refused_before_anything_runs(device: Device, provision: str, complaint: str) -> None:
    result = device.boot_with(provision)

    assert result.returncode == 1
    assert complaint in (device.boot / "kiosk-provision-error.txt").read_text()
    assert device.calls("kiosk") == []
    assert (device.boot / "kiosk-provision.toml").read_text() == provision


def test_wifi_only_file_needs_no_enrolment(device: Device) -> None:
    result = device.boot_with('[wifi]\nssid = "Back;Office"\n')

    assert result.returncode == 0, result.stdout + result.stderr
    assert device.calls("kiosk") == []
    keyfile = device.root / "etc/NetworkManager/system-connections/kiosk-wifi.nmconnection"
    text = keyfile.read_text()
    # A ';' would split the keyfile value, so the SSID is written as its bytes.
    assert "ssid=" + "".join(f"{b};" for b in b"Back;Office") + "\n" in text
    assert "[wifi-security]" not in text  # open network
    assert not (device.boot / "kiosk-provision.toml").exists()


def test_no_file_means_nothing_to_do(device: Device) -> None:
    result = device.boot_with(None)

    assert result.returncode == 0
    assert device.calls("kiosk") == []
    assert sorted(p.name for p in device.boot.iterdir()) == ["config.txt"]


def test_missing_kiosk_program_is_reported(device: Device) -> None:
    (device.bin / "kiosk").unlink()
    result = device.boot_with(PROVISION)

    assert result.returncode == 1
    assert "kiosk program is not installed" in (device.boot / "kiosk-provision-error.txt").read_text()


def test_runs_on_a_bare_path_without_helpers(device: Device) -> None:
    for name in ("nmcli", "raspi-config"):
        (device.bin / name).unlink()
    result = device.boot_with(PROVISION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "nmcli not found" in result.stdout
    assert os.path.exists(device.root / "etc/NetworkManager/system-connections/kiosk-wifi.nmconnection")
