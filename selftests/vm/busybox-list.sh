#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the mkinitramfs.py entries that put Debian's static busybox into an
# initramfs: the device nodes a shell needs before devtmpfs is mounted,
# /bin/busybox, and a link to it for each of its applets (/bin/sh,
# /sbin/poweroff ...).  run-lanes.sh uses it for the lanes' initramfs and
# qemu-boot.sh for the one of the guest that QEMU boots inside a lane.
#
# Usage: selftests/vm/busybox-list.sh
# Exits 1 with a message if there is no statically linked busybox: the
# initramfs has no C library for a dynamic one.
set -u

die() {
	echo "vmmu: $*" >&2
	exit 1
}

busybox=/bin/busybox
[ -x $busybox ] || busybox=$(command -v busybox)
[ -n "$busybox" ] || die "busybox not found; run 'make deps' (package busybox-static)"
if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q INTERP; then
	die "$busybox is not statically linked; install busybox-static"
fi

echo "dir /dev 755"
echo "nod /dev/console 600 c 5 1"
echo "nod /dev/null 666 c 1 3"
echo "file /bin/busybox $busybox 755"
"$busybox" --list-full | while read -r a; do
	[ "$a" = bin/busybox ] || echo "slink /$a /bin/busybox 777"
done
