// SPDX-License-Identifier: GPL-2.0
/*
 * mmu_notifier: keep the TDP tables coherent with the host mm.
 *
 * Protocol (see Documentation/locking.rst):
 *   invalidate_range_start: under mmu_lock (write), in_progress++ and the
 *     hva range joins the union of ranges in progress; then every mapping of
 *     the range is zapped in every root and the TLBs are flushed.
 *   invalidate_range_end: under mmu_lock (write), seq++, then in_progress--.
 * A fault reads seq before it looks up the pfn and, under mmu_lock, gives up
 * if its hva is in a range in progress or seq moved: it cannot install a pfn
 * the host is taking away.
 *
 * Ranges that no memslot maps are skipped by start and end alike: every
 * invalidation counts itself in mn_active_invalidate_count from start to end,
 * and memslot sets are published only while that count is zero, so both
 * callbacks of one invalidation see the same set.  The range is kept in host
 * virtual addresses, not guest frames.
 *
 * invalidate_range_start also invalidates the gfn->pfn caches that map a
 * page of the range (pfncache/), after the range joined the invalidations
 * in progress and with mmu_lock dropped: the two never nest.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/rcuwait.h>
#include <linux/sched/mm.h>
#include <linux/srcu.h>

#include <vmmu/memslot.h>
#include <vmmu/notifier.h>
#include <vmmu/pfncache.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/trace.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

static struct vmmu_vm *mn_to_vm(struct mmu_notifier *mn)
{
	return container_of(mn, struct vmmu_vm, mmu_notifier);
}

static void vmmu_mmu_invalidate_begin(struct vmmu_vm *vm, unsigned long start,
				      unsigned long end)
{
	lockdep_assert_held_write(&vm->mmu_lock);
	if (!vm->mmu_invalidate_in_progress++) {
		vm->mmu_invalidate_range_start = start;
		vm->mmu_invalidate_range_end = end;
	} else {
		vm->mmu_invalidate_range_start =
			min(vm->mmu_invalidate_range_start, start);
		vm->mmu_invalidate_range_end =
			max(vm->mmu_invalidate_range_end, end);
	}
}

static void vmmu_mmu_invalidate_end(struct vmmu_vm *vm)
{
	lockdep_assert_held_write(&vm->mmu_lock);
	vm->mmu_invalidate_seq++;
	/*
	 * Pairs with the smp_rmb() in vmmu_mmu_invalidate_retry_hva(): the new
	 * seq is visible before in_progress drops.
	 */
	smp_wmb();
	vm->mmu_invalidate_in_progress--;
	WARN_ON_ONCE(vm->mmu_invalidate_in_progress < 0);
}

/* What to do to the guest frames behind an hva range. */
enum vmmu_hva_op {
	VMMU_HVA_ZAP,
	VMMU_HVA_ZAP_ATOMIC,	/* a zap that must not yield */
	VMMU_HVA_AGE,		/* clear accessed bits */
	VMMU_HVA_TEST_AGE,	/* test accessed bits */
};

static bool vmmu_gfn_range_op(struct vmmu_vm *vm, gfn_t start, gfn_t end,
			      enum vmmu_hva_op op)
{
	switch (op) {
	case VMMU_HVA_ZAP:
	case VMMU_HVA_ZAP_ATOMIC:
		vmmu_tdp_mmu_zap_gfn_range(vm, start, end, op == VMMU_HVA_ZAP);
		return false;
	default:
		return vmmu_tdp_mmu_age_gfn_range(vm, start, end,
						  op == VMMU_HVA_AGE);
	}
}

/*
 * Apply @op to the guest frames of every memslot that maps part of
 * [start, end).  Called under vm->srcu.
 *
 * Return: for aging, whether any of those frames was young.
 */
static bool vmmu_hva_range_op(struct vmmu_vm *vm, unsigned long start,
			      unsigned long end, enum vmmu_hva_op op)
{
	struct vmmu_memslots *set = vmmu_memslots(vm);
	bool young = false;
	int i;

	for (i = 0; i < set->nr; i++) {
		struct vmmu_memslot *slot = set->slots[i];
		unsigned long s_start = slot->userspace_addr;
		unsigned long s_end = s_start + (slot->npages << PAGE_SHIFT);
		unsigned long hs = max(start, s_start), he = min(end, s_end);
		gfn_t gfn_start, gfn_end;

		if (hs >= he)
			continue;
		gfn_start = slot->base_gfn + ((hs - s_start) >> PAGE_SHIFT);
		gfn_end = slot->base_gfn + (PAGE_ALIGN(he - s_start) >> PAGE_SHIFT);
		young |= vmmu_gfn_range_op(vm, gfn_start, gfn_end, op);
	}
	return young;
}

/* Does a memslot of the current set map part of [start, end)?  Under srcu. */
static bool vmmu_hva_range_mapped(struct vmmu_vm *vm, unsigned long start,
				  unsigned long end)
{
	struct vmmu_memslots *set = vmmu_memslots(vm);
	int i;

	for (i = 0; i < set->nr; i++) {
		struct vmmu_memslot *slot = set->slots[i];
		unsigned long s_start = slot->userspace_addr;
		unsigned long s_end = s_start + (slot->npages << PAGE_SHIFT);

		if (start < s_end && s_start < end)
			return true;
	}
	return false;
}

/*
 * Count an invalidation as active; memslot sets are published only while
 * none is (vmmu_memslots_swap()), so its start and its end see one set.
 */
static void vmmu_mn_active_inc(struct vmmu_vm *vm)
{
	spin_lock(&vm->mn_invalidate_lock);
	vm->mn_active_invalidate_count++;
	spin_unlock(&vm->mn_invalidate_lock);
}

static void vmmu_mn_active_dec(struct vmmu_vm *vm)
{
	bool wake;

	spin_lock(&vm->mn_invalidate_lock);
	wake = !--vm->mn_active_invalidate_count;
	spin_unlock(&vm->mn_invalidate_lock);
	/* A memslot update waits in vmmu_memslots_swap(). */
	if (wake)
		rcuwait_wake_up(&vm->mn_memslots_update_rcuwait);
}

/*
 * Never fails and never sleeps when the range is not blockable: write_lock()
 * spins, and the zap does not yield then.  (Returning -EAGAIN would make
 * the core warn, since there is an end callback.)
 *
 * A range that no memslot maps changes nothing: faults and cache refreshes
 * never see it (no in_progress, no seq bump).  The end callback decides the
 * same way, as the set cannot change in between.
 */
static int vmmu_mn_invalidate_range_start(struct mmu_notifier *mn,
					  const struct mmu_notifier_range *range)
{
	struct vmmu_vm *vm = mn_to_vm(mn);
	int idx;

	vmmu_mn_active_inc(vm);
	idx = srcu_read_lock(&vm->srcu);
	if (vmmu_hva_range_mapped(vm, range->start, range->end)) {
		atomic64_inc(vmmu_vm_stat(vm, invalidations));
		write_lock(&vm->mmu_lock);
		vmmu_mmu_invalidate_begin(vm, range->start, range->end);
		trace_vmmu_invalidate_start(range->start, range->end,
					    vm->mmu_invalidate_seq,
					    vm->mmu_invalidate_in_progress);
		vmmu_hva_range_op(vm, range->start, range->end,
				  mmu_notifier_range_blockable(range) ?
				  VMMU_HVA_ZAP : VMMU_HVA_ZAP_ATOMIC);
		write_unlock(&vm->mmu_lock);
	}
	srcu_read_unlock(&vm->srcu, idx);
	/*
	 * After in_progress went up: a cache refresh that looks at in_progress
	 * too early to see this range is one whose hva is recorded in the
	 * cache by now, so this marks it (see pfncache/pfncache.c).  Caches
	 * map pages of memslots only, but one may still hold a page of a slot
	 * that is gone: it is marked whatever the range.
	 */
	vmmu_pfncache_invalidate_start(vm, range->start, range->end);
	return 0;
}

static void vmmu_mn_invalidate_range_end(struct mmu_notifier *mn,
					 const struct mmu_notifier_range *range)
{
	struct vmmu_vm *vm = mn_to_vm(mn);
	int idx;

	idx = srcu_read_lock(&vm->srcu);
	if (vmmu_hva_range_mapped(vm, range->start, range->end)) {
		write_lock(&vm->mmu_lock);
		vmmu_mmu_invalidate_end(vm);
		trace_vmmu_invalidate_end(range->start, range->end,
					  vm->mmu_invalidate_seq,
					  vm->mmu_invalidate_in_progress);
		write_unlock(&vm->mmu_lock);
	}
	srcu_read_unlock(&vm->srcu, idx);
	vmmu_mn_active_dec(vm);
}

/* Age [start, end): lockless (RCU), callable in atomic context. */
static int vmmu_mn_age(struct mmu_notifier *mn, unsigned long start,
		       unsigned long end, enum vmmu_hva_op op)
{
	struct vmmu_vm *vm = mn_to_vm(mn);
	bool young;
	int idx;

	idx = srcu_read_lock(&vm->srcu);
	young = vmmu_hva_range_op(vm, start, end, op);
	srcu_read_unlock(&vm->srcu, idx);
	return young;
}

/*
 * Clear the accessed bits and flush, so that the next access walks the
 * tables again and sets them: without the flush a vCPU could keep using its
 * cached translation and the page would look idle while it is in use.
 */
static int vmmu_mn_clear_flush_young(struct mmu_notifier *mn,
				     struct mm_struct *mm,
				     unsigned long start, unsigned long end)
{
	int young = vmmu_mn_age(mn, start, end, VMMU_HVA_AGE);

	if (young)
		vmmu_flush_remote_tlbs(mn_to_vm(mn));
	return young;
}

static int vmmu_mn_clear_young(struct mmu_notifier *mn, struct mm_struct *mm,
			       unsigned long start, unsigned long end)
{
	return vmmu_mn_age(mn, start, end, VMMU_HVA_AGE);
}

static int vmmu_mn_test_young(struct mmu_notifier *mn, struct mm_struct *mm,
			      unsigned long address)
{
	return vmmu_mn_age(mn, address, address + 1, VMMU_HVA_TEST_AGE);
}

/* The mm is going away: nothing may stay mapped. */
static void vmmu_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	vmmu_tdp_mmu_zap_all(mn_to_vm(mn));
	vmmu_pfncache_invalidate_start(mn_to_vm(mn), 0, ULONG_MAX);
}

static const struct mmu_notifier_ops vmmu_mmu_notifier_ops = {
	.invalidate_range_start = vmmu_mn_invalidate_range_start,
	.invalidate_range_end = vmmu_mn_invalidate_range_end,
	.release = vmmu_mn_release,
	.clear_flush_young = vmmu_mn_clear_flush_young,
	.clear_young = vmmu_mn_clear_young,
	.test_young = vmmu_mn_test_young,
};

/**
 * vmmu_notifier_register() - start following the VM's mm
 * @vm: the VM, created by current
 *
 * Return: 0 or a negative errno.
 */
int vmmu_notifier_register(struct vmmu_vm *vm)
{
	vm->mmu_notifier.ops = &vmmu_mmu_notifier_ops;
	return mmu_notifier_register(&vm->mmu_notifier, vm->mm);
}

/**
 * vmmu_notifier_unregister() - stop following the VM's mm
 * @vm: the VM being destroyed
 *
 * Synchronous: runs release() if the mm is still alive, and returns only
 * when no callback can be running, so the VM may be freed afterwards.
 */
void vmmu_notifier_unregister(struct vmmu_vm *vm)
{
	/* Checked by gfn->pfn caches, which are all gone by now. */
	WRITE_ONCE(vm->mn_unregistered, true);
	mmu_notifier_unregister(&vm->mmu_notifier, vm->mm);
}
