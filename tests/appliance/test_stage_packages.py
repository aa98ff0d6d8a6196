"""The stage's Debian package list (00-packages-nr) provides every shared library the kiosk's Kivy loads
on the device: those its extension modules and bundled SDL2 link against (ELF NEEDED, read with objdump
from the installed wheel), and those SDL2 and Kivy open at run time (KMS/DRM, GL ES, mtdev). Without
libgl1 Kivy finds "no valuable Window provider" and the kiosk never starts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import kivy
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = REPO / "image_build" / "pi-gen" / "stage-kiosk" / "00-packages" / "00-packages-nr"
pytestmark = pytest.mark.requires_tool("objdump", "binutils")

# Debian bookworm's package for each library Kivy needs from the system.
PROVIDED_BY = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLESv2.so.2": "libgles2",
    "libgbm.so.1": "libgbm1",
    "libdrm.so.2": "libdrm2",
    "libmtdev.so.1": "libmtdev1",
}
# In every Raspberry Pi OS Lite (libc6, libgcc-s1, libstdc++6, zlib1g): nothing to add.
BASE_SYSTEM = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "libgcc_s.so.1", "libstdc++.so.6",
               "libz.so.1", "ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2", "librt.so.1"}
# Opened with dlopen, so no NEEDED entry shows them: SDL2's kmsdrm video driver (GBM, DRM, EGL, GL ES 2)
# and Kivy's mtdev input provider (ctypes).
OPENED_AT_RUN_TIME = {"libEGL.so.1", "libGLESv2.so.2", "libgbm.so.1", "libdrm.so.2", "libmtdev.so.1"}
# Modules never loaded on the kiosk (it draws through SDL2 on KMS, not X11).
NOT_ON_THE_DEVICE = ("window_x11",)


def stage_packages() -> set[str]:
    return {line.split("#")[0].strip() for line in PACKAGES.read_text().splitlines()} - {""}


def needed(library: Path) -> set[str]:
    out = subprocess.run(["objdump", "-p", str(library)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return set(re.findall(r"^\s*NEEDED\s+(\S+)", out, re.MULTILINE))


def kivy_system_libraries() -> set[str]:
    package = Path(kivy.__file__).parent
    bundled_dir = package.parent / "Kivy.libs"
    bundled = {p.name for p in bundled_dir.iterdir()} if bundled_dir.is_dir() else set()
    libraries = [p for p in package.rglob("*.so") if not any(skip in p.name for skip in NOT_ON_THE_DEVICE)]
    libraries += [bundled_dir / name for name in bundled]
    names: set[str] = set()
    for library in libraries:
        names |= needed(library)
    return names - bundled


def test_stage_packages_provide_every_library_kivy_loads() -> None:
    wanted = kivy_system_libraries() | OPENED_AT_RUN_TIME
    assert "libGL.so.1" in wanted  # Kivy's GL backend links it (the check reads the real wheel)
    unknown = sorted(wanted - BASE_SYSTEM - set(PROVIDED_BY))
    assert not unknown, f"Kivy needs libraries this test does not know: {unknown}; add their Debian packages"
    packages = stage_packages()
    missing = sorted({PROVIDED_BY[name] for name in wanted - BASE_SYSTEM} - packages)
    assert not missing, f"00-packages-nr lacks {missing}: the kiosk would find no window provider"
