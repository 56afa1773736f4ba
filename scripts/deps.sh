#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages vmmu's build and test lanes need.
# Usage: scripts/deps.sh [base|bochs|dkms|full]
#   base:  build against 6.1, the QEMU lane, checkpatch and sparse
#   bochs: base + the Bochs lane's emulator and ISO tools
#   dkms:  base + dkms (make dkms, make check-dkms)
#   full:  bochs + the 6.12 kernel and headers from bookworm-backports
set -eu

want=${1:-full}
base_pkgs="build-essential bc kmod cpio gzip busybox-static qemu-system-x86
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 sparse xz-utils
	flex bison libelf-dev libssl-dev dwarves python3 linux-libc-dev binutils
	strace"
bochs_pkgs="bochs bochsbios vgabios isolinux syslinux-common genisoimage"
bp_list=/etc/apt/sources.list.d/vmmu-bookworm-backports.sources

dkms_pkgs="dkms"

pkgs=$base_pkgs
case $want in
base) ;;
dkms) pkgs="$pkgs $dkms_pkgs" ;;
*) pkgs="$pkgs $bochs_pkgs" ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
need_612=0
if [ "$want" = full ] &&
   ! ls -d /usr/src/linux-headers-6.12.*-amd64 >/dev/null 2>&1; then
	need_612=1
fi

[ -z "$missing" ] && [ $need_612 = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "vmmu: missing packages:$missing" >&2
	[ $need_612 = 1 ] && echo "vmmu: also missing: 6.12 kernel + headers (bookworm-backports)" >&2
	echo "vmmu: run 'sudo make deps' (or as root: apt-get install$missing)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_update() { apt-get update -qq || apt-get update -qq -o APT::Update::Error-Mode=any || true; }

if [ $need_612 = 1 ] && [ ! -f $bp_list ]; then
	cat > $bp_list <<'EOS'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
fi
apt_update
if [ -n "$missing" ]; then
	echo "vmmu: installing:$missing"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
if [ $need_612 = 1 ]; then
	img=$(apt-cache search --names-only '^linux-image-6\.12\..*\+deb12-amd64-unsigned$' |
	      awk '{print $1}' | sort -V | tail -1)
	if [ -z "$img" ]; then
		echo "vmmu: no 6.12 kernel in bookworm-backports; skipping the 6.12 lane" >&2
		exit 0
	fi
	ver=${img#linux-image-}
	ver=${ver%-unsigned}
	echo "vmmu: installing 6.12: $img linux-headers-$ver"
	apt-get install -y -qq --no-install-recommends "$img" "linux-headers-$ver"
fi
