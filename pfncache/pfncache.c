// SPDX-License-Identifier: GPL-2.0
/*
 * gfn -> pfn caches: kernel access to guest memory without sleeping.
 *
 * A cache resolves a guest-physical range (at most one page) to the host
 * page behind it and keeps the page's kernel address while that stays
 * right.  Two things make it wrong, and each is noticed where it happens:
 *
 *   the host mm changes the page: the mmu_notifier's invalidate_range_start
 *     marks every cache whose page is in the range invalid, under the
 *     cache's lock for write, before the host changes its page table;
 *   the memslots change: the cache remembers the memslot generation it was
 *     resolved in, and vmmu_pfncache_check() compares it with the VM's.
 *
 * The cache holds no reference to the page: like the TDP tables, it relies
 * on the notifier, which invalidates it before the page can be freed.
 *
 * Writers (activate, refresh, deactivate) are serialized by refresh_lock.
 * A refresh looks the page up with the lock dropped (GUP may sleep), so it
 * publishes only if no invalidation touched the page it looked up in the
 * meantime: it records the hva in the cache first, the notifier bumps
 * @invalidations for any range that covers it, and the refresh compares.
 * Invalidations of other ranges never make it retry.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/srcu.h>

#include <vmmu/memslot.h>
#include <vmmu/pfncache.h>
#include <vmmu/vm.h>

/**
 * vmmu_pfncache_vm_init() - set up a new VM's list of caches
 * @vm: the VM, not yet visible to the notifier
 */
void vmmu_pfncache_vm_init(struct vmmu_vm *vm)
{
	spin_lock_init(&vm->pfncache_list_lock);
	INIT_LIST_HEAD(&vm->pfncaches);
}

/**
 * vmmu_pfncache_init() - set up a cache and add it to its VM's list
 * @gpc: the cache
 * @vm: the VM whose memory it will map
 *
 * The cache starts inactive.
 */
void vmmu_pfncache_init(struct vmmu_pfncache *gpc, struct vmmu_vm *vm)
{
	memset(gpc, 0, sizeof(*gpc));
	gpc->vm = vm;
	rwlock_init(&gpc->lock);
	mutex_init(&gpc->refresh_lock);
	spin_lock(&vm->pfncache_list_lock);
	list_add(&gpc->link, &vm->pfncaches);
	spin_unlock(&vm->pfncache_list_lock);
}

/**
 * vmmu_pfncache_destroy() - deactivate a cache and take it off its VM's list
 * @gpc: the cache; no reader or writer uses it any more
 */
void vmmu_pfncache_destroy(struct vmmu_pfncache *gpc)
{
	struct vmmu_vm *vm = gpc->vm;

	vmmu_pfncache_deactivate(gpc);
	spin_lock(&vm->pfncache_list_lock);
	list_del(&gpc->link);
	spin_unlock(&vm->pfncache_list_lock);
	mutex_destroy(&gpc->refresh_lock);
}

/* Does [gpa, gpa + len) fit in one page? */
static bool vmmu_pfncache_range_ok(gpa_t gpa, unsigned long len)
{
	return len && len <= PAGE_SIZE - offset_in_page(gpa);
}

/**
 * vmmu_pfncache_check() - may the caller use gpc->khva for @len bytes?
 * @gpc: the cache, whose lock the caller holds (either mode)
 * @len: bytes the caller will access from gpc->khva
 *
 * Return: true if the cache maps its range in the current memslots and
 * @len is within it.
 */
bool vmmu_pfncache_check(struct vmmu_pfncache *gpc, unsigned long len)
{
	lockdep_assert_held(&gpc->lock);
	if (!gpc->valid || len > gpc->len)
		return false;
	/*
	 * A reader that still sees the old generation while a memslot update
	 * publishes the new one accesses the page as if it came first; the
	 * page itself is safe until the notifier invalidates the cache.
	 */
	return gpc->generation == READ_ONCE(gpc->vm->memslots_generation);
}

/**
 * vmmu_pfncache_mark_dirty() - log a write through the cache
 * @gpc: the cache, whose lock the caller holds and whose check passed
 * @vcpu: the vCPU on whose thread the write was made for it (its dirty
 *	ring logs it), or NULL
 *
 * Every writer calls it after it wrote through gpc->khva, so that dirty
 * logging sees writes that no vCPU made.  Never sleeps: callable with
 * interrupts off and from a timer.
 */
void vmmu_pfncache_mark_dirty(struct vmmu_pfncache *gpc,
			      struct vmmu_vcpu *vcpu)
{
	lockdep_assert_held(&gpc->lock);
	vmmu_mark_page_dirty(gpc->vm, vcpu, gpc->gpa >> PAGE_SHIFT);
}

/* Clear the mapping; the cache's lock is held for write. */
static void vmmu_pfncache_unmap(struct vmmu_pfncache *gpc)
{
	lockdep_assert_held_write(&gpc->lock);
	gpc->valid = false;
	gpc->pfn = 0;
	gpc->khva = NULL;
}

/*
 * Resolve gpc->gpa to an hva in the current memslots.  Return: 0, -ENOENT
 * (no memslot) or -EPERM (a read-only memslot: caches write).
 */
static int vmmu_pfncache_gpa_to_hva(struct vmmu_pfncache *gpc,
				    unsigned long *hva, u64 *generation)
{
	struct vmmu_vm *vm = gpc->vm;
	struct vmmu_memslots *set;
	struct vmmu_memslot *slot;
	gfn_t gfn = gpc->gpa >> PAGE_SHIFT;
	int idx, r = 0;

	idx = srcu_read_lock(&vm->srcu);
	set = vmmu_memslots(vm);
	*generation = set->generation;
	slot = vmmu_memslots_find_valid(set, gfn);
	if (!slot)
		r = -ENOENT;
	else if (slot->flags & KVM_MEM_READONLY)
		r = -EPERM;
	else
		*hva = slot->userspace_addr +
		       ((gfn - slot->base_gfn) << PAGE_SHIFT);
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}

/*
 * Is an invalidation that covers @hva in progress now?  Looked at after the
 * hva was recorded in the cache: an invalidation that starts later bumps
 * the cache's count instead.  Only invalidations of this hva count.
 */
static bool vmmu_pfncache_hva_busy(struct vmmu_vm *vm, unsigned long hva)
{
	bool busy;

	read_lock(&vm->mmu_lock);
	busy = vm->mmu_invalidate_in_progress &&
	       hva < vm->mmu_invalidate_range_end &&
	       hva + PAGE_SIZE > vm->mmu_invalidate_range_start;
	read_unlock(&vm->mmu_lock);
	return busy;
}

static int vmmu_pfncache_gup(struct vmmu_vm *vm, unsigned long hva,
			     struct page **page)
{
	long n;

	/* GUP works on current's mm: it must be the VM's. */
	if (current->mm != vm->mm)
		return -EFAULT;
	if (get_user_pages_fast_only(hva, 1, FOLL_WRITE, page) == 1)
		return 0;
	/* Not a pin: the notifier keeps the cache coherent. */
	n = get_user_pages_unlocked(hva, 1, page, FOLL_WRITE);
	if (n == 1)
		return 0;
	if (n == -EINTR || n == -ENOMEM)
		return n;
	/* Includes VM_PFNMAP and VM_IO memory: no struct page to map. */
	return -EFAULT;
}

/*
 * Record the hva a lookup is about to resolve; the cache is invalid from
 * here until the lookup publishes.  Return: the invalidation count to
 * compare with.
 */
static unsigned long vmmu_pfncache_begin_lookup(struct vmmu_pfncache *gpc,
						unsigned long hva)
{
	unsigned long seq;

	write_lock_irq(&gpc->lock);
	vmmu_pfncache_unmap(gpc);
	gpc->uhva = hva;
	seq = gpc->invalidations;
	write_unlock_irq(&gpc->lock);
	return seq;
}

/*
 * Publish @page if nothing changed since vmmu_pfncache_begin_lookup(): no
 * invalidation of the hva (the count) and no memslot update (the
 * generation).  Return: true if published.
 */
static bool vmmu_pfncache_publish(struct vmmu_pfncache *gpc, struct page *page,
				  unsigned long seq, u64 generation)
{
	bool ok;

	write_lock_irq(&gpc->lock);
	ok = gpc->invalidations == seq &&
	     generation == READ_ONCE(gpc->vm->memslots_generation);
	if (ok) {
		gpc->generation = generation;
		gpc->pfn = page_to_pfn(page);
		/* x86-64: every page with a struct page is in the direct map. */
		gpc->khva = page_address(page) + offset_in_page(gpc->gpa);
		gpc->valid = true;
		gpc->refreshes++;
		/*
		 * Caches go before the notifier (vmmu_dev_vm_destroy()):
		 * nothing would invalidate a page published after it.
		 */
		WARN_ON_ONCE(READ_ONCE(gpc->vm->mn_unregistered));
	}
	write_unlock_irq(&gpc->lock);
	return ok;
}

/* One lookup: 0 (published), -EAGAIN (look again) or an error. */
static int vmmu_pfncache_lookup(struct vmmu_pfncache *gpc)
{
	struct vmmu_vm *vm = gpc->vm;
	unsigned long hva, seq;
	struct page *page;
	u64 generation;
	int r;

	r = vmmu_pfncache_gpa_to_hva(gpc, &hva, &generation);
	if (r)
		return r;
	seq = vmmu_pfncache_begin_lookup(gpc, hva);
	if (vmmu_pfncache_hva_busy(vm, hva))
		return -EAGAIN;
	r = vmmu_pfncache_gup(vm, hva, &page);
	if (r)
		return r;
	r = vmmu_pfncache_publish(gpc, page, seq, generation) ? 0 : -EAGAIN;
	/*
	 * Written through the kernel mapping: the page is dirty for shmem
	 * and files.  The reference goes; the notifier guards the page now.
	 */
	if (!r)
		set_page_dirty_lock(page);
	put_page(page);
	return r;
}

/* Look up until published or failed; refresh_lock is held. */
static int vmmu_pfncache_resolve(struct vmmu_pfncache *gpc)
{
	int r;

	lockdep_assert_held(&gpc->refresh_lock);
	for (;;) {
		r = vmmu_pfncache_lookup(gpc);
		if (r != -EAGAIN)
			return r;
		write_lock_irq(&gpc->lock);
		gpc->retries++;
		write_unlock_irq(&gpc->lock);
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
}

/**
 * vmmu_pfncache_refresh() - make the cache valid again
 * @gpc: an active cache
 * @len: bytes the caller will access; at most the cache's length
 *
 * May sleep.  Waits only for invalidations of the cache's own page.  On
 * failure the cache stays active and invalid.  Called by a thread of the
 * VM's mm (or a kernel thread using it: kthread_use_mm()).
 *
 * Return: 0, -EINVAL (inactive, or @len too long), -ENOENT (no memslot at
 * the gpa now), -EPERM (read-only memslot), -EFAULT (the host memory
 * cannot be mapped: unmapped, or without struct page), -EINTR, -ENOMEM.
 */
int vmmu_pfncache_refresh(struct vmmu_pfncache *gpc, unsigned long len)
{
	unsigned long flags;
	int r = 0;

	mutex_lock(&gpc->refresh_lock);
	read_lock_irqsave(&gpc->lock, flags);
	if (!gpc->active || len > gpc->len)
		r = -EINVAL;
	else if (vmmu_pfncache_check(gpc, len))
		r = 1;
	read_unlock_irqrestore(&gpc->lock, flags);
	if (!r)
		r = vmmu_pfncache_resolve(gpc);
	mutex_unlock(&gpc->refresh_lock);
	return r > 0 ? 0 : r;
}

/**
 * vmmu_pfncache_activate() - point a cache at a guest range and map it
 * @gpc: the cache
 * @gpa: first guest-physical address, 8-byte aligned
 * @len: bytes, within @gpa's page
 *
 * A cache that was active is re-pointed.  If the range cannot be mapped the
 * cache is left inactive: an active cache always has a range that was
 * mapped once.
 *
 * Return: 0, -EINVAL (unaligned, empty or crossing a page), or an error of
 * vmmu_pfncache_refresh().
 */
int vmmu_pfncache_activate(struct vmmu_pfncache *gpc, gpa_t gpa,
			   unsigned long len)
{
	int r;

	if (!IS_ALIGNED(gpa, 8) || !vmmu_pfncache_range_ok(gpa, len))
		return -EINVAL;
	mutex_lock(&gpc->refresh_lock);
	write_lock_irq(&gpc->lock);
	vmmu_pfncache_unmap(gpc);
	gpc->gpa = gpa;
	gpc->len = len;
	gpc->active = true;
	write_unlock_irq(&gpc->lock);
	r = vmmu_pfncache_resolve(gpc);
	if (r) {
		write_lock_irq(&gpc->lock);
		gpc->active = false;
		write_unlock_irq(&gpc->lock);
	}
	mutex_unlock(&gpc->refresh_lock);
	return r;
}

/**
 * vmmu_pfncache_deactivate() - stop mapping anything
 * @gpc: the cache
 *
 * Readers fail their check from now on; refresh fails with -EINVAL.
 */
void vmmu_pfncache_deactivate(struct vmmu_pfncache *gpc)
{
	mutex_lock(&gpc->refresh_lock);
	write_lock_irq(&gpc->lock);
	vmmu_pfncache_unmap(gpc);
	gpc->active = false;
	gpc->gpa = 0;
	gpc->len = 0;
	gpc->uhva = 0;
	write_unlock_irq(&gpc->lock);
	mutex_unlock(&gpc->refresh_lock);
}

/**
 * vmmu_pfncache_invalidate_start() - the host is about to change [start, end)
 * @vm: the VM
 * @start: first hva
 * @end: end of the range (exclusive)
 *
 * Called by the notifier's invalidate_range_start after the range joined
 * the invalidations in progress, and before it returns to the host.  Never
 * sleeps.
 */
void vmmu_pfncache_invalidate_start(struct vmmu_vm *vm, unsigned long start,
				    unsigned long end)
{
	struct vmmu_pfncache *gpc;
	unsigned long flags;

	spin_lock_irqsave(&vm->pfncache_list_lock, flags);
	list_for_each_entry(gpc, &vm->pfncaches, link) {
		write_lock(&gpc->lock);
		if (gpc->active && gpc->uhva < end &&
		    gpc->uhva + PAGE_SIZE > start) {
			vmmu_pfncache_unmap(gpc);
			gpc->invalidations++;
		}
		write_unlock(&gpc->lock);
	}
	spin_unlock_irqrestore(&vm->pfncache_list_lock, flags);
}
