#!/usr/bin/env bash
# Creates or refreshes .venv with everything the demo and the tests need, and installs the few
# Debian packages Kivy needs under a virtual display. Sourced by scripts/demo and scripts/test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

apt_install() {
    # Only root can install system packages; everyone else gets a clear message instead.
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing system packages: $* (run as root, or: sudo apt-get install $*)" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_pkgs=()
"$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null || {
    echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1))" >&2; exit 1; }
"$PY" -c 'import ensurepip, venv' 2>/dev/null || need_pkgs+=(python3-venv)
command -v Xvfb >/dev/null || need_pkgs+=(xvfb xauth)
[ -e /usr/lib/x86_64-linux-gnu/libGL.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libGL.so.1 ] \
    || need_pkgs+=(libgl1 libgl1-mesa-dri libegl1)
ldconfig -p 2>/dev/null | grep -q libmtdev || need_pkgs+=(libmtdev1)
command -v gcc >/dev/null || need_pkgs+=(gcc python3-dev)
[ -e /usr/include/linux/input.h ] || need_pkgs+=(linux-libc-dev)
# systemd-analyze verify checks the units and systemd-sysusers builds the image users in the tests.
command -v systemd-analyze >/dev/null || need_pkgs+=(systemd)
# The back-office tests drive Debian's Chromium through Playwright (never a browser download).
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
# The emulator boot test (KIOSK_TEST_EMULATOR=1, see scripts/test) builds an arm64 image and boots it in QEMU.
if [ "${KIOSK_TEST_EMULATOR:-0}" = "1" ]; then
    for tool in mmdebstrap:mmdebstrap qemu-system-aarch64:qemu-system-arm qemu-img:qemu-utils mcopy:mtools \
                mkfs.vfat:dosfstools sfdisk:fdisk unzip:unzip; do
        command -v "${tool%%:*}" >/dev/null || need_pkgs+=("${tool#*:}")
    done
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || need_pkgs+=(qemu-user-static binfmt-support)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
    apt_install "${need_pkgs[@]}" || true
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
    log="$VENV/pip-install.log"
    echo "installing Python packages into .venv (log: $log)" >&2
    # constraints.txt: the versions the image installs (scripts/freeze-constraints), so tests run on them.
    if ! "$VENV/bin/python" -m pip install -e "$ROOT[kiosk,server,dev]" -c "$ROOT/constraints.txt" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "pip install failed; see $log" >&2
        exit 1
    fi
    touch "$stamp"
fi
