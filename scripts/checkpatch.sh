#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kernel's checkpatch.pl --strict over every C source and header of
# the repository (tracked files plus untracked, not ignored ones; build/ is
# left out).  Exits non-zero on any ERROR, WARNING or CHECK.
#
# checkpatch.pl and its data files come from Debian's linux-source-6.1
# tarball, extracted once into $CACHE/checkpatch.
#
# Usage: scripts/checkpatch.sh [FILE...]    (default: every *.c and *.h)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${CACHE:-$HOME/.cache/vmmu}/checkpatch
tarball=${VMMU_LINUX_SOURCE:-$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)}
# What checkpatch.pl reads with --no-tree, besides itself.
wanted="scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch"

if [ ! -x "$cache/scripts/checkpatch.pl" ]; then
	if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
		echo "vmmu: /usr/src/linux-source-6.1.tar.xz is missing:" \
			"install it with 'apt-get install linux-source-6.1' (or 'make deps')" >&2
		exit 1
	fi
	echo "vmmu: extracting checkpatch.pl from $tarball (once) ..." >&2
	mkdir -p "${cache%/*}"
	tmp=$(mktemp -d "${cache%/*}/checkpatch.XXXXXX")
	top_dir=$(tar -tJf "$tarball" 2>/dev/null | head -1 | cut -d/ -f1) || true
	members=""
	for f in $wanted; do
		members="$members $top_dir/$f"
	done
	# shellcheck disable=SC2086
	if ! tar -xJf "$tarball" -C "$tmp" --strip-components=1 $members; then
		rm -rf "$tmp"
		echo "vmmu: cannot extract checkpatch.pl from $tarball" >&2
		exit 1
	fi
	chmod +x "$tmp/scripts/checkpatch.pl"
	rm -rf "$cache"
	mv "$tmp" "$cache"
fi

command -v perl >/dev/null || { echo "vmmu: perl is needed for checkpatch.pl" >&2; exit 1; }

cd "$top"
if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' |
		grep -v '^build/' | sort -u)
fi
# Files listed by git but deleted in the work tree are not checked.
existing=()
for f in ${files[@]+"${files[@]}"}; do
	[ -f "$f" ] && existing+=("$f")
done
if [ ${#existing[@]} -eq 0 ]; then
	echo "checkpatch: no C sources or headers to check"
	exit 0
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
"$cache/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--no-summary -f "${existing[@]}" >"$out" 2>&1
rc=$?
set -e
sed -n '/^$/!p' "$out"
problems=$(grep -cE '(^|: )(ERROR|WARNING|CHECK):' "$out" || true)
echo "checkpatch: ${#existing[@]} files, $problems problem(s)"
if [ "$problems" != 0 ] || [ $rc != 0 ]; then
	exit 1
fi
