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
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/srcu.h>
#include <linux/vmmu.h>

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

/*
 * Must a fault that looked its slot up in a set of generation @slots_gen and
 * its pfn up after reading @mmu_seq give up?  Yes if the pfn may be stale
 * (an invalidation of @hva) or the memslots changed since: a slot that was
 * being deleted, moved or changed may no longer allow the mapping.  Under
 * mmu_lock, which the zap that follows every memslot change takes after the
 * generation moved (Pairs with WRITE_ONCE() in vmmu_memslots_publish()):
 * a fault that checks before that zap is undone by it.
 */
static bool vmmu_fault_is_stale(struct vmmu_vm *vm, unsigned long mmu_seq,
				unsigned long hva, u64 slots_gen)
{
	lockdep_assert_held(&vm->mmu_lock);
	return vmmu_mmu_invalidate_retry_hva(vm, mmu_seq, hva) ||
	       slots_gen != READ_ONCE(vm->memslots_generation);
}

/*
 * Look the pfn up and install it; called under vm->srcu.  In a slot that
 * logs dirty pages only a write maps the page writable, and the page is
 * logged once the writable leaf is in place; a read maps it read-only, so
 * that a page never written is never logged.
 */
static int vmmu_fault_map(struct vmmu_vcpu *vcpu, struct vmmu_memslot *slot,
			  struct vmmu_fault *fault, bool write,
			  unsigned long mmu_seq, u64 slots_gen)
{
	struct vmmu_vm *vm = vcpu->vm;
	bool readonly = slot->flags & KVM_MEM_READONLY;
	bool logged = slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
	unsigned long hva;
	struct page *page;
	int r;

	hva = slot->userspace_addr +
	      ((fault->gfn - slot->base_gfn) << PAGE_SHIFT);
	r = vmmu_fault_gup(hva, write, !readonly && (write || !logged), &page,
			   &fault->writable);
	if (r)
		return r;
	fault->pfn = page_to_pfn(page);
	fault->exec = true;

	read_lock(&vm->mmu_lock);
	if (vmmu_fault_is_stale(vm, mmu_seq, hva, slots_gen))
		r = VMMU_RET_RETRY;
	else
		r = vmmu_tdp_mmu_map(vcpu, fault);
	read_unlock(&vm->mmu_lock);

	if (r == VMMU_RET_FIXED && fault->writable) {
		vmmu_mark_page_dirty_in_slot(vcpu, slot, fault->gfn);
		/* Writes through a writable mapping must reach shmem and files. */
		set_page_dirty_lock(page);
	}
	put_page(page);
	return r;
}

/*
 * A write fault on a present leaf that dirty logging write-protected: make
 * it writable without mmu_lock and GUP, then log the page.  The host page
 * was marked dirty when the leaf was first installed writable, and stays
 * so while the leaf exists (VMMU_SPTE_HOST_WRITABLE).
 */
static bool vmmu_fast_page_fault(struct vmmu_vcpu *vcpu,
				 struct vmmu_memslot *slot, gfn_t gfn,
				 u32 error_code)
{
	u32 wp = VMMU_PFERR_PRESENT | VMMU_PFERR_WRITE;

	if ((error_code & wp) != wp || READ_ONCE(vcpu->root->root_invalid))
		return false;
	if (!vmmu_tdp_mmu_fast_unprotect(vcpu, gfn))
		return false;
	vmmu_mark_page_dirty_in_slot(vcpu, slot, gfn);
	atomic64_inc(vmmu_vm_stat(vcpu->vm, pf_fast));
	return true;
}

/**
 * vmmu_page_fault() - resolve a fault of a vCPU on a guest-physical address
 * @vcpu: the vCPU, whose mutex is held; its root is loaded
 * @gpa: the faulting address
 * @error_code: VMMU_PFERR_* bits
 *
 * May sleep.
 *
 * Return: VMMU_RET_FIXED (retry the access), VMMU_RET_RETRY (fault again:
 * raced with an invalidation, another fault or a memslot update, or the
 * memslot is being deleted or moved; vm->srcu is not held), VMMU_RET_MMIO
 * (no memory at @gpa for this access: outside every memslot, beyond the
 * VM's gpa_bits, where no memslot can be and the tables cannot map, or a
 * write to a read-only one), -EFAULT (the host mapping is missing,
 * not writable for a write, or has no struct page), -ENOMEM, -EINTR.
 */
int vmmu_page_fault(struct vmmu_vcpu *vcpu, gpa_t gpa, u32 error_code)
{
	struct vmmu_vm *vm = vcpu->vm;
	bool write = error_code & VMMU_PFERR_WRITE;
	struct vmmu_fault fault = { .gfn = gpa >> PAGE_SHIFT };
	struct vmmu_memslots *set;
	struct vmmu_memslot *slot;
	unsigned long mmu_seq;
	u64 slots_gen;
	int idx, r;

	lockdep_assert_held(&vcpu->mutex);
	atomic64_inc(vmmu_vm_stat(vm, faults));
	if (!vmmu_gpa_range_in_reach(&vm->fmt, gpa, 0))
		return VMMU_RET_MMIO;
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
	set = vmmu_memslots(vm);
	slots_gen = READ_ONCE(set->generation);
	slot = vmmu_memslots_find(set, fault.gfn);
	if (slot && slot->invalid)
		/*
		 * Being deleted or moved: retry, with vm->srcu dropped so that
		 * the update's grace period can end, until the slot is gone.
		 */
		r = VMMU_RET_RETRY;
	else if (!slot || (write && (slot->flags & KVM_MEM_READONLY)))
		r = VMMU_RET_MMIO;
	else if (vmmu_fast_page_fault(vcpu, slot, fault.gfn, error_code))
		r = VMMU_RET_FIXED;
	else
		r = vmmu_fault_map(vcpu, slot, &fault, write, mmu_seq,
				   slots_gen);
	srcu_read_unlock(&vm->srcu, idx);

	if (r == VMMU_RET_RETRY)
		atomic64_inc(vmmu_vm_stat(vm, fault_retries));
	return r;
}

/* Every flush the vCPU performs counts in its tlb_flush. */
static void vmmu_vcpu_flush_tlb(struct vmmu_vcpu *vcpu,
				void (*flush_tlb)(struct vmmu_vcpu *vcpu))
{
	atomic64_inc(vmmu_vcpu_stat(vcpu, tlb_flush));
	flush_tlb(vcpu);
}

/**
 * vmmu_vcpu_mmu_requests() - prepare a vCPU's MMU state before it uses
 *	translations
 * @vcpu: the vCPU, whose mutex is held
 * @flush_tlb: empties the vCPU's TLB (the software TLB, or a new ASID)
 *
 * Handles VMMU_REQ_TLB_FLUSH and VMMU_REQ_RELOAD_ROOT and loads a valid
 * root; a new root starts with an empty TLB, as after a CR3 load.  The
 * caller enters guest mode afterwards, which notices any request made
 * meanwhile.  May sleep.
 *
 * Return: 0 or -ENOMEM.
 */
int vmmu_vcpu_mmu_requests(struct vmmu_vcpu *vcpu,
			   void (*flush_tlb)(struct vmmu_vcpu *vcpu))
{
	struct vmmu_mmu_page *root = vcpu->root;
	int r;

	if (vmmu_check_request(vcpu, VMMU_REQ_TLB_FLUSH))
		vmmu_vcpu_flush_tlb(vcpu, flush_tlb);
	/*
	 * Cleared before the root is looked at: an invalidation after this
	 * sets the request again, and guest-mode entry notices.
	 */
	vmmu_check_request(vcpu, VMMU_REQ_RELOAD_ROOT);
	r = vmmu_tdp_mmu_load_root(vcpu);
	if (r)
		return r;
	if (vcpu->root != root)
		vmmu_vcpu_flush_tlb(vcpu, flush_tlb);
	return 0;
}

/* Map the page at @gpa as a read fault would: 0, -ENOENT (no memory). */
static int vmmu_map_gpa(struct vmmu_vcpu *vcpu, gpa_t gpa)
{
	int r;

	if (!vmmu_gpa_range_in_reach(&vcpu->vm->fmt, gpa, 0))
		return -ENOENT;
	for (;;) {
		r = vmmu_tdp_mmu_load_root(vcpu);
		if (r)
			return r;
		r = vmmu_page_fault(vcpu, gpa, 0);
		if (r == VMMU_RET_FIXED)
			return 0;
		if (r == VMMU_RET_MMIO)
			return -ENOENT;
		if (r < 0)
			return r;
		if (signal_pending(current))
			return -EINTR;
		cond_resched();
	}
}

/**
 * vmmu_pre_fault_memory() - KVM_PRE_FAULT_MEMORY: map a range ahead of use
 * @vcpu: the vCPU, whose mutex is held
 * @range: in: the range; out: what is left of it
 *
 * Maps page by page, as read faults do (writable where the host allows),
 * in the vCPU's root.  Stops at the first error.
 *
 * Return: 0 if at least one page was mapped (or all were); otherwise
 * -EINVAL (flags, alignment, empty or overflowing range), -ENOENT (no
 * memslot), -EINTR (a signal), -EFAULT or -ENOMEM.
 */
int vmmu_pre_fault_memory(struct vmmu_vcpu *vcpu,
			  struct kvm_pre_fault_memory *range)
{
	u64 full_size = range->size;
	int r;

	if (range->flags)
		return -EINVAL;
	if (!PAGE_ALIGNED(range->gpa) || !PAGE_ALIGNED(range->size) ||
	    range->gpa + range->size <= range->gpa)
		return -EINVAL;
	do {
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}
		r = vmmu_map_gpa(vcpu, range->gpa);
		if (r)
			break;
		range->size -= PAGE_SIZE;
		range->gpa += PAGE_SIZE;
		cond_resched();
	} while (range->size);
	return full_size == range->size ? r : 0;
}
