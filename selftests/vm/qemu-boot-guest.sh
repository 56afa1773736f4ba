#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /kvm/bin/qemu-boot: the step of a selftests/vm/qemu-boot.sh plan (a tap
# step, see kvm-guest.sh) that runs in a lane's guest (busybox sh).  It
# boots Linux in Debian's qemu-system-x86_64 with -accel kvm on whatever
# /dev/kvm is: kvm_amd, or vmmu's device node.  The inner guest's /init is
# qemu-boot-init, whose lines on the console (QEMU's stdout) say how far
# it got and what it saw.  Prints TAP: QEMU's exit status, the inner
# kernel's first console line, the inner markers, the interrupt checks and
# the time of the inner boot, then QEMU's messages and the inner console
# as "# " lines.  Times are the lane guest's clock: wall time under QEMU,
# emulated time under Bochs (VMMU_EMULATOR=bochs).
#
# A hung or paused inner QEMU is stopped after the bound (SIGTERM, SIGKILL
# 10 s later) and fails; the first of QEMU's messages that is not a
# warning (KVM internal error, entry failed, kvm run failed ...) is named
# in the failed line.  After any failure QEMU runs once more under
# strace -f -e trace=ioctl (and every signal but SIGUSR1, QEMU's vCPU kick)
# for a shorter time, and the last lines of that trace, the ioctls that
# failed, the capabilities QEMU asked about with their answers, the
# requests it made and its messages are printed: they name the ioctl or
# capability QEMU stopped at.
#
# With -S, the statistics of QEMU's VM in debugfs (vmmu's
# <debugfs>/vmmu/<pid>-<n>/stats and vcpu<n>/stats, or kvm's
# <debugfs>/kvm/<pid>-<fd>/<name>, which sum over the vCPUs) are sampled
# every half second while QEMU runs.  The VM's directory goes when QEMU
# exits: the last complete sample is printed after the TAP lines, as
#
#   # stats: DIR, the last of N samples, S s before QEMU exited
#   # stat: vm|vcpu<n> NAME VALUE
#   # peak: vm|vcpu<n> NAME VALUE   (an earlier sample's larger value)
#
# With -f (the Bochs lane, where the whole inner boot may not fit in the
# bound), the inner kernel's first console line within the bound is what
# must pass: if the bound stops a QEMU that printed no error after that
# line came, QEMU's line passes and the markers it cut short are
# "not ok ... # TODO not reached within the bound", diagnostics that count
# as passed.  An error of QEMU's, an early exit, no console line at all
# fail as without -f.  The inner console is also printed as it comes,
# "# console: " lines, so that it is in the lane's results even if the
# lane's own bound ends the lane first.
#
# Usage: qemu-boot [-t SECONDS] [-s SECONDS] [-c CPUS] [-a] [-S] [-f]
#   -t   bound of the inner boot (default 300)
#   -c   the inner guest's vCPUs (-smp, default 1); its /init checks that
#        all of them came up (INIT and SIPI through QEMU's APIC)
#   -s   bound of the strace run after a failure (default 60)
#   -a   the strace run also after a boot that passed: what QEMU asks of
#        kvm_amd, to compare with vmmu (under strace the boot crawls: the
#        bound ends it)
#   -S   sample the VM's statistics in debugfs (see above)
#   -f   the first console line is what must pass (see above)
set -u

bound=300
strace_bound=60
always=0
stats=0
cpus=1
first_only=0
while getopts t:s:c:aSf opt; do
	case $opt in
	t) bound=$OPTARG ;;
	s) strace_bound=$OPTARG ;;
	c) cpus=$OPTARG ;;
	a) always=1 ;;
	S) stats=1 ;;
	f) first_only=1 ;;
	*) exit 2 ;;
	esac
done

dir=/tmp/qemu-boot
kernel=/kvm/qemu/vmlinuz
initrd=/kvm/qemu/initrd.cpio.gz
mkdir -p $dir

# The inner boot, with a command (timeout, strace ...) in front of QEMU.
run_qemu() {
	"$@" qemu-system-x86_64 -name inner,debug-threads=on \
		-accel kvm -M pc,kernel-irqchip=off -cpu qemu64 \
		-smp "$cpus" -m 256 -nodefaults -vga none -display none -no-reboot \
		-serial stdio -kernel $kernel -initrd $initrd \
		-append "console=ttyS0 panic=-1 inner_cpus=$cpus" </dev/null
}

uptime_secs() {
	cut -d ' ' -f 1 /proc/uptime
}

clock="wall time"
[ "${VMMU_EMULATOR:-}" = bochs ] && clock="emulated time (Bochs)"

# Print the complete lines of file $1 that came since the last look
# ($dir/$2.shown counts them) as "# $2: " lines.
print_new() { # file label
	shown=$(cat "$dir/$2.shown" 2>/dev/null || echo 0)
	lines=$(wc -l <"$1" 2>/dev/null || echo 0)
	[ "$lines" -gt "$shown" ] || return 0
	sed -n "$((shown + 1)),${lines}p" "$1" | tr -d '\r' | sed "s/^/# $2: /"
	echo "$lines" >"$dir/$2.shown"
}

# One look while QEMU runs: when the inner console's first line that is
# not empty comes, "UPTIME LINE" goes to $dir/first; with -f, the lines of
# the inner console and QEMU's messages that came since the last look are
# printed.
console_pass() {
	if [ ! -s $dir/first ]; then
		line=$(tr -d '\r' <$dir/serial.raw | head -n "$(wc -l <$dir/serial.raw)" | grep -m 1 .)
		[ -z "$line" ] || echo "$(uptime_secs) $line" >$dir/first
	fi
	[ $first_only = 1 ] || return 0
	print_new $dir/serial.raw console
	print_new $dir/stderr.log qemu
}

# console_pass every second (-f: every 0.1 s of the lane's clock, which
# under Bochs is tens of wall seconds) until $dir/stop appears, then once
# more.
follow_console() {
	every=1
	[ $first_only = 0 ] || every=0.1
	while [ ! -e $dir/stop ]; do
		console_pass
		sleep $every
	done
	console_pass
}

# QEMU's messages that are not warnings: an error it reported (KVM
# internal error, entry failed, kvm run failed, a register dump ...).  The
# lines that tell of the bound's SIGTERM are not.
qemu_errors() { # stderr file
	grep -v -e '^qemu-system-x86_64: warning: ' -e '^Terminated$' \
		-e '^qemu-system-x86_64: terminat\(ing on\|ed by\) signal ' "$1" |
		grep .
}

debugfs=/sys/kernel/debug

# The debugfs directory of the VM that QEMU created, vmmu's or kvm's: both
# name it <pid>-<n> after the process that created it.
qemu_vm_dir() {
	for d in "$debugfs"/vmmu/[0-9]*-[0-9]* "$debugfs"/kvm/[0-9]*-[0-9]*; do
		[ -d "$d" ] || continue
		p=${d##*/}
		comm=
		read -r comm <"/proc/${p%%-*}/comm" 2>/dev/null
		case $comm in qemu-system*) echo "$d" ;; esac
	done | tail -n 1
}

# Every 0.5 s, copy the statistics files of QEMU's VM into
# $dir/stats.last, "# UPTIME SAMPLES DIR" first: the last sample that read
# every file (grep fails on a file that went) and no fewer lines than the
# one before (the vCPUs' directories come after the VM's).  $dir/stats.peak
# keeps the largest value of each line over the samples.  kvm's
# mmu_rmaps_stat is left out: it walks every rmap of the VM.
sample_stats() {
	vm_dir=
	lines=0
	samples=0
	: >$dir/stats.peak
	while :; do
		[ -d "$vm_dir" ] || vm_dir=$(qemu_vm_dir)
		files=
		if [ -n "$vm_dir" ]; then
			for f in "$vm_dir"/* "$vm_dir"/*/stats; do
				[ -f "$f" ] || continue
				[ "${f##*/}" = mmu_rmaps_stat ] || files="$files $f"
			done
		fi
		# shellcheck disable=SC2086
		if [ -n "$files" ] && grep -H . $files >$dir/stats.new 2>/dev/null; then
			n=$(wc -l <$dir/stats.new)
			if [ "$n" -ge $lines ]; then
				lines=$n
				samples=$((samples + 1))
				read -r up _ </proc/uptime
				{
					echo "# $up $samples $vm_dir"
					cat $dir/stats.new
				} >$dir/stats.tmp && mv $dir/stats.tmp $dir/stats.last
				update_peak
			fi
		fi
		sleep 0.5
	done
}

# Fold $dir/stats.new into $dir/stats.peak: each line's largest value.
update_peak() {
	awk '{
		i = match($0, /[0-9]+$/)
		if (!i)
			next
		key = substr($0, 1, i - 1)
		v = substr($0, i) + 0
		if (!(key in max)) {
			keys[++n] = key
			max[key] = v
		} else if (v > max[key]) {
			max[key] = v
		}
	}
	END { for (j = 1; j <= n; j++) print keys[j] max[keys[j]] }' \
		$dir/stats.peak $dir/stats.new >$dir/stats.ptmp &&
		mv $dir/stats.ptmp $dir/stats.peak
}

# The last sample as "# stat: SCOPE NAME VALUE" lines after a header, then
# "# peak: SCOPE NAME VALUE" for a value that an earlier sample had larger
# (what is mapped now, say).  vmmu's files hold "NAME VALUE" lines (the
# VM's in DIR/stats, a vCPU's in DIR/vcpu<n>/stats), kvm's one value each
# (DIR/NAME).
print_stats() { # uptime at QEMU's exit
	if [ ! -s $dir/stats.last ]; then
		echo "# stats: no sample: QEMU made no VM in $debugfs/vmmu or $debugfs/kvm"
		return
	fi
	awk -v end="$1" '
	function stat(line,    i, rel, val, scope) {
		i = index(line, ":")
		rel = substr(line, length(vm_dir) + 2, i - length(vm_dir) - 2)
		val = substr(line, i + 1)
		if (rel == "stats") {
			scope = "vm"
		} else if (rel ~ /^[^\/]+\/stats$/) {
			scope = rel
			sub(/\/stats$/, "", scope)
		} else if (rel !~ /\//) {
			scope = "vm"
			val = rel " " val
		} else {
			return ""
		}
		if (val !~ /^[A-Za-z0-9_]+ [0-9]+$/)
			return ""
		return scope " " val
	}
	FNR == NR && FNR == 1 {
		vm_dir = $4
		printf "# stats: %s, the last of %d samples, %.1f s before QEMU exited\n",
			vm_dir, $3, end - $2
		next
	}
	FNR == NR {
		s = stat($0)
		if (s != "") {
			print "# stat: " s
			last[s] = 1
		}
		next
	}
	{
		s = stat($0)
		if (s != "" && !(s in last))
			print "# peak: " s
	}' $dir/stats.last $dir/stats.peak
}

# QEMU and strace processes of this step that are still there: run_one
# made the step a process group of its own, and a QEMU that a killed
# strace left behind stays in it.  Zombies have let go of /dev/kvm.
leftovers() {
	ps -o pid,pgid,stat,comm | awk -v g=$$ '$2 == g && $3 !~ /^Z/ &&
		($4 ~ /^qemu-system/ || $4 == "strace") { print $1 }'
}

# End what a run left behind and wait up to 60 s for it to be gone: a QEMU
# that outlives the step keeps kvm or vmmu from unloading.  One that stays
# is stuck in the kernel: print where, and fail.
reap() {
	pids=$(leftovers)
	[ -n "$pids" ] || return 0
	echo "# still running after the run, killed: $(echo "$pids" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	i=0
	while [ -n "$(leftovers)" ] && [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
	pids=$(leftovers)
	[ -n "$pids" ] || return 0
	for p in $pids; do
		echo "# pid $p ($(cat "/proc/$p/comm")) is there 60 s after SIGKILL; its threads in the kernel:"
		for t in "/proc/$p/task/"*; do
			echo "#   thread ${t##*/}: $(sed -n 's/^State:[[:space:]]*//p' "$t/status")"
			sed 's/^/#     /' "$t/stack"
		done
	done 2>/dev/null
	return 1
}

# "REQUEST RESULT LINE" for each ioctl of the strace run's trace on an fd
# above 2 (those on 0-2 are QEMU's terminal set-up on /dev/null): RESULT is
# the errno of a call that failed, else "ok".
ioctls() {
	awk '/ioctl\(([3-9]|[0-9][0-9]+), / {
		req = $0
		sub(/^[^(]*\([0-9]+, /, "", req)
		sub(/[,)].*/, "", req)
		res = "ok"
		if (/ = -1 E/) {
			res = $0
			sub(/.* = -1 /, "", res)
			sub(/ .*/, "", res)
		}
		print req, res, $0
	}' $dir/strace.log
}

# Print file $2 as "# $1" lines (at most the last $3 lines, if given).
show() { # label file [lines]
	[ -s "$2" ] || return 0
	if [ -n "${3:-}" ]; then
		tail -n "$3" "$2"
	else
		cat "$2"
	fi | sed "s/^/# $1/"
}

# One line per thread of QEMU's process $1 to $2: "TID STATE UTIME STIME
# SYSCALL NAME" (times in clock ticks; SYSCALL as /proc gives it, with
# commas for spaces, or "running").  QEMU names its threads after what they
# do ("CPU 1/KVM") with debug-threads=on.
thread_sample() { # pid file
	for t in "/proc/$1/task/"*; do
		# After the name, which may hold spaces: state, ..., utime (12),
		# stime (13).
		times=$(awk '{ sub(/.*\) /, ""); print $1, $12, $13 }' "$t/stat" 2>/dev/null)
		[ -n "$times" ] || continue
		sys=$(tr ' ' ',' <"$t/syscall" 2>/dev/null)
		echo "${t##*/} $times ${sys:-?} $(cat "$t/comm" 2>/dev/null)"
	done >"$2"
}

# Two samples of QEMU's threads 2 s apart, taken 8 s before the bound
# ends a boot that is still running: what each thread does while the
# boot stands still.
watch_threads() {
	rm -f $dir/threads.a $dir/threads.b
	[ "$bound" -gt 12 ] || return 0
	sleep $((bound - 8))
	qpid=$(pidof qemu-system-x86_64 | cut -d ' ' -f 1)
	[ -n "$qpid" ] || return 0
	thread_sample "$qpid" $dir/threads.a
	sleep 2
	thread_sample "$qpid" $dir/threads.b
}

# What each thread of a QEMU that did not finish did over those 2 s: user
# and system CPU time, and the system call it waits in (a futex, KVM_RUN,
# poll).  A vCPU thread that only ran QEMU's own code while the others
# waited on one futex spins holding that lock, which is QEMU's global lock
# when the main loop waits on it too (Documentation/testing.rst: the SIPI
# QEMU 7.2.22 never clears).
print_threads() {
	[ -s $dir/threads.a ] && [ -s $dir/threads.b ] || return 0
	echo "# QEMU's threads over 2 s of the stopped boot:"
	awk 'NR == FNR { u[$1] = $3; s[$1] = $4; next }
	{
		name = $6
		for (i = 7; i <= NF; i++)
			name = name " " $i
		split($5, a, ",")
		what = "in " $5
		if ($5 == "running")
			what = "running"
		else if (a[1] == 202)
			what = "waiting on futex " a[2]
		else if (a[1] == 16 && a[3] == "0xae80")
			what = "in KVM_RUN"
		else if (a[1] == 7 || a[1] == 271)
			what = "polling"
		du = ($3 - u[$1]) / 100
		ds = ($4 - s[$1]) / 100
		printf "#   %s (%s): %s, %.2f s user, %.2f s system\n", name, $1, what, du, ds
		if (a[1] == 202)
			waiters[a[2]]++
		if (name ~ /^CPU [0-9]+\/KVM$/ && du >= 1 && ds < 0.5)
			spinner = name
		n++
	}
	END {
		for (f in waiters)
			if (waiters[f] == n - 1 && spinner != "")
				printf "# %s spun in QEMU itself, not in KVM_RUN, while every other thread waited on futex %s\n", spinner, f
	}' $dir/threads.a $dir/threads.b
}

n=0
failed=0
# "missing": a failure that is a TODO when $todo says why (-f: the bound
# cut the boot short).
todo=
tap() { # ok|fail|missing description
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - $2"
	elif [ "$1" = missing ] && [ -n "$todo" ]; then
		echo "not ok $n - $2 # TODO $todo"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

echo "1..7"
echo "# inner guest: -smp $cpus"
echo "# /dev/kvm: $(ls -l /dev/kvm 2>&1)"
echo "# loaded: $(grep -E '^(kvm|kvm_amd|kvm_intel|vmmu) ' /proc/modules 2>/dev/null | cut -d ' ' -f 1 | tr '\n' ' ')"

rm -f $dir/stats.last $dir/stats.peak $dir/*.shown $dir/first $dir/stop
: >$dir/serial.raw
: >$dir/stderr.log
sampler=
if [ $stats = 1 ]; then
	sample_stats &
	sampler=$!
fi
follow_console &
follower=$!
watch_threads &
watcher=$!
t0=$(uptime_secs)
run_qemu timeout -k 10 "$bound" >$dir/serial.raw 2>$dir/stderr.log
st=$?
kill $watcher 2>/dev/null
wait $watcher 2>/dev/null
t1=$(uptime_secs)
if [ -n "$sampler" ]; then
	kill $sampler
	wait $sampler 2>/dev/null
fi
touch $dir/stop
wait $follower
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
# The inner console ends its lines with CR LF.
tr -d '\r' <$dir/serial.raw >$dir/serial.log
# QEMU exits 0 on SIGTERM as on power-off: a run that lasted the whole
# bound was stopped.
timed_out=$(awk -v s="$secs" -v b="$bound" 'BEGIN { print (s >= b) ? 1 : 0 }')
stuck=0
reap || stuck=1
error=$(qemu_errors $dir/stderr.log | head -n 1)
first_secs=
first_line=
if [ -s $dir/first ]; then
	read -r up first_line <$dir/first
	first_secs=$(awk -v a="$t0" -v b="$up" 'BEGIN { printf "%.1f", b - a }')
fi

if [ $stuck = 1 ]; then
	tap fail "qemu-system-x86_64 -accel kvm: a QEMU process did not end 60 s after SIGKILL (stuck in the kernel)"
elif [ "$timed_out" = 1 ] && [ -n "$error" ]; then
	tap fail "qemu-system-x86_64 -accel kvm: still running after $bound s, stopped; it had said: $error"
elif [ "$timed_out" = 1 ] && [ $first_only = 1 ] && [ -n "$first_line" ]; then
	tap ok "qemu-system-x86_64 -accel kvm: still running after $bound s, stopped (-f: the first console line is what must pass)"
	todo="not reached within the bound of $bound s (-f)"
elif [ "$timed_out" = 1 ]; then
	tap fail "qemu-system-x86_64 -accel kvm: still running after $bound s, stopped (status $st)"
elif [ $st = 0 ]; then
	tap ok "qemu-system-x86_64 -accel kvm: exit status 0"
else
	tap fail "qemu-system-x86_64 -accel kvm: exit status $st${error:+; it said: $error}"
fi

# The value words of the inner marker $1, if it was printed.
marker() {
	sed -n "s/^@@INNER $1 *//p" $dir/serial.log | tail -n 1
}

# Its first console line is the first sign of the inner kernel: "Linux
# version ...", once the serial console is registered.
if [ -n "$first_line" ]; then
	tap ok "inner kernel's first console line after $first_secs s: $(echo "$first_line" | cut -c 1-100)"
else
	tap fail "inner kernel's first console line: none in $secs s"
fi
if grep -q '^@@INNER BEGIN' $dir/serial.log; then
	tap ok "inner kernel $(marker BEGIN) ran /init (first marker seen)"
else
	tap missing "inner /init never ran: no '@@INNER BEGIN' on the console"
fi
timer=$(marker TIMER)
if [ "${timer:-0}" -gt 0 ] 2>/dev/null; then
	tap ok "inner timer interrupts (IRQ 0): $timer"
elif [ -z "$timer" ]; then
	tap missing "inner timer interrupts (IRQ 0): not reported"
else
	tap fail "inner timer interrupts (IRQ 0): $timer"
fi
# shellcheck disable=SC2046
set -- $(marker LOC)
if [ $# = 2 ] && [ "$2" -gt "$1" ] 2>/dev/null; then
	tap ok "inner LAPIC timer ticks (LOC): $1, then $2 a second later"
elif [ $# = 0 ]; then
	tap missing "inner LAPIC timer ticks (LOC): not reported"
else
	tap fail "inner LAPIC timer ticks (LOC): $1${2:+, then $2 a second later}"
fi
verdict=$(marker VERDICT)
if [ "$verdict" = PASS ]; then
	tap ok "inner verdict: PASS (second marker seen)"
elif [ -z "$verdict" ]; then
	tap missing "inner verdict: no '@@INNER VERDICT' on the console"
else
	tap fail "inner verdict: $verdict"
fi
last_line=$(grep . $dir/serial.log | tail -n 1 | cut -c 1-100)
if [ "$timed_out" = 1 ]; then
	tap missing "inner boot: not over after $bound s; the inner console's last line: $last_line"
elif [ -n "$verdict" ]; then
	tap ok "inner boot: $secs s of $clock, QEMU start to exit (bound $bound s)"
else
	tap fail "inner boot: did not complete, QEMU ended after $secs s"
fi

[ $stats = 0 ] || print_stats "$t1"
[ "$timed_out" = 0 ] || print_threads

echo "# QEMU's messages (stderr):"
show "qemu: " $dir/stderr.log

# Once more under strace, for the ioctl QEMU stopped at (not with a QEMU
# stuck in the kernel: a second one would hang as well).  strace passes
# timeout's SIGTERM on to QEMU, its child.
if [ $((failed + always)) -gt 0 ] && [ $stuck = 0 ]; then
	echo "# again under strace -f -e trace=ioctl, for at most $strace_bound s:"
	run_qemu timeout -k 10 "$strace_bound" strace -f -e trace=ioctl -e 'signal=!SIGUSR1' \
		-o $dir/strace.log >$dir/serial2.raw 2>$dir/stderr2.log
	echo "# status $?"
	reap || failed=1
	echo "# the last 60 lines of the trace ($(wc -l <$dir/strace.log) in all):"
	show "strace: " $dir/strace.log 60
	echo "# the ioctls that failed, one line per request and errno: how often, the first:"
	fails=$(ioctls | awk '$2 != "ok" {
		key = $1 " " $2
		if (!(key in count))
			first[key] = substr($0, length(key) + 2)
		count[key]++
	}
	END { for (key in count) printf "%d  %s\n", count[key], first[key] }' | sort -rn)
	echo "${fails:-(none)}" | sed 's/^/# failed: /'
	# QEMU stops when a capability it requires reads 0.
	echo "# capabilities that KVM_CHECK_EXTENSION answered with 0:" \
		"$(sed -n 's/.*KVM_CHECK_EXTENSION, \([A-Z0-9_]*\)) *= 0$/\1/p' \
			$dir/strace.log | sort -u | tr '\n' ' ')"
	echo "# each capability QEMU asked about (KVM_CHECK_EXTENSION) and the answer:"
	sed -n 's/.*KVM_CHECK_EXTENSION, \([A-Z0-9_]*\)) *= \([0-9]*\)$/\1 \2/p' \
		$dir/strace.log | awk '!seen[$1]++ { print "# cap: " $1 " = " $2 }'
	echo "# the requests, in the order of their first call, and how often:"
	ioctls | awk '{
		if (!($1 in count))
			order[++n] = $1
		count[$1]++
	}
	END { for (i = 1; i <= n; i++) printf "%s %d\n", order[i], count[order[i]] }' |
		sed 's/^/# request: /'
	echo "# QEMU's messages under strace (stderr):"
	show "qemu: " $dir/stderr2.log
	echo "# the last 20 lines of the kernel log:"
	dmesg | tail -n 20 | sed 's/^/# dmesg: /'
fi

if [ $first_only = 1 ]; then
	echo "# the inner console: $(wc -l <$dir/serial.log) lines, printed above as they came"
	# A last line without its newline.
	tail -c 1 $dir/serial.raw | grep -q . && tail -n 1 $dir/serial.log | sed 's/^/# console: /'
else
	echo "# the inner console ($(wc -l <$dir/serial.log) lines):"
	show "console: " $dir/serial.log
fi
exit $failed
