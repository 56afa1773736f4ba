#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) upstream KVM selftests from Debian's linux-source-6.1 as
# static programs and print the directory that holds them (with the
# programs under the same paths as in tools/testing/selftests/kvm).
#
# Only tools/ and scripts/subarch.include are extracted from the tarball.
# The programs are built against the installed uAPI headers (Debian's
# linux-libc-dev matches the tree) and cached under
# $CACHE/kvm-selftests-<hash of the tarball, this script and the program
# list>/bin, so they are rebuilt only when one of those changes.
#
# Usage: scripts/kvm-selftests.sh [--if-built] [PROGRAM...]
#   PROGRAM     a test of tools/testing/selftests/kvm, e.g. demand_paging_test
#               or x86_64/userspace_io_test, built besides the default set
#               (the list below)
#   --if-built  print the directory only if it is built; never build
# Environment: CACHE (default ~/.cache/vmmu), VMMU_LINUX_SOURCE (the tarball).
# Progress goes to stderr.
set -eu

default_progs="demand_paging_test dirty_log_perf_test dirty_log_test kvm_create_max_vcpus
	set_memory_region_test memslot_modification_stress_test kvm_page_table_test
	x86_64/cpuid_test x86_64/get_msr_index_features x86_64/set_sregs_test
	x86_64/userspace_io_test x86_64/tsc_msrs_test x86_64/max_vcpuid_cap_test
	x86_64/set_boot_cpu_id x86_64/platform_info_test x86_64/sync_regs_test
	x86_64/userspace_msr_exit_test system_counter_offset_test
	kvm_binary_stats_test"

self=$(readlink -f "$0")
cache=${CACHE:-$HOME/.cache/vmmu}
tarball=${VMMU_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}

if_built=0
if [ "${1:-}" = --if-built ]; then
	if_built=1
	shift
fi
# Programs asked for are built with the default set, so that every caller
# that needs no more than the default shares one cache; one name per word,
# in a stable order, for the key.
# shellcheck disable=SC2086
progs=$(printf '%s\n' $default_progs "$@" | sort -u | tr '\n' ' ')
for p in $progs; do
	case $p in
	*[!A-Za-z0-9_/]* | /* | */ | *..*)
		echo "vmmu: kvm-selftests: bad program name '$p'" >&2
		exit 1
		;;
	esac
done

if [ ! -f "$tarball" ]; then
	[ $if_built = 1 ] && exit 0
	echo "vmmu: $tarball missing; run 'make deps' (package linux-source-6.1)" >&2
	exit 1
fi
key=$( (stat -c '%s %Y' "$tarball"; cat "$self"; echo "$progs") | sha256sum | cut -c1-16)
dir=$cache/kvm-selftests-$key
bin=$dir/bin

if [ -f "$dir/done" ]; then
	echo "$bin"
	exit 0
fi
[ $if_built = 1 ] && exit 0

for f in /usr/include/linux/kvm.h /usr/include/linux/userfaultfd.h; do
	[ -f "$f" ] || { echo "vmmu: $f missing; install linux-libc-dev" >&2; exit 1; }
done
for c in gcc make readelf; do
	command -v $c >/dev/null || { echo "vmmu: $c not found; run 'make deps'" >&2; exit 1; }
done

mkdir -p "$cache"
# Builds of the same key (lanes of other sessions) wait for each other.
exec 8>"$cache/kvm-selftests.lock"
flock 8
if [ -f "$dir/done" ]; then
	echo "$bin"
	exit 0
fi

start=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir/src"
echo "vmmu: building upstream KVM selftests in $dir (once)" >&2
top_dir=$(tar -tJf "$tarball" 2>/dev/null | head -1 | cut -d/ -f1) || true
[ -n "$top_dir" ] || { echo "vmmu: cannot list $tarball" >&2; exit 1; }
tar -xJf "$tarball" -C "$dir/src" --strip-components=1 \
	"$top_dir/tools" "$top_dir/scripts/subarch.include"
kdir=$dir/src/tools/testing/selftests/kvm

# Absolute targets: with relative ones make uses its built-in rule for a
# single C file and never builds the library.
targets=()
for p in $progs; do
	targets+=("$kdir/$p")
done
cflags=-static
# dirty_log_test of this tree uses a macro its library does not have yet.
case " $progs " in
*" dirty_log_test "*)
	cflags="$cflags -D\"TEST_ASSERT_EQ(a,b)=TEST_ASSERT((a)==(b),\\\"%s != %s\\\",#a,#b)\""
	;;
esac
# OUTPUT: lib.mk sets it only at MAKELEVEL 0, i.e. not under another make.
if ! make -C "$kdir" -j"$(nproc)" OUTPUT="$kdir" EXTRA_CFLAGS="$cflags" \
	KHDR_INCLUDES="-isystem /usr/include" "${targets[@]}" >"$dir/build.log" 2>&1; then
	tail -30 "$dir/build.log" >&2
	echo "vmmu: KVM selftests build failed (see $dir/build.log)" >&2
	exit 1
fi

mkdir -p "$bin"
for p in $progs; do
	if LC_ALL=C readelf -l "$kdir/$p" 2>/dev/null | grep -q INTERP; then
		echo "vmmu: $kdir/$p is not statically linked" >&2
		exit 1
	fi
	mkdir -p "$(dirname "$bin/$p")"
	cp "$kdir/$p" "$bin/$p"
done
# Only the programs are kept (a few MiB per key): the tree is much larger.
rm -rf "$dir/src"
echo "$(($(date +%s) - start)) s" >"$dir/build-time"
touch "$dir/done"
echo "vmmu: KVM selftests built in $(cat "$dir/build-time")" >&2
echo "$bin"
