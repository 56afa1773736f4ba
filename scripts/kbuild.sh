#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build vmmu.ko against one kernel build tree, in a private copy of the
# sources so that builds for several kernels never share object files.
#
# Usage: scripts/kbuild.sh KDIR OUTDIR [extra kbuild arguments, e.g. C=2]
# Fails when the compiler (W=1) or sparse prints any warning.
set -eu

kdir=$1
out=$2
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
srcs="Kbuild include dev core mmu tdp_mmu notifier pfncache emul x86 svm vmx"

if [ ! -f "$kdir/Makefile" ]; then
	echo "vmmu: no kernel build tree at $kdir (run 'make deps')" >&2
	exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Copy with mtimes kept, so that kbuild rebuilds only what changed.
# shellcheck disable=SC2086
(cd "$top" && tar cf - $(for s in $srcs; do [ -e "$s" ] && echo "$s"; done)) |
	(cd "$out" && tar xf - --keep-newer-files 2>/dev/null || true)
log=$out/build.log
set +e
make -C "$kdir" M="$out" W=1 "$@" modules >"$log" 2>&1
rc=$?
set -e
grep -v '^make\[' "$log" | grep -vE '^\s+(CC|LD|MODPOST|CHECK|BTF|MODINFO|CC \[M\]|LD \[M\])' | grep -v '^$' || true
if [ $rc != 0 ]; then
	echo "vmmu: build against $kdir failed" >&2
	exit $rc
fi
if grep -qE 'warning:|error:' "$log"; then
	echo "vmmu: build against $kdir printed warnings (see $log)" >&2
	exit 1
fi
echo "vmmu: built $out/vmmu.ko for $("$top/scripts/krelease.sh" "$kdir")"
