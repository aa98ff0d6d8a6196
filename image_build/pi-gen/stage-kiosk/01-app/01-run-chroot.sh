#!/bin/bash -e
# pi-gen stage step inside the target (arm64, under qemu on an x86 host): the same installer the tests
# apply to a folder, then the app venv, then cleanup.
# KIOSK_TARGET_ROOT is empty in the image build (the chroot's / is the target); tests/appliance/test_stage.py
# sets it to run this very script against a folder.
root=${KIOSK_TARGET_ROOT:-}
src=$root/tmp/kiosk-src
# shellcheck disable=SC1091
. "$src/build.env"

server_flag=()
if [ "${KIOSK_WITH_STORE_SERVER:-0}" = "1" ]; then
	server_flag=(--with-store-server)
fi
python3 "$src/image_build/install_rootfs.py" "${root:-/}" "${server_flag[@]}"

constraints=()
if [ -f "$src/dist/constraints.txt" ]; then
	constraints=(-c "$src/dist/constraints.txt")
fi
wheel=$(ls "$src"/dist/loyalty_kiosk-*.whl)
"$src/image_build/install_app_venv.sh" --prefix "$root/opt/kiosk" --bin-dir "$root/usr/local/bin" "$wheel" \
	"${constraints[@]}"

rm -rf "$src" "$root/root/.cache/pip"
