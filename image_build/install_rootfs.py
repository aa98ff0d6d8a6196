#!/usr/bin/env python3
"""Apply the kiosk appliance's OS configuration to a root file system.

    install_rootfs.py ROOT [--with-store-server] [--boot-dir boot/firmware]

ROOT is the target's ``/``: ``/`` inside the pi-gen chroot, or any folder in the tests. The script only
places files, edits the boot partition's config.txt and cmdline.txt, creates users with
``systemd-sysusers --root`` and enables units by creating the same symlinks ``systemctl enable`` would,
so it runs on a build host of any architecture. Running it twice leaves the same result as running it
once. The app itself (the venv in /opt/kiosk/venv) is installed by install_app_venv.sh.

Standard library only: it runs on the target's Python 3.11 (Bookworm) as well as in the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware_config"
SYSTEMD = REPO / "systemd"

BLOCK_BEGIN = "# BEGIN loyalty-kiosk (image_build/install_rootfs.py replaces this block; edit the repo copy)"
BLOCK_END = "# END loyalty-kiosk"
DUPLICATE_MARK = "#loyalty-kiosk-duplicate# "

# Kernel command-line keys that may legitimately appear more than once (one console per device).
REPEATABLE_CMDLINE_KEYS = {"console"}

# The store server's jobs: each a oneshot service started by its timer (docs/server.md, "Timers").
STORE_TIMERS = ("store-server-expire.timer", "store-server-sms-status.timer", "store-server-fraud-report.timer",
                "store-server-backup.timer")
SERVICES = ("kiosk.service", "kiosk-firstboot.service", "kiosk-enrol.service", "store-server.service", *STORE_TIMERS)
OPTIONAL_SERVICES = {"store-server.service", *STORE_TIMERS}

# (source relative to the repo, destination relative to ROOT, mode)
FILES: tuple[tuple[str, str, int], ...] = (
    ("systemd/kiosk.service", "etc/systemd/system/kiosk.service", 0o644),
    ("systemd/kiosk-firstboot.service", "etc/systemd/system/kiosk-firstboot.service", 0o644),
    ("systemd/kiosk-enrol.service", "etc/systemd/system/kiosk-enrol.service", 0o644),
    ("systemd/store-server.service", "etc/systemd/system/store-server.service", 0o644),
    *((f"systemd/{timer[:-6]}.{kind}", f"etc/systemd/system/{timer[:-6]}.{kind}", 0o644)
      for timer in STORE_TIMERS for kind in ("service", "timer")),
    ("firmware_config/kivy/config.ini", "etc/kiosk/kivy/config.ini", 0o644),
    ("firmware_config/system.conf.d/90-kiosk-watchdog.conf",
     "etc/systemd/system.conf.d/90-kiosk-watchdog.conf", 0o644),
    ("firmware_config/journald.conf.d/90-kiosk-volatile.conf",
     "etc/systemd/journald.conf.d/90-kiosk-volatile.conf", 0o644),
    ("firmware_config/logind.conf.d/90-kiosk-novt.conf", "etc/systemd/logind.conf.d/90-kiosk-novt.conf", 0o644),
    ("firmware_config/sysctl/90-kiosk.conf", "etc/sysctl.d/90-kiosk.conf", 0o644),
    ("firmware_config/sysusers/kiosk.conf", "usr/lib/sysusers.d/kiosk.conf", 0o644),
    ("firmware_config/tmpfiles/kiosk.conf", "usr/lib/tmpfiles.d/kiosk.conf", 0o644),
)
DOCS = ("operations.md", "firmware.md", "image.md", "server.md")

KIOSK_ENV_TEMPLATE = """\
# Per-device settings for kiosk.service (KEY=value, read at every start). kiosk-firstboot writes the
# rotation from kiosk-provision.toml here. Examples:
#   KCFG_GRAPHICS_ROTATION=90        rotate picture and touch (0, 90, 180, 270)
#   SDL_KMSDRM_DEVICE_INDEX=1        Pi 5 with only a DSI panel: which /dev/dri/card* drives it
"""


class InstallError(Exception):
    """The target cannot be configured; the message says what is missing."""


def install_files(root: Path) -> list[Path]:
    placed = []
    for source, dest, mode in FILES:
        placed.append(_install(REPO / source, root / dest, mode))
    # Every udev rule the project ships, including the scanner rules maintained next to ours.
    for rule in sorted((FIRMWARE / "udev").glob("*.rules")):
        placed.append(_install(rule, root / "etc/udev/rules.d" / rule.name, 0o644))
    # Kivy creates these in KIVY_HOME at start unless they exist; on a read-only /etc it could not.
    for name in ("mods", "icon"):
        (root / "etc/kiosk/kivy" / name).mkdir(parents=True, exist_ok=True)
    env_file = root / "etc/kiosk/kiosk.env"
    if not env_file.exists():
        env_file.write_text(KIOSK_ENV_TEMPLATE)
        env_file.chmod(0o644)
    for name in DOCS:
        doc = REPO / "docs" / name
        if doc.exists():
            placed.append(_install(doc, root / "usr/share/doc/loyalty-kiosk" / name, 0o644))
    return placed


def _install(source: Path, dest: Path, mode: int) -> Path:
    if not source.is_file():
        raise InstallError(f"missing source file {source}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".kiosk-tmp")
    shutil.copyfile(source, tmp)
    tmp.chmod(mode)
    os.replace(tmp, dest)
    return dest


def apply_config_txt(path: Path, fragment: str) -> None:
    """Put the fragment at the end of config.txt between markers, replacing an earlier copy.

    ``dtoverlay=`` lines of the base image that the fragment also sets are commented out: an overlay
    listed twice is applied twice. Plain ``key=value`` settings need no such care, the last one wins.
    """
    if not path.exists():
        raise InstallError(f"{path} not found: is --boot-dir right, and is this a Raspberry Pi OS root?")
    original = path.read_text()
    lines = _strip_block(original.splitlines())
    ours = [line.strip() for line in fragment.splitlines()]
    our_overlays = {line for line in ours if line.startswith("dtoverlay=")}
    kept = [DUPLICATE_MARK + line if line.strip() in our_overlays else line for line in lines]
    while kept and not kept[-1].strip():
        kept.pop()
    text = "\n".join([*kept, "", BLOCK_BEGIN, fragment.rstrip("\n"), BLOCK_END]) + "\n"
    if text != original:
        path.write_text(text)


def _strip_block(lines: list[str]) -> list[str]:
    out: list[str] = []
    inside = False
    for line in lines:
        if line == BLOCK_BEGIN:
            inside = True
        elif line == BLOCK_END and inside:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise InstallError(f"config.txt has '{BLOCK_BEGIN}' without '{BLOCK_END}'; fix it by hand")
    return out


def parse_cmdline_fragment(fragment: str) -> tuple[list[str], list[str]]:
    """Return (tokens to add, tokens to remove) from the one-token-per-line fragment format."""
    add: list[str] = []
    remove: list[str] = []
    for raw in fragment.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if any(ch.isspace() for ch in line):
            raise InstallError(f"cmdline fragment line holds more than one token: {raw!r}")
        if line.startswith("-"):
            remove.append(line[1:])
        else:
            add.append(line)
    return add, remove


def merge_cmdline(line: str, add: Iterable[str], remove: Iterable[str]) -> str:
    tokens = line.split()
    removed = set(remove)
    tokens = [t for t in tokens if t not in removed]
    for token in add:
        key = token.split("=", 1)[0]
        if token in tokens:
            continue
        if key not in REPEATABLE_CMDLINE_KEYS:
            tokens = [t for t in tokens if t.split("=", 1)[0] != key]
        tokens.append(token)
    return " ".join(tokens)


def apply_cmdline_txt(path: Path, fragment: str) -> None:
    if not path.exists():
        raise InstallError(f"{path} not found: is --boot-dir right, and is this a Raspberry Pi OS root?")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if len(lines) != 1:
        # The firmware reads only the first line; anything else means the file was already damaged.
        raise InstallError(f"{path} must hold exactly one line, found {len(lines)}")
    add, remove = parse_cmdline_fragment(fragment)
    merged = merge_cmdline(lines[0], add, remove)
    if merged + "\n" != path.read_text():
        path.write_text(merged + "\n")


def create_users(root: Path) -> None:
    tool = shutil.which("systemd-sysusers")
    if tool is None:
        raise InstallError("systemd-sysusers not found (Debian package: systemd)")
    conf = root / "usr/lib/sysusers.d/kiosk.conf"
    result = subprocess.run(
        [tool, f"--root={root}", str(conf)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise InstallError(f"systemd-sysusers failed: {result.stderr.strip() or result.stdout.strip()}")


def wanted_by(unit_file: Path) -> list[str]:
    """Targets named by WantedBy= in the unit's [Install] section."""
    targets: list[str] = []
    section = ""
    for raw in unit_file.read_text().splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Install" and line.startswith("WantedBy="):
            targets.extend(line.split("=", 1)[1].split())
    return targets


def enable_unit(root: Path, unit: str) -> None:
    unit_path = root / "etc/systemd/system" / unit
    for target in wanted_by(unit_path):
        link = root / "etc/systemd/system" / f"{target}.wants" / unit
        _symlink(link, f"/etc/systemd/system/{unit}")


def disable_unit(root: Path, unit: str) -> None:
    for wants in (root / "etc/systemd/system").glob("*.wants"):
        link = wants / unit
        if link.is_symlink():
            link.unlink()


def mask_unit(root: Path, unit: str) -> None:
    _symlink(root / "etc/systemd/system" / unit, "/dev/null")


def _symlink(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def configure_units(root: Path, with_store_server: bool) -> None:
    for unit in SERVICES:
        if unit in OPTIONAL_SERVICES and not with_store_server:
            disable_unit(root, unit)
        else:
            enable_unit(root, unit)
    # The kiosk owns tty1; no login prompt may appear under (or instead of) it.
    disable_unit(root, "getty@tty1.service")
    disable_unit(root, "autologin@tty1.service")
    # Ctrl+Alt+Del on a keyboard plugged into the kiosk must not reboot it.
    mask_unit(root, "ctrl-alt-del.target")
    # Swapping to the SD card wears it out; the kiosk fits in RAM.
    disable_unit(root, "dphys-swapfile.service")
    mask_unit(root, "dphys-swapfile.service")
    swapfile = root / "var/swap"
    if swapfile.is_file():
        swapfile.unlink()


def install(root: Path, boot_dir: str = "boot/firmware", with_store_server: bool = False) -> None:
    if not root.is_dir():
        raise InstallError(f"target root {root} is not a directory")
    boot = root / boot_dir.strip("/")
    install_files(root)
    apply_config_txt(boot / "config.txt", (FIRMWARE / "config.txt").read_text())
    apply_cmdline_txt(boot / "cmdline.txt", (FIRMWARE / "cmdline.txt").read_text())
    create_users(root)
    configure_units(root, with_store_server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="target root file system ('/' inside a chroot)")
    parser.add_argument("--boot-dir", default="boot/firmware", help="boot partition below ROOT")
    parser.add_argument("--with-store-server", action="store_true",
                        help="enable store-server.service (one-device shop)")
    args = parser.parse_args(argv)
    try:
        install(args.root.resolve(), args.boot_dir, args.with_store_server)
    except InstallError as exc:
        print(f"install_rootfs: {exc}", file=sys.stderr)
        return 1
    print(f"install_rootfs: kiosk appliance configuration applied to {args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
