"""The pi-gen stage's own scripts (image_build/pi-gen/stage-kiosk/01-app), run as pi-gen runs them, against a
folder laid out like Raspberry Pi OS instead of the image's chroot: host step, then chroot step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.appliance.test_app_venv_install import build_wheel
from tests.appliance.test_rootfs_install import make_rootfs

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / "image_build" / "pi-gen" / "stage-kiosk"
pytestmark = pytest.mark.requires_tool("systemd-sysusers", "systemd")


def stage_files(app_dir: Path, with_store_server: bool) -> None:
    """What build_image.sh puts in files/: the project snapshot, the wheel, build.env."""
    files = app_dir / "files"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, tracked.decode().split("\0")):
        source = REPO / rel
        if source.is_file():
            (files / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, files / "src" / rel)
    (files / "dist").mkdir(parents=True)
    build_wheel(files / "dist", "0.1.0")
    (files / "build.env").write_text(f"KIOSK_WITH_STORE_SERVER={int(with_store_server)}\n")


def run_stage(tmp_path: Path, with_store_server: bool = False) -> Path:
    root = make_rootfs(tmp_path / "rootfs")
    (root / "tmp").mkdir()
    stage = tmp_path / "stage-kiosk"
    shutil.copytree(STAGE, stage)
    app = stage / "01-app"
    stage_files(app, with_store_server)
    # pip from the test venv, offline: the stand-in wheel has no dependencies.
    env = {**os.environ, "ROOTFS_DIR": str(root), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1"}
    for script, extra in (("00-run.sh", {}), ("01-run-chroot.sh", {"KIOSK_TARGET_ROOT": str(root)})):
        result = subprocess.run(["bash", str(app / script)], cwd=app, env={**env, **extra}, capture_output=True,
                                text=True, timeout=180, check=False)
        assert result.returncode == 0, f"{script}: {result.stdout}\n{result.stderr}"
    return root


def test_stage_installs_the_app_and_the_appliance(tmp_path: Path) -> None:
    root = run_stage(tmp_path)
    kiosk = root / "usr/local/bin/kiosk"
    assert os.readlink(kiosk) == f"{root}/opt/kiosk/venv/bin/kiosk"
    assert subprocess.run([str(kiosk)], capture_output=True, text=True, check=True).stdout == "kiosk 0.1.0\n"
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert {p.name for p in wants.iterdir()} >= {"kiosk.service", "kiosk-firstboot.service", "kiosk-enrol.service"}
    assert not (wants / "store-server.service").exists()
    assert "kiosk:" in (root / "etc/passwd").read_text()
    assert "dtoverlay=vc4-kms-v3d" in (root / "boot/firmware/config.txt").read_text()
    assert (root / "usr/share/doc/loyalty-kiosk/operations.md").is_file()
    # The snapshot, with the wheel, does not stay in the image.
    assert not (root / "tmp/kiosk-src").exists()


def test_one_device_shop_stage_enables_the_store_server(tmp_path: Path) -> None:
    root = run_stage(tmp_path, with_store_server=True)
    assert (root / "etc/systemd/system/multi-user.target.wants/store-server.service").is_symlink()
