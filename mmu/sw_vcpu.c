// SPDX-License-Identifier: GPL-2.0
/*
 * The software vCPU: guest memory accesses through the VM's own tables.
 *
 * It does what the CPU does with nested paging, in software: look the
 * address up in its TLB, else walk the vCPU's root in the VM's hardware
 * format, set accessed (and, for writes, dirty) bits with cmpxchg as the CPU
 * does, and on a missing or insufficient entry leave "guest mode" and call
 * the same vmmu_page_fault() that EPT violations and NPFs call.
 *
 * The translation is used, and the page touched, only inside a guest-mode
 * section (preemption disabled, RCU read lock held), which TLB flushes wait
 * for: that is what makes it safe to hold no page reference, exactly like
 * hardware.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/mmu.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

/* Does the TLB entry allow the access? */
static bool sw_tlb_allows(const struct vmmu_sw_tlb_entry *e, gfn_t gfn, u32 ec)
{
	if (!(e->flags & VMMU_SW_TLB_VALID) || e->gfn != gfn)
		return false;
	if ((ec & VMMU_PFERR_WRITE) && !(e->flags & VMMU_SW_TLB_WRITABLE))
		return false;
	if ((ec & VMMU_PFERR_FETCH) && !(e->flags & VMMU_SW_TLB_EXEC))
		return false;
	return true;
}

/* Set the accessed bit of a non-leaf entry, as the CPU does on a walk. */
static void sw_walk_set_accessed(const struct vmmu_spte_format *fmt, u64 *sptep,
				 u64 spte)
{
	if (!spte_accessed(fmt, spte))
		cmpxchg64(sptep, spte, spte | fmt->accessed);
}

/*
 * Walk the root for @gfn and fill the TLB.  Returns 0, or the error code of
 * the fault the access takes (with VMMU_PFERR_PRESENT if a leaf exists but
 * does not allow it).
 */
static u32 sw_walk(struct vmmu_vcpu *vcpu, gfn_t gfn, u32 ec)
{
	const struct vmmu_spte_format *fmt = &vcpu->vm->fmt;
	struct vmmu_sw_tlb_entry *e;
	u64 *table, *sptep, spte, want;
	int level;

restart:
	table = vcpu->root->spt;
	for (level = vcpu->root->level;; level--) {
		sptep = table + vmmu_level_index(gfn, level);
		spte = READ_ONCE(*sptep);
		if (!spte_present(fmt, spte))
			return ec;
		if (spte_leaf(fmt, spte, level))
			break;
		sw_walk_set_accessed(fmt, sptep, spte);
		table = spte_child_table(spte);
	}
	if (((ec & VMMU_PFERR_WRITE) && !spte_writable(fmt, spte)) ||
	    ((ec & VMMU_PFERR_FETCH) && !spte_executable(fmt, spte)))
		return ec | VMMU_PFERR_PRESENT;

	want = spte | fmt->accessed;
	if (ec & VMMU_PFERR_WRITE)
		want |= fmt->dirty;
	/* Like the CPU: the bits are set atomically, or the walk restarts. */
	if (want != spte && cmpxchg64(sptep, spte, want) != spte)
		goto restart;

	e = vmmu_sw_tlb_slot(&vcpu->tlb, gfn);
	e->gfn = gfn;
	e->pfn = spte_pfn(spte) +
		 (gfn & (vmmu_level_pages(level) - 1));
	e->flags = VMMU_SW_TLB_VALID;
	/* A write hit needs D already set, else the walk sets it. */
	if (spte_writable(fmt, want) && spte_dirty(fmt, want))
		e->flags |= VMMU_SW_TLB_WRITABLE;
	if (spte_executable(fmt, spte))
		e->flags |= VMMU_SW_TLB_EXEC;
	return 0;
}

/* Copy between the bounce buffer and the guest page; in guest mode. */
static void sw_copy(struct vmmu_vcpu *vcpu, kvm_pfn_t pfn, unsigned int off,
		    unsigned int len, bool write)
{
	void *va = kmap_local_page(pfn_to_page(pfn));

	if (write)
		memcpy(va + off, vcpu->bounce, len);
	else
		memcpy(vcpu->bounce, va + off, len);
	kunmap_local(va);
}

static void sw_flush_tlb(struct vmmu_vcpu *vcpu)
{
	vmmu_sw_tlb_flush(&vcpu->tlb);
}

/*
 * One guest-mode attempt at the access: 0 when done, else the error code of
 * the fault to take, or -EAGAIN when requests came in.
 */
static int sw_try_access(struct vmmu_vcpu *vcpu, gpa_t gpa, unsigned int len,
			 u32 ec)
{
	gfn_t gfn = gpa >> PAGE_SHIFT;
	struct vmmu_sw_tlb_entry *e;
	int r = 0;

	preempt_disable();
	rcu_read_lock();
	if (!vmmu_vcpu_enter_guest_mode(vcpu)) {
		r = -EAGAIN;
		goto out;
	}
	e = vmmu_sw_tlb_slot(&vcpu->tlb, gfn);
	if (!sw_tlb_allows(e, gfn, ec))
		r = sw_walk(vcpu, gfn, ec);
	if (!r)
		sw_copy(vcpu, e->pfn, offset_in_page(gpa), len,
			ec & VMMU_PFERR_WRITE);
	vmmu_vcpu_exit_guest_mode(vcpu);
out:
	rcu_read_unlock();
	preempt_enable();
	return r;
}

/* Access [gpa, gpa + len) within one page; faults as needed. */
static int sw_access_page(struct vmmu_vcpu *vcpu, gpa_t gpa, unsigned int len,
			  u32 ec)
{
	int r;

	for (;;) {
		r = vmmu_vcpu_mmu_requests(vcpu, sw_flush_tlb);
		if (r)
			return r;
		r = sw_try_access(vcpu, gpa, len, ec);
		if (r == -EAGAIN)
			continue;
		if (!r)
			return 0;
		r = vmmu_page_fault(vcpu, gpa, r);
		if (r < 0 || r == VMMU_RET_MMIO)
			return r;
		if (signal_pending(current))
			return -EINTR;
		/* A memslot update may keep faults retrying for a while. */
		if (r == VMMU_RET_RETRY)
			cond_resched();
	}
}

static u32 sw_access_error_code(u32 kind)
{
	switch (kind) {
	case VMMU_ACCESS_WRITE:
		return VMMU_PFERR_USER | VMMU_PFERR_WRITE;
	case VMMU_ACCESS_FETCH:
		return VMMU_PFERR_USER | VMMU_PFERR_FETCH;
	default:
		return VMMU_PFERR_USER;
	}
}

/**
 * vmmu_sw_vcpu_access() - VMMU_VCPU_ACCESS
 * @vcpu: the vCPU, whose mutex is held
 * @acc: the request, checked by the caller; result fields are filled in
 *
 * Accesses page by page through a bounce buffer, so the user buffer is
 * never touched in guest mode.
 *
 * Return: 0 (see @acc->result), -EFAULT, -ENOMEM or -EINTR (nothing done).
 */
int vmmu_sw_vcpu_access(struct vmmu_vcpu *vcpu, struct vmmu_access *acc)
{
	u8 __user *buf = u64_to_user_ptr(acc->buf);
	bool write = acc->kind == VMMU_ACCESS_WRITE;
	u32 ec = sw_access_error_code(acc->kind);
	int r = 0;

	lockdep_assert_held(&vcpu->mutex);
	acc->result = VMMU_ACCESS_DONE;
	acc->done = 0;
	while (acc->done < acc->len) {
		gpa_t gpa = acc->gpa + acc->done;
		unsigned int len = min_t(u64, acc->len - acc->done,
					 PAGE_SIZE - offset_in_page(gpa));

		if (acc->done && signal_pending(current)) {
			acc->result = VMMU_ACCESS_INTR;
			break;
		}
		/* A write logs at most one page: stop at the soft limit. */
		if (write && vmmu_dirty_ring_soft_full(&vcpu->dirty_ring)) {
			acc->result = VMMU_ACCESS_DIRTY_RING_FULL;
			atomic64_inc(vmmu_vcpu_stat(vcpu, dirty_ring_full_exits));
			break;
		}
		if (write && copy_from_user(vcpu->bounce, buf + acc->done, len))
			return -EFAULT;
		r = sw_access_page(vcpu, gpa, len, ec);
		if (r == VMMU_RET_MMIO) {
			acc->result = VMMU_ACCESS_MMIO;
			acc->mmio_gpa = gpa;
			break;
		}
		if (r < 0)
			return r;
		if (!write && copy_to_user(buf + acc->done, vcpu->bounce, len))
			return -EFAULT;
		acc->done += len;
		cond_resched();
	}
	return 0;
}

/**
 * vmmu_vcpu_translate() - VMMU_VCPU_TRANSLATE: inspect the vCPU's root
 * @vcpu: the vCPU, whose mutex is held
 * @tr: @tr->gpa in, the rest out
 * @show_pfn: the caller may see host pfns: in @tr->pfn, and in the address
 *	bits (51:12) of @tr->spte, which read as 0 otherwise
 */
void vmmu_vcpu_translate(struct vmmu_vcpu *vcpu, struct vmmu_translation *tr,
			 bool show_pfn)
{
	const struct vmmu_spte_format *fmt = &vcpu->vm->fmt;
	struct vmmu_mmu_page *root = vcpu->root;
	u64 spte;

	tr->flags = 0;
	tr->level = 0;
	tr->spte = 0;
	tr->pfn = 0;
	if (!root) {
		tr->flags = VMMU_TR_NO_ROOT;
		return;
	}
	if (READ_ONCE(root->root_invalid))
		tr->flags |= VMMU_TR_ROOT_INVALID;
	tr->level = vmmu_tdp_mmu_lookup(vcpu->vm, root, tr->gpa >> PAGE_SHIFT,
					&spte);
	/* The address field is a host pfn too: the rest is the guest's view. */
	tr->spte = show_pfn ? spte : spte & ~VMMU_SPTE_PFN_MASK;
	if (!spte_present(fmt, spte))
		return;
	tr->flags |= VMMU_TR_PRESENT;
	if (spte_writable(fmt, spte))
		tr->flags |= VMMU_TR_WRITABLE;
	if (spte_executable(fmt, spte))
		tr->flags |= VMMU_TR_EXECUTABLE;
	if (spte_accessed(fmt, spte))
		tr->flags |= VMMU_TR_ACCESSED;
	if (spte_dirty(fmt, spte))
		tr->flags |= VMMU_TR_DIRTY;
	if (show_pfn) {
		tr->pfn = spte_pfn(spte) + ((tr->gpa >> PAGE_SHIFT) &
					    (vmmu_level_pages(tr->level) - 1));
		tr->flags |= VMMU_TR_PFN_VALID;
	}
}
