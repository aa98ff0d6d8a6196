"""`kiosk firstboot`: provision the kiosk from kiosk-provision.toml on the boot partition (run by
kiosk-firstboot.service).

The technician writes the file on any PC (the boot partition is FAT):

    [wifi]                      # optional
    ssid = "Shop"
    psk = "secret"              # leave out for an open network
    country = "UA"              # Wi-Fi stays off on a Pi until a country is set
    hidden = false

    [kiosk]                     # optional; all three keys together
    server = "https://loyalty.example.com"
    token = "enrolment token from the store server"
    role = "entrance"           # or "cashier"

    [display]                   # optional
    rotation = 90               # 0, 90, 180 or 270 (picture and touch together)

Wi-Fi and rotation are applied first, then ``kiosk provision --server URL --token T --role R`` runs
(retried while it exits 75, EX_TEMPFAIL: network not up yet). On success the file is overwritten and
deleted, so neither the enrolment token nor the Wi-Fi password stays on the card, and
kiosk-provision.done (no secrets) tells the technician it worked. On failure the file stays for the next
boot and kiosk-provision-error.txt says what went wrong.

Standard library only (no Kivy): it runs early, before the kiosk, under a sandbox that forbids
writable-executable memory. Part of the kiosk package, so the app venv's `kiosk firstboot` always matches the
`kiosk provision` it calls.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

PROVISION_FILE = "kiosk-provision.toml"
DONE_FILE = "kiosk-provision.done"
ERROR_FILE = "kiosk-provision-error.txt"
WIFI_CONNECTION = "kiosk-wifi"
EX_TEMPFAIL = 75
# Limits of the helpers (seconds). kiosk-firstboot.service's TimeoutStartSec must exceed the sum that
# worst_case_seconds() makes of them, or systemd kills provisioning half-way (a test checks it).
WIFI_COUNTRY_TIMEOUT = 60
NM_RELOAD_TIMEOUT = 30
NM_UP_TIMEOUT = 60
PROVISION_ATTEMPT_TIMEOUT = 120
ROLES = ("cashier", "entrance")
ROTATIONS = (0, 90, 180, 270)
ALLOWED_KEYS = {
    "wifi": {"ssid", "psk", "country", "hidden"},
    "kiosk": {"server", "token", "role"},
    "display": {"rotation"},
}


class ProvisionError(Exception):
    """Provisioning cannot go on; the message is written for the technician."""


@dataclass(frozen=True)
class Wifi:
    ssid: str
    psk: str | None
    country: str | None
    hidden: bool


@dataclass(frozen=True)
class Enrolment:
    server: str
    token: str
    role: str


@dataclass(frozen=True)
class Provision:
    wifi: Wifi | None
    enrolment: Enrolment | None
    rotation: int | None


@dataclass(frozen=True)
class Settings:
    boot_dir: Path
    connections_dir: Path
    env_file: Path
    config_file: Path
    state_dir: Path
    deadline_s: float
    retry_s: float
    user: str

    @classmethod
    def from_environ(cls, env: dict[str, str]) -> Settings:
        return cls(
            boot_dir=Path(env.get("KIOSK_BOOT_DIR", "/boot/firmware")),
            connections_dir=Path(env.get("NM_CONNECTIONS_DIR", "/etc/NetworkManager/system-connections")),
            env_file=Path(env.get("KIOSK_ENV_FILE", "/etc/kiosk/kiosk.env")),
            config_file=Path(env.get("KIOSK_CONFIG", "/etc/kiosk/kiosk.toml")),
            state_dir=Path(env.get("KIOSK_STATE_DIR", "/var/lib/kiosk")),
            deadline_s=float(env.get("KIOSK_FIRSTBOOT_DEADLINE", "300")),
            retry_s=float(env.get("KIOSK_FIRSTBOOT_RETRY", "10")),
            user=env.get("KIOSK_USER", "kiosk"),
        )


def parse(text: str) -> Provision:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProvisionError(f"{PROVISION_FILE} is not valid TOML: {exc}") from exc
    for section, value in data.items():
        if section not in ALLOWED_KEYS or not isinstance(value, dict):
            raise ProvisionError(f"unknown section [{section}]; expected [wifi], [kiosk] or [display]")
        unknown = set(value) - ALLOWED_KEYS[section]
        if unknown:
            raise ProvisionError(f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}")
    wifi = _parse_wifi(data["wifi"]) if "wifi" in data else None
    enrolment = _parse_enrolment(data["kiosk"]) if "kiosk" in data else None
    rotation = _parse_rotation(data["display"]) if "display" in data else None
    if wifi is None and enrolment is None and rotation is None:
        raise ProvisionError(f"{PROVISION_FILE} holds nothing to do: add [kiosk], [wifi] or [display]")
    return Provision(wifi, enrolment, rotation)


def _text(section: dict, key: str, where: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProvisionError(f"[{where}] {key} is missing or empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ProvisionError(f"[{where}] {key} contains control characters")
    return value


def _parse_wifi(section: dict) -> Wifi:
    ssid = _text(section, "ssid", "wifi")
    if len(ssid.encode()) > 32:
        raise ProvisionError("[wifi] ssid is longer than 32 bytes")
    psk = None
    if "psk" in section:
        psk = _text(section, "psk", "wifi")
        hex_key = len(psk) == 64 and all(c in "0123456789abcdefABCDEF" for c in psk)
        if not hex_key and not (8 <= len(psk) <= 63 and psk.isascii()):
            raise ProvisionError("[wifi] psk must be 8 to 63 ASCII characters (or 64 hex digits)")
    country = None
    if "country" in section:
        country = _text(section, "country", "wifi").upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ProvisionError("[wifi] country must be a two-letter ISO 3166 code such as UA or KZ")
    hidden = section.get("hidden", False)
    if not isinstance(hidden, bool):
        raise ProvisionError("[wifi] hidden must be true or false")
    return Wifi(ssid, psk, country, hidden)


def _parse_enrolment(section: dict) -> Enrolment:
    server = _text(section, "server", "kiosk").strip()
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProvisionError("[kiosk] server must be an http:// or https:// URL, e.g. https://loyalty.example.com")
    token = _text(section, "token", "kiosk").strip()
    if any(ch.isspace() for ch in token):
        raise ProvisionError("[kiosk] token must not contain spaces; copy it exactly from the store server")
    role = _text(section, "role", "kiosk").strip()
    if role not in ROLES:
        raise ProvisionError(f"[kiosk] role must be one of: {', '.join(ROLES)} (found {role!r})")
    return Enrolment(server, token, role)


def _parse_rotation(section: dict) -> int | None:
    if "rotation" not in section:
        return None
    rotation = section["rotation"]
    if isinstance(rotation, bool) or rotation not in ROTATIONS:
        raise ProvisionError("[display] rotation must be 0, 90, 180 or 270")
    return int(rotation)


def networkmanager_keyfile(wifi: Wifi) -> str:
    """A NetworkManager keyfile (nm-settings-keyfile(5)) for the shop's Wi-Fi."""
    # A stable UUID, so re-provisioning the same network updates the connection instead of adding one.
    conn_uuid = uuid.uuid5(uuid.NAMESPACE_DNS, f"{WIFI_CONNECTION}.{wifi.ssid}")
    lines = [
        "[connection]",
        f"id={WIFI_CONNECTION}",
        f"uuid={conn_uuid}",
        "type=wifi",
        "autoconnect=true",
        "",
        "[wifi]",
        "mode=infrastructure",
        f"ssid={_keyfile_ssid(wifi.ssid)}",
    ]
    if wifi.hidden:
        lines.append("hidden=true")
    if wifi.psk is not None:
        lines += ["", "[wifi-security]", "key-mgmt=wpa-psk", f"psk={_keyfile_escape(wifi.psk)}"]
    lines += ["", "[ipv4]", "method=auto", "", "[ipv6]", "method=auto", ""]
    return "\n".join(lines)


def _keyfile_ssid(ssid: str) -> str:
    # Names that the keyfile string syntax would alter (list separators, escapes, edge spaces) are
    # written in NetworkManager's other accepted form: the SSID's bytes as a ';'-terminated list.
    if re.search(r"[;\\]", ssid) or ssid != ssid.strip():
        return "".join(f"{byte};" for byte in ssid.encode())
    return ssid


def _keyfile_escape(value: str) -> str:
    escaped = value.replace("\\", "\\\\")
    if escaped.startswith(" "):
        escaped = "\\s" + escaped[1:]
    return escaped


def apply_wifi(wifi: Wifi, settings: Settings, log: Log) -> None:
    path = settings.connections_dir / f"{WIFI_CONNECTION}.nmconnection"
    _write_private(path, networkmanager_keyfile(wifi))
    log(f"Wi-Fi: connection '{WIFI_CONNECTION}' for network '{wifi.ssid}' written to {path}")
    if wifi.country:
        # raspi-config sets the regulatory domain and lifts the rfkill block that keeps Wi-Fi off.
        _run_optional(["raspi-config", "nonint", "do_wifi_country", wifi.country], log, timeout=WIFI_COUNTRY_TIMEOUT)
    _run_optional(["nmcli", "connection", "reload"], log, timeout=NM_RELOAD_TIMEOUT)
    _run_optional(["nmcli", "--wait", "45", "connection", "up", WIFI_CONNECTION], log, timeout=NM_UP_TIMEOUT)


def _run_optional(command: list[str], log: Log, timeout: float) -> None:
    """Run a helper that only exists on a real Pi; a failure here is reported, not fatal."""
    if shutil.which(command[0]) is None:
        log(f"note: {command[0]} not found, skipped: {' '.join(command)}")
        return
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log(f"warning: {' '.join(command)} timed out after {timeout:.0f} s")
        return
    if result.returncode != 0:
        log(f"warning: {' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")


def apply_rotation(rotation: int, settings: Settings, log: Log) -> None:
    path = settings.env_file
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith("KCFG_GRAPHICS_ROTATION=")]
    lines.append(f"KCFG_GRAPHICS_ROTATION={rotation}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, "\n".join(lines) + "\n", 0o644)
    log(f"display: rotation {rotation} written to {path}")


def enrol(enrolment: Enrolment, settings: Settings, log: Log) -> None:
    kiosk = shutil.which("kiosk")
    if kiosk is None:
        raise ProvisionError("the kiosk program is not installed (expected /opt/kiosk/venv/bin/kiosk)")
    command = [kiosk, "provision", "--server", enrolment.server, "--token", enrolment.token,
               "--role", enrolment.role]
    give_up_at = time.monotonic() + settings.deadline_s
    attempt = 0
    while True:
        attempt += 1
        log(f"enrolling at {enrolment.server} as {enrolment.role} (attempt {attempt})")
        # The deadline holds for the last attempt too, so the whole run stays within worst_case_seconds().
        timeout = max(1.0, min(PROVISION_ATTEMPT_TIMEOUT, give_up_at - time.monotonic()))
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ProvisionError(f"kiosk provision did not finish within {timeout:.0f} s") from exc
        output = _redact((result.stdout + result.stderr).strip(), enrolment.token)
        if output:
            log(output)
        if result.returncode == 0:
            return
        if result.returncode != EX_TEMPFAIL:
            raise ProvisionError(f"kiosk provision failed (exit {result.returncode}): {output or 'no output'}")
        if time.monotonic() + settings.retry_s > give_up_at:
            raise ProvisionError(
                f"the store server at {enrolment.server} stayed unreachable for {settings.deadline_s:.0f} s; "
                "check the network and the server URL"
            )
        time.sleep(settings.retry_s)


def worst_case_seconds(settings: Settings) -> float:
    """The longest a run can take: every Wi-Fi helper at its time limit, then enrolment until its deadline
    (the last attempt cut to fit), plus one retry pause and a margin for the file work."""
    wifi = WIFI_COUNTRY_TIMEOUT + NM_RELOAD_TIMEOUT + NM_UP_TIMEOUT
    return wifi + settings.deadline_s + 1.0 + settings.retry_s + 10


def hand_over_to_kiosk_user(settings: Settings, log: Log) -> None:
    """Provisioning ran as root; the kiosk service runs as the kiosk user and must own what was written."""
    try:
        user = pwd.getpwnam(settings.user)
        group = grp.getgrnam(settings.user)
    except KeyError:
        log(f"note: no user '{settings.user}'; file ownership left as it is")
        return
    if settings.state_dir.exists():
        for folder, dirs, files in os.walk(settings.state_dir):
            os.chown(folder, user.pw_uid, group.gr_gid)
            for name in dirs + files:
                os.chown(os.path.join(folder, name), user.pw_uid, group.gr_gid, follow_symlinks=False)
    if settings.config_file.exists():
        os.chown(settings.config_file, 0, group.gr_gid)
        settings.config_file.chmod(0o640)


def finish(provision: Provision, settings: Settings, log: Log) -> None:
    source = settings.boot_dir / PROVISION_FILE
    summary = [f"Provisioned {datetime.now(UTC).isoformat(timespec='seconds')}"]
    if provision.enrolment:
        summary.append(f"server = {provision.enrolment.server}")
        summary.append(f"role = {provision.enrolment.role}")
    if provision.wifi:
        summary.append(f"wifi = {provision.wifi.ssid}")
    if provision.rotation is not None:
        summary.append(f"rotation = {provision.rotation}")
    summary.append(f"The enrolment token and Wi-Fi password were removed from this card ({PROVISION_FILE}).")
    _write_atomic(settings.boot_dir / DONE_FILE, "\n".join(summary) + "\n", 0o644)
    _shred(source)
    stale = settings.boot_dir / ERROR_FILE
    if stale.exists():
        stale.unlink()
    _fsync_dir(settings.boot_dir)
    log(f"done; {source} removed")


def record_failure(message: str, settings: Settings) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    text = (
        f"{stamp} provisioning failed:\n{message}\n\n"
        f"{PROVISION_FILE} was kept: fix it on a PC and boot the kiosk again.\n"
        "Details: `journalctl -u kiosk-firstboot` on the kiosk.\n"
    )
    try:
        _write_atomic(settings.boot_dir / ERROR_FILE, text, 0o644)
        _fsync_dir(settings.boot_dir)
    except OSError:
        pass  # a read-only boot partition: the journal still has the message


def _shred(path: Path) -> None:
    # FAT keeps deleted data in free clusters; overwrite in place before unlinking so the token and
    # password cannot be undeleted from the card.
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, text, 0o600)


def _write_atomic(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.chmod(tmp, mode)
    except OSError:
        pass  # FAT has no permission bits
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


class Log:
    def __call__(self, message: str) -> None:
        print(message, flush=True)


def run(settings: Settings, log: Log) -> int:
    source = settings.boot_dir / PROVISION_FILE
    if not source.exists():
        log(f"no {source}; nothing to provision")
        return 0
    try:
        provision = parse(source.read_text(encoding="utf-8"))
        if provision.wifi:
            apply_wifi(provision.wifi, settings, log)
        if provision.rotation is not None:
            apply_rotation(provision.rotation, settings, log)
        if provision.enrolment:
            enrol(provision.enrolment, settings, log)
            hand_over_to_kiosk_user(settings, log)
        finish(provision, settings, log)
    except (ProvisionError, UnicodeDecodeError, OSError) as exc:
        message = str(exc)
        log(f"error: {message}")
        record_failure(message, settings)
        return 1
    return 0


def main(environ: dict[str, str] | None = None) -> int:
    return run(Settings.from_environ(dict(os.environ if environ is None else environ)), Log())


if __name__ == "__main__":
    sys.exit(main())
