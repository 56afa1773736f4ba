/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-vCPU statistics table: one line per value a vCPU reports, in the
 * order <debugfs>/vmmu/<pid>-<n>/vcpu<id>/stats shows them.
 *
 * Included several times, like include/vmmu/stats_vm.h, whose comment
 * describes the lines.  A line is:
 *
 *   VMMU_VCPU_STAT(name, kind, uapi)
 *	a counter stored in vcpu->stats.counters[]: the vCPU's thread counts
 *	with atomic64_inc(vmmu_vcpu_stat(vcpu, name))
 *   VMMU_VCPU_VALUE(name, kind, uapi)
 *	not stored: dev/stats.c computes it with vmmu_vcpu_read_<name>(vcpu)
 *
 * No ioctl struct carries vCPU values yet: @uapi is VMMU_NO_UAPI (a
 * VMMU_UAPI() here does not build).
 */
#ifndef VMMU_VCPU_STAT
#define VMMU_VCPU_STAT(name, kind, uapi)
#endif
#ifndef VMMU_VCPU_VALUE
#define VMMU_VCPU_VALUE(name, kind, uapi)
#endif

/* Exits of a hardware vCPU from the guest, whatever their reason. */
VMMU_VCPU_STAT(exits, COUNTER, VMMU_NO_UAPI)
/* Exits to userspace: KVM_EXIT_IO, KVM_EXIT_MMIO, KVM_EXIT_HLT. */
VMMU_VCPU_STAT(io_exits, COUNTER, VMMU_NO_UAPI)
VMMU_VCPU_STAT(mmio_exits, COUNTER, VMMU_NO_UAPI)
VMMU_VCPU_STAT(halt_exits, COUNTER, VMMU_NO_UAPI)
/*
 * Interrupts of KVM_INTERRUPT delivered to the guest; interrupt-window exits
 * from the guest; KVM_EXIT_IRQ_WINDOW_OPEN exits to userspace (KVM's names).
 */
VMMU_VCPU_STAT(irq_injections, COUNTER, VMMU_NO_UAPI)
VMMU_VCPU_STAT(irq_window_exits, COUNTER, VMMU_NO_UAPI)
VMMU_VCPU_STAT(request_irq_exits, COUNTER, VMMU_NO_UAPI)
/*
 * NMIs of KVM_NMI delivered to the guest; exits that waited for NMIs to be
 * deliverable (VMX NMI window; SVM IRET and single-step) (KVM's names).
 */
VMMU_VCPU_STAT(nmi_injections, COUNTER, VMMU_NO_UAPI)
VMMU_VCPU_STAT(nmi_window_exits, COUNTER, VMMU_NO_UAPI)
/*
 * Entries run again from the state before them because the CPU left a
 * state no CPU can leave (seen only under QEMU's SVM emulation: svm/exit.c).
 */
VMMU_VCPU_STAT(emulator_replays, COUNTER, VMMU_NO_UAPI)
/* KVM_RUN ended by a signal (KVM_EXIT_INTR). */
VMMU_VCPU_STAT(signal_exits, COUNTER, VMMU_NO_UAPI)
/* TLB flushes the vCPU performed (requests and new roots); any kind. */
VMMU_VCPU_STAT(tlb_flush, COUNTER, VMMU_NO_UAPI)
/*
 * Stops because the dirty ring reached its soft limit: KVM_EXIT_DIRTY_RING_FULL,
 * or a software vCPU's VMMU_ACCESS_DIRTY_RING_FULL.
 */
VMMU_VCPU_STAT(dirty_ring_full_exits, COUNTER, VMMU_NO_UAPI)

#undef VMMU_VCPU_STAT
#undef VMMU_VCPU_VALUE
