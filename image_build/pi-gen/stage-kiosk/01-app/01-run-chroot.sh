#!/bin/bash -e
# pi-gen stage step inside the target (arm64, under qemu on an x86 host): the same installer the tests
# apply to a folder, then the app venv, then cleanup.
src=/tmp/kiosk-src
# shellcheck disable=SC1091
. "$src/build.env"

server_flag=()
if [ "${KIOSK_WITH_STORE_SERVER:-0}" = "1" ]; then
	server_flag=(--with-store-server)
fi
python3 "$src/image_build/install_rootfs.py" / "${server_flag[@]}"

constraints=()
if [ -f "$src/dist/constraints.txt" ]; then
	constraints=(-c "$src/dist/constraints.txt")
fi
wheel=$(ls "$src"/dist/loyalty_kiosk-*.whl)
"$src/image_build/install_app_venv.sh" --prefix /opt/kiosk --bin-dir /usr/local/bin "$wheel" "${constraints[@]}"

rm -rf "$src" /root/.cache/pip
