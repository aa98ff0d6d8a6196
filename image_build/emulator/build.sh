#!/usr/bin/env bash
# Build an arm64 disk image for QEMU's "virt" board with the SAME pi-gen stage as the Raspberry Pi image:
# a Debian bookworm root file system made with mmdebstrap (Debian's kernel; no Raspberry Pi archive), the
# stage's scripts run in it under qemu-user, then a partitioned disk like the SD card's (FAT boot partition
# mounted at /boot/firmware, ext4 root). tests/appliance/test_emulator_boot.py boots it; docs/image.md says
# what this proves and what only a real Pi does.
#
#   image_build/emulator/build.sh OUT_DIR [--with-store-server] [--customize SCRIPT]
#
# --customize SCRIPT runs in the finished root (chroot, bash -e on stdin, like a pi-gen *-run-chroot.sh)
# before the disk is made: the test uses it to play a technician's one-device set-up over SSH.
# OUT_DIR gets disk.img (raw), vmlinuz, initrd.img, cmdline (the kernel command line for QEMU, made from
# the image's own cmdline.txt) and bootfs/ (a copy of the boot partition's files).
#
# The base root file system (the slow part: ~20 min from nothing on two cores) is cached outside the
# checkout in KIOSK_IMAGE_CACHE (default ~/.cache/loyalty-kiosk/image), keyed by its package lists and
# BASE_RECIPE, and so is an arm64 wheelhouse (wheels-<key>/, keyed by constraints.txt, the app's own
# requirements and WHEELHOUSE_RECIPE): the stage's pip installs from it with --no-index, so pip under qemu-user
# neither resolves against an index nor compiles evdev again, and the .pyc files are made by the host's Python
# when its bytecode is the image's (same magic number). The stage is applied anew each time. Needs root, mmdebstrap,
# qemu-user-static + binfmt-support (arm64 binaries on another host), mtools, dosfstools, e2fsprogs, fdisk.
# Environment: DEBIAN_MIRROR (http://deb.debian.org/debian), PYTHON (builds the wheel).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/image_build/emulator"
STAGE="$ROOT/image_build/pi-gen/stage-kiosk"
CACHE=${KIOSK_IMAGE_CACHE:-$HOME/.cache/loyalty-kiosk/image}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when the recipe below changes in a way the package lists do not show.
BASE_RECIPE=1
WHEELHOUSE_RECIPE=1
PYTHON=${PYTHON:-python3}
BOOT_MB=128

die() { echo "emulator/build: $*" >&2; exit 1; }
log() { echo "emulator/build: $(date -u +%H:%M:%S) $*" >&2; }

out=${1:?usage: build.sh OUT_DIR [--with-store-server] [--customize SCRIPT]}
shift
server_flag=()
customize=
while [ $# -gt 0 ]; do
    case "$1" in
        --with-store-server) server_flag=(--with-store-server); shift ;;
        --customize) customize=$(realpath "${2:?}"); shift 2 ;;
        *) die "unknown option $1" ;;
    esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap, chroot and file ownership in the image need it)"
for tool in mmdebstrap mkfs.vfat mcopy mkfs.ext4 sfdisk chroot unzip; do
    command -v "$tool" >/dev/null || die "$tool not found (apt install mmdebstrap dosfstools mtools e2fsprogs fdisk unzip)"
done

packages() {  # the lists without comments; the stage's list minus what only the Raspberry Pi archive has
    local skip
    skip=$(sed 's/#.*//' "$HERE/not-in-debian" | xargs)
    { sed 's/#.*//' "$HERE/packages"; sed 's/#.*//' "$STAGE/00-packages/00-packages-nr"; } | xargs -n1 \
        | grep -vxF -f <(printf '%s\n' $skip) | sort -u
}

mkdir -p "$CACHE" "$out"
out=$(realpath "$out")
key=$( { packages; echo "recipe=$BASE_RECIPE"; } | sha256sum | cut -c1-16)
base="$CACHE/base-$key.tar"

if [ ! -f "$base" ]; then
    log "base root file system $key not cached: mmdebstrap (tens of minutes under qemu-user)"
    start=$SECONDS
    # initramfs-tools: only the modules QEMU's board needs (MODULES=most would cost ~8 minutes under qemu).
    essential_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && echo MODULES=list > "$1/etc/initramfs-tools/conf.d/kiosk-emulator.conf"'
    customize_hook='printf "%s\n" virtio_pci virtio_blk virtio_mmio ext4 vfat >> "$1/etc/initramfs-tools/modules" && chroot "$1" update-initramfs -u -k all'
    ok=0
    for attempt in 1 2 3; do  # a flaky mirror is retried; a broken recipe fails three times
        if mmdebstrap --arch=arm64 --variant=apt --mode=root --format=tar --aptopt='Acquire::Retries "5"' \
                --include="$(packages | paste -sd,)" \
                --essential-hook="$essential_hook" --customize-hook="$customize_hook" \
                bookworm "$base.part" "$MIRROR"; then
            ok=1
            break
        fi
        log "mmdebstrap attempt $attempt failed"
        rm -f "$base.part"
        sleep $((attempt * 20))
    done
    [ "$ok" = 1 ] || die "mmdebstrap failed three times"
    mv "$base.part" "$base"
    log "base root file system built in $((SECONDS - start)) s"
fi

work="$out/work"
rootfs="$work/rootfs"
mounted=()
cleanup() {
    local m
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work" "$out/disk.img" "$out/bootfs"
mkdir -p "$rootfs"
start=$SECONDS
tar -x -p --numeric-owner -f "$base" -C "$rootfs"

# What Raspberry Pi OS's stages 0-2 leave and the stage relies on: the boot partition's config.txt and
# cmdline.txt (Raspberry Pi OS's own first line, with the root partition by name here), fstab, hostname.
mkdir -p "$rootfs/boot/firmware"
printf '%s\n' '# Raspberry Pi OS config.txt stand-in (the QEMU board reads none of it)' '[all]' \
    > "$rootfs/boot/firmware/config.txt"
echo "console=serial0,115200 console=tty1 root=/dev/vda2 rootfstype=ext4 fsck.repair=yes rootwait" \
    > "$rootfs/boot/firmware/cmdline.txt"
cat > "$rootfs/etc/fstab" <<'FSTAB'
/dev/vda2  /               ext4  defaults,noatime  0  1
/dev/vda1  /boot/firmware  vfat  defaults          0  2
FSTAB
echo loyalty-kiosk > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tloyalty-kiosk\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    > "$rootfs/etc/hosts"

# The stage exactly as pi-gen runs it: 00-run.sh on the host (cwd = the step's folder, ROOTFS_DIR set),
# then 01-run-chroot.sh fed to bash inside the target.
stage="$work/stage-kiosk"
cp -a "$STAGE" "$stage"
"$ROOT/image_build/stage_files.sh" "$stage/01-app/files" "${server_flag[@]}"
(cd "$stage/01-app" && ROOTFS_DIR="$rootfs" bash -e ./00-run.sh)

for fs in proc sys dev dev/pts; do
    mount --bind "/$fs" "$rootfs/$fs"
    mounted+=("$rootfs/$fs")
done
# pip in the chroot reaches PyPI with the build host's name service and CA certificates (a host behind a
# TLS-inspecting proxy has its own CA there); both are the host's only while the stage runs.
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
mkdir -p "$rootfs/etc/ssl/certs"
mount --bind /etc/ssl/certs "$rootfs/etc/ssl/certs"
mounted+=("$rootfs/etc/ssl/certs")
chroot_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
            PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DEFAULT_TIMEOUT=60 PIP_RETRIES=5)

# The arm64 wheelhouse. Made once per key: every pin of constraints.txt that has an aarch64 (or pure) wheel
# is downloaded by the host's pip (seconds, no emulation); the rest (evdev: source only) are built once in this
# arm64 root under qemu-user with the stage's own compiler and headers.
constraints="$stage/01-app/files/dist/constraints.txt"
app_wheel=$(ls "$stage"/01-app/files/dist/loyalty_kiosk-*.whl)
wheel_key=$( { cat "$constraints"; unzip -p "$app_wheel" '*.dist-info/METADATA' | grep '^Requires-Dist:';
              echo "cp311 aarch64 recipe=$WHEELHOUSE_RECIPE"; } | sha256sum | cut -c1-16)
wheelhouse="$CACHE/wheels-$wheel_key"
if [ ! -d "$wheelhouse" ]; then
    log "arm64 wheelhouse $wheel_key not cached: downloading and building it"
    part="$wheelhouse.part"
    rm -rf "$part"
    mkdir -p "$part/src"
    platforms=()
    for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done  # bookworm: glibc 2.36
    # The host's pip configuration may carry its own constraints (for the host's venvs): not for the image.
    download=(env PIP_CONSTRAINT=/dev/null "$PYTHON" -m pip download --quiet --no-deps --disable-pip-version-check
              --only-binary=:all: "${platforms[@]}" --platform manylinux2014_aarch64 --python-version 3.11
              --implementation cp --abi cp311 --abi abi3 --abi none --dest "$part")
    # One pip for every pin (a pip per pin costs a minute of start-ups on a busy host). A pin with no such
    # wheel stops it with "No matching distribution found for NAME==VERSION": that one is fetched as source
    # and the rest asked again (what was downloaded stays).
    pins=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$constraints" | tr -d ' ')
    from_source=()
    until answer=$("${download[@]}" $(grep -vxF -f <(printf '%s\n' "${from_source[@]}" none) <<<"$pins") 2>&1); do
        missing=$(sed -n 's/.*No matching distribution found for \([^ ;]*\).*/\1/p' <<<"$answer" | head -n1)
        if [ -z "$missing" ] || printf '%s\n' "${from_source[@]}" | grep -qxF "$missing"; then
            die "pip download for the wheelhouse failed: $answer"
        fi
        log "no aarch64 wheel for $missing: its source, built in the arm64 root"
        env PIP_CONSTRAINT=/dev/null "$PYTHON" -m pip download --quiet --no-deps --disable-pip-version-check \
            --no-binary=:all: --dest "$part/src" "$missing"
        from_source+=("$missing")
    done
    if [ -n "$(ls -A "$part/src")" ]; then
        mkdir -p "$rootfs/tmp/wheelhouse-src"
        cp "$part"/src/* "$rootfs/tmp/wheelhouse-src/"
        "${chroot_env[@]}" chroot "$rootfs" /bin/bash -ec 'python3 -m pip wheel --no-deps \
            --disable-pip-version-check --wheel-dir /tmp/wheelhouse-built /tmp/wheelhouse-src/*'
        cp "$rootfs"/tmp/wheelhouse-built/*.whl "$part/"
        rm -rf "$rootfs/tmp/wheelhouse-src" "$rootfs/tmp/wheelhouse-built"
    fi
    rm -rf "$part/src"
    mv "$part" "$wheelhouse"
    log "arm64 wheelhouse: $(ls "$wheelhouse" | wc -l) wheels"
fi
mkdir -p "$rootfs/tmp/wheelhouse"
mount --bind "$wheelhouse" "$rootfs/tmp/wheelhouse"
mount -o remount,bind,ro "$rootfs/tmp/wheelhouse"
mounted+=("$rootfs/tmp/wheelhouse")
# pip reads these like its options: only the wheelhouse (and the app's wheel), and no byte-compiling under
# qemu-user (PIP_COMPILE=0 is --no-compile); the .pyc files come after. The stage's scripts are unchanged.
stage_env=("${chroot_env[@]}" PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/wheelhouse PIP_COMPILE=0)
log "stage 01-app/01-run-chroot.sh in the arm64 root"
"${stage_env[@]}" chroot "$rootfs" /bin/bash -e < "$stage/01-app/01-run-chroot.sh"
umount "$rootfs/tmp/wheelhouse"
unset 'mounted[${#mounted[@]}-1]'
rmdir "$rootfs/tmp/wheelhouse"
# Bytecode does not depend on the architecture, only on Python's version (the magic number): the host's
# Python compiles the venv when its magic number is the image's, in parallel; otherwise the image's own does.
magic='import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())'
if [ "$("$PYTHON" -c "$magic")" = "$("${chroot_env[@]}" chroot "$rootfs" python3 -c "$magic")" ]; then
    log "byte-compiling the app venv with the host's $("$PYTHON" -V)"
    compile=("$PYTHON" -m compileall -q -j 0 -s "$rootfs" -p / "$rootfs/opt/kiosk/releases")
else
    log "byte-compiling the app venv in the arm64 root (the host's Python has another magic number)"
    compile=("${chroot_env[@]}" chroot "$rootfs" python3 -m compileall -q -j 0 /opt/kiosk/releases)
fi
# Like pip, a file that is not Python 3.11 (a package's templates or tests for other versions) stays uncompiled.
"${compile[@]}" || log "some files were left uncompiled (compileall listed them above)"
if [ -n "$customize" ]; then
    log "customize: $customize"
    "${chroot_env[@]}" chroot "$rootfs" /bin/bash -e < "$customize"
fi
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}"; done
mounted=()
rm -f "$rootfs/etc/resolv.conf"
log "stage applied in $((SECONDS - start)) s"

# Kernel, initrd and the kernel command line: the image's cmdline.txt as the firmware would pass it, with
# the serial console on the board's PL011 (the Pi's serial0) and last, so the test can read it.
cp "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -n1)" "$out/vmlinuz"
cp "$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -n1)" "$out/initrd.img"
sed -e 's/console=serial0,[0-9]*//' -e 's/  */ /g' -e 's/^ //' "$rootfs/boot/firmware/cmdline.txt" \
    | tr -d '\n' > "$out/cmdline"
printf ' console=ttyAMA0,115200\n' >> "$out/cmdline"

# The boot partition (FAT, as on the SD card) and the root partition, then one partitioned disk.
cp -a "$rootfs/boot/firmware" "$out/bootfs"
mkfs.vfat -C -n BOOTFS "$work/boot.img" $((BOOT_MB * 1024)) >/dev/null
if [ -n "$(ls -A "$rootfs/boot/firmware")" ]; then
    mcopy -s -i "$work/boot.img" "$rootfs"/boot/firmware/* ::/
fi
rm -rf "${rootfs:?}"/boot/firmware/*
used_mb=$(du -sm "$rootfs" | cut -f1)
root_mb=$((used_mb * 13 / 10 + 512))
mkfs.ext4 -q -L rootfs -d "$rootfs" "$work/root.img" "${root_mb}M"
disk="$out/disk.img.part"
truncate -s $(((1 + BOOT_MB + root_mb) * 1024 * 1024)) "$disk"
sfdisk -q "$disk" <<PARTS
label: dos
start=1MiB, size=${BOOT_MB}MiB, type=c
start=$((1 + BOOT_MB))MiB, type=83
PARTS
dd if="$work/boot.img" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$disk" bs=1M seek=$((1 + BOOT_MB)) conv=notrunc,sparse status=none
mv "$disk" "$out/disk.img"
log "disk image $out/disk.img (${root_mb} MB root) in $((SECONDS - start)) s after the base"
