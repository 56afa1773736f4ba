# SPDX-License-Identifier: GPL-2.0
#
# vmmu top-level Makefile.  The module itself is described in Kbuild.
#
#   make               vmmu.ko here, for KDIR (default: running kernel, else 6.1)
#   make run           boot an emulated machine and run the demo (QEMU, AMD
#                      SVM); VENDOR=vmx: under Bochs (Intel VMX with EPT)
#   make run-qemu      boot an emulated machine in which Debian's QEMU boots
#                      Linux with -accel kvm on vmmu; print its boot time
#                      and the VM's statistics
#   make check         every test lane (QEMU, then Bochs), upstream KVM
#                      selftests included; one TAP line per test, then
#                      "N passed, N failed"
#   make check-quick   one QEMU boot (6.1, 5-level paging), for the inner loop
#   make build-all     build against every installed kernel (6.1, 6.12, debug)
#   make debug-kernel  build the debug-kernel lane's kernel (once, cached)
#   make sparse        sparse (C=2) against every installed kernel
#   make checkpatch    checkpatch.pl --strict on every source file
#   make deps          install the Debian packages the lanes need (as root)
#   make kvm-selftests build upstream KVM selftests (once, cached); print their dir
#   make kvm-ref       run them in QEMU against Debian's kvm_amd (SIDE=vmmu|both)
#   make check-qemu-boot  Debian's QEMU -accel kvm boots Linux inside a QEMU
#                      lane, on Debian's kvm_amd (SIDE=vmmu|both: on vmmu)
#   make check-qemu-smp   the same with -smp 2, on vmmu and kvm_amd
#                      (SIDE=vmmu|kvm: one of them)
#   make check-bochs-qemu the same on vmmu's VMX vCPU, in the Bochs lane
#                      (slow, not in make check): passes once the inner
#                      kernel printed its first console line
#   make bench         vmmu fault-path benchmark, then kvm_amd vs vmmu
#                      (demand_paging_test), in one QEMU boot; then QEMU
#                      booting Linux on kvm_amd vs vmmu, in another
#   make bench-qemu    only the latter (BENCH_PARTS=qemu)
#   make dkms          as root: install vmmu under DKMS (/usr/src/vmmu-VERSION),
#                      rebuilt for each kernel installed later
#   make check-dkms    build vmmu with dkms for the 6.1 and 6.12 headers in
#                      private trees under build/dkms, load those modules in
#                      the QEMU lanes (not in make check)

TOP := $(CURDIR)
CACHE ?= $(HOME)/.cache/vmmu
KDIR_61 := $(lastword $(sort $(wildcard /usr/src/linux-headers-6.1.*-amd64)))
KDIR_612 := $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12.*-amd64)))
KDIRS := $(KDIR_61) $(KDIR_612)
RUNNING_KDIR := $(wildcard /lib/modules/$(shell uname -r)/build)
KDIR ?= $(if $(RUNNING_KDIR),$(RUNNING_KDIR),$(KDIR_61))
# The debug kernel's tree, once scripts/debug-kernel.sh has built it.
KDIR_DEBUG = $(shell scripts/debug-kernel.sh --if-built)

export CACHE

.PHONY: all modules clean deps deps-base build-all sparse checkpatch selftests \
	tools check check-quick run run-qemu lint debug-kernel

all: modules

modules:
	@[ -n "$(KDIR)" ] || { echo "vmmu: no kernel headers found; run 'make deps'"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules

deps:
	@scripts/deps.sh full

deps-base:
	@scripts/deps.sh base

# build/<kernel release>/vmmu.ko for every installed kernel.
build-all:
	@[ -n "$(KDIRS)" ] || { echo "vmmu: no kernel headers found; run 'make deps'"; exit 1; }
	@set -e; for k in $(KDIRS); do \
		scripts/kbuild.sh $$k $(TOP)/build/$$(scripts/krelease.sh $$k); \
	done
	@set -e; for k in $(KDIR_DEBUG); do \
		scripts/kbuild.sh $$k $(TOP)/build/$$(scripts/krelease.sh $$k) VMMU_DEBUG=1; \
	done

sparse:
	@[ -n "$(KDIRS)" ] || { echo "vmmu: no kernel headers found; run 'make deps'"; exit 1; }
	@set -e; for k in $(KDIRS); do \
		scripts/kbuild.sh $$k $(TOP)/build/sparse-$$(scripts/krelease.sh $$k) C=2; \
	done

checkpatch:
	@scripts/checkpatch.sh

lint: build-all sparse checkpatch

selftests:
	@$(MAKE) -s -C selftests

tools:
	@$(MAKE) -s -C tools

debug-kernel:
	@scripts/deps.sh base
	@scripts/debug-kernel.sh >/dev/null

check:
	@scripts/deps.sh full
	@scripts/debug-kernel.sh >/dev/null
	@$(MAKE) -s build-all selftests tools
	@scripts/kvm-selftests.sh >/dev/null
	@selftests/vm/run-lanes.sh

check-quick:
	@scripts/deps.sh base
	@$(MAKE) -s build-all selftests tools KDIRS=$(KDIR_61) KDIR_DEBUG=
	@selftests/vm/run-lanes.sh --quick

run:
	@scripts/deps.sh $(if $(filter vmx,$(VENDOR)),bochs,base)
	@$(MAKE) -s build-all selftests tools KDIRS=$(KDIR_61) KDIR_DEBUG=
	@selftests/vm/run-lanes.sh --demo $(if $(filter vmx,$(VENDOR)),--bochs)

# QEMU -accel kvm on vmmu inside the QEMU lane (Documentation/testing.rst,
# QEMU on vmmu).
run-qemu:
	@scripts/deps.sh base
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@selftests/vm/qemu-boot.sh --demo

clean:
	@[ -z "$(KDIR)" ] || $(MAKE) -C $(KDIR) M=$(TOP) clean
	rm -rf build
	@$(MAKE) -s -C selftests clean
	@$(MAKE) -s -C tools clean

# Upstream KVM selftests and the side-by-side benchmark
# (Documentation/testing.rst); make check runs the selftests too.
.PHONY: kvm-selftests kvm-ref bench bench-qemu check-qemu-boot check-qemu-smp \
	check-bochs-qemu dkms check-dkms

kvm-selftests:
	@scripts/kvm-selftests.sh

kvm-ref:
	@scripts/deps.sh base
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@selftests/vm/kvm-ref.sh $(if $(SIDE),--side $(SIDE))

# make check runs the vmmu side as one of its lanes; this also runs the
# reference side (SIDE=kvm, the default, or both).
check-qemu-boot:
	@scripts/deps.sh base
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@selftests/vm/qemu-boot.sh $(if $(SIDE),--side $(SIDE))

# The same boot with -smp 2 (INIT/SIPI through QEMU's APIC), vmmu beside
# kvm_amd in one lane boot (SIDE= to run one side); not in make check.  The
# inner QEMU is Debian's with its SIPI bug fixed (qemu-sipi-fix.py), unless
# QEMU_BOOT_QEMU names another.
check-qemu-smp:
	@scripts/deps.sh base
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@mkdir -p build/qemu-boot
	@[ -n "$$QEMU_BOOT_QEMU" ] || selftests/vm/qemu-sipi-fix.py \
		/usr/bin/qemu-system-x86_64 build/qemu-boot/qemu-system-x86_64
	@QEMU_BOOT_QEMU=$${QEMU_BOOT_QEMU:-build/qemu-boot/qemu-system-x86_64} \
		QEMU_BOOT_SMP=$${QEMU_BOOT_SMP:-2} QEMU_BOOT_TIMEOUT=$${QEMU_BOOT_TIMEOUT:-600} \
		selftests/vm/qemu-boot.sh --side $(or $(SIDE),both)

# The same boot on vmmu's VMX vCPU, in the Bochs lane (an Intel CPU with VMX
# and EPT); not in make check: Bochs runs about 80 million instructions a
# second.  The inner kernel's first console line within the bound is what
# must pass (Documentation/testing.rst, QEMU on vmmu).
check-bochs-qemu:
	@scripts/deps.sh bochs
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@selftests/vm/qemu-boot.sh --side vmmu --bochs

# DKMS (dkms.conf, scripts/dkms.sh; Documentation/testing.rst, DKMS).
dkms:
	@scripts/deps.sh dkms
	@scripts/dkms.sh install

check-dkms:
	@scripts/deps.sh dkms
	@$(MAKE) -s selftests tools
	@scripts/dkms.sh check

bench:
	@scripts/deps.sh base
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@$(MAKE) -s -C tools/bench
	@tools/bench/bench.py

# The QEMU boot comparison of make bench alone.
bench-qemu:
	@scripts/deps.sh base
	@$(MAKE) -s build-all KDIRS=$(KDIR_61) KDIR_DEBUG=
	@BENCH_PARTS=qemu tools/bench/bench.py
