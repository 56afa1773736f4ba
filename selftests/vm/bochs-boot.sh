#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel and initramfs under Bochs (Intel VMX with EPT, CPU model
# corei7_skylake_x) for run-lanes.sh's Bochs lane.
#
# Usage: selftests/vm/bochs-boot.sh DIR KERNEL INITRD APPEND TIMEOUT
#
# Builds DIR/boot.iso (isolinux: KERNEL + INITRD, command line APPEND) and
# DIR/bochsrc, then runs Bochs with COM1 (ttyS0, the kernel console) going
# to DIR/console.log, COM2 (ttyS1, what /init reports) to DIR/results.log,
# Bochs's own output to DIR/bochs.out and its log to DIR/bochs.log.
# DIR/walltimes gets the host's seconds since Bochs started at each
# "@@VMMU INSMOD/BEGIN/END/DONE" line (the guest's clock under Bochs is
# emulated time, not wall time).
# /init's power-off (ACPI S5) ends Bochs; Bochs is stopped if it still runs
# a few seconds after /init reported "@@VMMU DONE", or after TIMEOUT
# seconds.  The exit status is 0 once "@@VMMU DONE" was seen, 124 on
# timeout, else Bochs's own.
#
# Environment:
#   VMMU_BOCHS_IPS   emulated instructions per emulated second (default
#                    200000000)
#   VMMU_BOCHS_MEM   guest memory in MiB (default 1024)
#   VMMU_BOCHS_CPUS  number of CPUs (default 1)
set -u
bpid=
trap '[ -n "$bpid" ] && kill -TERM $bpid 2>/dev/null; exit 143' INT TERM

[ $# = 5 ] || { echo "usage: $0 DIR KERNEL INITRD APPEND TIMEOUT" >&2; exit 2; }
dir=$1 kernel=$2 initrd=$3 append=$4 limit=$5
ips=${VMMU_BOCHS_IPS:-200000000}
mem=${VMMU_BOCHS_MEM:-1024}
cpus=${VMMU_BOCHS_CPUS:-1}

die() {
	echo "bochs-boot: $*" >&2
	exit 1
}

for cmd in bochs genisoimage; do
	command -v $cmd >/dev/null || die "$cmd not found; run 'make deps'"
done
isolinux=/usr/lib/ISOLINUX/isolinux.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
bios=/usr/share/bochs/BIOS-bochs-latest
vgabios=/usr/share/bochs/VGABIOS-lgpl-latest
for f in $isolinux $ldlinux $bios $vgabios; do
	[ -f "$f" ] || die "$f not found; run 'make deps'"
done

# The ISO: isolinux boots KERNEL with INITRD at once, no prompt.
iso=$dir/iso
rm -rf "$iso" "$dir/boot.iso"
mkdir -p "$iso/isolinux"
cp $isolinux $ldlinux "$iso/isolinux/"
cp "$kernel" "$iso/vmlinuz"
cp "$initrd" "$iso/initrd.gz"
cat >"$iso/isolinux/isolinux.cfg" <<EOS
DEFAULT vmmu
PROMPT 0
TIMEOUT 0
LABEL vmmu
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND $append
EOS
genisoimage -quiet -o "$dir/boot.iso" -b isolinux/isolinux.bin \
	-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	-R -J "$iso" || die "genisoimage failed"
rm -rf "$iso"

# Errors (one per EPT violation) and informational messages are not
# logged; a panic ends Bochs.  Sound goes to the dummy driver: Bochs's mixer
# thread with the default (ALSA) driver aborts on hosts without a sound card.
cat >"$dir/bochsrc" <<EOS
cpu: model=corei7_skylake_x, count=$cpus, ips=$ips, reset_on_triple_fault=0
memory: guest=$mem, host=$mem
romimage: file=$bios
vgaromimage: file=$vgabios
ata0-master: type=cdrom, path="$dir/boot.iso", status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev="$dir/console.log"
com2: enabled=1, mode=file, dev="$dir/results.log"
display_library: rfb, options="timeout=0"
clock: sync=none
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
speaker: enabled=0
log: $dir/bochs.log
debug: action=ignore
info: action=ignore
error: action=ignore
panic: action=fatal
EOS

: >"$dir/console.log"
: >"$dir/results.log"
# Bochs's debugger is built in: "c" continues; end of input later quits.
echo c | bochs -q -f "$dir/bochsrc" >"$dir/bochs.out" 2>&1 &
bpid=$!
start=$(date +%s)
done_seen() {
	grep -q '^@@VMMU DONE' "$dir/results.log" 2>/dev/null
}
rc=
seen=0
: >"$dir/walltimes"
walltimes() {
	local n
	n=$(grep -c '^@@VMMU \(INSMOD\|BEGIN\|END\|DONE\)' "$dir/results.log")
	[ "$n" -gt "$seen" ] || return 0
	grep '^@@VMMU \(INSMOD\|BEGIN\|END\|DONE\)' "$dir/results.log" |
		tail -n +$((seen + 1)) | head -n $((n - seen)) |
		sed "s/^@@VMMU /$(($(date +%s) - start)) /" >>"$dir/walltimes"
	seen=$n
}
while kill -0 $bpid 2>/dev/null; do
	walltimes
	if done_seen; then
		# /init powers off through ACPI, which ends Bochs (status 1);
		# if it does not, give the serial file time, then stop Bochs.
		for _ in 1 2 3 4 5; do
			kill -0 $bpid 2>/dev/null || break
			sleep 1
		done
		kill -TERM $bpid 2>/dev/null
		break
	fi
	if [ $(($(date +%s) - start)) -ge "$limit" ]; then
		kill -TERM $bpid 2>/dev/null
		sleep 2
		kill -KILL $bpid 2>/dev/null
		rc=124
		break
	fi
	sleep 1
done
wait $bpid
status=$?
bpid=
walltimes
if [ -z "$rc" ]; then
	rc=$status
	done_seen && rc=0
fi
# Why Bochs ended, for the lane's report.
[ $rc = 0 ] || grep -v -e '^ALSA' -e '^[0-9]*i\[' "$dir/bochs.out" | tail -n 8 >&2
exit $rc
