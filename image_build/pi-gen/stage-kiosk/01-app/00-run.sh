#!/bin/bash -e
# pi-gen stage step on the build host: hand the project snapshot and the app wheel to the chroot step.
# build_image.sh put them in files/ (files/src = `git archive` of the repo, files/dist = the wheel).
rm -rf "${ROOTFS_DIR}/tmp/kiosk-src"
cp -a files/src "${ROOTFS_DIR}/tmp/kiosk-src"
cp -a files/dist "${ROOTFS_DIR}/tmp/kiosk-src/dist"
install -m 644 files/build.env "${ROOTFS_DIR}/tmp/kiosk-src/build.env"
