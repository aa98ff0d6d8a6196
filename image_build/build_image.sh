#!/usr/bin/env bash
# Build the kiosk SD-card image with pi-gen (Docker): Raspberry Pi OS Lite 64-bit (Bookworm) + stage-kiosk.
#
#   KIOSK_TECHNICIAN_PASSWORD=... KIOSK_SSH_PUBKEY="ssh-ed25519 AAAA... tech@shop" image_build/build_image.sh
#
# Optional environment: KIOSK_WITH_STORE_SERVER=1 (one-device shop image), KIOSK_TIMEZONE (Etc/UTC),
# KIOSK_CONSTRAINTS (pinned versions for pip; default: the repo's constraints.txt), PI_GEN_REF (pi-gen commit),
# PI_GEN_DIR (work folder, default build/pi-gen). Needs git, docker and, on an x86 host, binfmt/qemu
# for arm64 (apt install qemu-user-static binfmt-support). Output: build/pi-gen/deploy/*-kiosk.img.xz.
# Steps and reasons: docs/image.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

: "${KIOSK_TECHNICIAN_PASSWORD:?set KIOSK_TECHNICIAN_PASSWORD (sudo password of the technician account)}"
: "${KIOSK_SSH_PUBKEY:?set KIOSK_SSH_PUBKEY (SSH public key of the technician; password SSH is off)}"
case "$KIOSK_TECHNICIAN_PASSWORD$KIOSK_SSH_PUBKEY" in
    *\'*|*\"*|*'$'*|*'`'*) echo "password and key must not contain quotes, \$ or backquotes" >&2; exit 1 ;;
esac
# bookworm-arm64 branch of RPi-Distro/pi-gen; bump deliberately, never follow the branch head blindly.
PI_GEN_REF=${PI_GEN_REF:-d7a31c6aa09f4b867902c51da2b45807c0a1709e}
PI_GEN_DIR=${PI_GEN_DIR:-$ROOT/build/pi-gen}
PYTHON=${PYTHON:-python3}

if [ ! -d "$PI_GEN_DIR/.git" ]; then
    git clone https://github.com/RPi-Distro/pi-gen.git "$PI_GEN_DIR"
fi
git -C "$PI_GEN_DIR" fetch --quiet origin
git -C "$PI_GEN_DIR" checkout --quiet --detach "$PI_GEN_REF"

stage="$PI_GEN_DIR/stage-kiosk"
rm -rf "$stage"
cp -a "$ROOT/image_build/pi-gen/stage-kiosk" "$stage"
server_flag=()
[ "${KIOSK_WITH_STORE_SERVER:-0}" = "1" ] && server_flag=(--with-store-server)
# The snapshot of HEAD, its wheel (with the compiled catalogues) and the pinned versions.
PYTHON="$PYTHON" "$ROOT/image_build/stage_files.sh" "$stage/01-app/files" "${server_flag[@]}"

# stage2 is the base, not a product: no Lite image of its own.
touch "$PI_GEN_DIR/stage2/SKIP_IMAGES"

cat > "$PI_GEN_DIR/config" <<CONFIG
IMG_NAME=loyalty-kiosk
RELEASE=bookworm
TARGET_HOSTNAME=loyalty-kiosk
LOCALE_DEFAULT=en_GB.UTF-8
KEYBOARD_KEYMAP=us
KEYBOARD_LAYOUT="English (US)"
TIMEZONE_DEFAULT=${KIOSK_TIMEZONE:-Etc/UTC}
FIRST_USER_NAME=technician
FIRST_USER_PASS='${KIOSK_TECHNICIAN_PASSWORD}'
DISABLE_FIRST_BOOT_USER_RENAME=1
ENABLE_SSH=1
PUBKEY_SSH_FIRST_USER="${KIOSK_SSH_PUBKEY}"
PUBKEY_ONLY_SSH=1
ENABLE_CLOUD_INIT=0
STAGE_LIST="stage0 stage1 stage2 stage-kiosk"
DEPLOY_COMPRESSION=xz
CONFIG

cd "$PI_GEN_DIR"
./build-docker.sh
ls -l "$PI_GEN_DIR"/deploy/
