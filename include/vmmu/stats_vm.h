/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-VM statistics table: one line per value a VM reports, in the
 * order VMMU_GET_STATS and <debugfs>/vmmu/<pid>-<n>/stats show them.
 *
 * No include guard: include/vmmu/stats.h and dev/stats.c include this file
 * several times, each time with their own definitions of the line macros
 * (a macro left undefined makes its lines expand to nothing).  A line is:
 *
 *   VMMU_VM_STAT(name, kind, uapi)
 *	a counter stored in vm->stats.counters[]: the code counts with
 *	atomic64_inc(vmmu_vm_stat(vm, name))
 *   VMMU_VM_LEVEL(level, name, kind, uapi)
 *	present leaves of one level now (1: 4 KiB), stored in
 *	vm->stats.mapped[level - 1], which the TDP MMU indexes by level
 *   VMMU_VM_VALUE(name, kind, uapi)
 *	not stored: dev/stats.c computes it with vmmu_vm_read_<name>(vm)
 *
 * @name is the statistic's name in debugfs (and in KVM's binary statistics
 * to come): KVM's name where KVM has a statistic with the same meaning,
 * vmmu's own otherwise.  @kind is COUNTER (cumulative), ICOUNTER (an
 * instant value), PCOUNTER (a peak), TIME_NS or IBOOLEAN: VMMU_STAT_KIND_*
 * in include/vmmu/stats.h, KVM's type, unit, base and exponent.  @uapi is
 * VMMU_UAPI(member) for a value struct vmmu_stats has a member for, else
 * VMMU_NO_UAPI; dev/stats.c checks at build time that the lines fill every
 * member before @reserved exactly once.
 */
#ifndef VMMU_VM_STAT
#define VMMU_VM_STAT(name, kind, uapi)
#endif
#ifndef VMMU_VM_LEVEL
#define VMMU_VM_LEVEL(level, name, kind, uapi)
#endif
#ifndef VMMU_VM_VALUE
#define VMMU_VM_VALUE(name, kind, uapi)
#endif

/* Page faults handled by the MMU (every vCPU, and pre-faults). */
VMMU_VM_STAT(faults, COUNTER, VMMU_UAPI(faults))
/*
 * Faults that retried: raced with an invalidation or a memslot update, their
 * root went, or their memslot is being deleted or moved.
 */
VMMU_VM_STAT(fault_retries, COUNTER, VMMU_UAPI(fault_retries))
/* Leaves installed, any level. */
VMMU_VM_STAT(pages_mapped, COUNTER, VMMU_UAPI(pages_mapped))
/* Of those, 4 KiB leaves of fault-around: neighbours of a faulting page. */
VMMU_VM_STAT(prefetched, COUNTER, VMMU_UAPI(prefetched))
VMMU_VM_LEVEL(1, pages_4k, ICOUNTER, VMMU_UAPI(mapped[0]))
VMMU_VM_LEVEL(2, pages_2m, ICOUNTER, VMMU_UAPI(mapped[1]))
VMMU_VM_LEVEL(3, pages_1g, ICOUNTER, VMMU_UAPI(mapped[2]))
VMMU_VM_LEVEL(4, pages_512g, ICOUNTER, VMMU_UAPI(mapped[3]))
VMMU_VM_LEVEL(5, pages_256t, ICOUNTER, VMMU_UAPI(mapped[4]))
/* Present leaves removed. */
VMMU_VM_STAT(leaves_zapped, COUNTER, VMMU_UAPI(leaves_zapped))
/* Page-table pages in the VM's trees now, roots included. */
VMMU_VM_STAT(tables, ICOUNTER, VMMU_UAPI(tables))
VMMU_VM_STAT(tables_freed, COUNTER, VMMU_UAPI(tables_freed))
/* mmu_notifier invalidate_range_start calls for ranges a memslot maps. */
VMMU_VM_STAT(invalidations, COUNTER, VMMU_UAPI(invalidations))
/* Roots on the valid list, and on the invalid list, now. */
VMMU_VM_VALUE(roots_valid, ICOUNTER, VMMU_UAPI(roots_valid))
VMMU_VM_VALUE(roots_invalid, ICOUNTER, VMMU_UAPI(roots_invalid))
/* Roots moved to the invalid list. */
VMMU_VM_STAT(roots_invalidated, COUNTER, VMMU_UAPI(roots_invalidated))
/* vmmu_flush_remote_tlbs() calls: every vCPU's TLB flushed. */
VMMU_VM_STAT(remote_tlb_flush, COUNTER, VMMU_UAPI(tlb_flushes))
/* Leaves write-protected for dirty logging. */
VMMU_VM_STAT(leaves_wrprot, COUNTER, VMMU_UAPI(leaves_wrprot))
/* Write faults fixed by the lockless fast path (no mmu_lock, no GUP). */
VMMU_VM_STAT(pf_fast, COUNTER, VMMU_UAPI(pf_fast))
/*
 * Tables that exist only because an instruction fetch could not use a huge
 * leaf (the iTLB-multihit workaround), now.
 */
VMMU_VM_VALUE(nx_lpage_splits, ICOUNTER, VMMU_NO_UAPI)
/* Huge leaves split in place into a table of smaller leaves. */
VMMU_VM_STAT(huge_splits, COUNTER, VMMU_UAPI(huge_splits))
/* Tables zapped so that huge leaves map their range again. */
VMMU_VM_STAT(huge_recovered, COUNTER, VMMU_UAPI(huge_recovered))
/* Accessed bits cleared for the host's page aging. */
VMMU_VM_STAT(young_cleared, COUNTER, VMMU_UAPI(young_cleared))
/* The invalidation sequence, and invalidations between start and end. */
VMMU_VM_VALUE(invalidate_seq, ICOUNTER, VMMU_UAPI(invalidate_seq))
VMMU_VM_VALUE(invalidate_in_progress, ICOUNTER,
	      VMMU_UAPI(invalidate_in_progress))

#undef VMMU_VM_STAT
#undef VMMU_VM_LEVEL
#undef VMMU_VM_VALUE
