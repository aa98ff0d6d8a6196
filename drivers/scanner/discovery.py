"""Which input devices are scanners we should read, and why the others are skipped.

A USB scanner may expose several event nodes (keyboard, consumer keys, sometimes a mouse), and two
identical scanners without serial numbers share one /dev/input/by-id name. So a node is used only when
everything the config names matches (vendor/product, name, path) *and* it can type a barcode (digit keys
and Enter) *and* it is not a pointer (no EV_REL / EV_ABS).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from evdev import ecodes

from drivers.scanner.config import EvdevScannerConfig

_DIGIT_KEYS = frozenset(getattr(ecodes, f"KEY_{d}") for d in "0123456789")
_HINT_WORDS = ("barcode", "scanner", "reader", "scan", "honeywell", "zebra", "symbol", "datalogic", "newland")


@dataclass(frozen=True)
class DeviceInfo:
    """What we know about one /dev/input/event* node without reading from it."""

    path: str
    name: str = ""
    vendor: int = 0
    product: int = 0
    bustype: int = 0
    phys: str = ""
    uniq: str = ""
    keys: frozenset[int] = frozenset()
    has_rel: bool = False
    has_abs: bool = False
    links: tuple[str, ...] = ()
    error: str | None = None  # why it could not be opened (permission, busy ...)

    @property
    def usb_id(self) -> str:
        return f"{self.vendor:04x}:{self.product:04x}"

    @property
    def can_type_barcodes(self) -> bool:
        return _DIGIT_KEYS <= self.keys and ecodes.KEY_ENTER in self.keys

    @property
    def looks_like_scanner(self) -> bool:
        return any(word in self.name.lower() for word in _HINT_WORDS)


@dataclass(frozen=True)
class Decision:
    device: DeviceInfo
    scanner: int | None  # index into the evdev config entries, None if skipped
    reason: str

    @property
    def used(self) -> bool:
        return self.scanner is not None


@dataclass
class Report:
    decisions: list[Decision] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)  # config entries no device matched


def match(entry: EvdevScannerConfig, device: DeviceInfo) -> tuple[bool, str]:
    """Would this config entry read this device? The reason explains either answer."""
    if device.error:
        return False, f"cannot open: {device.error}"
    if entry.path:
        wanted = {entry.path, os.path.realpath(entry.path)}
        if not wanted & ({device.path} | set(device.links)):
            return False, f"not at configured path {entry.path}"
    if entry.vendor is not None and device.vendor != entry.vendor:
        return False, f"vendor {device.vendor:04x} is not the configured {entry.vendor:04x}"
    if entry.product is not None and device.product != entry.product:
        return False, f"product {device.product:04x} is not the configured {entry.product:04x}"
    if entry.name and entry.name.lower() not in device.name.lower():
        return False, f"name {device.name!r} does not contain {entry.name!r}"
    if device.has_rel or device.has_abs:
        return False, "pointer or touch node of the device (has EV_REL/EV_ABS)"
    if not device.can_type_barcodes:
        return False, "cannot type a barcode (no digit keys or no Enter): another node of the device"
    return True, f"matches {entry.describe()}"


def decide(entries: Iterable[EvdevScannerConfig], devices: Iterable[DeviceInfo]) -> Report:
    entries = list(entries)
    report = Report()
    used_entries: set[int] = set()
    for device in sorted(devices, key=lambda d: _natural(d.path)):
        reasons = []
        chosen = None
        for index, entry in enumerate(entries):
            ok, reason = match(entry, device)
            if ok:
                chosen = index
                reasons = [f"scanner #{index}: {reason}"]
                break
            reasons.append(reason if len(entries) == 1 else f"scanner #{index}: {reason}")
        if chosen is not None:
            used_entries.add(chosen)
            report.decisions.append(Decision(device, chosen, reasons[0]))
            continue
        if device.error:
            reason = f"cannot open: {device.error}"
        elif not entries:
            reason = "no evdev scanners configured"
        else:
            reason = "; ".join(reasons)
        if device.looks_like_scanner and not device.error:
            reason += (f" (looks like a scanner: add vendor = 0x{device.vendor:04x}, "
                       f"product = 0x{device.product:04x} to [[scanners.evdev]])")
        report.decisions.append(Decision(device, None, reason))
    report.unmatched = [i for i in range(len(entries)) if i not in used_entries]
    return report


def _natural(path: str) -> tuple:
    digits = "".join(c for c in os.path.basename(path) if c.isdigit())
    return (path.rstrip("0123456789"), int(digits) if digits else -1)


def read_input_devices(root: str = "/dev/input") -> list[DeviceInfo]:
    """Describe every event node under `root`, including the ones we may not open (with the reason)."""

    links: dict[str, list[str]] = {}
    for folder in ("by-id", "by-path"):
        for link in glob.glob(os.path.join(root, folder, "*")):
            links.setdefault(os.path.realpath(link), []).append(link)
    infos = []
    for path in glob.glob(os.path.join(root, "event*")):
        try:
            device = open_input_device(path)
        except OSError as e:
            hint = " (is the kiosk user in the input group?)" if isinstance(e, PermissionError) else ""
            infos.append(DeviceInfo(path, error=f"{e.strerror or e}{hint}", links=tuple(links.get(path, ()))))
            continue
        try:
            caps = device.capabilities(absinfo=False)
            info = device.info
            infos.append(DeviceInfo(
                path=path, name=device.name or "", vendor=info.vendor, product=info.product,
                bustype=info.bustype, phys=device.phys or "", uniq=device.uniq or "",
                keys=frozenset(caps.get(ecodes.EV_KEY, ())), has_rel=ecodes.EV_REL in caps,
                has_abs=ecodes.EV_ABS in caps, links=tuple(sorted(links.get(path, ()))),
            ))
        finally:
            device.close()
    return infos


def open_input_device(path: str):
    """Open read-only where python-evdev allows it (2.0+): grabbing needs no write access, and an O_RDWR
    open can make some keyboards re-assert their LEDs."""
    import evdev

    try:
        return evdev.InputDevice(path, readonly=True)
    except TypeError:
        return evdev.InputDevice(path)
