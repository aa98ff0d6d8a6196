"""image_build/install_rootfs.py applied to a folder that stands in for the image's root file system."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "image_build" / "install_rootfs.py"

# Shaped like Raspberry Pi OS Bookworm's boot files (pi-gen stage1), reduced to what matters here.
STOCK_CONFIG = """\
# Raspberry Pi OS config.txt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1

[cm4]
otg_mode=1

[all]
"""
STOCK_CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=0a1b2c3d-02 rootfstype=ext4 fsck.repair=yes rootwait\n"
)
STOCK_GROUPS = "root:x:0:\ndialout:x:20:\nvideo:x:44:\ninput:x:101:\nrender:x:105:\ngpio:x:993:\n"

pytestmark = pytest.mark.requires_tool("systemd-sysusers", "systemd")


def make_rootfs(root: Path) -> Path:
    boot = root / "boot/firmware"
    boot.mkdir(parents=True)
    (boot / "config.txt").write_text(STOCK_CONFIG)
    (boot / "cmdline.txt").write_text(STOCK_CMDLINE)
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text(STOCK_GROUPS)
    getty_wants = root / "etc/systemd/system/getty.target.wants"
    getty_wants.mkdir(parents=True)
    (getty_wants / "getty@tty1.service").symlink_to("/usr/lib/systemd/system/getty@.service")
    swap_wants = root / "etc/systemd/system/multi-user.target.wants"
    swap_wants.mkdir(parents=True)
    (swap_wants / "dphys-swapfile.service").symlink_to("/usr/lib/systemd/system/dphys-swapfile.service")
    (root / "var").mkdir()
    (root / "var/swap").write_bytes(b"\0" * 1024)
    return root


def install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(INSTALLER), str(root), *extra], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_rootfs(tmp_path_factory.mktemp("rootfs"))
    install(root)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file's content, link target and mode below root, to compare two runs."""
    state = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                state[rel] = "-> " + os.readlink(path)
            elif not rel.startswith("etc/") or not rel.endswith("-"):  # sysusers' backup copies
                state[rel] = f"{stat.S_IMODE(path.stat().st_mode):o} {path.read_bytes()!r}"
    return state


def test_files_are_in_place(rootfs: Path) -> None:
    expected = {
        "etc/systemd/system/kiosk.service": 0o644,
        "etc/systemd/system/kiosk-firstboot.service": 0o644,
        "etc/systemd/system/kiosk-enrol.service": 0o644,
        "etc/systemd/system/store-server.service": 0o644,
        "etc/kiosk/kivy/config.ini": 0o644,
        "etc/udev/rules.d/71-kiosk-modem.rules": 0o644,
        "etc/systemd/system.conf.d/90-kiosk-watchdog.conf": 0o644,
        "etc/systemd/journald.conf.d/90-kiosk-volatile.conf": 0o644,
        "etc/systemd/logind.conf.d/90-kiosk-novt.conf": 0o644,
        "etc/sysctl.d/90-kiosk.conf": 0o644,
        "usr/lib/sysusers.d/kiosk.conf": 0o644,
        "usr/lib/tmpfiles.d/kiosk.conf": 0o644,
    }
    for rel, mode in expected.items():
        path = rootfs / rel
        assert path.is_file(), rel
        assert stat.S_IMODE(path.stat().st_mode) == mode, rel
    assert (rootfs / "etc/kiosk/kivy/config.ini").read_text() == (
        REPO / "firmware_config/kivy/config.ini").read_text()
    # Kivy would try to create these in a read-only KIVY_HOME.
    assert (rootfs / "etc/kiosk/kivy/mods").is_dir()
    assert (rootfs / "etc/kiosk/kivy/icon").is_dir()
    assert (rootfs / "etc/kiosk/kiosk.env").is_file()


def test_every_shipped_udev_rule_is_installed(rootfs: Path) -> None:
    for rule in (REPO / "firmware_config/udev").glob("*.rules"):
        assert (rootfs / "etc/udev/rules.d" / rule.name).read_text() == rule.read_text()


def test_units_enabled_like_systemctl_enable(rootfs: Path) -> None:
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    assert os.readlink(wants / "kiosk.service") == "/etc/systemd/system/kiosk.service"
    assert os.readlink(wants / "kiosk-firstboot.service") == "/etc/systemd/system/kiosk-firstboot.service"
    assert os.readlink(wants / "kiosk-enrol.service") == "/etc/systemd/system/kiosk-enrol.service"
    # The store server (and its timers) is only for the one-device image.
    assert not (wants / "store-server.service").is_symlink()
    assert not (rootfs / "etc/systemd/system/timers.target.wants/store-server-backup.timer").is_symlink()


def test_console_login_ctrl_alt_del_and_swap_are_off(rootfs: Path) -> None:
    system = rootfs / "etc/systemd/system"
    assert not (system / "getty.target.wants/getty@tty1.service").is_symlink()
    assert os.readlink(system / "ctrl-alt-del.target") == "/dev/null"
    assert os.readlink(system / "dphys-swapfile.service") == "/dev/null"
    assert not (system / "multi-user.target.wants/dphys-swapfile.service").is_symlink()
    assert not (rootfs / "var/swap").exists()


def test_kiosk_user_with_device_groups(rootfs: Path) -> None:
    passwd = {line.split(":")[0]: line.split(":") for line in (rootfs / "etc/passwd").read_text().splitlines()}
    assert passwd["kiosk"][5] == "/var/lib/kiosk"
    assert passwd["kiosk"][6] in ("/usr/sbin/nologin", "/sbin/nologin")
    assert int(passwd["kiosk"][2]) < 1000  # a system user
    members = {line.split(":")[0]: line.split(":")[3].split(",")
               for line in (rootfs / "etc/group").read_text().splitlines()}
    for group in ("input", "dialout", "video", "render", "gpio"):
        assert "kiosk" in members[group], group
    assert "gpio:x:993:" in (rootfs / "etc/group").read_text()  # the image's existing group is reused
    assert "store-server" in members["dialout"]


def test_config_txt_block_appended_and_duplicate_overlay_neutralised(rootfs: Path) -> None:
    text = (rootfs / "boot/firmware/config.txt").read_text()
    assert text.startswith(STOCK_CONFIG.split("dtoverlay=vc4-kms-v3d")[0])
    assert text.count("# BEGIN loyalty-kiosk") == 1
    assert text.count("# END loyalty-kiosk") == 1
    active = [line for line in text.splitlines() if line.strip() == "dtoverlay=vc4-kms-v3d"]
    assert len(active) == 1  # the stock line is commented out, ours is the only one applied
    assert text.index("[cm4]") < text.index("# BEGIN loyalty-kiosk")
    block = text.split("# BEGIN loyalty-kiosk")[1].splitlines()[1:]
    settings = [line for line in block if line.strip() and not line.startswith("#")]
    # The stock file may end inside a [cm4]-style filter; ours must apply to every board.
    assert settings[0] == "[all]"


def test_cmdline_stays_one_line_with_kiosk_tokens(rootfs: Path) -> None:
    text = (rootfs / "boot/firmware/cmdline.txt").read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    tokens = text.split()
    assert "console=tty1" not in tokens
    assert "console=tty3" in tokens and "console=serial0,115200" in tokens
    for token in ("root=PARTUUID=0a1b2c3d-02", "rootwait", "quiet", "consoleblank=0", "logo.nologo",
                  "vt.global_cursor_default=0", "fsck.repair=yes"):
        assert tokens.count(token) == 1, token


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "root")
    install(root)
    first = snapshot(root)
    install(root)
    assert snapshot(root) == first


def test_store_server_image_and_switching_back(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "root")
    install(root, "--with-store-server")
    link = root / "etc/systemd/system/multi-user.target.wants/store-server.service"
    assert os.readlink(link) == "/etc/systemd/system/store-server.service"
    timers = [root / "etc/systemd/system/timers.target.wants" / f"store-server-{job}.timer"
              for job in ("expire", "sms-status", "fraud-report", "backup")]
    for timer in timers:  # the server's jobs come with it, each timer starting its oneshot service
        assert os.readlink(timer) == f"/etc/systemd/system/{timer.name}"
        assert (root / "etc/systemd/system" / timer.name.replace(".timer", ".service")).is_file()
    install(root)
    assert not link.is_symlink() and not any(t.is_symlink() for t in timers)


def test_existing_kiosk_env_is_kept(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "root")
    env = root / "etc/kiosk/kiosk.env"
    env.parent.mkdir(parents=True)
    env.write_text("KCFG_GRAPHICS_ROTATION=270\n")
    install(root)
    assert env.read_text() == "KCFG_GRAPHICS_ROTATION=270\n"


def test_not_a_raspberry_pi_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    result = subprocess.run([sys.executable, str(INSTALLER), str(tmp_path)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "config.txt not found" in result.stderr


def test_damaged_cmdline_is_refused(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "root")
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1 root=/dev/mmcblk0p2\nquiet\n")
    result = subprocess.run([sys.executable, str(INSTALLER), str(root)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "exactly one line" in result.stderr
