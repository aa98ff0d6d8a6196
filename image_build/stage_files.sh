#!/usr/bin/env bash
# Fill the pi-gen stage's 01-app/files/ folder: what 00-run.sh hands to the image. Used by build_image.sh
# (pi-gen) and emulator/build.sh (the QEMU image), so both images get the same app.
#
#   stage_files.sh FILES_DIR [--with-store-server]
#
# FILES_DIR/src    `git archive` of HEAD: only committed files go into an image, no stray local state
# FILES_DIR/dist   the app wheel built from that snapshot (setup.py compiles the .po catalogues into it)
#                  and constraints.txt, the pinned versions of every Python package the app installs
# FILES_DIR/build.env  KIOSK_WITH_STORE_SERVER=0|1
#
# Environment: PYTHON (python3) builds the wheel; KIOSK_CONSTRAINTS overrides the repo's constraints.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-python3}

files=${1:?usage: stage_files.sh FILES_DIR [--with-store-server]}
with_store_server=0
[ "${2:-}" = "--with-store-server" ] && with_store_server=1

rm -rf "$files"
mkdir -p "$files/src" "$files/dist"
git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$files/src"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$files/dist" "$files/src"
cp "${KIOSK_CONSTRAINTS:-$ROOT/constraints.txt}" "$files/dist/constraints.txt"
printf 'KIOSK_WITH_STORE_SERVER=%s\n' "$with_store_server" > "$files/build.env"
