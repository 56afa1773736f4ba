#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Linux in Debian's own QEMU with -accel kvm inside a QEMU lane: the
# lane's guest runs qemu-system-x86_64 -accel kvm -M pc,kernel-irqchip=off
# -cpu qemu64 -smp 1 -m 256 on Debian's kvm + kvm_amd (the reference) or
# on vmmu, whose device node is then the guest's /dev/kvm.  The inner guest
# is Debian's kernel with a busybox initramfs whose /init
# (selftests/vm/qemu-boot-init) checks that the timer and the LAPIC timer
# interrupt it, and powers off.  Prints TAP through kvm-ref.sh,
# run-lanes.sh and collect.py, then "N passed, N failed"; exits 1 on any
# failure.
#
# Usage: selftests/vm/qemu-boot.sh [--side kvm|vmmu|both] [--kernel FILE]
#                                   [--rounds N] [--stats] [--demo] [--bochs]
#   --side    kvm (default): insmod kvm and kvm_amd, boot, unload; vmmu:
#             insmod vmmu.ko and mknod /dev/kvm with its device numbers
#             (kvm is not loaded), boot, unload; both: vmmu, then kvm, in
#             one boot of the lane
#   --kernel  the inner guest's kernel (default: the newest
#             /boot/vmlinuz-6.1.*, the one the lane boots)
#   --rounds  boot N times per side, the sides taking turns (default 1);
#             with N > 1 the steps are SIDE:rROUND:qemu-boot (make bench)
#   --stats   sample the statistics of QEMU's VM in debugfs while it runs
#             (qemu-boot-guest.sh -S) and print the last sample as "#"
#             lines after the step's TAP
#   --demo    make run-qemu: one boot on vmmu (--side vmmu, the default
#             here, or kvm) with --stats, in lane run-qemu-qemu-6.1; the
#             lane's progress is shown live and, instead of TAP, the inner
#             guest's markers, the boot time and the VM's statistics as a
#             table (selftests/vm/qemu_boot.py report); the TAP goes to
#             build/qemu-boot/run-qemu.tap.  Exits 0 only if it passed
#   --bochs   make check-bochs-qemu: in the Bochs lane (VMMU_LANES=bochs-6.1,
#             an Intel CPU with VMX and EPT: vmmu's VMX vCPU; --side
#             defaults to vmmu), with the bounds below; the step runs
#             with -f: the inner kernel's first console line within the
#             bound is what must pass, the /init markers that the bound
#             cut short are TODO lines, and the inner console is printed
#             as it comes
#
# The lane's initramfs gets, besides what kvm-ref.sh puts there (the kvm
# modules, the plan, kvm-guest.sh): /usr/bin/qemu-system-x86_64 and
# /usr/bin/strace with every shared library ldd lists for them and the
# dynamic loader, at the host's paths; the firmware QEMU loads for -M pc
# with -accel kvm (SeaBIOS's bios-256k.bin, linuxboot_dma.bin for -kernel,
# kvmvapic.bin, the option ROM it loads for its APIC under KVM); the inner
# kernel and initramfs under /kvm/qemu; the step /kvm/bin/qemu-boot
# (selftests/vm/qemu-boot-guest.sh), a tap step of the plan
# (kvm-guest.sh), which prints the TAP lines.  On a failure it runs QEMU
# once more under strace -f -e trace=ioctl and prints the end of the trace
# and QEMU's messages: the ioctl or capability it stopped at.
#
# Environment: everything kvm-ref.sh and run-lanes.sh read (V, VMMU_LANES,
# VMMU_TIMEOUT, VMMU_APPEND, VMMU_MODULES ...), and
#   QEMU_BOOT_TIMEOUT  seconds the inner QEMU may run before it is stopped
#                      and fails (default 300; kvm_amd boots it in ~22 s;
#                      --bochs: 15 s of the lane's clock, see below)
#   QEMU_BOOT_STRACE   seconds of the strace run after a failure (default 60;
#                      --bochs: 5)
#   QEMU_BOOT_TRACE=1  the strace run after a boot that passed too: QEMU's
#                      ioctls on kvm_amd, to set beside vmmu's
#   QEMU_BOOT_SMP      the inner guest's vCPUs (default 1; make
#                      check-qemu-smp boots 2 on both sides)
#   QEMU_BOOT_QEMU     the inner QEMU binary (default Debian's
#                      /usr/bin/qemu-system-x86_64; e.g. one unpacked
#                      with dpkg -x): it runs as qemu-system-x86_64 in the
#                      guest, with the shared libraries ldd finds for it
#                      and Debian's firmware files
#   VMMU_LANE_PREFIX   lane names (default "qemu-boot-", with --demo
#                      "run-qemu-": the logs are in
#                      build/lanes/qemu-boot-qemu-6.1/, results.log holds
#                      the inner console)
# VMMU_TEST_TIMEOUT and VMMU_SILENCE default to more than both bounds: a
# waiting inner QEMU keeps the lane silent until its bound ends it; with
# more than one boot in the lane, VMMU_TIMEOUT defaults to room for each
# of them (at least run-lanes.sh's 1800 s).  With --bochs the bounds are
# in the lane's clock, under Bochs 40-60 wall seconds to its second while
# QEMU runs the inner guest (measured: the lane's whole boot, four wall
# minutes, ends at an uptime of 10 s); VMMU_BOCHS_TEST_TIMEOUT defaults
# to more than both, VMMU_BOCHS_TIMEOUT to 2700 wall seconds and
# VMMU_BOCHS_SILENCE to the same.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/selftests/vm
die() {
	echo "vmmu: $*" >&2
	exit 1
}

side=
kernel=
rounds=1
stats=
demo=0
bochs=0
while [ $# -gt 0 ]; do
	case $1 in
	--side | --kernel | --rounds)
		[ $# -ge 2 ] || die "$1 needs an argument (see --help)"
		case $1 in
		--side) side=$2 ;;
		--rounds) rounds=$2 ;;
		*) kernel=$2 ;;
		esac
		shift 2
		;;
	--stats)
		stats=" -S"
		shift
		;;
	--bochs)
		bochs=1
		shift
		;;
	--demo)
		demo=1
		stats=" -S"
		shift
		;;
	-h | --help)
		sed -n '3,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
if [ $demo = 1 ]; then
	side=${side:-vmmu}
	[ "$side" != both ] || die "--demo boots one side: kvm or vmmu"
	[ "$rounds" = 1 ] || die "--demo boots once"
fi
[ $bochs = 0 ] || side=${side:-vmmu}
side=${side:-kvm}
case $side in kvm | vmmu | both) ;; *) die "--side: kvm, vmmu or both, not '$side'" ;; esac
case $rounds in '' | *[!0-9]* | 0) die "--rounds: a number of boots, 1 or more" ;; esac
bound=${QEMU_BOOT_TIMEOUT:-300}
strace_bound=${QEMU_BOOT_STRACE:-60}
first=
if [ $bochs = 1 ]; then
	[ $demo = 0 ] || die "--demo runs in the QEMU lane, not with --bochs"
	export VMMU_LANES=bochs-6.1
	first=" -f"
	bound=${QEMU_BOOT_TIMEOUT:-15}
	strace_bound=${QEMU_BOOT_STRACE:-5}
fi
trace=
[ "${QEMU_BOOT_TRACE:-0}" = 1 ] && trace=" -a"
smp=${QEMU_BOOT_SMP:-1}
case $smp in '' | *[!0-9]* | 0) die "QEMU_BOOT_SMP: a number of vCPUs, please" ;; esac
case $bound$strace_bound in *[!0-9]*) die "QEMU_BOOT_TIMEOUT, QEMU_BOOT_STRACE: seconds, please" ;; esac

qemu=${QEMU_BOOT_QEMU:-/usr/bin/qemu-system-x86_64}
strace=/usr/bin/strace
[ -x "$qemu" ] || die "$qemu not found; run 'make deps'"
[ -x $strace ] || die "$strace not found; run 'make deps' (package strace)"
if [ -z "$kernel" ]; then
	kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-6.1.*' | sort -V | tail -1)
	[ -n "$kernel" ] || die "no 6.1 kernel in /boot; run 'make deps'"
fi
[ -f "$kernel" ] || die "--kernel: no file $kernel"

work=$top/build/qemu-boot
mkdir -p "$work"
run=$(mktemp -d "$work/run.XXXXXX") || die "cannot create a directory in $work"
trap 'rm -rf "$run"' EXIT

# --- the inner guest's initramfs: busybox and qemu-boot-init ---
{
	"$vm/busybox-list.sh" || exit 1
	echo "dir /proc 755"
	echo "file /init $vm/qemu-boot-init 755"
} >"$run/inner.list" || exit 1
python3 "$vm/mkinitramfs.py" "$run/inner.cpio.gz" <"$run/inner.list" ||
	die "cannot build the inner initramfs"

# --- what the lane's guest needs to run QEMU ---
# ELF program $1 and the shared libraries ldd lists for it (the dynamic
# loader too), each at its own path: the loader finds the libraries in
# its default directories, without ld.so.cache.
elf_list() { # program [path in the guest]
	local libs
	libs=$(ldd "$1") || die "ldd $1 failed"
	if grep -q 'not found' <<<"$libs"; then
		die "$1: a library is missing: $(grep 'not found' <<<"$libs" | tr -s '\t\n' '  ')"
	fi
	echo "file ${2:-$1} $1 755"
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs" |
		while read -r lib; do
			echo "file $lib $lib 755"
		done
}

# A firmware file of QEMU's: it looks in ../share/qemu and ../share/seabios
# next to its binary.
firmware() { # name
	local d
	for d in /usr/share/qemu /usr/share/seabios; do
		if [ -f "$d/$1" ]; then
			echo "file $d/$1 $d/$1 644"
			return
		fi
	done
	die "no $1 in /usr/share/qemu or /usr/share/seabios; run 'make deps'"
}

{
	elf_list "$qemu" /usr/bin/qemu-system-x86_64
	elf_list $strace
	for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
		firmware $f
	done
	echo "file /kvm/qemu/vmlinuz $kernel 644"
	echo "file /kvm/qemu/initrd.cpio.gz $run/inner.cpio.gz 644"
	echo "file /kvm/bin/qemu-boot $vm/qemu-boot-guest.sh 755"
} >"$run/all.list" || exit 1
# mkinitramfs.py keeps the first entry of a path: libraries both need.
awk '!seen[$2]++' "$run/all.list" >"$run/extra.list"

# --- the plan (kvm-guest.sh) ---
sides=$side
[ "$side" = both ] && sides="vmmu kvm"
for r in $(seq "$rounds"); do
	for s in $sides; do
		name=$s:qemu-boot
		[ "$rounds" = 1 ] || name=$s:r$r:qemu-boot
		echo "load $s"
		echo "tap $name qemu-boot -t $bound -s $strace_bound -c $smp$trace$stats$first"
		echo "unload $s"
	done
done >"$run/plan"

# Room for the inner boot and the strace run after it, in the guest's
# per-program limit and the lane's silence watchdog, and for every boot
# in the lane's bound.
per_boot=$((bound + strace_bound + 120))
export VMMU_TEST_TIMEOUT=${VMMU_TEST_TIMEOUT:-$per_boot}
export VMMU_SILENCE=${VMMU_SILENCE:-$((bound + strace_bound + 60))}
# Under Bochs the guest's bounds are in the lane's clock, of which QEMU
# running the inner guest makes a second last 40-60 wall seconds, and the
# lane's wall-time bound is VMMU_BOCHS_TIMEOUT (45 minutes: the lane's boot,
# the inner bound and a strace run, at half speed).  The silence watchdog
# would end a running QEMU before its bound (/init's ALIVE lines come
# every 30 s of that clock): the lane's bound is the watchdog here.
if [ $bochs = 1 ]; then
	export VMMU_BOCHS_TEST_TIMEOUT=${VMMU_BOCHS_TEST_TIMEOUT:-$per_boot}
	export VMMU_BOCHS_TIMEOUT=${VMMU_BOCHS_TIMEOUT:-2700}
	export VMMU_BOCHS_SILENCE=${VMMU_BOCHS_SILENCE:-$VMMU_BOCHS_TIMEOUT}
fi
boots=$(($(wc -w <<<"$sides") * rounds))
if [ -z "${VMMU_TIMEOUT:-}" ] && [ $((boots * per_boot + 600)) -gt 1800 ]; then
	export VMMU_TIMEOUT=$((boots * per_boot + 600))
fi
prefix="qemu-boot-"
[ $demo = 1 ] && prefix="run-qemu-"
export VMMU_LANE_PREFIX=${VMMU_LANE_PREFIX-$prefix}
if [ $demo = 0 ]; then
	unit=
	[ $bochs = 0 ] || unit=" of the lane's clock, lane bound $VMMU_BOCHS_TIMEOUT wall s"
	echo "# qemu-boot: inner kernel $kernel, side $side, -smp $smp, bound $bound s$unit" >&2
	echo "# qemu-boot: inner QEMU $qemu: $("$qemu" --version | head -n 1)" >&2
	"$vm/kvm-ref.sh" --plan "$run/plan" --extra "$run/extra.list"
	exit
fi

# --- make run-qemu ---
lane=${VMMU_LANES:-qemu-6.1}
[ "$(wc -w <<<"$lane")" = 1 ] || die "--demo boots one lane, not VMMU_LANES='$lane'"
export VMMU_LANES=$lane
dir=$top/build/lanes/$VMMU_LANE_PREFIX$lane
tap=$work/run-qemu.tap
label=vmmu
[ "$side" = kvm ] && label="Debian's kvm_amd"
# The lane's results.log as it grows: what the guest is doing.
progress() {
	sed -u -n -e 's/^@@VMMU BOOT \([^ ]*\) \(.*\)/   the lane booted Linux \1 (\2 paging)/p' \
		-e "s/^@@VMMU BEGIN [a-z]*:qemu-boot\$/   QEMU -accel kvm boots Linux on $label .../p" \
		-e 's/^\(not \)\{0,1\}ok [0-9]* - /   /p'
}
echo "vmmu: booting the lane ($lane, QEMU TCG); inside it, Debian's QEMU" \
	"boots $(basename "$kernel") with -accel kvm on $label (a minute or two) ..."
rm -f "$dir/results.log"
if [ "${V:-0}" = 1 ]; then
	"$vm/kvm-ref.sh" --plan "$run/plan" --extra "$run/extra.list" | tee "$tap"
	rc=${PIPESTATUS[0]}
else
	"$vm/kvm-ref.sh" --plan "$run/plan" --extra "$run/extra.list" >"$tap" &
	pid=$!
	tail -n +1 -s 0.5 -F --pid=$pid "$dir/results.log" 2>/dev/null | progress
	wait $pid
	rc=$?
fi
python3 "$vm/qemu_boot.py" report --dir "$dir" || rc=1
echo "vmmu: $(tail -n 1 "$tap") (TAP in ${tap#"$top"/}, logs in ${dir#"$top"/})"
exit "$rc"
