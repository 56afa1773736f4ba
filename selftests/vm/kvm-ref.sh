#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run upstream KVM selftests (scripts/kvm-selftests.sh) in a QEMU lane,
# against Debian's own kvm + kvm_amd (the reference) and/or against vmmu
# with /dev/kvm made from vmmu's device numbers while kvm is not loaded.
# Prints TAP through run-lanes.sh and collect.py, then "N passed, N failed";
# exits 1 on any failure.  A test passes only if it exits 0: KSFT_SKIP (4)
# is a failure.
#
# Usage: selftests/vm/kvm-ref.sh [--side kvm|vmmu|both] [--svm-busy] [TEST...]
#        selftests/vm/kvm-ref.sh --plan FILE [--extra LIST]
#   TEST         one argument per test: "PROGRAM [ARG...]", PROGRAM as named
#                in tools/testing/selftests/kvm, e.g.
#                'demand_paging_test -v 2 -b 64M' or x86_64/userspace_io_test
#                (default: demand_paging_test with -v 1 -b 64M, -v 2 -b 64M
#                and -u MISSING -b 64M, set_memory_region_test,
#                dirty_log_test -c 4096, dirty_log_perf_test with -v 1 and -v 2,
#                -b 64M, with manual protection and without it (-g),
#                kvm_page_table_test -b 64M, with -s anonymous_thp
#                kvm_page_table_test, demand_paging_test and
#                dirty_log_perf_test, -b 64M, and with -s anonymous_hugetlb
#                demand_paging_test and dirty_log_perf_test, -b 64M, for
#                which the plan reserves 64 hugetlbfs pages first; the vCPU
#                tests a VMM relies on: x86_64/cpuid_test,
#                get_msr_index_features, set_sregs_test, userspace_io_test,
#                tsc_msrs_test, max_vcpuid_cap_test, set_boot_cpu_id,
#                platform_info_test, sync_regs_test, userspace_msr_exit_test,
#                system_counter_offset_test; and kvm_binary_stats_test)
#   --side       kvm (default), vmmu, or both (vmmu first, unloaded before
#                kvm is loaded: a hang of the reference under the emulator
#                then costs none of vmmu's results); every side also runs
#                kvm-probe, which lists the ioctls the tests need that the side lacks; with both,
#                the kvm side ends with vmmu's svm_busy (SVM shared with
#                kvm_amd: EBUSY, then SVME left clear)
#   --svm-busy   with --side vmmu: after vmmu's side, load kvm_amd and run
#                svm_busy alone (no reference test runs).  make check uses
#                this: Debian's kvm_amd running the selftests under QEMU's
#                SVM emulation has hung the whole emulated machine, so the
#                reference runs only in make kvm-ref
#   --plan FILE  run the steps of FILE (format: selftests/vm/kvm-guest.sh)
#   --extra LIST more files for the initramfs, in mkinitramfs.py's format;
#                a program the plan names that LIST puts at /kvm/bin/PROGRAM
#                is taken from there (selftests/vm/qemu-boot.sh: QEMU, its
#                libraries and the step that runs it)
#
# Programs come from scripts/kvm-selftests.sh (built on first use),
# build/bench (every tools/bench/*.c, e.g. kvm-probe) and selftests/build
# (vmmu's own test programs, e.g. svm_busy, which loads vmmu itself while
# kvm is loaded).  The kvm modules, for a plan that loads kvm, come from
# /lib/modules/<release> of every installed kernel, and from the debug
# kernel's tree once it is built.
#
# Environment: everything run-lanes.sh reads (V, VMMU_LANES, VMMU_TIMEOUT,
# VMMU_TEST_TIMEOUT, VMMU_APPEND, VMMU_MODULES ...), and VMMU_LANE_PREFIX
# (lane names, default "kvm-": build/lanes/kvm-qemu-6.1/ keeps the logs).
# A full run-lanes.sh (make check) runs this script as its last lane, with
# VMMU_STATE set: the TAP lines then number on from its count and the
# summary line is the caller's.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
die() {
	echo "vmmu: $*" >&2
	exit 1
}

side=kvm
svm_busy=0
plan_in=
extra_in=
tests=()
while [ $# -gt 0 ]; do
	case $1 in
	--side)
		[ $# -ge 2 ] || die "--side needs kvm, vmmu or both"
		side=$2
		shift 2
		;;
	--svm-busy)
		svm_busy=1
		shift
		;;
	--plan | --extra)
		if [ $# -lt 2 ] || [ ! -f "$2" ]; then
			die "$1 needs a file"
		fi
		case $1 in
		--plan) plan_in=$2 ;;
		*) extra_in=$2 ;;
		esac
		shift 2
		;;
	-h | --help)
		sed -n '3,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1 (see --help)" ;;
	*)
		tests+=("$1")
		shift
		;;
	esac
done
case $side in kvm | vmmu | both) ;; *) die "--side: kvm, vmmu or both, not '$side'" ;; esac
[ $svm_busy = 0 ] || [ "$side" = vmmu ] || die "--svm-busy goes with --side vmmu (both runs svm_busy anyway)"
if [ ${#tests[@]} = 0 ]; then
	tests=("demand_paging_test -v 1 -b 64M" "demand_paging_test -v 2 -b 64M"
		"demand_paging_test -u MISSING -b 64M" "set_memory_region_test"
		"dirty_log_test -c 4096" "dirty_log_perf_test -v 1 -b 64M"
		"dirty_log_perf_test -v 1 -b 64M -g"
		"dirty_log_perf_test -v 2 -b 64M"
		"dirty_log_perf_test -v 2 -b 64M -g" "kvm_page_table_test -b 64M"
		"kvm_page_table_test -b 64M -s anonymous_thp"
		"demand_paging_test -b 64M -s anonymous_thp"
		"dirty_log_perf_test -b 64M -s anonymous_thp"
		"demand_paging_test -b 64M -s anonymous_hugetlb"
		"dirty_log_perf_test -b 64M -s anonymous_hugetlb"
		"x86_64/cpuid_test" "x86_64/get_msr_index_features"
		"x86_64/set_sregs_test" "x86_64/userspace_io_test"
		"x86_64/tsc_msrs_test" "x86_64/max_vcpuid_cap_test"
		"x86_64/set_boot_cpu_id" "x86_64/platform_info_test"
		"x86_64/sync_regs_test" "x86_64/userspace_msr_exit_test"
		"system_counter_offset_test" "kvm_binary_stats_test")
fi

work=$top/build/kvm-ref
mkdir -p "$work"
run=$(mktemp -d "$work/run.XXXXXX") || die "cannot create a directory in $work"
trap 'rm -rf "$run"' EXIT

# --- the plan ---
# A step name: SIDE:PROGRAM[ARG,ARG...] (no blanks: names are words).
step_name() { # side program [args...]
	local s=$1 p=$2 a
	shift 2
	a=$(
		IFS=,
		echo "$*"
	)
	echo "$s:$p${a:+[$a]}"
}

plan=$run/plan
if [ -n "$plan_in" ]; then
	cp "$plan_in" "$plan"
else
	sides=$side
	[ "$side" = both ] && sides="vmmu kvm"
	# hugetlbfs pages for the tests that ask for them: 64 MiB of guest
	# memory and the library's page tables, with room to spare.
	case " ${tests[*]} " in
	*anonymous_hugetlb*) echo "hugepages 64" >"$plan" ;;
	*) : >"$plan" ;;
	esac
	for s in $sides; do
		echo "load $s"
		echo "run $s:kvm-probe kvm-probe"
		for t in "${tests[@]}"; do
			set -f
			# shellcheck disable=SC2086
			set -- $t
			set +f
			[ $# -gt 0 ] || die "empty test"
			echo "run $(step_name "$s" "$@") $*"
		done
		# With both sides, vmmu's own test of sharing the CPUs with
		# kvm_amd (it loads and unloads vmmu itself).
		if [ "$side" = both ] && [ "$s" = kvm ]; then
			echo "run kvm:svm_busy svm_busy"
		fi
		echo "unload $s"
	done >>"$plan"
	if [ $svm_busy = 1 ]; then
		printf 'load kvm\nrun kvm:svm_busy svm_busy\nunload kvm\n' >>"$plan"
	fi
fi

# --- programs ---
progs=$(awk '$1 == "run" || $1 == "probe" || $1 == "tap" { print $3 }' "$plan" |
	sort -u | tr "\n" " ")
[ -n "$progs" ] || die "the plan runs no program"
for p in $progs; do
	case $p in
	*[!A-Za-z0-9_/-]* | /* | */ | *..*) die "bad program name '$p'" ;;
	esac
done
# A program with a source in tools/bench is built there, into build/bench;
# vmmu's own test programs (selftests/NAME.c) run from selftests/build; the
# --extra list brings its own.
bench_prog() { [ -f "$top/tools/bench/$1.c" ]; }
own() { [ -f "$top/selftests/$1.c" ]; }
extra() { [ -n "$extra_in" ] && grep -q "^file /kvm/bin/$1 " "$extra_in"; }
upstream=()
bench=
owned=0
for p in $progs; do
	if extra "$p"; then
		:
	elif bench_prog "$p"; then
		bench=1
	elif own "$p"; then
		owned=1
	else
		upstream+=("$p")
	fi
done
if [ ${#upstream[@]} -gt 0 ]; then
	bin=$("$top/scripts/kvm-selftests.sh" "${upstream[@]}") || exit 1
fi
if [ -n "$bench" ]; then
	make -s -C "$top/tools/bench" >&2 || die "cannot build tools/bench"
fi
if [ $owned = 1 ]; then
	make -s -C "$top/selftests" >&2 || die "cannot build selftests"
fi

# --- kvm modules of every kernel a lane may boot ---
# modules.order of ROOT names each module by its path below ROOT.
ko_path() { # root name -> the module file, maybe compressed
	local root=$1 n=$2 rel f
	rel=$(grep -E "(^|/)(${n//-/[-_]}|${n//_/[-_]})\.ko$" "$root/modules.order" | head -1)
	[ -n "$rel" ] || return 1
	for f in "$root/$rel" "$root/$rel.xz" "$root/$rel.zst" "$root/$rel.gz"; do
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 1
}

# Module files of NAME after their dependencies, one a line.
ko_chain() { # root name [seen...]
	local root=$1 n=$2 f d
	f=$(ko_path "$root" "$n") || { echo "vmmu: no module $n under $root" >&2; return 1; }
	for d in $(modinfo -F depends "$f" 2>/dev/null | tr , ' '); do
		ko_chain "$root" "$d" || return 1
	done
	echo "$f"
}

add_modules() { # root release
	local root=$1 rel=$2 dst=$work/modules/$2 vendor f name tmp tmpf order
	mkdir -p "$dst"
	for vendor in amd intel; do
		order=$(ko_chain "$root" "kvm-$vendor" 2>/dev/null | awk '!seen[$0]++')
		[ -n "$order" ] || continue
		tmp=$(mktemp "$dst/.order.XXXXXX")
		for f in $order; do
			name=${f##*/}
			name=${name%%.ko*}.ko
			if [ ! -f "$dst/$name" ] || [ "$f" -nt "$dst/$name" ]; then
				tmpf=$(mktemp "$dst/.ko.XXXXXX")
				case $f in
				*.xz) xz -dc "$f" ;;
				*.zst) zstd -qdc "$f" ;;
				*.gz) gzip -dc "$f" ;;
				*) cat "$f" ;;
				esac >"$tmpf" || die "cannot copy $f"
				mv "$tmpf" "$dst/$name" || die "cannot copy $f"
			fi
			echo "$name" >>"$tmp"
			echo "file /kvm/modules/$rel/$name $dst/$name 644" >>"$run/extra.list"
		done
		mv "$tmp" "$dst/order-$vendor"
		echo "file /kvm/modules/$rel/order-$vendor $dst/order-$vendor 644" >>"$run/extra.list"
	done
}

: >"$run/extra.list"
# Only for a plan that loads kvm: a vmmu-only plan goes without them (the
# Bochs lane reads the whole initramfs through its emulated CD-ROM).
if grep -qE '^load[[:space:]]+kvm([[:space:]]|$)' "$plan"; then
	for v in /boot/vmlinuz-*; do
		rel=${v#/boot/vmlinuz-}
		[ -f "/lib/modules/$rel/modules.order" ] && add_modules "/lib/modules/$rel" "$rel"
	done
	dtree=$("$top/scripts/debug-kernel.sh" --if-built 2>/dev/null)
	if [ -n "$dtree" ] && [ -f "$dtree/modules.order" ]; then
		add_modules "$dtree" "$(cat "$dtree/include/config/kernel.release")"
	fi
	grep -q order- "$run/extra.list" || die "no kvm modules found for any installed kernel"
fi

echo "file /kvm/plan $plan 644" >>"$run/extra.list"
[ -z "$extra_in" ] || cat "$extra_in" >>"$run/extra.list"
for p in $progs; do
	if extra "$p"; then
		continue
	elif bench_prog "$p"; then
		f=$top/build/bench/$p
	elif own "$p"; then
		f=$top/selftests/build/$p
	else
		f=$bin/$p
	fi
	[ -x "$f" ] || die "no program $p ($f)"
	echo "file /kvm/bin/$p $f 755" >>"$run/extra.list"
done

VMMU_EXTRA_LIST=$run/extra.list "$top/selftests/vm/run-lanes.sh" --kvm
