// SPDX-License-Identifier: GPL-2.0
/*
 * The page-fault path: guest-physical address -> memslot -> hva -> pfn ->
 * SPTE.
 *
 * The pfn is looked up without mmu_lock (GUP may sleep, and must be allowed
 * to: userfaultfd resolves faults in another thread), so it may be stale by
 * the time the lock is taken.  The invalidation sequence, read before the
 * lookup and checked under the lock, tells: if an invalidation of the hva is
 * in progress or has ended since, nothing is installed and the fault is
 * retried.
 */
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/srcu.h>

#include <vmmu/memslot.h>
#include <vmmu/mmu.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

/*
 * Get the page at @hva, writable if @write (which implies @may_write).  A
 * read fault still maps the page writable when the host already maps it
 * writable (no COW to break), so the guest's first write does not fault
 * again.
 */
static int vmmu_fault_gup(unsigned long hva, bool write, bool may_write,
			  struct page **page, bool *writable)
{
	long n;

	if (may_write && get_user_pages_fast_only(hva, 1, FOLL_WRITE, page) == 1) {
		*writable = true;
		return 0;
	}
	/* Not FOLL_LONGTERM: the notifier, not a pin, keeps us coherent. */
	n = get_user_pages_unlocked(hva, 1, page, write ? FOLL_WRITE : 0);
	if (n == 1) {
		*writable = write;
		return 0;
	}
	if (n == -EINTR || n == -ENOMEM)
		return n;
	return -EFAULT;
}

/* Look the pfn up and install it; called under vm->srcu. */
static int vmmu_fault_map(struct vmmu_vcpu *vcpu, struct vmmu_memslot *slot,
			  struct vmmu_fault *fault, bool write,
			  unsigned long mmu_seq)
{
	struct vmmu_vm *vm = vcpu->vm;
	bool readonly = slot->flags & KVM_MEM_READONLY;
	unsigned long hva;
	struct page *page;
	int r;

	hva = slot->userspace_addr +
	      ((fault->gfn - slot->base_gfn) << PAGE_SHIFT);
	r = vmmu_fault_gup(hva, write, !readonly, &page, &fault->writable);
	if (r)
		return r;
	fault->pfn = page_to_pfn(page);
	fault->exec = true;

	read_lock(&vm->mmu_lock);
	if (vmmu_mmu_invalidate_retry_hva(vm, mmu_seq, hva))
		r = VMMU_RET_RETRY;
	else
		r = vmmu_tdp_mmu_map(vcpu, fault);
	read_unlock(&vm->mmu_lock);

	/* Writes through a writable mapping must reach shmem and files. */
	if (r == VMMU_RET_FIXED && fault->writable)
		set_page_dirty_lock(page);
	put_page(page);
	return r;
}

/**
 * vmmu_page_fault() - resolve a fault of a vCPU on a guest-physical address
 * @vcpu: the vCPU, whose mutex is held; its root is loaded
 * @gpa: the faulting address
 * @error_code: VMMU_PFERR_* bits
 *
 * May sleep.
 *
 * Return: VMMU_RET_FIXED (retry the access), VMMU_RET_RETRY (fault again),
 * VMMU_RET_MMIO (no memory at @gpa for this access: outside every memslot,
 * or a write to a read-only one), -EFAULT (the host mapping is missing,
 * not writable for a write, or has no struct page), -ENOMEM, -EINTR.
 */
int vmmu_page_fault(struct vmmu_vcpu *vcpu, gpa_t gpa, u32 error_code)
{
	struct vmmu_vm *vm = vcpu->vm;
	bool write = error_code & VMMU_PFERR_WRITE;
	struct vmmu_fault fault = { .gfn = gpa >> PAGE_SHIFT };
	struct vmmu_memslot *slot;
	unsigned long mmu_seq;
	int idx, r;

	atomic64_inc(&vm->stats.faults);
	/* One table per level below the root, at most. */
	if (vmmu_memcache_topup(&vcpu->pt_cache, vm->fmt.root_level - 1) ||
	    vmmu_memcache_topup(&vcpu->header_cache, vm->fmt.root_level - 1))
		return -ENOMEM;

	mmu_seq = READ_ONCE(vm->mmu_invalidate_seq);
	/*
	 * Read the sequence before GUP reads the host page table.  Pairs with
	 * the host changing its page table before invalidate_range_end()
	 * bumps the sequence under mmu_lock (write).
	 */
	smp_rmb();

	idx = srcu_read_lock(&vm->srcu);
	slot = vmmu_memslots_find(vmmu_memslots(vm), fault.gfn);
	if (!slot || (write && (slot->flags & KVM_MEM_READONLY)))
		r = VMMU_RET_MMIO;
	else
		r = vmmu_fault_map(vcpu, slot, &fault, write, mmu_seq);
	srcu_read_unlock(&vm->srcu, idx);

	if (r == VMMU_RET_RETRY)
		atomic64_inc(&vm->stats.fault_retries);
	return r;
}
