#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmmu under DKMS (dkms.conf).
# Usage: scripts/dkms.sh source DIR   write the DKMS source tree
#                                     DIR/vmmu-VERSION and print its path
#        scripts/dkms.sh install      as root: copy it to /usr/src and
#                                     dkms install it for every kernel whose
#                                     headers are installed
#        scripts/dkms.sh check        build it with dkms for every installed
#                                     6.1 and 6.12 kernel, in private trees
#                                     under build/dkms (nothing written to
#                                     the system's), then load the modules
#                                     dkms made in the QEMU lanes and run a
#                                     test there; TAP, then "N passed, N failed"
#
# VERSION is 0.<commits in HEAD> (0.0 outside a git checkout); the source
# tree holds Kbuild, dkms.conf with that version, and the module's C,
# header and assembly files (none of selftests/, tools/ or scripts/).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "vmmu dkms: $*" >&2; exit 1; }

version() {
	local n
	n=$(git -C "$top" rev-list --count HEAD 2>/dev/null) || n=0
	echo "0.$n"
}

# The module's files, relative to $top.
module_files() {
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$top" ls-files Kbuild '*.c' '*.h' '*.S'
	else
		(cd "$top" && find . -name '*.[chS]' -o -name Kbuild | sed 's|^\./||')
	fi | grep -v -e '^selftests/' -e '^tools/' -e '^scripts/' -e '^build/'
}

make_source() { # parent dir
	local v dst
	v=$(version)
	dst=$1/vmmu-$v
	rm -rf "$dst"
	mkdir -p "$dst"
	module_files | (cd "$top" && while read -r f; do
		mkdir -p "$dst/$(dirname "$f")"
		cp "$f" "$dst/$f"
	done)
	sed "s/#MODULE_VERSION#/$v/" "$top/dkms.conf" >"$dst/dkms.conf"
	echo "$dst"
}

cmd=${1:-}
case $cmd in
source)
	[ $# = 2 ] || die "usage: scripts/dkms.sh source DIR"
	mkdir -p "$2"
	make_source "$(cd "$2" && pwd)"
	;;
install)
	command -v dkms >/dev/null || die "dkms is not installed; run 'make deps' (or apt-get install dkms)"
	[ "$(id -u)" = 0 ] || die "installing under /usr/src needs root: run 'sudo make dkms'"
	v=$(version)
	dkms remove "vmmu/$v" --all >/dev/null 2>&1 || true
	make_source /usr/src >/dev/null
	dkms add "vmmu/$v"
	kernels=
	for build in /lib/modules/*/build; do
		[ -d "$build" ] || continue
		k=${build#/lib/modules/}
		k=${k%/build}
		dkms install "vmmu/$v" -k "$k" || die "dkms install for $k failed"
		kernels="$kernels $k"
	done
	[ -n "$kernels" ] || die "no kernel headers under /lib/modules/*/build: install linux-headers-\$(uname -r), then run 'dkms autoinstall'"
	echo "vmmu dkms: vmmu/$v installed for$kernels; 'modprobe vmmu' loads it, 'dkms remove vmmu/$v --all' takes it away"
	;;
check)
	exec "$top/scripts/dkms-check.sh"
	;;
*)
	die "usage: scripts/dkms.sh source DIR | install | check"
	;;
esac
