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
#include <linux/irqflags.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pgtable.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/srcu.h>
#include <linux/vmmu.h>

#include <vmmu/memslot.h>
#include <vmmu/mmu.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/trace.h>
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

/**
 * vmmu_slot_max_level() - the largest leaf a memslot allows at a gfn
 * @fmt: the VM's format, whose walker limits the level too
 * @slot: the memslot of @gfn
 * @gfn: the guest frame
 *
 * The leaf's whole aligned gfn range lies inside the slot, and gfn and hva
 * are congruent modulo its size, so that the host's huge page at the hva,
 * if any, is the memory the leaf covers.  A slot that logs dirty pages
 * allows 4 KiB only: the log is kept page by page.
 *
 * Return: VMMU_PG_LEVEL_4K, _2M or _1G.
 */
int vmmu_slot_max_level(const struct vmmu_spte_format *fmt,
			const struct vmmu_memslot *slot, gfn_t gfn)
{
	unsigned long hva = slot->userspace_addr +
			    ((gfn - slot->base_gfn) << PAGE_SHIFT);
	int level;

	if (slot->flags & KVM_MEM_LOG_DIRTY_PAGES)
		return VMMU_PG_LEVEL_4K;
	for (level = fmt->max_leaf_level; level > VMMU_PG_LEVEL_4K; level--) {
		u64 pages = vmmu_level_pages(level);
		gfn_t base = gfn & ~(pages - 1);

		if (((hva >> PAGE_SHIFT) ^ gfn) & (pages - 1))
			continue;
		if (base >= slot->base_gfn && base + pages <= vmmu_memslot_end(slot))
			return level;
	}
	return VMMU_PG_LEVEL_4K;
}

/*
 * Walk the host's page table to @hva with interrupts off (see below): the
 * level of its leaf in @level (VMMU_PG_LEVEL_1G or _2M for a PUD or PMD
 * leaf, else _4K), and for _4K the PTE table, or NULL if none.
 */
static pte_t *vmmu_host_walk(struct mm_struct *mm, unsigned long hva,
			     int *level)
{
	pgd_t pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	lockdep_assert_irqs_disabled();
	*level = VMMU_PG_LEVEL_4K;
	pgd = READ_ONCE(*pgd_offset(mm, hva));
	if (pgd_none(pgd))
		return NULL;
	p4d = READ_ONCE(*p4d_offset(&pgd, hva));
	if (p4d_none(p4d) || !p4d_present(p4d))
		return NULL;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (pud_none(pud) || !pud_present(pud))
		return NULL;
	if (pud_leaf(pud)) {
		*level = VMMU_PG_LEVEL_1G;
		return NULL;
	}
	/* One 64-bit word on x86-64: read at once. */
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	if (pmd_none(pmd) || !pmd_present(pmd))
		return NULL;
	if (pmd_leaf(pmd)) {
		*level = VMMU_PG_LEVEL_2M;
		return NULL;
	}
	/* x86-64 has no highmem: the table is in the direct map. */
	return (pte_t *)pmd_page_vaddr(pmd);
}

/**
 * vmmu_host_mapping_level() - the level of the host's mapping of an hva
 * @mm: the VM's mm, live (the caller runs in it)
 * @hva: the address
 *
 * A lockless walk, as GUP-fast does: with interrupts off no page-table page
 * can be freed under it (the host frees them after a TLB-shootdown IPI or
 * an RCU-sched grace period, which both wait for this CPU), and each entry
 * is read once.  The answer is only as good as the moment: a fault calls
 * it under mmu_lock once it checked that no invalidation of the hva is in
 * progress or has ended since its pfn was looked up, and the host changes
 * a huge mapping only inside an invalidation of its whole range.
 *
 * Return: VMMU_PG_LEVEL_1G or _2M for a PUD or PMD leaf (THP, hugetlbfs),
 * else VMMU_PG_LEVEL_4K.
 */
int vmmu_host_mapping_level(struct mm_struct *mm, unsigned long hva)
{
	unsigned long flags;
	int level;

	local_irq_save(flags);
	vmmu_host_walk(mm, hva, &level);
	local_irq_restore(flags);
	return level;
}

/*
 * Which of the @nr pages from @hva the host maps (a present PTE, or a huge
 * leaf): a lockless hint (as vmmu_host_mapping_level()) that spares
 * fault-around the GUPs of pages the host does not have, the common case
 * when a guest touches fresh memory.  GUP decides.
 */
static unsigned long vmmu_host_present_mask(struct mm_struct *mm,
					    unsigned long hva, unsigned int nr)
{
	unsigned long present = 0, flags;
	pte_t *table = NULL;
	unsigned int i;
	int level;

	local_irq_save(flags);
	for (i = 0; i < nr; i++, hva += PAGE_SIZE) {
		if (!i || !(hva & ~PMD_MASK))
			table = vmmu_host_walk(mm, hva, &level);
		/* A huge page that vmmu maps at 4 KiB (slot too small...). */
		if (level > VMMU_PG_LEVEL_4K ||
		    (table && pte_present(READ_ONCE(table[pte_index(hva)]))))
			__set_bit(i, &present);
	}
	local_irq_restore(flags);
	return present;
}

/* Is an invalidation of part of [start, end) in progress?  Under mmu_lock. */
static bool vmmu_hva_range_invalidating(struct vmmu_vm *vm,
					unsigned long start, unsigned long end)
{
	lockdep_assert_held(&vm->mmu_lock);
	return vm->mmu_invalidate_in_progress &&
	       start < vm->mmu_invalidate_range_end &&
	       vm->mmu_invalidate_range_start < end;
}

/*
 * The leaf level for a fault at @gfn (host address @hva) whose pfn is not
 * stale: the largest that the slot and the format allow and the host maps,
 * smaller while an invalidation touches the larger range elsewhere (its
 * host mapping is changing).  Under mmu_lock.
 */
static int vmmu_fault_level(struct vmmu_vm *vm, struct vmmu_memslot *slot,
			    gfn_t gfn, unsigned long hva)
{
	int level = vmmu_slot_max_level(&vm->fmt, slot, gfn);

	if (level == VMMU_PG_LEVEL_4K)
		return level;
	level = min(level, vmmu_host_mapping_level(current->mm, hva));
	for (; level > VMMU_PG_LEVEL_4K; level--) {
		unsigned long size = vmmu_level_pages(level) << PAGE_SHIFT;
		unsigned long start = hva & ~(size - 1);

		if (!vmmu_hva_range_invalidating(vm, start, start + size))
			break;
	}
	return level;
}

/*
 * Fault-around: a 4 KiB fault also maps the neighbours of its page, in its
 * aligned window of fault_around pages inside the memslot, that the host
 * maps already (GUP-fast only: never a page the host would have to
 * allocate, read in or copy), writable where the fault's page is and the
 * host maps them writable.  They go in with the fault's page, under the
 * same lock round and checks, with the accessed bit clear (the guest has
 * not used them), and only where nothing is mapped.  Off while the slot
 * logs dirty pages (each page must fault to be logged) and where the fault
 * maps a huge leaf, and never for KVM_PRE_FAULT_MEMORY, which maps the range
 * it is given.
 */
#define VMMU_FAULT_AROUND_MAX	16

static uint fault_around = 8;
module_param(fault_around, uint, 0644);
MODULE_PARM_DESC(fault_around,
		 "map up to this many neighbouring host-present pages on a 4 KiB fault (a power of 2, at most 16; 0 or 1: off)");

struct vmmu_around {
	gfn_t start;
	unsigned int nr;
	unsigned long writable;
	struct page *pages[VMMU_FAULT_AROUND_MAX];
};

/*
 * The window around @fault's gfn, and the host pages, where present, of the
 * gfns that the vCPU's root does not map already.
 */
static void vmmu_around_gup(struct vmmu_vcpu *vcpu,
			    const struct vmmu_memslot *slot,
			    const struct vmmu_fault *fault,
			    struct vmmu_around *a)
{
	const struct vmmu_spte_format *fmt = &vcpu->vm->fmt;
	unsigned int n = min_t(uint, READ_ONCE(fault_around),
			       VMMU_FAULT_AROUND_MAX);
	unsigned long want;
	gfn_t start, end;
	unsigned int i;

	a->nr = 0;
	a->writable = 0;
	if (n < 2 || (slot->flags & KVM_MEM_LOG_DIRTY_PAGES))
		return;
	/* A huge leaf will map the window anyway (a guess: checked later). */
	if (vmmu_slot_max_level(fmt, slot, fault->gfn) > VMMU_PG_LEVEL_4K &&
	    vmmu_host_mapping_level(current->mm, slot->userspace_addr +
				    ((fault->gfn - slot->base_gfn) << PAGE_SHIFT)) >
	    VMMU_PG_LEVEL_4K)
		return;
	n = rounddown_pow_of_two(n);
	start = max(fault->gfn & ~((gfn_t)n - 1), slot->base_gfn);
	end = min((fault->gfn & ~((gfn_t)n - 1)) + n, vmmu_memslot_end(slot));
	a->start = start;
	a->nr = end - start;
	/* Only those neither mapped nor known to be absent from the host. */
	want = ~vmmu_tdp_mmu_mapped_mask(vcpu, start, a->nr) &
	       vmmu_host_present_mask(current->mm, slot->userspace_addr +
				      ((start - slot->base_gfn) << PAGE_SHIFT),
				      a->nr);
	for (i = 0; i < a->nr; i++) {
		unsigned long hva = slot->userspace_addr +
				    ((start + i - slot->base_gfn) << PAGE_SHIFT);

		a->pages[i] = NULL;
		if (start + i == fault->gfn || !test_bit(i, &want))
			continue;
		if (fault->writable &&
		    get_user_pages_fast_only(hva, 1, FOLL_WRITE,
					     &a->pages[i]) == 1)
			__set_bit(i, &a->writable);
		else if (get_user_pages_fast_only(hva, 1, 0, &a->pages[i]) != 1)
			a->pages[i] = NULL;
	}
}

/* Under mmu_lock: is an invalidation of part of the window in progress? */
static bool vmmu_around_invalidating(struct vmmu_vm *vm,
				     const struct vmmu_memslot *slot,
				     const struct vmmu_around *a)
{
	unsigned long start = slot->userspace_addr +
			      ((a->start - slot->base_gfn) << PAGE_SHIFT);

	return vmmu_hva_range_invalidating(vm, start,
					   start + ((unsigned long)a->nr << PAGE_SHIFT));
}

/* After the lock: dirty what went in writable, drop every reference. */
static void vmmu_around_put(struct vmmu_around *a, unsigned long installed)
{
	unsigned int i;

	for (i = 0; i < a->nr; i++) {
		if (!a->pages[i])
			continue;
		/* Writes through a writable mapping must reach shmem and files. */
		if (test_bit(i, &installed) && test_bit(i, &a->writable))
			set_page_dirty_lock(a->pages[i]);
		put_page(a->pages[i]);
	}
}

/*
 * Look the pfn up and install it; called under vm->srcu.  In a slot that
 * logs dirty pages only a write maps the page writable, and the page is
 * logged once the writable leaf is in place; a read maps it read-only, so
 * that a page never written is never logged.
 */
static int vmmu_fault_map(struct vmmu_vcpu *vcpu, struct vmmu_memslot *slot,
			  struct vmmu_fault *fault, u32 error_code,
			  unsigned long mmu_seq, u64 slots_gen)
{
	bool write = error_code & VMMU_PFERR_WRITE;
	struct vmmu_vm *vm = vcpu->vm;
	bool readonly = slot->flags & KVM_MEM_READONLY;
	bool logged = slot->flags & KVM_MEM_LOG_DIRTY_PAGES;
	unsigned long hva, installed = 0;
	struct vmmu_around around;
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
	around.nr = 0;
	if (!(error_code & VMMU_PFERR_PREFAULT))
		vmmu_around_gup(vcpu, slot, fault, &around);

	read_lock(&vm->mmu_lock);
	if (vmmu_fault_is_stale(vm, mmu_seq, hva, slots_gen)) {
		r = VMMU_RET_RETRY;
	} else {
		fault->goal_level = vmmu_fault_level(vm, slot, fault->gfn, hva);
		fault->req_level = fault->goal_level;
		/*
		 * The iTLB-multihit workaround (mmu/nx_huge.c): huge leaves
		 * are not executable, and a fetch maps 4 KiB.
		 */
		fault->huge_nx = vm->nx_huge_pages;
		if (fault->huge_nx && (error_code & VMMU_PFERR_FETCH))
			fault->goal_level = VMMU_PG_LEVEL_4K;
		r = vmmu_tdp_mmu_map(vcpu, fault);
		/* The seq check above covers the window's ended ones. */
		if (r == VMMU_RET_FIXED && around.nr &&
		    fault->goal_level == VMMU_PG_LEVEL_4K &&
		    !vmmu_around_invalidating(vm, slot, &around))
			installed = vmmu_tdp_mmu_prefetch(vcpu, around.start,
							  around.nr,
							  around.pages,
							  around.writable);
	}
	read_unlock(&vm->mmu_lock);
	vmmu_around_put(&around, installed);

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

/* vmmu_page_fault() without its tracepoint; @fault tells what it mapped. */
static int __vmmu_page_fault(struct vmmu_vcpu *vcpu, gpa_t gpa,
			     u32 error_code, struct vmmu_fault *fault)
{
	struct vmmu_vm *vm = vcpu->vm;
	bool write = error_code & VMMU_PFERR_WRITE;
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
	slot = vmmu_memslots_find(set, fault->gfn);
	if (slot && slot->invalid)
		/*
		 * Being deleted or moved: retry, with vm->srcu dropped so that
		 * the update's grace period can end, until the slot is gone.
		 */
		r = VMMU_RET_RETRY;
	else if (!slot || (write && (slot->flags & KVM_MEM_READONLY)))
		r = VMMU_RET_MMIO;
	else if (vmmu_fast_page_fault(vcpu, slot, fault->gfn, error_code))
		r = VMMU_RET_FIXED;
	else
		r = vmmu_fault_map(vcpu, slot, fault, error_code, mmu_seq,
				   slots_gen);
	srcu_read_unlock(&vm->srcu, idx);

	if (r == VMMU_RET_RETRY)
		atomic64_inc(vmmu_vm_stat(vm, fault_retries));
	return r;
}

/**
 * vmmu_page_fault() - resolve a fault of a vCPU on a guest-physical address
 * @vcpu: the vCPU, whose mutex is held; its root is loaded
 * @gpa: the faulting address
 * @error_code: VMMU_PFERR_* bits
 *
 * May sleep.  The vmmu_page_fault tracepoint reports each fault and what
 * became of it, with the level of the leaf vmmu_fault_map() installed (0
 * where none was: the lockless path made a present leaf writable, or the
 * fault retried, was MMIO or failed).
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
	struct vmmu_fault fault = { .gfn = gpa >> PAGE_SHIFT };
	int r = __vmmu_page_fault(vcpu, gpa, error_code, &fault);

	trace_vmmu_page_fault(vcpu->vcpu_id, gpa, error_code, r,
			      r == VMMU_RET_FIXED ? fault.goal_level : 0);
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

/*
 * Map the page at @gpa as a read fault would.  Return: the bytes from @gpa
 * to the end of the leaf that maps it now (4 KiB or more), -ENOENT (no
 * memory), or another negative errno.
 */
static long vmmu_map_gpa(struct vmmu_vcpu *vcpu, gpa_t gpa)
{
	u64 spte, size;
	int r, level;

	if (!vmmu_gpa_range_in_reach(&vcpu->vm->fmt, gpa, 0))
		return -ENOENT;
	for (;;) {
		r = vmmu_tdp_mmu_load_root(vcpu);
		if (r)
			return r;
		r = vmmu_page_fault(vcpu, gpa, VMMU_PFERR_PREFAULT);
		if (r == VMMU_RET_FIXED)
			break;
		if (r == VMMU_RET_MMIO)
			return -ENOENT;
		if (r < 0)
			return r;
		if (signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	/* Lockless: a zap since then only makes the step larger than needed. */
	level = vmmu_tdp_mmu_lookup(vcpu->vm, vcpu->root, gpa >> PAGE_SHIFT,
				    &spte);
	if (!spte_present(&vcpu->vm->fmt, spte))
		level = VMMU_PG_LEVEL_4K;
	size = vmmu_level_pages(level) << PAGE_SHIFT;
	return size - (gpa & (size - 1));
}

/**
 * vmmu_pre_fault_memory() - KVM_PRE_FAULT_MEMORY: map a range ahead of use
 * @vcpu: the vCPU, whose mutex is held
 * @range: in: the range; out: what is left of it
 *
 * Maps as read faults do (writable where the host allows, with leaves as
 * large as the host's pages and the slot allow), in the vCPU's root,
 * skipping what each leaf covers.  Stops at the first error.
 *
 * Return: 0 if at least one page was mapped (or all were); otherwise
 * -EINVAL (flags, alignment, empty or overflowing range), -ENOENT (no
 * memslot), -EINTR (a signal), -EFAULT or -ENOMEM.
 */
int vmmu_pre_fault_memory(struct vmmu_vcpu *vcpu,
			  struct kvm_pre_fault_memory *range)
{
	u64 full_size = range->size;
	long mapped;
	int r = 0;

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
		mapped = vmmu_map_gpa(vcpu, range->gpa);
		if (mapped < 0) {
			r = mapped;
			break;
		}
		mapped = min_t(u64, mapped, range->size);
		range->size -= mapped;
		range->gpa += mapped;
		cond_resched();
	} while (range->size);
	return full_size == range->size ? r : 0;
}
