"""Enrolling this kiosk with the store server, from `kiosk provision` arguments or a scanned enrolment QR.

Both paths end in `enrol()`, so a device enrolled by typing the server URL and token and one enrolled by
scanning `lk://enrol?server=..&token=..&role=..` (the payload `store-server enrolment-token` prints) end up
with the same kiosk.toml and the same keys in the local store.
"""

from __future__ import annotations

import glob
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.scanner.base import ScanQueue
from drivers.scanner.config import ScannerConfig
from drivers.scanner.decode import EnrolmentCode, decode

from .config import DEFAULT_PATH, ROLES, ConfigError, KioskConfig
from .runtime import provision

# sysexits.h EX_TEMPFAIL: kiosk-firstboot retries while `kiosk provision` exits with this (no network yet).
EX_TEMPFAIL = 75
# The settings enrolment owns; every other line of an existing kiosk.toml (language, scanners, ...) is kept.
OWNED_KEYS = ("server_url", "role", "state_dir")
# USB-CDC scanners (ttyACM) and USB-serial bridges (ttyUSB), except the GSM modem's AT port: the store
# server's SMS gateway may be using it (a one-device shop).
SERIAL_GLOBS = ("/dev/ttyACM*", "/dev/ttyUSB*")
MODEM_LINK = "/dev/kiosk/modem"
_OWNED = re.compile(rf"\s*({'|'.join(OWNED_KEYS)})\s*=")


class EnrolmentError(Exception):
    """The enrolment data is unusable; the message says what to fix."""


@dataclass(frozen=True)
class Enrolment:
    server: str
    token: str
    role: str


def from_arguments(server: str, token: str, role: str) -> Enrolment:
    server, token, role = server.strip(), token.strip(), role.strip()
    if not server.startswith(("http://", "https://")):
        raise EnrolmentError(f"the server must be an http:// or https:// URL, not {server!r}")
    if not token or any(ch.isspace() for ch in token):
        raise EnrolmentError("the enrolment token is empty or has spaces; copy it exactly from the store server")
    if role not in ROLES:
        raise EnrolmentError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    return Enrolment(server, token, role)


def from_qr(payload: str, role: str | None = None) -> Enrolment:
    """Parses a scanned enrolment QR; `role` fills in for a code that does not name one."""
    decoded = decode(payload)
    if not isinstance(decoded, EnrolmentCode):
        raise EnrolmentError(f"not an enrolment QR code ({getattr(decoded, 'reason', 'a card')})")
    chosen = decoded.role or role
    if chosen is None:
        raise EnrolmentError("the enrolment QR names no role; add --role entrance or --role cashier")
    return from_arguments(decoded.server_url, decoded.token, chosen)


class EnrolledElsewhere(Exception):
    """While waiting for a QR, the device was enrolled another way (`kiosk provision` over SSH wrote kiosk.toml)."""


def wait_for_qr(queue: ScanQueue, timeout: float, role: str | None = None,
                on_other=lambda reason: None, enrolled_elsewhere=lambda: False) -> Enrolment:
    """The first enrolment QR read on `queue`; other scans are reported through `on_other` and skipped.

    Raises EnrolledElsewhere as soon as `enrolled_elsewhere()` is true: kiosk-enrol.service then ends at once,
    and a technician's `systemctl start kiosk` after enrolling by hand does not wait out the scan timeout."""
    give_up_at = time.monotonic() + timeout
    while (left := give_up_at - time.monotonic()) > 0:
        if enrolled_elsewhere():
            raise EnrolledElsewhere("enrolled meanwhile by another way")
        scan = queue.get(timeout=min(left, 0.5))
        if scan is None:
            continue
        try:
            return from_qr(scan.payload, role)
        except EnrolmentError as e:
            on_other(str(e))
    raise EnrolmentError(f"no enrolment QR was scanned within {timeout:.0f} s")


def enrolment_scanners(config_path: str | Path | None = None, *, input_root: str = "/dev/input",
                       serial_globs: tuple[str, ...] = SERIAL_GLOBS) -> ScannerConfig:
    """The scanners to read an enrolment QR with: those of an existing kiosk.toml, or else every input device
    that can type a barcode and every USB-serial port, since a fresh device has no [scanners] yet."""
    path = Path(config_path or os.environ.get("KIOSK_CONFIG") or DEFAULT_PATH)
    if path.exists():
        configured = ScannerConfig.from_dict(KioskConfig.load(path).scanners)
        if configured.evdev or configured.serial:
            return configured
    from drivers.scanner.config import EvdevScannerConfig, SerialScannerConfig
    from drivers.scanner.discovery import read_input_devices

    evdev = tuple(EvdevScannerConfig(path=d.path) for d in read_input_devices(input_root)
                  if not d.error and d.can_type_barcodes)
    modem = os.path.realpath(MODEM_LINK)
    serial = tuple(SerialScannerConfig(port=port) for pattern in serial_globs for port in sorted(glob.glob(pattern))
                   if os.path.realpath(port) != modem)
    if not evdev and not serial:
        raise EnrolmentError("no scanner found: plug in the barcode scanner (USB) and try again")
    return ScannerConfig(evdev=evdev, serial=serial)


def enrol(enrolment: Enrolment, *, config_path: str | Path | None = None, name: str,
          state_dir: str | None = None) -> dict:
    """Enrols at the server, stores the device key and writes kiosk.toml. Raises client.ServerError."""
    path = Path(config_path or os.environ.get("KIOSK_CONFIG") or DEFAULT_PATH)
    raw: dict = {"server_url": enrolment.server, "role": enrolment.role}
    if state_dir:
        raw["state_dir"] = state_dir
    config = KioskConfig.from_dict(raw)
    enrolled = provision(config, token=enrolment.token, name=name)
    write_config(path, {"server_url": config.server_url, "role": config.role, "state_dir": str(config.state_dir)})
    return enrolled


def write_config(path: Path, values: dict[str, str]) -> None:
    """Sets the top-level `values` in kiosk.toml, keeping the rest of an existing file as it was."""
    old = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    # Top-level keys must come before the first [table]; the owned ones go first, in a fixed order.
    first_table = next((i for i, line in enumerate(old) if line.lstrip().startswith("[")), len(old))
    kept = [line for line in old[:first_table] if not _OWNED.match(line)] + old[first_table:]
    head = [f"{key} = {_toml_string(values[key])}" for key in OWNED_KEYS if key in values]
    text = "\n".join(head + kept).rstrip("\n") + "\n"
    try:
        KioskConfig.from_dict(_loads(text), origin=str(path))
    except ConfigError as e:
        raise EnrolmentError(f"{path} would not be valid after enrolment: {e}") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)




def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _loads(text: str) -> dict:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise EnrolmentError(f"kiosk.toml is not valid TOML: {e}") from e
