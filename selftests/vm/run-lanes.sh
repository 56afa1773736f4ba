#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian kernels under QEMU (TCG) and Bochs with vmmu.ko and the
# selftests in an initramfs, and print one TAP line per test across all
# lanes, then "N passed, N failed".  Exits 1 if anything failed.
#
# Usage: selftests/vm/run-lanes.sh [--quick | --demo [--bochs] | --kvm]
#   (none)    every lane: qemu-6.1 (5-level paging, page_poison=1
#             preempt=full), qemu-6.1-no5lvl, qemu-6.1-1g (4 GiB with a
#             1 GiB hugetlbfs page reserved at boot, running huge_pages
#             alone, or T), and, when the kernel and its
#             vmmu.ko exist, qemu-6.12 and qemu-debug (the debug kernel
#             built by scripts/debug-kernel.sh: lockdep, KASAN, kmemleak ...);
#             then, when Bochs is installed, bochs-6.1: Debian's 6.1 kernel
#             on an emulated Intel CPU with VMX and EPT (corei7_skylake_x,
#             see bochs-boot.sh), running the programs listed in
#             selftests/vm/bochs-tests (or T); then, unless T is set (or
#             VMMU_LANES leaves qemu-6.1 out), the lane kvm-qemu-6.1:
#             upstream KVM selftests against vmmu, then vmmu's svm_busy
#             beside Debian's kvm_amd (selftests/vm/kvm-ref.sh --side vmmu
#             --svm-busy), counted with the rest; the kvm_amd reference
#             runs in make kvm-ref
#   --quick   lane qemu-6.1 only
#   --demo    boot 6.1, run tools/build/vmmu-demo with its output shown
#             live; exit with its status.  With --bochs, under Bochs (an
#             Intel CPU with VMX and EPT) instead of QEMU
#   --kvm     kvm mode, for selftests/vm/kvm-ref.sh: lane qemu-6.1 (or the
#             VMMU_LANES, bochs-6.1 among them), named with the prefix
#             VMMU_LANE_PREFIX (default "kvm-"); no program of
#             selftests/build; the initramfs gets
#             /kvm/guest.sh and the entries of VMMU_EXTRA_LIST (a list in
#             mkinitramfs.py's format: /kvm/plan, /kvm/bin, /kvm/modules),
#             and /init runs the plan (see kvm-guest.sh)
#
# Environment:
#   T="a b"             run only these programs of selftests/build
#   V=1                 show the guest console live, and every program's output
#   VMMU_TIMEOUT        seconds per boot (default 1800: an outer bound for a
#                       slow machine; the watchdogs below catch hangs)
#   VMMU_SILENCE        end a QEMU lane whose two consoles stayed silent
#                       this many seconds (default 120; the kvm lane: at
#                       least 300); its running step and last console lines
#                       are reported as a failure
#   VMMU_BOCHS_SILENCE  the same for the Bochs lane (default 300: its quiet
#                       boot can print nothing for minutes on a loaded
#                       machine); silence counts from the first line
#   VMMU_TEST_TIMEOUT   seconds per test program inside the guest (default 300)
#   VMMU_BOCHS_TIMEOUT  seconds for the Bochs lane's boot (default 1200)
#   VMMU_BOCHS_TEST_TIMEOUT  seconds per test program under Bochs, in the
#                       guest's (emulated) time (default 150)
#   VMMU_LANES="..."    run only these lanes (names as above)
#   VMMU_JOBS           lanes booted at the same time (default 1)
#   VMMU_APPEND         extra kernel command line arguments
#   VMMU_MODULES        directory with <build dir>/vmmu.ko (default build/); the
#                       module for a kernel is the newest one whose vermagic
#                       names that kernel release
#   VMMU_TESTS          directory of test programs (default selftests/build)
#   VMMU_TOOLS          directory of tools for /tools (default tools/build)
#   VMMU_GUEST_KIND     svm or vmx: the guest tests try only that kind of
#                       hardware vCPU (selftests/lib/guest_util.h)
#   VMMU_FUZZ_SEED, VMMU_FUZZ_SECONDS, VMMU_FUZZ_EPOCH, VMMU_FUZZ_THREADS
#                       passed on to the guest: defaults of the fuzz
#                       program's -s, -d, -e, -t (selftests/fuzz.c)
#   VMMU_STRESS_HW=1    passed on to the guest: stress_memslot_race also
#                       runs its hardware-vCPU half (off by default: see
#                       Documentation/testing.rst, "Hostile interleavings")
#   VMMU_KVM_LANE=0     leave the kvm lane out of a full run (and the QEMU
#                       boot lane, which runs beside it)
#   VMMU_QEMU_BOOT_LANE=0
#                       leave the QEMU boot lane out of a full run
#   VMMU_STATE          --kvm only: the TAP count file of a run-lanes.sh that
#                       runs this one as its kvm lane (it holds the lock):
#                       number on from it, print no summary
#
# Per lane, build/lanes/<lane>/ keeps console.log (ttyS0: kernel console),
# results.log (ttyS1: what /init reported) and qemu.log (Bochs lanes:
# bochs.out, Bochs's output, and bochs.log, its log file).
#
# Test programs see VMMU_EMULATOR=qemu or bochs in their environment; under
# Bochs (about 80 million guest instructions a second) they use smaller
# sizes.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/selftests/vm
out=$top/build/lanes
modules=${VMMU_MODULES:-$top/build}
tests_dir=${VMMU_TESTS:-$top/selftests/build}
tools_dir=${VMMU_TOOLS:-$top/tools/build}
boot_timeout=${VMMU_TIMEOUT:-1800}
silence=${VMMU_SILENCE:-120}
bochs_silence=${VMMU_BOCHS_SILENCE:-300}
test_timeout=${VMMU_TEST_TIMEOUT:-300}
jobs=${VMMU_JOBS:-1}
verbose=${V:-0}
[ "$verbose" = 1 ] || verbose=0
[ "$verbose" = 1 ] && jobs=1

die() {
	echo "vmmu: $*" >&2
	exit 1
}

mode=full
demo_bochs=0
case "${1:-}" in
"") ;;
--quick) mode=quick ;;
--demo) mode=demo ;;
--kvm) mode=kvm ;;
*) die "usage: $0 [--quick|--demo [--bochs]|--kvm]" ;;
esac
if [ $mode = demo ] && [ "${2:-}" = --bochs ]; then
	demo_bochs=1
elif [ -n "${2:-}" ]; then
	die "usage: $0 [--quick|--demo [--bochs]|--kvm]"
fi
bochs_timeout=${VMMU_BOCHS_TIMEOUT:-1200}
bochs_test_timeout=${VMMU_BOCHS_TEST_TIMEOUT:-150}
have_bochs=0
command -v bochs >/dev/null && command -v genisoimage >/dev/null && have_bochs=1
[ $demo_bochs = 1 ] && [ $have_bochs = 0 ] &&
	die "bochs or genisoimage not found; run 'make deps'"

for cmd in qemu-system-x86_64 python3 timeout; do
	command -v $cmd >/dev/null || die "$cmd not found; run 'make deps'"
done
# /dev, /bin/busybox and its applets, for every initramfs.
busybox_list=$("$vm/busybox-list.sh") || exit 1

# Kernel release a module was built for, from its vermagic.
vermagic_release() {
	tr '\0' '\n' <"$1" | sed -n 's/^vermagic=\([^ ]*\).*/\1/p' | head -1
}

# The newest vmmu.ko built for kernel release $1, if any.
find_module() {
	local ko best=
	for ko in "$modules"/*/vmmu.ko; do
		[ -f "$ko" ] || continue
		case $ko in */sparse-*/vmmu.ko | */lanes/*) continue ;; esac
		[ "$(vermagic_release "$ko")" = "$1" ] || continue
		if [ -z "$best" ] || [ "$ko" -nt "$best" ]; then
			best=$ko
		fi
	done
	echo "$best"
}

# Releases of the installed kernels matching glob $1, newest first.
kernels() {
	local v
	for v in /boot/vmlinuz-$1; do
		[ -f "$v" ] && echo "${v#/boot/vmlinuz-}"
	done | sort -rV
}

# Newest installed kernel release matching glob $1 that has a module.
pick_kernel() {
	local rel
	for rel in $(kernels "$1"); do
		if [ -n "$(find_module "$rel")" ]; then
			echo "$rel"
			return
		fi
	done
}

# The debug kernel's build tree, if scripts/debug-kernel.sh built it.
debug_tree() {
	local d
	for d in "${CACHE:-$HOME/.cache/vmmu}"/debug-kernel-*/; do
		[ -f "$d/done" ] && echo "${d}linux-source-6.1"
	done | tail -1
}

# --- lanes: name kernel-release extra-append expected-paging [image] ---
lanes=()
k61=$(pick_kernel '6.1.*')
if [ -z "$k61" ]; then
	[ -n "$(kernels '6.1.*')" ] ||
		die "no 6.1 kernel in /boot (/boot/vmlinuz-6.1.*); run 'make deps'"
	die "no vmmu.ko under $modules/ built for $(kernels '6.1.*' | tr '\n' ' ')(checked by vermagic); run 'make build-all'"
fi
if [ $mode = demo ] && [ $demo_bochs = 1 ]; then
	lanes+=("bochs-6.1 $k61 quiet 4-level")
elif [ $mode = demo ]; then
	lanes+=("qemu-6.1 $k61 - 5-level")
else
	lanes+=("qemu-6.1 $k61 page_poison=1,preempt=full 5-level")
fi
if [ $mode = full ] || { [ $mode = kvm ] && [ -n "${VMMU_LANES:-}" ]; }; then
	lanes+=("qemu-6.1-no5lvl $k61 no5lvl 4-level")
	# 4 GiB of memory, one of them a 1 GiB hugetlbfs page reserved at
	# boot (it cannot be found later): huge_pages alone, for 1 GiB leaves.
	[ $mode = full ] &&
		lanes+=("qemu-6.1-1g $k61 hugepagesz=1G,hugepages=1 5-level")
	k612=$(pick_kernel '6.12.*')
	if [ -n "$k612" ]; then
		lanes+=("qemu-6.12 $k612 - -")
	elif [ -n "$(kernels '6.12.*')" ]; then
		echo "# qemu-6.12: no vmmu.ko built for the 6.12 kernel; lane left out"
	fi
	dtree=$(debug_tree)
	if [ -n "$dtree" ]; then
		drel=$(cat "$dtree/include/config/kernel.release")
		if [ -n "$(find_module "$drel")" ]; then
			lanes+=("qemu-debug $drel panic_on_warn=1,rcupdate.rcu_cpu_stall_timeout=60,loglevel=4 5-level $dtree/arch/x86/boot/bzImage")
		else
			echo "# qemu-debug: no vmmu.ko built for $drel; lane left out"
		fi
	fi
fi
# The Bochs lane: in a full run, and in kvm mode when VMMU_LANES names it.
bochs_wanted=0
[ $mode = full ] && bochs_wanted=1
if [ $mode = kvm ]; then
	case " ${VMMU_LANES:-} " in *" bochs-6.1 "*) bochs_wanted=1 ;; esac
fi
if [ $bochs_wanted = 1 ]; then
	if [ $have_bochs = 1 ]; then
		lanes+=("bochs-6.1 $k61 quiet 4-level")
	else
		echo "# bochs-6.1: bochs or genisoimage is not installed ('make deps'); lane left out"
	fi
fi
if [ -n "${VMMU_LANES:-}" ] && [ $mode != demo ]; then
	sel=()
	for l in "${lanes[@]}"; do
		# shellcheck disable=SC2086
		set -- $l
		case " $VMMU_LANES " in *" $1 "*) sel+=("$l") ;; esac
	done
	[ ${#sel[@]} -gt 0 ] || die "VMMU_LANES='$VMMU_LANES' names no available lane"
	lanes=("${sel[@]}")
fi
# kvm mode names its lanes with a prefix; the name without it says how a
# lane boots (bochs-* under Bochs).
lane_prefix=
if [ $mode = kvm ]; then
	lane_prefix=${VMMU_LANE_PREFIX-kvm-}
	for i in "${!lanes[@]}"; do
		lanes[i]=$lane_prefix${lanes[i]}
	done
fi
bochs_lane() { # lane name
	case ${1#"$lane_prefix"} in bochs-*) return 0 ;; esac
	return 1
}

# --- test programs ---
progs=()
if [ $mode = kvm ]; then
	[ -f "${VMMU_EXTRA_LIST:-}" ] ||
		die "--kvm: VMMU_EXTRA_LIST names no file (run selftests/vm/kvm-ref.sh)"
elif [ $mode != demo ]; then
	if [ -n "${T:-}" ]; then
		for t in $T; do
			if [ ! -f "$tests_dir/$t" ] || [ ! -x "$tests_dir/$t" ]; then
				die "T: no test program $tests_dir/$t (run 'make selftests')"
			fi
			progs+=("$t")
		done
	else
		for f in "$tests_dir"/*; do
			[ -f "$f" ] && [ -x "$f" ] && progs+=("${f##*/}")
		done
	fi
	[ ${#progs[@]} -gt 0 ] || echo "# no test programs in $tests_dir"
	# The Bochs lane's programs: T, else those of bochs-tests.
	bochs_progs=()
	if [[ " ${lanes[*]}" != *" bochs-"* ]]; then
		:
	elif [ -n "${T:-}" ]; then
		bochs_progs=(${progs[@]+"${progs[@]}"})
	else
		while read -r t _; do
			case $t in "" | "#"*) continue ;; esac
			[ -x "$tests_dir/$t" ] ||
				die "selftests/vm/bochs-tests: no test program $tests_dir/$t"
			bochs_progs+=("$t")
		done <"$vm/bochs-tests"
	fi
elif [ ! -x "$tools_dir/vmmu-demo" ]; then
	die "$tools_dir/vmmu-demo is not built (make tools)"
fi

# --- initramfs: one common archive + one holding vmmu.ko per kernel ---
mkdir -p "$out"
nested_state=
[ $mode = kvm ] && nested_state=${VMMU_STATE:-}
# A kvm lane run from a full run: that run holds the lock.
if [ -z "$nested_state" ]; then
	exec 9>"$out/.lock"
	if ! flock -n 9; then
		echo "# waiting for another run-lanes.sh to finish with $out" >&2
		flock 9
	fi
fi
rm -f "$out"/*/timeout.pid

# The common archive $1 (out/<name>.cpio.gz), for emulator $2, test
# programs $4... with a per-program limit of $3 seconds.
make_common() {
	local name=$1 emulator=$2 limit=$3 t f
	shift 3
	{
		echo "$busybox_list"
		for d in proc sys tmp run root etc; do echo "dir /$d 755"; done
		echo "file /init $vm/init 755"
		echo "file /etc/vmmu-lanes.conf $out/$name.conf 644"
		echo "dir /tests 755"
		for t in "$@"; do
			echo "file /tests/$t $tests_dir/$t 755"
		done
		echo "dir /tools 755"
		for f in "$tools_dir"/*; do
			[ -f "$f" ] && [ -x "$f" ] && echo "file /tools/${f##*/} $f 755"
		done
		if [ $mode = kvm ]; then
			echo "file /kvm/guest.sh $vm/kvm-guest.sh 644"
			cat "$VMMU_EXTRA_LIST"
		fi
	} >"$out/$name.list"
	{
		[ $mode = demo ] && echo "MODE=demo"
		[ $mode = kvm ] && echo "MODE=kvm"
		echo "TEST_TIMEOUT=$limit"
		echo "EMULATOR=$emulator"
		case ${VMMU_GUEST_KIND:-} in
		svm | vmx) echo "export VMMU_GUEST_KIND=$VMMU_GUEST_KIND" ;;
		esac
		[ "${VMMU_STRESS_HW:-}" = 1 ] && echo "export VMMU_STRESS_HW=1"
		for v in SEED SECONDS EPOCH THREADS; do
			val=$(printenv "VMMU_FUZZ_$v" || true)
			case $val in
			'' | *[!0-9xXa-fA-F]*) ;;
			*) echo "export VMMU_FUZZ_$v=$val" ;;
			esac
		done
	} >"$out/$name.conf"
	python3 "$vm/mkinitramfs.py" "$out/$name.cpio.gz" <"$out/$name.list" ||
		die "cannot build the initramfs"
}

# Debian's kvm_intel of kernel release $1 and the modules it needs, as
# mkinitramfs.py list entries /kvm-intel/<name>.ko (decompressed into $2/),
# for vmx_busy; nothing if that kernel has no kvm_intel.
kvm_intel_list() { # release dir
	local rel=$1 dst=$2 m f
	for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-intel; do
		for f in /lib/modules/$rel/kernel/$m.ko{,.xz,.zst,.gz}; do
			[ -f "$f" ] && break
		done
		[ -f "$f" ] || return 0
		case $f in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -qdc "$f" ;;
		*.gz) gzip -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$dst/${m##*/}.ko" || die "cannot copy $f"
	done
	for m in irqbypass kvm kvm-intel; do
		echo "file /kvm-intel/$m.ko $dst/$m.ko 644"
	done
}

initrd_for() { # release common-name -> path of its initramfs
	local rel=$1 name=$2 ko
	ko=$(find_module "$rel")
	{
		echo "file /vmmu.ko $ko 644"
		# The Bochs lane (Intel VMX) carries kvm_intel for vmx_busy
		# (kvm mode: kvm-ref.sh adds what its plan loads).
		if [ "$name" = common-bochs ] && [ $mode != kvm ]; then
			mkdir -p "$out/kvm-intel-$rel"
			kvm_intel_list "$rel" "$out/kvm-intel-$rel"
		fi
	} | python3 "$vm/mkinitramfs.py" "$out/ko-$name-$rel.cpio.gz" ||
		die "cannot pack $ko"
	cat "$out/$name.cpio.gz" "$out/ko-$name-$rel.cpio.gz" >"$out/initrd-$name-$rel.cpio.gz"
	echo "$out/initrd-$name-$rel.cpio.gz"
}

# Lanes named bochs-* run under Bochs, with their own archive; qemu-*-1g
# runs huge_pages alone (or what T names).
common_for() { # lane name -> common archive name
	case ${1#"$lane_prefix"} in
	bochs-*) echo common-bochs ;;
	qemu-*-1g) echo common-1g ;;
	*) echo common ;;
	esac
}
gig_progs=()
for t in ${progs[@]+"${progs[@]}"}; do
	if [ -n "${T:-}" ] || [ "$t" = huge_pages ]; then
		gig_progs+=("$t")
	fi
done
declare -A commons
for l in "${lanes[@]}"; do
	# shellcheck disable=SC2086
	set -- $l
	c=$(common_for "$1")
	[ -n "${commons[$c]:-}" ] && continue
	commons[$c]=1
	if [ "$c" = common-bochs ]; then
		make_common "$c" bochs "$bochs_test_timeout" \
			${bochs_progs[@]+"${bochs_progs[@]}"}
	elif [ "$c" = common-1g ]; then
		make_common "$c" qemu "$test_timeout" \
			${gig_progs[@]+"${gig_progs[@]}"}
	else
		make_common "$c" qemu "$test_timeout" ${progs[@]+"${progs[@]}"}
	fi
done

prep_lane() { # dir
	rm -f "$1"/console.log "$1"/results.log "$1"/qemu.log "$1"/qemu.rc "$1"/secs \
		"$1"/bochs.out "$1"/bochs.log "$1"/silent
	: >"$1/console.log"
	: >"$1/results.log"
}

# Stop boot $2 (the timeout(1) process that runs the emulator) once
# neither console of lane directory $1 has grown for $3 seconds since they
# first printed something, and leave the number of seconds in $1/silent for
# collect.py.  A kernel that is stuck reports it on the console first (soft
# lockups panic, see boot_lane), and /init speaks for a program that
# computes without printing (@@VMMU ALIVE), so silence means a hang nothing
# else caught: a program or the kernel waiting forever.
watch_silence() { # dir pid seconds
	local dir=$1 pid=$2 limit=$3 size last='' since spid=''
	trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; exit 0' TERM
	since=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5 &
		spid=$!
		wait $spid
		spid=
		size=$(cat "$dir/console.log" "$dir/results.log" 2>/dev/null | wc -c)
		# Silence counts from the first line: Bochs boots quietly for
		# a minute or more (several when the machine is loaded), and
		# the boot timeout bounds a boot that never prints anything.
		if [ "$size" = 0 ] || [ "$size" != "$last" ]; then
			last=$size
			since=$(date +%s)
		elif [ $(($(date +%s) - since)) -ge "$limit" ]; then
			echo "$limit" >"$dir/silent"
			kill -TERM "$pid" 2>/dev/null
			return
		fi
	done
}

# The kernel's own watchdogs, so that a stuck kernel ends the boot with a
# report instead of hanging until the boot timeout: a soft lockup (a CPU in
# the kernel for 20 s without scheduling) panics after every CPU's
# backtrace is printed (NMI IPIs, which QEMU's TCG and Bochs deliver), and
# so does a task blocked in D state for 90 s (looked for every 10 s, so
# that the kernel reports it before the lane's 120 s of silence); panic=-1
# then ends the emulator.  The NMI watchdog (hard lockups) needs a PMU, which neither
# emulator offers: the kernel says "Perf NMI watchdog permanently disabled"
# and the soft-lockup detector is all there is.
watchdog_append="softlockup_panic=1 softlockup_all_cpu_backtrace=1"
watchdog_append="$watchdog_append hung_task_panic=1 sysctl.kernel.hung_task_timeout_secs=90"
watchdog_append="$watchdog_append sysctl.kernel.hung_task_check_interval_secs=10"

# Memory of a QEMU lane: the 1 GiB lane holds a 1 GiB page besides the rest
# (with 4 GiB, QEMU puts 2 GiB above 4 GiB, where one is still free when
# the kernel reserves it).
lane_mem() { # lane name
	case $1 in
	*-1g) echo 4G ;;
	*) echo 2G ;;
	esac
}

# Boot one lane; leaves console.log, results.log, qemu.log (or bochs.out),
# qemu.rc (the emulator's status; 124: timed out), secs, and silent if
# watch_silence ended it.
boot_lane() { # name release append-extra dir [kernel image]
	local rel=$2 extra=$3 dir=$4 image=${5:-/boot/vmlinuz-$2} start rc append tpid
	local wpid quiet=$silence
	# Upstream tests print nothing while they work: kvm_amd takes up to
	# two minutes to fill set_memory_region_test's 32764 memslots.
	[ $mode = kvm ] && quiet=$((silence > 300 ? silence : 300))
	append="console=ttyS0 panic=-1 log_buf_len=4M $watchdog_append"
	# Extra arguments are comma-separated in the lane table.
	[ "$extra" = - ] || append="$append ${extra//,/ }"
	[ -z "${VMMU_APPEND:-}" ] || append="$append $VMMU_APPEND"
	start=$(date +%s)
	case ${1#"$lane_prefix"} in
	bochs-*)
		# A 115200 baud console: Bochs times the UART in emulated time.
		timeout -k 10 $((bochs_timeout + 60)) "$vm/bochs-boot.sh" "$dir" \
			"$image" "$dir/initrd.cpio.gz" "${append/ttyS0/ttyS0,115200}" \
			"$bochs_timeout" </dev/null >"$dir/qemu.log" 2>&1 &
		;;
	*)
		timeout -k 10 "$boot_timeout" qemu-system-x86_64 \
			-M q35 -cpu max -m "$(lane_mem "$1")" -smp 2 -display none -no-reboot -nodefaults \
			-kernel "$image" -initrd "$dir/initrd.cpio.gz" \
			-append "$append" \
			-chardev "file,id=con,path=$dir/console.log" -serial chardev:con \
			-chardev "file,id=res,path=$dir/results.log" -serial chardev:res \
			</dev/null >"$dir/qemu.log" 2>&1 &
		;;
	esac
	tpid=$!
	echo $tpid >"$dir/timeout.pid"
	bochs_lane "$1" && quiet=$bochs_silence
	watch_silence "$dir" $tpid "$quiet" &
	wpid=$!
	wait $tpid
	rc=$?
	kill -TERM $wpid 2>/dev/null
	wait $wpid
	rm -f "$dir/timeout.pid"
	echo $rc >"$dir/qemu.rc"
	echo $(($(date +%s) - start)) >"$dir/secs"
	return 0
}

# timeout(1) runs QEMU in a process group of its own, away from ^C: stop
# the boots still running when this script is interrupted.
stop_boots() {
	local f
	for f in "$out"/*/timeout.pid; do
		[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
}
trap 'stop_boots; exit 130' INT TERM

# Boot a lane in the background, with a live view of $1 (a log file name)
# through filter $2 while it runs.
boot_watched() { # logname filter name release extra dir
	local log=$1 filter=$2 pid
	shift 2
	prep_lane "$4"
	boot_lane "$@" &
	pid=$!
	tail -n +1 -s 0.2 -F --pid=$pid "$4/$log" 2>/dev/null | $filter
	wait $pid
}

demo_filter() {
	sed -u -e '/^@@VMMU DMESG-BEGIN/,/^@@VMMU DMESG-END/d' -e '/^@@VMMU /d' -e '/^$/d'
}

if [ $mode = demo ]; then
	# shellcheck disable=SC2086
	set -- ${lanes[0]}
	dir=$out/demo
	emu="QEMU (TCG)"
	tlimit=$boot_timeout
	if [ $demo_bochs = 1 ]; then
		dir=$out/demo-bochs
		emu="Bochs (VMX + EPT, about 100 s to boot)"
		tlimit=$bochs_timeout
	fi
	mkdir -p "$dir"
	initrd=$(initrd_for "$2" "$(common_for "$1")") || exit 1
	ln -f "$initrd" "$dir/initrd.cpio.gz" 2>/dev/null || cp "$initrd" "$dir/initrd.cpio.gz"
	echo "vmmu: booting $2 under $emu for vmmu-demo ..." >&2
	if [ "$verbose" = 1 ]; then
		prep_lane "$dir"
		boot_lane "$1" "$2" "$3" "$dir" &
		bpid=$!
		tail -n +1 -s 0.2 -F --pid=$bpid "$dir/console.log" "$dir/results.log" 2>/dev/null
		wait $bpid
	else
		boot_watched results.log demo_filter "$1" "$2" "$3" "$dir"
	fi
	python3 "$vm/collect.py" demo --dir "$dir" --qemu-rc "$(cat "$dir/qemu.rc")" \
		--timeout "$tlimit"
	exit $?
fi

# --- test lanes ---
if [ -n "$nested_state" ]; then
	state=$nested_state
else
	state=$out/tap-state.json
	echo '{"n": 0, "passed": 0, "failed": 0}' >"$state"
fi
declare -A initrds
for l in "${lanes[@]}"; do
	# shellcheck disable=SC2086
	set -- $l
	c=$(common_for "$1")-$2
	if [ -z "${initrds[$c]:-}" ]; then
		initrds[$c]=$(initrd_for "$2" "$(common_for "$1")") || exit 1
	fi
	mkdir -p "$out/$1"
	ln -f "${initrds[$c]}" "$out/$1/initrd.cpio.gz" 2>/dev/null ||
		cp "${initrds[$c]}" "$out/$1/initrd.cpio.gz"
done

console_filter() {
	sed -u 's/^/| /'
}

start_lane() { # index
	# shellcheck disable=SC2086
	set -- ${lanes[$1]}
	if [ "$verbose" = 1 ]; then
		echo "# $1: booting $2 (console follows)"
		boot_watched console.log console_filter "$1" "$2" "$3" "$out/$1" ${5:+"$5"}
	else
		prep_lane "$out/$1"
		boot_lane "$1" "$2" "$3" "$out/$1" ${5:+"$5"}
	fi
}

n=${#lanes[@]}
pids=()
launched=0
t0=$(date +%s)
for ((i = 0; i < n; i++)); do
	while ((launched < n && launched < i + jobs)); do
		start_lane $launched &
		pids[launched]=$!
		launched=$((launched + 1))
	done
	wait "${pids[i]}"
	# shellcheck disable=SC2086
	set -- ${lanes[i]}
	d=$out/$1
	vflag=()
	[ "$verbose" = 1 ] && vflag=(--verbose)
	expect=()
	[ "$4" = - ] || expect=(--expect-paging "$4")
	limit=$boot_timeout
	bochs_lane "$1" && limit=$bochs_timeout
	python3 "$vm/collect.py" lane --lane "$1" --dir "$d" --state "$state" \
		--qemu-rc "$(cat "$d/qemu.rc")" --timeout "$limit" \
		${expect[@]+"${expect[@]}"} ${vflag[@]+"${vflag[@]}"}
	# guest_util's tests say so when vmmu offers no VMX vCPUs.
	if bochs_lane "$1"; then
		if grep -q 'VMX: ENODEV' "$d/results.log"; then
			echo "# $1: VMX IS ABSENT: vmmu offers no VMX vCPUs here" \
				"(VMMU_VCPU_VMX: ENODEV); the tests that run guest code skipped"
		fi
		# Wall seconds per program (the guest's clock is emulated); the
		# boot ends at the first marker (INSMOD, or in kvm mode the
		# first step's BEGIN).
		awk '!head { printf "# %s: wall seconds: boot %d", lane, $1; head = 1 }
		     $2 == "BEGIN" { t = $1 }
		     $2 == "END" { printf ", %s %d", $3, $1 - t }
		     $2 == "DONE" { printf ", end %d", $1 }
		     END { if (NR) print "" }' lane="$1" "$d/walltimes" 2>/dev/null
	fi
	echo "# $1: $(cat "$d/secs") s (kernel $2; logs in ${d#"$top"/})"
done
echo "# lanes took $(($(date +%s) - t0)) s"
[ -n "$nested_state" ] && exit 0

tap_count() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["n"])' "$state"
}

# The upstream KVM selftests, as one more lane of this run.  If kvm-ref.sh
# fails before its lane reports anything (e.g. the selftests do not
# build), that is one failed test.
kvm_lane=0
if [ $mode = full ] && [ -z "${T:-}" ] && [ "${VMMU_KVM_LANE:-1}" != 0 ]; then
	case " ${VMMU_LANES:-qemu-6.1} " in *" qemu-6.1 "*) kvm_lane=1 ;; esac
fi
if [ $kvm_lane = 1 ]; then
	before=$(tap_count)
	VMMU_STATE=$state VMMU_LANES=qemu-6.1 "$vm/kvm-ref.sh" --side vmmu --svm-busy
	rc=$?
	if [ $rc != 0 ] && [ "$(tap_count)" = "$before" ]; then
		python3 "$vm/collect.py" fail --state "$state" \
			--desc "kvm-qemu-6.1: selftests/vm/kvm-ref.sh failed (status $rc) before the lane ran"
	fi
fi

# Debian's QEMU boots Linux with -accel kvm on vmmu (selftests/vm/qemu-boot.sh),
# one more lane beside the kvm lane, under the same conditions.
if [ $kvm_lane = 1 ] && [ "${VMMU_QEMU_BOOT_LANE:-1}" != 0 ]; then
	before=$(tap_count)
	VMMU_STATE=$state VMMU_LANES=qemu-6.1 "$vm/qemu-boot.sh" --side vmmu
	rc=$?
	if [ $rc != 0 ] && [ "$(tap_count)" = "$before" ]; then
		python3 "$vm/collect.py" fail --state "$state" \
			--desc "qemu-boot-qemu-6.1: selftests/vm/qemu-boot.sh failed (status $rc) before the lane ran"
	fi
fi
python3 "$vm/collect.py" summary --state "$state"
