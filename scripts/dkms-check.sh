#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-dkms (scripts/dkms.sh check): build vmmu with dkms, as a
# user's machine would, for every installed 6.1 and 6.12 kernel that has
# a QEMU lane, in private trees (--sourcetree, --dkmstree, --installtree
# under build/dkms; no module signing, so no key is made under
# /var/lib/dkms), then boot those lanes with the modules dkms built and run
# vcpu_basic there.  One TAP stream: the builds first, then the lanes'
# lines; "N passed, N failed" last; exit status 1 on any failure.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/dkms
command -v dkms >/dev/null || {
	echo "vmmu dkms: dkms is not installed; run 'make deps' (or apt-get install dkms)" >&2
	exit 1
}

# What the system's dkms directory holds before: it must hold the same after.
system_before=$(find /var/lib/dkms 2>/dev/null | sort)
rm -rf "$out"
mkdir -p "$out/source" "$out/tree" "$out/install" "$out/modules"
src=$("$top/scripts/dkms.sh" source "$out/source") || exit 1
ver=${src##*/vmmu-}
# dkms signs with a key it makes under /var/lib/dkms unless the signing
# tool is missing: name one that is.
export sign_file=/nonexistent/vmmu-dkms-no-signing
trees=(--sourcetree "$out/source" --dkmstree "$out/tree" --installtree "$out/install")

n=0
failed=0
tap() { # ok|fail description
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - dkms: $2"
	else
		echo "not ok $n - dkms: $2"
		failed=$((failed + 1))
	fi
}

if dkms add -m vmmu -v "$ver" "${trees[@]}" >"$out/add.log" 2>&1; then
	tap ok "dkms add vmmu/$ver (source tree $src)"
else
	tap fail "dkms add vmmu/$ver: $(tail -n 1 "$out/add.log")"
fi

lanes=
found=
for build in /lib/modules/6.1.*-amd64/build /lib/modules/6.12.*-amd64/build; do
	[ -d "$build" ] || continue
	kver=${build#/lib/modules/}
	kver=${kver%/build}
	found="$found $kver"
	log=$out/build-$kver.log
	t0=$(date +%s)
	if ! dkms build -m vmmu -v "$ver" -k "$kver" "${trees[@]}" >"$log" 2>&1; then
		tap fail "dkms build for $kver: $(grep -m 1 -i error "$log" || tail -n 1 "$log")"
		continue
	fi
	ko=$(find "$out/tree/vmmu/$ver/$kver/x86_64/module" -name 'vmmu.ko*' 2>/dev/null | head -n 1)
	mkdir -p "$out/modules/$kver"
	case $ko in
	*.xz) xz -dc "$ko" >"$out/modules/$kver/vmmu.ko" ;;
	*.zst) zstd -qdc "$ko" >"$out/modules/$kver/vmmu.ko" ;;
	*.gz) gzip -dc "$ko" >"$out/modules/$kver/vmmu.ko" ;;
	?*) cp "$ko" "$out/modules/$kver/vmmu.ko" ;;
	esac
	magic=$(modinfo -F vermagic "$out/modules/$kver/vmmu.ko" 2>/dev/null | cut -d ' ' -f 1)
	if [ "$magic" = "$kver" ]; then
		tap ok "dkms build for $kver: ${ko#"$out"/} in $(($(date +%s) - t0)) s, vermagic $magic"
	else
		tap fail "dkms build for $kver: no module with vermagic $kver (${ko:-none}, '$magic')"
		continue
	fi
	case $kver in
	6.1.*) lanes="$lanes qemu-6.1" ;;
	6.12.*) lanes="$lanes qemu-6.12" ;;
	esac
done
if [ -z "$found" ]; then
	tap fail "no 6.1 or 6.12 kernel headers under /lib/modules/*/build; run 'make deps'"
fi
system_after=$(find /var/lib/dkms 2>/dev/null | sort)
if [ "$system_before" = "$system_after" ]; then
	tap ok "nothing written under /var/lib/dkms"
else
	tap fail "/var/lib/dkms changed: $(diff <(echo "$system_before") <(echo "$system_after") | grep '^[<>]' | head -n 5 | tr '\n' ' ')"
fi

# The lanes, with only dkms's modules to choose from; their TAP lines
# continue the numbering.
passed=$((n - failed))
if [ -n "$lanes" ]; then
	echo "# the lanes load only these (VMMU_MODULES): $(cd "$out/modules" && find . -name vmmu.ko | sed 's|^\./||' | tr '\n' ' ')"
	VMMU_MODULES=$out/modules T=${T:-vcpu_basic} VMMU_LANES="${lanes# }" \
		VMMU_KVM_LANE=0 VMMU_QEMU_BOOT_LANE=0 \
		"$top/selftests/vm/run-lanes.sh" >"$out/lanes.log" 2>&1
	awk -v base=$n '
		/^ok [0-9]+ / { $2 = $2 + base; print; ok++; next }
		/^not ok [0-9]+ / { $3 = $3 + base; print; bad++; next }
		/^1\.\.[0-9]+$/ || /^[0-9]+ passed, [0-9]+ failed$/ { next }
		{ print }
		END { print ok + 0, bad + 0 > "/dev/stderr" }' "$out/lanes.log" 2>"$out/lanes.count"
	read -r lok lbad <"$out/lanes.count"
	[ "$lok$lbad" != 00 ] || { lbad=1; echo "not ok $((n + 1)) - dkms: the lanes printed no TAP line ($out/lanes.log)"; }
	n=$((n + lok + lbad))
	passed=$((passed + lok))
	failed=$((failed + lbad))
fi
echo "1..$n"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
