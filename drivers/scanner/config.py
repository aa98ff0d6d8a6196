"""Scanner configuration (the `[scanners]` table of kiosk.toml), checked with errors that say what to fix.

    [[scanners.evdev]]             # a USB scanner in keyboard mode
    vendor = 0x0c2e                # match on any of: vendor/product, name (substring), path
    product = 0x0b61
    terminators = ["enter", "tab"] # keys that end a scan
    idle_end = 0.1                 # optional: silence (s) that ends a scan when the suffix is off
    partial_timeout = 0.5          # a scan with no terminator this long after its last key is discarded
    layout = "us"                  # the keyboard layout the scanner emulates (set the scanner to US)

    [[scanners.serial]]            # a serial or USB-CDC scanner
    port = "/dev/ttyACM0"
    baud = 9600
    terminator = "CR"              # CR, LF, CRLF or ANY (the default: CR, LF or CRLF, whichever comes)
    partial_timeout = 1.0          # bytes with no terminator this long are discarded
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from drivers.errors import DriverError
from drivers.scanner.keymap import KEYMAPS

TERMINATOR_KEY_NAMES = ("enter", "tab")
SERIAL_TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "ANY": b""}


class ScannerConfigError(DriverError, ValueError):
    """The scanner configuration is wrong; the message names the entry and the setting."""


@dataclass(frozen=True)
class EvdevScannerConfig:
    name: str | None = None
    vendor: int | None = None
    product: int | None = None
    path: str | None = None
    terminators: tuple[str, ...] = TERMINATOR_KEY_NAMES
    idle_end: float | None = None
    partial_timeout: float = 0.5
    layout: str = "us"

    def describe(self) -> str:
        parts = []
        if self.vendor is not None or self.product is not None:
            parts.append(f"{_hex(self.vendor)}:{_hex(self.product)}")
        if self.name:
            parts.append(f"name~{self.name!r}")
        if self.path:
            parts.append(self.path)
        return " ".join(parts)


@dataclass(frozen=True)
class SerialScannerConfig:
    port: str
    baud: int = 9600
    terminator: str = "ANY"
    partial_timeout: float = 1.0

    @property
    def terminator_bytes(self) -> bytes:
        """b"" means: CR or LF, whichever comes (CRLF counts once)."""
        return SERIAL_TERMINATORS[self.terminator]


@dataclass(frozen=True)
class ScannerConfig:
    evdev: tuple[EvdevScannerConfig, ...] = field(default_factory=tuple)
    serial: tuple[SerialScannerConfig, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, raw: dict | None) -> ScannerConfig:
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ScannerConfigError(f"scanners: expected a table with 'evdev' and/or 'serial', got {raw!r}")
        _no_unknown("scanners", raw, ("evdev", "serial"))
        return cls(
            evdev=tuple(_evdev(f"scanners.evdev[{i}]", entry) for i, entry in enumerate(_list(raw, "evdev"))),
            serial=tuple(_serial(f"scanners.serial[{i}]", entry) for i, entry in enumerate(_list(raw, "serial"))),
        )


def _hex(value: int | None) -> str:
    return "*" if value is None else f"{value:04x}"


def _list(raw: dict, key: str) -> list:
    value = raw.get(key, [])
    if isinstance(value, dict):  # a single [scanners.evdev] table instead of [[scanners.evdev]]
        value = [value]
    if not isinstance(value, list):
        raise ScannerConfigError(f"scanners.{key}: expected a list of tables, got {value!r}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ScannerConfigError(f"scanners.{key}[{i}]: expected a table, got {entry!r}")
    return value


def _no_unknown(where: str, raw: dict, allowed) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ScannerConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                                 f"allowed: {', '.join(sorted(allowed))}")


def _usb_id(where: str, key: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value.removeprefix("0x").removeprefix("0X"), 16)
        except ValueError:
            raise ScannerConfigError(f"{where}.{key}: {value!r} is not a hex USB id like 0x0c2e") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise ScannerConfigError(f"{where}.{key}: USB ids are 0x0000-0xffff, got {value!r}")
    return value


def _seconds(where: str, key: str, value, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 60:
        raise ScannerConfigError(f"{where}.{key}: expected seconds between 0 and 60, got {value!r}")
    return float(value)


def _text(where: str, key: str, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ScannerConfigError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _evdev(where: str, raw: dict) -> EvdevScannerConfig:
    _no_unknown(where, raw, [f.name for f in fields(EvdevScannerConfig)])
    terminators = raw.get("terminators", list(TERMINATOR_KEY_NAMES))
    if isinstance(terminators, str):
        terminators = [terminators]
    if not isinstance(terminators, list | tuple) or any(t not in TERMINATOR_KEY_NAMES for t in terminators):
        raise ScannerConfigError(f"{where}.terminators: expected a list of {TERMINATOR_KEY_NAMES}, "
                                 f"got {terminators!r}")
    layout = raw.get("layout", "us")
    if layout not in KEYMAPS:
        raise ScannerConfigError(f"{where}.layout: {layout!r} is not one of {', '.join(KEYMAPS)}; set the "
                                 "scanner itself to the US layout")
    config = EvdevScannerConfig(
        name=_text(where, "name", raw.get("name")),
        vendor=_usb_id(where, "vendor", raw.get("vendor")),
        product=_usb_id(where, "product", raw.get("product")),
        path=_text(where, "path", raw.get("path")),
        terminators=tuple(terminators),
        idle_end=_seconds(where, "idle_end", raw.get("idle_end"), optional=True),
        partial_timeout=_seconds(where, "partial_timeout", raw.get("partial_timeout", 0.5)),
        layout=layout,
    )
    if config.name is None and config.path is None and config.vendor is None and config.product is None:
        raise ScannerConfigError(f"{where}: say which device: vendor and product (see `kiosk selftest "
                                 "scanners`), name, or path (/dev/input/by-id/...)")
    if not config.terminators and config.idle_end is None:
        raise ScannerConfigError(f"{where}: with no terminators, set idle_end (e.g. 0.1) or scans never end")
    return config


def _serial(where: str, raw: dict) -> SerialScannerConfig:
    _no_unknown(where, raw, [f.name for f in fields(SerialScannerConfig)])
    port = _text(where, "port", raw.get("port"))
    if port is None:
        raise ScannerConfigError(f"{where}.port: required, e.g. /dev/ttyACM0 or /dev/serial/by-id/...")
    baud = raw.get("baud", 9600)
    if isinstance(baud, bool) or not isinstance(baud, int) or not 300 <= baud <= 4_000_000:
        raise ScannerConfigError(f"{where}.baud: expected a baud rate like 9600 or 115200, got {baud!r}")
    terminator = raw.get("terminator", "ANY")
    if not isinstance(terminator, str) or terminator.upper() not in SERIAL_TERMINATORS:
        raise ScannerConfigError(f"{where}.terminator: expected one of {', '.join(SERIAL_TERMINATORS)}, "
                                 f"got {terminator!r}")
    return SerialScannerConfig(
        port=port, baud=baud, terminator=terminator.upper(),
        partial_timeout=_seconds(where, "partial_timeout", raw.get("partial_timeout", 1.0)),
    )
