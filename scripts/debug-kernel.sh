#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the debug kernel of the debug-kernel lane from Debian's
# linux-source-6.1 and print the path of its build tree.  The tree is cached
# under $CACHE/debug-kernel-<hash of the source tarball and the fragment>,
# so it is rebuilt only when either changes.
#
# Usage: scripts/debug-kernel.sh             build if needed; print the tree
#        scripts/debug-kernel.sh --if-built  print the tree only if it is built
# Progress goes to stderr.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${CACHE:-$HOME/.cache/vmmu}
tarball=/usr/src/linux-source-6.1.tar.xz
fragment=$top/scripts/debug-kernel.config

[ -f "$tarball" ] || { echo "vmmu: $tarball missing; run 'make deps'" >&2; exit 1; }
key=$( (stat -c '%s %Y' "$tarball"; cat "$fragment") | sha256sum | cut -c1-16)
dir=$cache/debug-kernel-$key
tree=$dir/linux-source-6.1

if [ -f "$dir/done" ]; then
	echo "$tree"
	exit 0
fi
[ "${1:-}" = --if-built ] && exit 0

# Trees of older fragments or sources take 1.7 GiB each: drop them.
rm -rf "$cache"/debug-kernel-*
mkdir -p "$dir"
echo "vmmu: building the debug kernel in $dir (several minutes, once)" >&2
tar -C "$dir" -xf "$tarball"
cd "$tree"
{
	make tinyconfig
	scripts/kconfig/merge_config.sh -m .config "$fragment"
	make olddefconfig
} >"$dir/config.log" 2>&1
# merge_config.sh only warns: insist that every option landed as asked.
missing=0
while IFS= read -r line; do
	case "$line" in CONFIG_*) ;; *) continue ;; esac
	grep -qxF "$line" .config || { echo "vmmu: debug kernel: $line not set" >&2; missing=1; }
done <"$fragment"
[ $missing = 0 ] || exit 1
nice -n 5 make -j"$(nproc)" bzImage modules >"$dir/build.log" 2>&1 || {
	tail -30 "$dir/build.log" >&2
	echo "vmmu: debug kernel build failed (see $dir/build.log)" >&2
	exit 1
}
touch "$dir/done"
echo "$tree"
