"""`kiosk selftest scanners`: what input devices and serial ports this machine has, which ones the
configured scanners would use, and why each other one is skipped.

It reads device descriptions only (name, ids, capabilities): nothing is grabbed, so it can run while
the kiosk is running. The report is built from plain `DeviceInfo`s, so tests pass their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.scanner.config import ScannerConfig, SerialScannerConfig
from drivers.scanner.discovery import DeviceInfo, decide, read_input_devices


@dataclass(frozen=True)
class SerialPortInfo:
    device: str
    vid: int | None = None
    pid: int | None = None
    description: str = ""


def list_serial_ports() -> list[SerialPortInfo]:
    from serial.tools import list_ports

    return [SerialPortInfo(p.device, p.vid, p.pid, p.description or "") for p in list_ports.comports()]


def scanner_report(config: ScannerConfig, devices: Iterable[DeviceInfo], serial_ports: Iterable[SerialPortInfo] = (),
                   *, input_root: str = "/dev/input") -> tuple[list[str], int]:
    """The report's lines and an exit status: 0 when every configured scanner has a device, else 1."""
    devices = list(devices)
    lines = [f"Input devices under {input_root}: {len(devices)}"]
    if not devices:
        lines.append("  none visible: no USB keyboard-mode scanner is plugged in, or this user may not list "
                     f"{input_root} (is it in the input group?)")
    report = decide(config.evdev, devices)
    for decision in report.decisions:
        device = decision.device
        verdict = "USE " if decision.used else "skip"
        title = f"{device.path}  {device.usb_id}  {device.name!r}" if not device.error else device.path
        lines.append(f"  {verdict} {title}")
        for link in device.links:
            lines.append(f"         also {link}")
        lines.append(f"         {decision.reason}")
    ok = True
    if not config.evdev:
        lines.append("No [[scanners.evdev]] configured.")
    for index in report.unmatched:
        ok = False
        lines.append(f"Scanner #{index} ({config.evdev[index].describe()}): no device matches. Is it plugged in "
                     "and set to USB keyboard (HID) mode?")
    ports = list(serial_ports)
    lines.append(f"Serial ports: {len(ports)}")
    for port in ports:
        ids = f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None and port.pid is not None else "----:----"
        used = [i for i, entry in enumerate(config.serial) if _same_port(entry, port.device)]
        verdict = f"USE  (serial scanner #{used[0]})" if used else "skip (not configured)"
        lines.append(f"  {verdict} {port.device}  {ids}  {port.description}")
    if not config.serial:
        lines.append("No [[scanners.serial]] configured.")
    for index, entry in enumerate(config.serial):
        problem = _serial_problem(entry)
        settings = f"{entry.baud} baud, terminator {entry.terminator}"
        if problem:
            ok = False
            lines.append(f"Serial scanner #{index} ({entry.port}, {settings}): {problem}")
        else:
            lines.append(f"Serial scanner #{index} ({entry.port}, {settings}): present")
    return lines, 0 if ok else 1


def run(config: ScannerConfig, *, input_root: str = "/dev/input", out=print) -> int:
    lines, status = scanner_report(config, read_input_devices(input_root), list_serial_ports(),
                                   input_root=input_root)
    for line in lines:
        out(line)
    return status


def _same_port(entry: SerialScannerConfig, device: str) -> bool:
    return entry.port == device or os.path.realpath(entry.port) == os.path.realpath(device)


def _serial_problem(entry: SerialScannerConfig) -> str | None:
    if "://" in entry.port:
        return None  # a pyserial URL (loop://, socket://, rfc2217://): nothing on disk to check
    if not os.path.exists(entry.port):
        return "not present (unplugged, or another name: see /dev/serial/by-id/)"
    if not os.access(entry.port, os.R_OK | os.W_OK):
        return "no permission to open it (is the kiosk user in the dialout group?)"
    return None
