#!/usr/bin/env bash
# Install the kiosk app (a wheel of this repo) into a fresh versioned venv and switch to it atomically.
#
#   install_app_venv.sh [--prefix /opt/kiosk] [--bin-dir /usr/local/bin] [--extras kiosk,server]
#                       [--python python3] [--keep 2] PACKAGE [extra pip arguments...]
#
# Runs on the target: inside the pi-gen chroot at image build, or on a kiosk for an app-only update.
# Result: PREFIX/releases/<version>-<time>/ holds the venv, PREFIX/venv is a symlink to it (the path
# kiosk.service uses), and BIN_DIR/kiosk and BIN_DIR/store-server point into PREFIX/venv. A venv cannot be
# moved after creation (its scripts name their interpreter by absolute path), hence releases + symlink.
# The previous release stays for a rollback: ln -sfn PREFIX/releases/<old> PREFIX/venv.
set -euo pipefail

prefix=/opt/kiosk
bin_dir=/usr/local/bin
extras=kiosk,server
python=python3
keep=2

die() { echo "install_app_venv: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?}; shift 2 ;;
        --bin-dir) bin_dir=${2:?}; shift 2 ;;
        --extras) extras=${2-}; shift 2 ;;
        --python) python=${2:?}; shift 2 ;;
        --keep) keep=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || die "missing PACKAGE (a wheel file, e.g. dist/loyalty_kiosk-0.1.0-py3-none-any.whl)"
package=$1; shift
[ -f "$package" ] || die "package $package not found"
case "$keep" in ''|*[!0-9]*|0) die "--keep must be a positive number" ;; esac

# Wheel names are <name>-<version>-...; the version names the release folder.
version=$(basename "$package" | cut -d- -f2)
release="$prefix/releases/$version-$(date -u +%Y%m%dT%H%M%SZ)"
[ ! -e "$release" ] || die "$release already exists"
mkdir -p "$prefix/releases" "$bin_dir"

# --system-site-packages: reuse Raspberry Pi OS's python3-lgpio (gpiozero's pin factory on Pi 5),
# which pip cannot build without extra toolchains.
# The system pip (python3-pip, 22.3 or newer) installs into the venv through --python, which spares the
# venv its own copy of pip (and ensurepip's several seconds under qemu); otherwise the venv gets one.
if "$python" -m pip install --help 2>/dev/null | grep -q -- '--python '; then
    "$python" -m venv --system-site-packages --without-pip "$release"
    pip=("$python" -m pip --python "$release/bin/python")
else
    "$python" -m venv --system-site-packages "$release"
    pip=("$release/bin/python" -m pip)
fi
spec=$package
[ -z "$extras" ] || spec="$package[$extras]"
if ! "${pip[@]}" install --no-cache-dir --disable-pip-version-check "$spec" "$@"; then
    rm -rf "$release"
    die "pip install failed; the running release was not touched"
fi
[ -x "$release/bin/kiosk" ] || { rm -rf "$release"; die "$package installed no 'kiosk' command"; }

ln -sfn "$release" "$prefix/venv.new"
mv -T "$prefix/venv.new" "$prefix/venv"
for command in kiosk store-server; do
    if [ -x "$prefix/venv/bin/$command" ]; then
        ln -sfn "$prefix/venv/bin/$command" "$bin_dir/$command"
    fi
done

# Keep the newest $keep releases (the active one always among them).
active=$(readlink -f "$prefix/venv")
ls -1dt "$prefix"/releases/*/ 2>/dev/null | sed 's:/$::' | tail -n +"$((keep + 1))" | while read -r old; do
    [ "$(readlink -f "$old")" = "$active" ] || rm -rf "$old"
done
echo "install_app_venv: $prefix/venv -> $release"
