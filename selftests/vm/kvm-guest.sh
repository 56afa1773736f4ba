# SPDX-License-Identifier: GPL-2.0
#
# /kvm/guest.sh: the kvm mode of /init (MODE=kvm in /etc/vmmu-lanes.conf),
# which runs programs written for /dev/kvm — upstream KVM selftests — against
# Debian's kvm.ko + kvm_amd.ko (or kvm_intel.ko) or against vmmu.
#
# /init sources this file for its functions and calls kvm_plan /kvm/plan.
# The plan has one step a line:
#
#   load kvm|vmmu            kvm: insmod the modules listed in
#                            /kvm/modules/<uname -r>/order-<vendor>;
#                            vmmu: insmod /vmmu.ko and mknod /dev/kvm with
#                            the device numbers of /dev/vmmu
#   unload kvm|vmmu          the reverse; nothing to do if not loaded (left
#                            out if its side is off and it is not loaded)
#   hugepages N              reserve N 2 MiB hugetlbfs pages
#                            (/proc/sys/vm/nr_hugepages); fails if the
#                            kernel reserved fewer
#   run NAME PROG [ARG...]   run /kvm/bin/PROG as test program NAME
#   probe NAME PROG [ARG...] the same; if it fails, the side NAME starts with
#                            (NAME is SIDE:...) is off for the rest of the
#                            plan: its later load, run, probe and tap steps
#                            are left out
#   tap NAME PROG [ARG...]   run /kvm/bin/PROG as test program NAME; PROG
#                            prints TAP itself (a plan and its results, as
#                            the programs of /tests do), unwrapped
#
# kvm and vmmu are never loaded together: a load of one refuses while the
# other is loaded (both would own SVM/VMX).  A failed load also turns its
# side off.
#
# Every step reports like a test program of /tests: "@@VMMU BEGIN NAME",
# a TAP plan and result, "@@VMMU END NAME STATUS SECONDS".  Run and tap
# steps go through init's run_one (timeout, own cgroup, accounting check);
# a run step through kvm_tap, which prints "1..1" and "ok 1"/"not ok 1" from
# PROG's exit status with PROG's output as "# " lines: only status 0
# passes, KSFT_SKIP (4) is a failure.

# say, R (the results port) and run_one, which leaves the program's status
# in rc, come from /init.
# shellcheck shell=sh disable=SC2154

KVM_DIR=/kvm

# kvm_tap PROG [ARG...]: run /kvm/bin/PROG as one TAP test; fail unless it
# exits 0.  Runs in a shell of its own (see kvm_run_step).
kvm_tap() {
	echo "1..1"
	kvm_prog=$1
	shift
	kvm_st=/tmp/kvm-tap.$$
	rm -f "$kvm_st"
	# argv[0] must be the program's path: the library loads its own ELF
	# file into the guest.
	{
		"$KVM_DIR/bin/$kvm_prog" "$@" 2>&1
		echo $? >"$kvm_st"
	} | sed 's/^/# /'
	set -- "$kvm_prog" "$@"
	kvm_rc=$(cat "$kvm_st" 2>/dev/null)
	rm -f "$kvm_st"
	[ -n "$kvm_rc" ] || kvm_rc=1
	case $kvm_rc in
	0) echo "ok 1 - $*" ;;
	4) echo "not ok 1 - $*: exit status 4 (KSFT_SKIP: a required test skipped)" ;;
	254) echo "not ok 1 - $*: exit status 254 (a TEST_ASSERT failed)" ;;
	*) echo "not ok 1 - $*: status $kvm_rc" ;;
	esac
	# The status is in the line above; a shell status above 128 would read
	# as a signal to the collector.
	[ "$kvm_rc" = 0 ]
}

kvm_side_off() { # side -> status 0 if the side is off
	case " $kvm_off " in *" $1 "*) return 0 ;; esac
	return 1
}

kvm_loaded() { # module name
	grep -q "^$1 " /proc/modules
}

kvm_vendor() {
	if grep -qw svm /proc/cpuinfo; then
		echo amd
	elif grep -qw vmx /proc/cpuinfo; then
		echo intel
	else
		echo none
	fi
}

# Step bodies: print diagnostics, set kvm_desc, return a status.
kvm_load_kvm() {
	kvm_v=$(kvm_vendor)
	kvm_order=$KVM_DIR/modules/$(uname -r)/order-$kvm_v
	kvm_desc="load kvm_$kvm_v ($(uname -r))"
	if kvm_loaded vmmu; then
		echo "vmmu is loaded: unload it first"
		return 1
	fi
	if [ ! -f "$kvm_order" ]; then
		echo "no kvm modules for $(uname -r) and CPU vendor '$kvm_v' in the initramfs"
		return 1
	fi
	kvm_list=
	while read -r kvm_ko; do
		kvm_m=${kvm_ko%%.ko*}
		kvm_m=$(echo "$kvm_m" | tr - _)
		kvm_list="$kvm_list $kvm_m"
		kvm_loaded "$kvm_m" && continue
		insmod "$KVM_DIR/modules/$(uname -r)/$kvm_ko" || return 1
	done <"$kvm_order"
	kvm_desc="insmod$kvm_list"
	if [ ! -c /dev/kvm ]; then
		echo "/dev/kvm did not appear"
		return 1
	fi
	for kvm_p in /sys/module/kvm/parameters/tdp_mmu /sys/module/kvm_amd/parameters/npt \
		/sys/module/kvm_amd/parameters/nrips /sys/module/kvm_intel/parameters/ept; do
		[ -f "$kvm_p" ] && echo "${kvm_p#/sys/module/}=$(cat "$kvm_p")"
	done
	return 0
}

kvm_unload_kvm() {
	kvm_desc="unload kvm"
	kvm_list=
	kvm_order=$KVM_DIR/modules/$(uname -r)/order-$(kvm_vendor)
	if [ -f "$kvm_order" ]; then
		while read -r kvm_ko; do
			kvm_m=${kvm_ko%%.ko*}
			kvm_list="$(echo "$kvm_m" | tr - _) $kvm_list"
		done <"$kvm_order"
	fi
	kvm_done=
	for kvm_m in $kvm_list; do
		kvm_loaded "$kvm_m" || continue
		rmmod "$kvm_m" || return 1
		kvm_done="$kvm_done $kvm_m"
	done
	kvm_desc="rmmod${kvm_done:- (nothing loaded)}"
	if [ -e /dev/kvm ]; then
		echo "/dev/kvm is still there"
		return 1
	fi
	return 0
}

kvm_load_vmmu() {
	kvm_desc="insmod vmmu.ko, /dev/kvm -> /dev/vmmu"
	if kvm_loaded kvm; then
		echo "kvm is loaded: unload it first"
		return 1
	fi
	if [ -e /dev/kvm ]; then
		echo "/dev/kvm exists already"
		return 1
	fi
	insmod /vmmu.ko || return 1
	kvm_dev=$(cat /sys/class/misc/vmmu/dev 2>/dev/null)
	case $kvm_dev in
	*:*) ;;
	*)
		echo "no device numbers in /sys/class/misc/vmmu/dev"
		return 1
		;;
	esac
	mknod /dev/kvm c "${kvm_dev%%:*}" "${kvm_dev#*:}" || return 1
	kvm_desc="insmod vmmu.ko, mknod /dev/kvm c ${kvm_dev%%:*} ${kvm_dev#*:} (/dev/vmmu)"
	return 0
}

kvm_unload_vmmu() {
	kvm_desc="unload vmmu"
	kvm_dev=$(cat /sys/class/misc/vmmu/dev 2>/dev/null)
	if [ -c /dev/kvm ] && [ -n "$kvm_dev" ] &&
		[ "$(stat -c '%t:%T' /dev/kvm)" = "$(printf '%x:%x' "${kvm_dev%%:*}" "${kvm_dev#*:}")" ]; then
		rm -f /dev/kvm
	fi
	if ! kvm_loaded vmmu; then
		kvm_desc="unload vmmu (not loaded)"
		return 0
	fi
	rmmod vmmu || return 1
	kvm_desc="rm /dev/kvm, rmmod vmmu"
	return 0
}

kvm_hugepages() {
	kvm_desc="reserve $kvm_arg hugetlbfs pages"
	echo "$kvm_arg" >/proc/sys/vm/nr_hugepages
	kvm_hp=$(cat /proc/sys/vm/nr_hugepages)
	echo "nr_hugepages=$kvm_hp"
	[ "$kvm_hp" -ge "$kvm_arg" ]
}

# kvm_step NAME FUNC: run a step body in this shell, report it as a program.
kvm_step() {
	kvm_name=$1
	say "@@VMMU BEGIN $kvm_name"
	kvm_t0=$(date +%s)
	kvm_desc=$2
	"$2" >/run/vmmu/step.out 2>&1
	kvm_src=$?
	# In a child: see say() in /init.
	(
		echo "1..1"
		sed 's/^/# /' /run/vmmu/step.out
		if [ $kvm_src = 0 ]; then
			echo "ok 1 - $kvm_desc"
		else
			echo "not ok 1 - $kvm_desc"
		fi
		printf '\n@@VMMU END %s %s %s\n' "$kvm_name" "$kvm_src" $(($(date +%s) - kvm_t0))
	) >>"$R"
	return $kvm_src
}

kvm_run_step() { # run|tap NAME PROG [ARG...]
	kvm_how=$1
	kvm_name=$2
	shift 2
	say "@@VMMU BEGIN $kvm_name"
	if [ "$kvm_how" = tap ]; then
		kvm_prog=$1
		shift
		run_one "$kvm_name" "$KVM_DIR/bin/$kvm_prog" "$@"
	else
		run_one "$kvm_name" sh -c '. /kvm/guest.sh && kvm_tap "$@"' sh "$@"
	fi
	return "$rc"
}

kvm_bad_step() {
	kvm_desc="/kvm/plan: bad step '$kvm_step_line'"
	return 1
}

kvm_plan() { # plan file
	kvm_off=
	while read -r kvm_verb kvm_arg kvm_rest; do
		kvm_side=${kvm_arg%%:*}
		kvm_step_line="$kvm_verb $kvm_arg${kvm_rest:+ $kvm_rest}"
		case $kvm_verb:$kvm_arg in
		load:kvm | load:vmmu | unload:kvm | unload:vmmu) ;;
		load:* | unload:*) kvm_verb=bad ;;
		hugepages:*[!0-9]* | hugepages:) kvm_verb=bad ;;
		esac
		case $kvm_verb in
		'' | '#'*) ;;
		load)
			kvm_side_off "$kvm_arg" && continue
			kvm_step "load:$kvm_arg" "kvm_load_$kvm_arg" </dev/null ||
				kvm_off="$kvm_off $kvm_arg"
			;;
		unload)
			if kvm_side_off "$kvm_arg" && ! kvm_loaded "$kvm_arg"; then
				continue
			fi
			kvm_step "unload:$kvm_arg" "kvm_unload_$kvm_arg" </dev/null
			;;
		hugepages)
			kvm_step "hugepages:$kvm_arg" kvm_hugepages </dev/null
			;;
		run | probe | tap)
			kvm_side_off "$kvm_side" && continue
			set -f
			# shellcheck disable=SC2086
			set -- $kvm_rest
			set +f
			kvm_how=run
			[ "$kvm_verb" = tap ] && kvm_how=tap
			if ! kvm_run_step $kvm_how "$kvm_arg" "$@" </dev/null && [ "$kvm_verb" = probe ]; then
				kvm_off="$kvm_off $kvm_side"
			fi
			;;
		*)
			kvm_step plan kvm_bad_step </dev/null
			;;
		esac
	done <"$1"
	# Leave nothing loaded behind: init unloads only vmmu.
	kvm_loaded kvm && kvm_step "unload:kvm" kvm_unload_kvm </dev/null
	return 0
}
