#!/bin/bash -e
# pi-gen stage: start from stage2's (Raspberry Pi OS Lite) root file system.
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
