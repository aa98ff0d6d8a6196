"""image_build/install_app_venv.sh: versioned venv releases behind an atomically switched symlink.

The wheel is a tiny stand-in built here (pip installs it offline); the real one is this repo's wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "image_build" / "install_app_venv.sh"


def build_wheel(folder: Path, version: str) -> Path:
    dist_info = f"loyalty_kiosk-{version}.dist-info"
    files = {
        "kiosk_standin/__init__.py": f"def main():\n    print('kiosk {version}')\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: loyalty-kiosk\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": "[console_scripts]\nkiosk = kiosk_standin:main\n"
                                         "store-server = kiosk_standin:main\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{dist_info}/RECORD,,\n"
    wheel = folder / f"loyalty_kiosk-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{dist_info}/RECORD", record)
    return wheel


def run_install(prefix: Path, bin_dir: Path, wheel: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "--prefix", str(prefix), "--bin-dir", str(bin_dir), "--extras", "",
         "--python", sys.executable, "--keep", "1", *extra, str(wheel), "--no-index", "--no-deps"],
        capture_output=True, text=True, timeout=180, check=False,
    )


def test_install_then_upgrade_switches_release_and_prunes(tmp_path: Path) -> None:
    prefix, bin_dir = tmp_path / "opt/kiosk", tmp_path / "bin"

    first = run_install(prefix, bin_dir, build_wheel(tmp_path, "1.0.0"))
    assert first.returncode == 0, first.stderr
    release_1 = Path(os.readlink(prefix / "venv"))
    assert release_1.parent == prefix / "releases" and release_1.name.startswith("1.0.0-")
    assert os.readlink(bin_dir / "kiosk") == str(prefix / "venv/bin/kiosk")
    assert os.readlink(bin_dir / "store-server") == str(prefix / "venv/bin/store-server")
    out = subprocess.run([str(bin_dir / "kiosk")], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "kiosk 1.0.0"

    second = run_install(prefix, bin_dir, build_wheel(tmp_path, "1.1.0"))
    assert second.returncode == 0, second.stderr
    out = subprocess.run([str(bin_dir / "kiosk")], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "kiosk 1.1.0"
    # --keep 1: only the active release is left.
    assert [p.name for p in (prefix / "releases").iterdir()] == [Path(os.readlink(prefix / "venv")).name]


def test_failed_install_leaves_the_running_release_alone(tmp_path: Path) -> None:
    prefix, bin_dir = tmp_path / "opt/kiosk", tmp_path / "bin"
    (prefix / "releases/0.9.0-old").mkdir(parents=True)
    (prefix / "venv").symlink_to(prefix / "releases/0.9.0-old")
    broken = tmp_path / "loyalty_kiosk-2.0.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip file")

    result = run_install(prefix, bin_dir, broken)

    assert result.returncode == 1
    assert "running release was not touched" in result.stderr
    assert os.readlink(prefix / "venv") == str(prefix / "releases/0.9.0-old")
    assert sorted(p.name for p in (prefix / "releases").iterdir()) == ["0.9.0-old"]


def test_missing_package_is_a_clear_error(tmp_path: Path) -> None:
    result = run_install(tmp_path / "opt", tmp_path / "bin", tmp_path / "nope.whl")
    assert result.returncode == 1
    assert "not found" in result.stderr
