// SPDX-License-Identifier: GPL-2.0
/*
 * The TDP MMU: roots, mapping on faults, zapping on invalidations.
 *
 * Entry life cycle:
 *  - faults run under mmu_lock (read) and change entries only with
 *    cmpxchg64(); the loser of a race retries the fault;
 *  - zaps under the read lock clear a leaf with cmpxchg64(), and freeze a
 *    non-leaf entry (VMMU_SPTE_FROZEN) while they take the table below
 *    apart; every entry of a removed table is frozen with xchg() so that a
 *    fault that still walks it cannot install into it;
 *  - zaps under the write lock xchg() entries to 0 (the walker may set A/D
 *    bits concurrently);
 *  - a removed table is freed by call_rcu() only after the TLB flush that
 *    made it unreachable, so lockless walkers (under RCU) never read freed
 *    memory.
 */
#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <vmmu/memslot.h>
#include <vmmu/mmu.h>
#include <vmmu/stats.h>
#include <vmmu/tdp_iter.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

static struct kmem_cache *vmmu_mmu_page_cache;

/**
 * struct tdp_zap - state of one zap
 * @vm: the VM
 * @free_list: tables removed from the tree, freed after the flush
 * @flush: a present entry was removed; vCPU TLBs must be flushed
 * @shared: mmu_lock is held for read (else for write)
 * @leaves: leaves removed so far
 */
struct tdp_zap {
	struct vmmu_vm *vm;
	struct list_head free_list;
	bool flush;
	bool shared;
	unsigned long leaves;
};

static void tdp_zap_init(struct tdp_zap *z, struct vmmu_vm *vm, bool shared)
{
	z->vm = vm;
	INIT_LIST_HEAD(&z->free_list);
	z->flush = false;
	z->shared = shared;
	z->leaves = 0;
}

static void tdp_mmu_assert_locked(struct tdp_zap *z)
{
	if (z->shared)
		lockdep_assert_held_read(&z->vm->mmu_lock);
	else
		lockdep_assert_held_write(&z->vm->mmu_lock);
}

static struct vmmu_mmu_page *table_to_sp(u64 *table)
{
	return (struct vmmu_mmu_page *)page_private(virt_to_page(table));
}

static gfn_t tdp_mmu_max_gfn(struct vmmu_vm *vm)
{
	return vmmu_level_pages(vm->fmt.root_level + 1);
}

/* Take a table and its header from two caches; never sleeps. */
static struct vmmu_mmu_page *tdp_mmu_alloc_sp_from(struct vmmu_memcache *hc,
						   struct vmmu_memcache *pc,
						   gfn_t gfn, int level)
{
	struct vmmu_mmu_page *sp = vmmu_memcache_alloc(hc);
	u64 *spt = vmmu_memcache_alloc(pc);

	if (!sp || !spt) {
		if (sp)
			vmmu_memcache_put(hc, sp);
		if (spt)
			vmmu_memcache_put(pc, spt);
		return NULL;
	}
	sp->spt = spt;
	sp->gfn = gfn;
	sp->level = level;
	INIT_LIST_HEAD(&sp->nx_link);
	set_page_private(virt_to_page(spt), (unsigned long)sp);
	return sp;
}

/* Give back a table that was never made reachable; its entries are 0. */
static void tdp_mmu_unalloc_sp_to(struct vmmu_memcache *hc,
				  struct vmmu_memcache *pc,
				  struct vmmu_mmu_page *sp)
{
	set_page_private(virt_to_page(sp->spt), 0);
	vmmu_memcache_put(pc, sp->spt);
	memset(sp, 0, sizeof(*sp));
	vmmu_memcache_put(hc, sp);
}

/* The same with the vCPU's caches, which a fault topped up. */
static struct vmmu_mmu_page *tdp_mmu_alloc_sp(struct vmmu_vcpu *vcpu,
					      gfn_t gfn, int level)
{
	return tdp_mmu_alloc_sp_from(&vcpu->header_cache, &vcpu->pt_cache,
				     gfn, level);
}

static void tdp_mmu_unalloc_sp(struct vmmu_vcpu *vcpu,
			       struct vmmu_mmu_page *sp)
{
	tdp_mmu_unalloc_sp_to(&vcpu->header_cache, &vcpu->pt_cache, sp);
}

static void tdp_mmu_free_sp_rcu(struct rcu_head *head)
{
	struct vmmu_mmu_page *sp = container_of(head, struct vmmu_mmu_page, rcu);

#ifdef VMMU_DEBUG
	{
		int i;

		/* Removed tables were emptied (0 or frozen) before the free. */
		for (i = 0; i < VMMU_PT_ENTRIES; i++)
			WARN_ONCE(sp->spt[i] && !spte_frozen(sp->spt[i]),
				  "vmmu: freeing a table with entry %d = %llx\n",
				  i, sp->spt[i]);
	}
#endif
	set_page_private(virt_to_page(sp->spt), 0);
	vmmu_pt_page_free(sp->spt);
	kmem_cache_free(vmmu_mmu_page_cache, sp);
}

static void tdp_mmu_handle_removed_table(struct tdp_zap *z, u64 *table,
					 int level);

/*
 * List @sp on vm->nx_tables, before it is linked: a zap that removes it
 * afterwards finds it there.
 */
static void tdp_mmu_track_nx(struct vmmu_vm *vm, struct vmmu_mmu_page *sp)
{
	sp->nx_table = true;
	spin_lock(&vm->tdp_mmu_pages_lock);
	list_add_tail(&sp->nx_link, &vm->nx_tables);
	vm->nr_nx_tables++;
	spin_unlock(&vm->tdp_mmu_pages_lock);
}

/* Take @sp off vm->nx_tables if it is there (it was removed, or not linked). */
static void tdp_mmu_untrack_nx(struct vmmu_vm *vm, struct vmmu_mmu_page *sp)
{
	/* Set before the table was linked: the cmpxchg64() orders it. */
	if (!READ_ONCE(sp->nx_table))
		return;
	spin_lock(&vm->tdp_mmu_pages_lock);
	if (!list_empty(&sp->nx_link)) {
		list_del_init(&sp->nx_link);
		vm->nr_nx_tables--;
	}
	spin_unlock(&vm->tdp_mmu_pages_lock);
	sp->nx_table = false;
}

/* Account for an entry that is no longer reachable; recurse into tables. */
static void tdp_mmu_handle_removed_spte(struct tdp_zap *z, u64 old, int level)
{
	if (!spte_present(&z->vm->fmt, old))
		return;
	z->flush = true;
	if (spte_leaf(&z->vm->fmt, old, level)) {
		z->leaves++;
		atomic64_inc(vmmu_vm_stat(z->vm, leaves_zapped));
		atomic64_dec(&z->vm->stats.mapped[level - 1]);
		return;
	}
	tdp_mmu_handle_removed_table(z, spte_child_table(old), level - 1);
}

/*
 * A table was unlinked from its parent.  Empty it, freezing every entry when
 * faults may still be walking it (read lock), and queue it for freeing.
 */
static void tdp_mmu_handle_removed_table(struct tdp_zap *z, u64 *table,
					 int level)
{
	u64 empty = z->shared ? VMMU_SPTE_FROZEN : 0;
	int i;

	for (i = 0; i < VMMU_PT_ENTRIES; i++) {
		/*
		 * Pairs with the cmpxchg64() in tdp_mmu_set_spte_atomic(): an
		 * install racing with this either lands first and is seen
		 * here, or fails against the frozen value and retries.
		 */
		u64 old = xchg(&table[i], empty);

		tdp_mmu_handle_removed_spte(z, old, level);
	}
	tdp_mmu_untrack_nx(z->vm, table_to_sp(table));
	list_add_tail(&table_to_sp(table)->free_link, &z->free_list);
	atomic64_inc(vmmu_vm_stat(z->vm, tables_freed));
	atomic64_dec(vmmu_vm_stat(z->vm, tables));
}

/*
 * Flush the TLBs if anything present was removed, then free the removed
 * tables once RCU readers are done with them.
 */
static void tdp_zap_finish(struct tdp_zap *z)
{
	struct vmmu_mmu_page *sp, *tmp;

	if (z->flush)
		vmmu_flush_remote_tlbs(z->vm);
	z->flush = false;
	list_for_each_entry_safe(sp, tmp, &z->free_list, free_link) {
		list_del(&sp->free_link);
		call_rcu(&sp->rcu, tdp_mmu_free_sp_rcu);
	}
}

/*
 * Remove the entry at @iter.  Under the read lock this can lose a race with
 * a fault or the walker's A/D update; then @iter->old_spte holds the new
 * value and the caller looks again.
 */
static bool tdp_mmu_zap_spte(struct tdp_zap *z, struct tdp_iter *iter)
{
	const struct vmmu_spte_format *fmt = &z->vm->fmt;
	bool leaf = spte_leaf(fmt, iter->old_spte, iter->level);
	u64 old = iter->old_spte;

	tdp_mmu_assert_locked(z);
	if (z->shared) {
		u64 tmp = leaf ? 0 : VMMU_SPTE_FROZEN;
		u64 cur = cmpxchg64(iter->sptep, old, tmp);

		if (cur != old) {
			iter->old_spte = cur;
			return false;
		}
	} else {
		old = xchg(iter->sptep, 0);
	}
	tdp_mmu_handle_removed_spte(z, old, iter->level);
	/*
	 * The table below is detached and queued: unfreeze the entry so that
	 * faults can install a new table.  Pairs with READ_ONCE() in
	 * tdp_iter.
	 */
	if (z->shared && !leaf)
		WRITE_ONCE(*iter->sptep, 0);
	iter->old_spte = 0;
	return true;
}

/*
 * Yield mmu_lock if someone needs it or the CPU should reschedule, but only
 * after progress, so that the walk always finishes.  Flushes and frees what
 * was zapped so far before the lock is dropped.
 */
static bool tdp_mmu_iter_cond_resched(struct tdp_zap *z, struct tdp_iter *iter)
	__must_hold(RCU)
{
	struct vmmu_vm *vm = z->vm;

	if (iter->next_gfn == iter->yielded_gfn)
		return false;
	if (!need_resched() && !rwlock_needbreak(&vm->mmu_lock))
		return false;

	tdp_zap_finish(z);
	rcu_read_unlock();
	if (z->shared)
		cond_resched_rwlock_read(&vm->mmu_lock);
	else
		cond_resched_rwlock_write(&vm->mmu_lock);
	rcu_read_lock();
	iter->yielded = true;
	return true;
}

static bool tdp_iter_within(struct tdp_iter *iter, gfn_t start, gfn_t end)
{
	return iter->gfn >= start &&
	       iter->gfn + vmmu_level_pages(iter->level) <= end;
}

/*
 * A zap that may yield takes at most a 1 GiB subtree apart between two
 * resched points (see tdp_mmu_zap_root_range()).
 */
static void tdp_mmu_check_zap_size(struct tdp_zap *z, int level,
				   unsigned long leaves)
{
#ifdef VMMU_DEBUG
	WARN_ONCE(level > VMMU_PG_LEVEL_1G && leaves,
		  "vmmu: zapped %lu leaves below a level-%d entry at once\n",
		  leaves, level);
#endif
}

/*
 * Zap the entries of @root mapping [start, end), taking apart at once only
 * entries at @max_level or below: present tables above it are descended
 * into instead.
 */
static void tdp_mmu_zap_root_pass(struct tdp_zap *z, struct vmmu_mmu_page *root,
				  gfn_t start, gfn_t end, bool can_yield,
				  int max_level)
{
	const struct vmmu_spte_format *fmt = &z->vm->fmt;
	struct tdp_iter iter;

	tdp_mmu_assert_locked(z);
	rcu_read_lock();
	for_each_tdp_pte(iter, root, fmt, start, end) {
		unsigned long leaves;
retry:
		if (can_yield && tdp_mmu_iter_cond_resched(z, &iter))
			continue;
		if (!spte_present(fmt, iter.old_spte))
			continue;
		/* A table only partly in the range or too large: go down. */
		if (!spte_leaf(fmt, iter.old_spte, iter.level) &&
		    (iter.level > max_level ||
		     !tdp_iter_within(&iter, start, end)))
			continue;
		leaves = z->leaves;
		if (!tdp_mmu_zap_spte(z, &iter))
			goto retry;
		if (can_yield)
			tdp_mmu_check_zap_size(z, iter.level, z->leaves - leaves);
	}
	rcu_read_unlock();
}

/*
 * Zap every entry of @root mapping [start, end).  A table above the 1 GiB
 * level can hold hundreds of thousands of entries; when the caller lets the
 * zap yield, the 1 GiB subtrees go first, each a bounded step between
 * resched points, and only then the tables above them, emptied by then.
 */
static void tdp_mmu_zap_root_range(struct tdp_zap *z,
				   struct vmmu_mmu_page *root,
				   gfn_t start, gfn_t end, bool can_yield)
{
	if (can_yield)
		tdp_mmu_zap_root_pass(z, root, start, end, true,
				      VMMU_PG_LEVEL_1G);
	tdp_mmu_zap_root_pass(z, root, start, end, can_yield, root->level);
}

/* Root iteration ---------------------------------------------------------- */

/*
 * The next root after @prev on the valid list (the first if @prev is NULL),
 * with a reference; drops the reference on @prev.  Called with mmu_lock held,
 * so roots move to the invalid list only while the lock was dropped (a
 * yield).  If @prev moved, every root that followed it moved too: the walk
 * of the invalid list that follows covers them.
 */
static struct vmmu_mmu_page *tdp_mmu_next_valid_root(struct vmmu_vm *vm,
						     struct vmmu_mmu_page *prev)
{
	struct vmmu_mmu_page *root;

	lockdep_assert_held(&vm->mmu_lock);
	rcu_read_lock();
	if (!prev)
		root = list_first_or_null_rcu(&vm->valid_roots,
					      struct vmmu_mmu_page, valid_link);
	else if (READ_ONCE(prev->root_invalid))
		root = NULL;
	else
		root = list_next_or_null_rcu(&vm->valid_roots, &prev->valid_link,
					     struct vmmu_mmu_page, valid_link);
	/* The valid list holds a reference on each of its roots. */
	if (root)
		refcount_inc(&root->root_refs);
	rcu_read_unlock();
	if (prev)
		vmmu_tdp_mmu_put_root(vm, prev);
	return root;
}

/* As above for the invalid list, skipping roots whose last user is gone. */
static struct vmmu_mmu_page *tdp_mmu_next_invalid_root(struct vmmu_vm *vm,
						       struct vmmu_mmu_page *prev)
{
	struct vmmu_mmu_page *root;

	lockdep_assert_held(&vm->mmu_lock);
	rcu_read_lock();
	if (!prev)
		root = list_first_or_null_rcu(&vm->invalid_roots,
					      struct vmmu_mmu_page, invalid_link);
	else
		root = list_next_or_null_rcu(&vm->invalid_roots,
					     &prev->invalid_link,
					     struct vmmu_mmu_page, invalid_link);
	while (root && !refcount_inc_not_zero(&root->root_refs))
		root = list_next_or_null_rcu(&vm->invalid_roots,
					     &root->invalid_link,
					     struct vmmu_mmu_page, invalid_link);
	rcu_read_unlock();
	if (prev)
		vmmu_tdp_mmu_put_root(vm, prev);
	return root;
}

/*
 * The next root of a walk over every root a vCPU may still use: the valid
 * ones, then the invalid ones whose zap is not over.  *@invalid (false at
 * the start) says which list the walk is on.  Same reference rules as above.
 */
static struct vmmu_mmu_page *tdp_mmu_next_root(struct vmmu_vm *vm,
					       struct vmmu_mmu_page *prev,
					       bool *invalid)
{
	struct vmmu_mmu_page *root;

	if (!*invalid) {
		root = tdp_mmu_next_valid_root(vm, prev);
		if (root)
			return root;
		/* tdp_mmu_next_valid_root() dropped @prev. */
		*invalid = true;
		prev = NULL;
	}
	return tdp_mmu_next_invalid_root(vm, prev);
}

/**
 * vmmu_tdp_mmu_zap_gfn_range() - remove every mapping of [start, end)
 * @vm: the VM
 * @start: first gfn
 * @end: end gfn (exclusive)
 * @can_yield: the caller allows dropping mmu_lock on the way
 *
 * Zaps in every root, valid or invalid, and flushes the vCPU TLBs before it
 * returns, so the host may free the pages once it is done.
 * Called with mmu_lock held for write.
 */
void vmmu_tdp_mmu_zap_gfn_range(struct vmmu_vm *vm, gfn_t start, gfn_t end,
				bool can_yield)
{
	struct vmmu_mmu_page *root;
	struct tdp_zap z;
	bool invalid;

	lockdep_assert_held_write(&vm->mmu_lock);
	tdp_zap_init(&z, vm, false);
	for (invalid = false, root = tdp_mmu_next_root(vm, NULL, &invalid);
	     root; root = tdp_mmu_next_root(vm, root, &invalid))
		tdp_mmu_zap_root_range(&z, root, start, end, can_yield);
	tdp_zap_finish(&z);
}

/**
 * vmmu_tdp_mmu_zap_all() - remove every mapping from every root
 * @vm: the VM
 *
 * Used when the mm goes away (mmu_notifier release).  Takes mmu_lock.
 */
void vmmu_tdp_mmu_zap_all(struct vmmu_vm *vm)
{
	write_lock(&vm->mmu_lock);
	vmmu_tdp_mmu_zap_gfn_range(vm, 0, tdp_mmu_max_gfn(vm), true);
	write_unlock(&vm->mmu_lock);
}

/* Roots ------------------------------------------------------------------- */

/**
 * vmmu_tdp_mmu_put_root() - drop a reference on a root
 * @vm: the VM
 * @root: the root
 *
 * The last reference frees the root.  Valid roots hold the valid list's
 * reference, so the last one is dropped only after the root was invalidated
 * and zapped empty.  Never sleeps; callable with or without mmu_lock.
 */
void vmmu_tdp_mmu_put_root(struct vmmu_vm *vm, struct vmmu_mmu_page *root)
{
	if (!refcount_dec_and_test(&root->root_refs))
		return;
	WARN_ON_ONCE(!READ_ONCE(root->root_invalid));
	spin_lock(&vm->tdp_mmu_pages_lock);
	list_del_rcu(&root->invalid_link);
	spin_unlock(&vm->tdp_mmu_pages_lock);
	vmmu_object_dec(VMMU_OBJ_ROOT);
	atomic64_dec(vmmu_vm_stat(vm, tables));
	/* RCU walkers of the invalid list may still look at it. */
	call_rcu(&root->rcu, tdp_mmu_free_sp_rcu);
}

/**
 * vmmu_tdp_mmu_invalidate_all_roots() - make every vCPU start afresh
 * @vm: the VM
 *
 * Under the write lock every valid root moves to the invalid list at once,
 * so no new reference to it can be taken, and every vCPU is asked to load a
 * new root.  Then, under the read lock, the moved roots are zapped (vCPUs
 * may run on them until they reload) and the valid list's references are
 * dropped.  Takes mmu_lock; may sleep.
 */
void vmmu_tdp_mmu_invalidate_all_roots(struct vmmu_vm *vm)
{
	struct vmmu_mmu_page *root, *tmp;
	LIST_HEAD(moved);
	struct tdp_zap z;

	tdp_zap_init(&z, vm, true);
	write_lock(&vm->mmu_lock);
	spin_lock(&vm->tdp_mmu_pages_lock);
	list_for_each_entry_safe(root, tmp, &vm->valid_roots, valid_link) {
		WRITE_ONCE(root->root_invalid, true);
		/* valid_link keeps pointing into the valid list for readers. */
		list_del_rcu(&root->valid_link);
		list_add_tail_rcu(&root->invalid_link, &vm->invalid_roots);
		list_add_tail(&root->free_link, &moved);
		atomic64_inc(vmmu_vm_stat(vm, roots_invalidated));
	}
	spin_unlock(&vm->tdp_mmu_pages_lock);
	vmmu_make_all_vcpus_request(vm, VMMU_REQ_RELOAD_ROOT, false);
	write_unlock(&vm->mmu_lock);

	read_lock(&vm->mmu_lock);
	list_for_each_entry_safe(root, tmp, &moved, free_link) {
		list_del(&root->free_link);
		tdp_mmu_zap_root_range(&z, root, 0, tdp_mmu_max_gfn(vm), true);
		tdp_zap_finish(&z);
		vmmu_tdp_mmu_put_root(vm, root);
	}
	read_unlock(&vm->mmu_lock);
}

/* A reference to the valid root, creating it from @vcpu's caches if none. */
static struct vmmu_mmu_page *tdp_mmu_get_valid_root(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vm *vm = vcpu->vm;
	struct vmmu_mmu_page *root, *new;

	lockdep_assert_held_read(&vm->mmu_lock);
	new = tdp_mmu_alloc_sp(vcpu, 0, vm->fmt.root_level);
	if (!new)
		return NULL;

	spin_lock(&vm->tdp_mmu_pages_lock);
	root = list_first_entry_or_null(&vm->valid_roots,
					struct vmmu_mmu_page, valid_link);
	if (root) {
		/* The list's reference keeps it alive: this cannot be 0. */
		refcount_inc(&root->root_refs);
	} else {
		root = new;
		new = NULL;
		/* One reference for the valid list, one for the vCPU. */
		refcount_set(&root->root_refs, 2);
		list_add_rcu(&root->valid_link, &vm->valid_roots);
		vmmu_object_inc(VMMU_OBJ_ROOT);
		atomic64_inc(vmmu_vm_stat(vm, tables));
	}
	spin_unlock(&vm->tdp_mmu_pages_lock);
	/* Only valid roots are ever handed out. */
	WARN_ON_ONCE(root->root_invalid);
	if (new)
		tdp_mmu_unalloc_sp(vcpu, new);
	return root;
}

/**
 * vmmu_tdp_mmu_load_root() - give the vCPU a valid root
 * @vcpu: the vCPU, whose mutex is held
 *
 * Keeps the current root while it is valid; otherwise takes a reference to
 * the VM's valid root (creating it if needed) and drops the old one.
 *
 * Return: 0, or -ENOMEM.
 */
int vmmu_tdp_mmu_load_root(struct vmmu_vcpu *vcpu)
{
	struct vmmu_mmu_page *old = vcpu->root, *root;
	struct vmmu_vm *vm = vcpu->vm;

	lockdep_assert_held(&vcpu->mutex);
	if (old && !READ_ONCE(old->root_invalid))
		return 0;
	if (vmmu_memcache_topup(&vcpu->pt_cache, 1) ||
	    vmmu_memcache_topup(&vcpu->header_cache, 1))
		return -ENOMEM;

	read_lock(&vm->mmu_lock);
	root = tdp_mmu_get_valid_root(vcpu);
	read_unlock(&vm->mmu_lock);
	if (!root)
		return -ENOMEM;
	vcpu->root = root;
	if (old)
		vmmu_tdp_mmu_put_root(vm, old);
	return 0;
}

/* Mapping ----------------------------------------------------------------- */

/*
 * Replace the entry at @iter if it still holds @iter->old_spte.  On failure
 * @iter->old_spte holds the current value.
 */
static bool tdp_mmu_set_spte_atomic(struct tdp_iter *iter, u64 new_spte)
{
	/*
	 * Pairs with the xchg() in tdp_mmu_handle_removed_table() and the
	 * cmpxchg64() in tdp_mmu_zap_spte(): whoever comes second sees the
	 * other's value and backs off.
	 */
	u64 cur = cmpxchg64(iter->sptep, iter->old_spte, new_spte);

	if (cur != iter->old_spte) {
		iter->old_spte = cur;
		return false;
	}
	iter->old_spte = new_spte;
	return true;
}

/*
 * Install a table below the non-present entry at @iter; @nx: it exists only
 * because of the iTLB-multihit workaround (tracked for recovery).
 */
static int tdp_mmu_link_table(struct vmmu_vcpu *vcpu, struct tdp_iter *iter,
			      bool nx)
{
	struct vmmu_mmu_page *sp;

	sp = tdp_mmu_alloc_sp(vcpu, iter->gfn, iter->level - 1);
	if (!sp)
		return -ENOMEM;
	if (nx)
		tdp_mmu_track_nx(vcpu->vm, sp);
	if (!tdp_mmu_set_spte_atomic(iter, spte_make_table(iter->fmt, sp->spt))) {
		tdp_mmu_untrack_nx(vcpu->vm, sp);
		tdp_mmu_unalloc_sp(vcpu, sp);
		return VMMU_RET_RETRY;
	}
	atomic64_inc(vmmu_vm_stat(vcpu->vm, tables));
	return 0;
}

/*
 * Replace the huge leaf at @iter by @sp, filled here with the 512 leaves one
 * level down that map the same memory with the same bits (permissions, A/D,
 * software bits).  One cmpxchg64() swaps it in: a walker sees the huge leaf
 * or the full table, and no translation changes, so no TLB flush is
 * needed.  False if the leaf changed meanwhile (the walker set A or D, a
 * zap, another split): @iter->old_spte holds the new value and @sp is
 * empty again, for the caller to give back.
 */
static bool tdp_mmu_split_leaf(struct vmmu_vm *vm, struct tdp_iter *iter,
			       struct vmmu_mmu_page *sp)
{
	const struct vmmu_spte_format *fmt = &vm->fmt;
	int child = iter->level - 1;
	u64 pages = vmmu_level_pages(child);
	u64 bits = iter->old_spte & ~VMMU_SPTE_PFN_MASK;
	kvm_pfn_t pfn = spte_pfn(iter->old_spte);
	int i;

	if (child == VMMU_PG_LEVEL_4K)
		bits &= ~fmt->large;
	for (i = 0; i < VMMU_PT_ENTRIES; i++)
		sp->spt[i] = bits | ((u64)(pfn + i * pages) << PAGE_SHIFT);
	sp->gfn = iter->gfn;
	sp->level = child;
	/*
	 * The cmpxchg64() orders the stores above before the table becomes
	 * reachable: pairs with READ_ONCE() of the entry in tdp_iter and the
	 * software vCPU's walk (the CPU's walker needs nothing more on x86).
	 */
	if (!tdp_mmu_set_spte_atomic(iter, spte_make_table(fmt, sp->spt))) {
		memset(sp->spt, 0, PAGE_SIZE);
		return false;
	}
	atomic64_inc(vmmu_vm_stat(vm, tables));
	atomic64_inc(vmmu_vm_stat(vm, huge_splits));
	atomic64_dec(&vm->stats.mapped[iter->level - 1]);
	atomic64_add(VMMU_PT_ENTRIES, &vm->stats.mapped[child - 1]);
	return true;
}

/* Install or upgrade the leaf at @iter, of the fault's goal level. */
static int tdp_mmu_map_leaf(struct vmmu_vcpu *vcpu, struct tdp_iter *iter,
			    struct vmmu_fault *fault)
{
	const struct vmmu_spte_format *fmt = iter->fmt;
	u64 pages = vmmu_level_pages(iter->level);
	kvm_pfn_t pfn = fault->pfn & ~(pages - 1);
	bool exec = fault->exec &&
		    !(fault->huge_nx && iter->level > VMMU_PG_LEVEL_4K);
	u64 new_spte = spte_make_leaf(fmt, pfn, iter->level, fault->writable,
				      exec);
	u64 old = iter->old_spte;

#ifdef VMMU_DEBUG
	/* The host's huge page is aligned as the gfn range (congruent slot). */
	WARN_ON_ONCE((fault->pfn ^ fault->gfn) & (pages - 1));
#endif
	if (spte_present(fmt, old)) {
		/*
		 * The notifier removes a mapping before the host changes the
		 * page, so a present leaf maps the same page: keep its A/D
		 * bits.  Anything else is a bug.
		 */
		if (WARN_ON_ONCE(spte_pfn(old) != pfn))
			return -EIO;
		/* Another vCPU was faster, or the leaf allows more already. */
		if ((spte_writable(fmt, old) || !fault->writable) &&
		    (spte_executable(fmt, old) || !exec))
			return VMMU_RET_FIXED;
		/* Add what this fault allows: A, D, W and X are never lost. */
		new_spte = old;
		if (fault->writable)
			new_spte |= fmt->writable | VMMU_SPTE_HOST_WRITABLE |
				    VMMU_SPTE_MMU_WRITABLE;
		if (exec)
			new_spte = (new_spte | fmt->exec) & ~fmt->nx;
	}
	if (!tdp_mmu_set_spte_atomic(iter, new_spte))
		return VMMU_RET_RETRY;
	if (!spte_present(fmt, old)) {
		atomic64_inc(vmmu_vm_stat(vcpu->vm, pages_mapped));
		atomic64_inc(&vcpu->vm->stats.mapped[iter->level - 1]);
	}
	return VMMU_RET_FIXED;
}

/**
 * vmmu_tdp_mmu_map() - map a fault's pfn into the vCPU's root
 * @vcpu: the vCPU; its caches hold a table per level
 * @fault: the fault, with the pfn to map and the largest leaf allowed
 *
 * Maps @fault->gfn with a leaf of @fault->goal_level, or smaller where a
 * table is in place already (pages of the range were mapped one by one:
 * they stay, and this page joins them).  A leaf larger than the goal (the
 * slot logs dirty pages since it was mapped, or an instruction fetch meets
 * a huge leaf the iTLB-multihit workaround made non-executable) is split in
 * place, its other pages keeping their mapping and bits.  The caller's
 * top-up covers the worst case, a table (new or split) per level below the
 * root.  Tables that exist only for the workaround go on vm->nx_tables.
 *
 * Called with mmu_lock held for read, after the caller checked that the pfn
 * is not stale.  Races with other faults and with zaps are resolved by
 * cmpxchg: the loser returns VMMU_RET_RETRY and nothing is left half done.
 *
 * Return: VMMU_RET_FIXED, VMMU_RET_RETRY, or -ENOMEM (caches empty: a bug).
 */
int vmmu_tdp_mmu_map(struct vmmu_vcpu *vcpu, struct vmmu_fault *fault)
{
	struct vmmu_mmu_page *root = vcpu->root;
	struct vmmu_vm *vm = vcpu->vm;
	const struct vmmu_spte_format *fmt = &vm->fmt;
	struct tdp_iter iter;
	int r = VMMU_RET_RETRY;

	lockdep_assert_held_read(&vm->mmu_lock);
	if (READ_ONCE(root->root_invalid))
		return VMMU_RET_RETRY;

	rcu_read_lock();
	for_each_tdp_pte(iter, root, fmt, fault->gfn, fault->gfn + 1) {
		bool present = spte_present(fmt, iter.old_spte);
		bool leaf = present && spte_leaf(fmt, iter.old_spte, iter.level);
		bool nx;

		if (spte_frozen(iter.old_spte))
			break;
		if (iter.level == fault->goal_level) {
			if (!present || leaf) {
				r = tdp_mmu_map_leaf(vcpu, &iter, fault);
				break;
			}
			fault->goal_level--;
			continue;
		}
		/* A table here exists only for the iTLB-multihit workaround. */
		nx = fault->req_level >= iter.level;
		if (leaf) {
			struct vmmu_mmu_page *sp;

			sp = tdp_mmu_alloc_sp(vcpu, iter.gfn, iter.level - 1);
			if (!sp) {
				r = -ENOMEM;
				break;
			}
			if (nx)
				tdp_mmu_track_nx(vm, sp);
			if (tdp_mmu_split_leaf(vm, &iter, sp))
				continue;	/* down into the new table */
			tdp_mmu_untrack_nx(vm, sp);
			tdp_mmu_unalloc_sp(vcpu, sp);
			break;			/* the leaf changed: retry */
		}
		if (present)
			continue;
		r = tdp_mmu_link_table(vcpu, &iter, nx);
		if (r)
			break;
		r = VMMU_RET_RETRY;
	}
	rcu_read_unlock();
	return r;
}

/**
 * vmmu_tdp_mmu_prefetch() - map a fault's host-present neighbours
 * @vcpu: the vCPU, whose fault just mapped a page of the window at 4 KiB
 * @start: first gfn of the window, inside one 4 KiB table
 * @nr: gfns in the window, at most BITS_PER_LONG
 * @pages: the host page of each gfn, NULL for none
 * @writable: bit i set: map page i writable (GUP gave it so)
 *
 * Installs a 4 KiB leaf for each page given where the entry is empty, with
 * the accessed bit clear; an entry a fault or zap changed meanwhile is left
 * alone (cmpxchg64()).  Called with mmu_lock held for read, after the
 * caller checked that no invalidation of the window is in progress or has
 * ended since its pages were looked up.
 *
 * Return: bit i set for each page installed.
 */
unsigned long vmmu_tdp_mmu_prefetch(struct vmmu_vcpu *vcpu, gfn_t start,
				    unsigned int nr, struct page **pages,
				    unsigned long writable)
{
	struct vmmu_vm *vm = vcpu->vm;
	const struct vmmu_spte_format *fmt = &vm->fmt;
	unsigned long installed = 0;
	struct tdp_iter iter;

	lockdep_assert_held_read(&vm->mmu_lock);
	if (READ_ONCE(vcpu->root->root_invalid))
		return 0;
	rcu_read_lock();
	for_each_tdp_pte(iter, vcpu->root, fmt, start, start + nr) {
		unsigned int i = iter.gfn - start;
		u64 leaf;

		if (iter.level != VMMU_PG_LEVEL_4K || iter.old_spte ||
		    !pages[i])
			continue;
		leaf = spte_make_leaf(fmt, page_to_pfn(pages[i]),
				      VMMU_PG_LEVEL_4K, test_bit(i, &writable),
				      true);
		if (!tdp_mmu_set_spte_atomic(&iter, leaf))
			continue;
		__set_bit(i, &installed);
		atomic64_inc(vmmu_vm_stat(vm, pages_mapped));
		atomic64_inc(vmmu_vm_stat(vm, prefetched));
		atomic64_inc(&vm->stats.mapped[0]);
	}
	rcu_read_unlock();
	return installed;
}

/**
 * vmmu_tdp_mmu_mapped_mask() - which gfns of a window the vCPU's root maps
 * @vcpu: the vCPU, whose root is loaded
 * @start: first gfn of the window, inside one 4 KiB table
 * @nr: gfns in the window, at most BITS_PER_LONG
 *
 * Lockless (RCU only) and a hint: fault-around skips looking up the host
 * pages of what is mapped already; vmmu_tdp_mmu_prefetch() decides under
 * mmu_lock.
 *
 * Return: bit i set if a present leaf maps @start + i.
 */
unsigned long vmmu_tdp_mmu_mapped_mask(struct vmmu_vcpu *vcpu, gfn_t start,
				       unsigned int nr)
{
	const struct vmmu_spte_format *fmt = &vcpu->vm->fmt;
	unsigned long mapped = 0;
	struct tdp_iter iter;

	rcu_read_lock();
	for_each_tdp_pte(iter, vcpu->root, fmt, start, start + nr) {
		gfn_t first, last;

		if (!spte_present(fmt, iter.old_spte) ||
		    !spte_leaf(fmt, iter.old_spte, iter.level))
			continue;
		first = max(iter.gfn, start);
		last = min(iter.gfn + vmmu_level_pages(iter.level),
			   start + nr);
		bitmap_set(&mapped, first - start, last - first);
	}
	rcu_read_unlock();
	return mapped;
}

/**
 * vmmu_tdp_mmu_lookup() - the entry that maps @gfn in @root
 * @vm: the VM
 * @root: a root the caller holds a reference on
 * @gfn: the guest frame
 * @spte: out: the entry where the walk stopped (a leaf, or not present)
 *
 * Lockless: runs under RCU only and changes nothing.
 *
 * Return: the level of that entry.
 */
int vmmu_tdp_mmu_lookup(struct vmmu_vm *vm, struct vmmu_mmu_page *root,
			gfn_t gfn, u64 *spte)
{
	struct tdp_iter iter;
	int level = root->level;

	*spte = 0;
	rcu_read_lock();
	for_each_tdp_pte(iter, root, &vm->fmt, gfn, gfn + 1) {
		*spte = iter.old_spte;
		level = iter.level;
		if (!spte_present(&vm->fmt, iter.old_spte) ||
		    spte_leaf(&vm->fmt, iter.old_spte, iter.level))
			break;
	}
	rcu_read_unlock();
	return level;
}

/* Write protection for dirty logging ----------------------------------------- */

/*
 * Clear the writable bit of the leaves of @root mapping [start, end): all of
 * them if @mask is NULL, else those of the gfns start + i for the bits i set
 * in @mask, and every larger leaf in the range (it may start before @start;
 * writes through it must fault too).  VMMU_SPTE_HOST_WRITABLE and
 * VMMU_SPTE_MMU_WRITABLE stay, so the next write to a 4 KiB leaf is fixed by
 * the fast path, which logs it; one to a larger leaf replaces it by 4 KiB
 * ones (vmmu_tdp_mmu_map()).  A and D bits stay.
 */
static void tdp_mmu_wrprot_root(struct tdp_zap *z, struct vmmu_mmu_page *root,
				gfn_t start, gfn_t end, const unsigned long *mask,
				bool can_yield)
{
	const struct vmmu_spte_format *fmt = &z->vm->fmt;
	struct tdp_iter iter;

	tdp_mmu_assert_locked(z);
	rcu_read_lock();
	for_each_tdp_pte(iter, root, fmt, start, end) {
retry:
		if (can_yield && tdp_mmu_iter_cond_resched(z, &iter))
			continue;
		if (!spte_present(fmt, iter.old_spte) ||
		    !spte_leaf(fmt, iter.old_spte, iter.level) ||
		    !spte_writable(fmt, iter.old_spte))
			continue;
		if (mask && iter.level == VMMU_PG_LEVEL_4K &&
		    !test_bit(iter.gfn - start, mask))
			continue;
		/* Lost to a fault, a zap or the walker's A/D update: again. */
		if (!tdp_mmu_set_spte_atomic(&iter,
					     iter.old_spte & ~fmt->writable))
			goto retry;
		z->flush = true;
		atomic64_inc(vmmu_vm_stat(z->vm, leaves_wrprot));
	}
	rcu_read_unlock();
}

/*
 * Write-protect in every root, valid or invalid: a vCPU may still run on an
 * invalid root until its zap is over, and its writes must fault too.
 */
static bool tdp_mmu_wrprot(struct vmmu_vm *vm, gfn_t start, gfn_t end,
			   const unsigned long *mask, bool can_yield)
{
	struct vmmu_mmu_page *root;
	struct tdp_zap z;
	bool invalid;

	tdp_zap_init(&z, vm, true);
	read_lock(&vm->mmu_lock);
	for (invalid = false, root = tdp_mmu_next_root(vm, NULL, &invalid);
	     root; root = tdp_mmu_next_root(vm, root, &invalid))
		tdp_mmu_wrprot_root(&z, root, start, end, mask, can_yield);
	read_unlock(&vm->mmu_lock);
	/* Nothing was removed, so nothing waits for a flush but the caller. */
	WARN_ON_ONCE(!list_empty(&z.free_list));
	return z.flush;
}

/**
 * vmmu_tdp_mmu_wrprot_range() - write-protect every leaf mapping a range
 * @vm: the VM
 * @start: first gfn
 * @end: end gfn (exclusive)
 *
 * For a memslot whose dirty logging was just enabled.  Takes mmu_lock for
 * read and yields on the way (flushing before each yield); on return every
 * vCPU TLB is flushed, so each write from then on faults and is logged.
 * May sleep.
 */
void vmmu_tdp_mmu_wrprot_range(struct vmmu_vm *vm, gfn_t start, gfn_t end)
{
	if (tdp_mmu_wrprot(vm, start, end, NULL, true))
		vmmu_flush_remote_tlbs(vm);
}

/**
 * vmmu_tdp_mmu_wrprot_mask() - write-protect the leaves of up to 64 gfns
 * @vm: the VM
 * @base: the gfn of bit 0 of @mask
 * @mask: bit i set: write-protect gfn @base + i
 *
 * For the pages a dirty-log harvest reports.  Takes mmu_lock for read.  The
 * caller flushes every vCPU's TLB (vmmu_flush_remote_tlbs()) before it
 * reports the pages if this returned true, once for all its calls.
 *
 * Return: true if a leaf was writable: a vCPU may still write through its
 * TLB until the flush.
 */
bool vmmu_tdp_mmu_wrprot_mask(struct vmmu_vm *vm, gfn_t base,
			      unsigned long mask)
{
	unsigned long first;

	if (!mask)
		return false;
	/* Walk only from the first gfn to the last, with bit 0 the first. */
	first = __ffs(mask);
	mask >>= first;
	return tdp_mmu_wrprot(vm, base + first, base + first + __fls(mask) + 1,
			      &mask, false);
}

/**
 * vmmu_tdp_mmu_fast_unprotect() - the lockless write-fault fast path
 * @vcpu: the vCPU, whose mutex is held; its root is loaded
 * @gfn: the gfn of a write fault on a present entry
 *
 * If the vCPU's root maps @gfn with a leaf that dirty logging
 * write-protected over a host-writable page, set its writable bit with one
 * cmpxchg64(), without mmu_lock: RCU keeps the tables alive, and a zap or
 * an A/D update racing with the cmpxchg makes it fail.  A present leaf still
 * maps the page GUP returned with write access: the host write-protects or
 * replaces a page only after an invalidation removed the leaf.  The caller
 * marks the page dirty afterwards (harvests tolerate the order: see
 * locking.rst, "Dirty logging").
 *
 * Return: true if the leaf is writable now (the access can be retried).
 */
bool vmmu_tdp_mmu_fast_unprotect(struct vmmu_vcpu *vcpu, gfn_t gfn)
{
	const struct vmmu_spte_format *fmt = &vcpu->vm->fmt;
	struct tdp_iter iter;
	bool fixed = false;

	rcu_read_lock();
	for_each_tdp_pte(iter, vcpu->root, fmt, gfn, gfn + 1) {
		u64 old = iter.old_spte;

		if (!spte_present(fmt, old) ||
		    !spte_leaf(fmt, old, iter.level))
			continue;
		if (spte_writable(fmt, old))
			fixed = true;	/* another vCPU was faster */
		else if (spte_can_fast_unprotect(fmt, old) &&
			 iter.level == VMMU_PG_LEVEL_4K)
			/* Pairs with the cmpxchg64() of zaps and A/D updates. */
			fixed = cmpxchg64(iter.sptep, old,
					  old | fmt->writable) == old;
		break;
	}
	rcu_read_unlock();
	return fixed;
}

/* Splitting and recovering huge leaves ------------------------------------- */

/* Refill the VM's split caches; without mmu_lock.  0 or -ENOMEM. */
static int tdp_mmu_split_topup(struct vmmu_vm *vm)
{
	lockdep_assert_held(&vm->slots_lock);
	if (vmmu_memcache_topup(&vm->split_pt_cache, 1) ||
	    vmmu_memcache_topup(&vm->split_header_cache, 1))
		return -ENOMEM;
	return 0;
}

/*
 * Split every huge leaf of @root mapping [start, end), down to 4 KiB: the
 * walk goes on into each new table.  Tables come from the VM's split caches;
 * when they are empty, mmu_lock and RCU are dropped to refill them and the
 * walk restarts at the entry it was on.  Return: 0, or -ENOMEM with the
 * leaves not reached yet left huge.
 */
static int tdp_mmu_split_root(struct tdp_zap *z, struct vmmu_mmu_page *root,
			      gfn_t start, gfn_t end)
{
	struct vmmu_vm *vm = z->vm;
	const struct vmmu_spte_format *fmt = &vm->fmt;
	struct vmmu_memcache *hc = &vm->split_header_cache;
	struct vmmu_memcache *pc = &vm->split_pt_cache;
	struct tdp_iter iter;
	int r = 0;

	rcu_read_lock();
	for_each_tdp_pte_min_level(iter, root, fmt, VMMU_PG_LEVEL_2M,
				   start, end) {
		struct vmmu_mmu_page *sp;
retry:
		if (tdp_mmu_iter_cond_resched(z, &iter))
			continue;
		if (!spte_present(fmt, iter.old_spte) ||
		    !spte_leaf(fmt, iter.old_spte, iter.level))
			continue;
		if (!hc->nobjs || !pc->nobjs) {
			rcu_read_unlock();
			read_unlock(&vm->mmu_lock);
			r = tdp_mmu_split_topup(vm);
			read_lock(&vm->mmu_lock);
			rcu_read_lock();
			if (r)
				break;
			iter.yielded = true;
			continue;
		}
		sp = tdp_mmu_alloc_sp_from(hc, pc, iter.gfn, iter.level - 1);
		if (!tdp_mmu_split_leaf(vm, &iter, sp)) {
			tdp_mmu_unalloc_sp_to(hc, pc, sp);
			goto retry;
		}
	}
	rcu_read_unlock();
	return r;
}

/**
 * vmmu_tdp_mmu_split_range() - split the huge leaves mapping a gfn range
 * @vm: the VM; slots_lock is held (the split caches)
 * @start: first gfn
 * @end: end gfn (exclusive)
 *
 * Eager splitting for dirty logging: every huge leaf of the valid roots in
 * the range becomes 4 KiB leaves with the same bits, so that write
 * protection and the lockless fast path then work page by page.  Takes
 * mmu_lock for read, dropping it to allocate.  Invalid roots are left
 * alone: they are being zapped, and write protection covers their huge
 * leaves whole.  Best effort: when memory runs out (the VM's memory cgroup
 * at its limit), the rest stays huge, and the caller's write protection
 * takes care of it; a write there then splits the leaf in its fault.
 * May sleep.
 *
 * Return: 0, or -ENOMEM if some huge leaves were left.
 */
int vmmu_tdp_mmu_split_range(struct vmmu_vm *vm, gfn_t start, gfn_t end)
{
	struct vmmu_mmu_page *root;
	struct tdp_zap z;
	int r = 0;

	lockdep_assert_held(&vm->slots_lock);
	tdp_zap_init(&z, vm, true);
	read_lock(&vm->mmu_lock);
	for (root = tdp_mmu_next_valid_root(vm, NULL); root;
	     root = tdp_mmu_next_valid_root(vm, root)) {
		r = tdp_mmu_split_root(&z, root, start, end);
		if (r) {
			vmmu_tdp_mmu_put_root(vm, root);
			break;
		}
	}
	read_unlock(&vm->mmu_lock);
	/* Nothing was removed. */
	WARN_ON_ONCE(z.flush || !list_empty(&z.free_list));
	return r;
}

/*
 * Could one leaf of @level map the range of the table at @iter?  The slot
 * allows it and the host maps the range with a page that large now.
 */
static bool tdp_mmu_collapsible(struct vmmu_vm *vm,
				const struct vmmu_memslot *slot,
				struct tdp_iter *iter)
{
	unsigned long hva;

	if (iter->gfn < slot->base_gfn ||
	    vmmu_slot_max_level(&vm->fmt, slot, iter->gfn) < iter->level)
		return false;
	hva = slot->userspace_addr + ((iter->gfn - slot->base_gfn) << PAGE_SHIFT);
	return vmmu_host_mapping_level(vm->mm, hva) >= iter->level;
}

/**
 * vmmu_tdp_mmu_recover_huge() - let huge leaves map a slot's memory again
 * @vm: the VM; the caller runs in its mm
 * @slot: a memslot that just stopped logging dirty pages
 *
 * Zaps, in the valid roots, every table of 4 KiB (or 2 MiB) leaves whose
 * range one huge leaf could map now (vmmu_slot_max_level(), and the host
 * maps it huge); the next fault there maps the huge leaf.  Zap and refault
 * rather than building the huge leaf in place: the new leaf then comes from
 * GUP, under the checks every fault makes, never from a guess about pages
 * of the range no fault looked up.  Takes mmu_lock for read and yields.
 * May sleep.
 */
void vmmu_tdp_mmu_recover_huge(struct vmmu_vm *vm,
			       const struct vmmu_memslot *slot)
{
	const struct vmmu_spte_format *fmt = &vm->fmt;
	gfn_t start = slot->base_gfn, end = vmmu_memslot_end(slot);
	struct vmmu_mmu_page *root;
	struct tdp_iter iter;
	struct tdp_zap z;

	tdp_zap_init(&z, vm, true);
	read_lock(&vm->mmu_lock);
	for (root = tdp_mmu_next_valid_root(vm, NULL); root;
	     root = tdp_mmu_next_valid_root(vm, root)) {
		rcu_read_lock();
		for_each_tdp_pte_min_level(iter, root, fmt, VMMU_PG_LEVEL_2M,
					   start, end) {
retry:
			if (tdp_mmu_iter_cond_resched(&z, &iter))
				continue;
			if (iter.level > fmt->max_leaf_level ||
			    !spte_present(fmt, iter.old_spte) ||
			    spte_leaf(fmt, iter.old_spte, iter.level) ||
			    !tdp_mmu_collapsible(vm, slot, &iter))
				continue;
			if (!tdp_mmu_zap_spte(&z, &iter))
				goto retry;
			atomic64_inc(vmmu_vm_stat(vm, huge_recovered));
		}
		rcu_read_unlock();
	}
	read_unlock(&vm->mmu_lock);
	tdp_zap_finish(&z);
}

/**
 * vmmu_tdp_mmu_recover_nx() - zap a share of the workaround's tables
 * @vm: the VM
 * @ratio: zap 1/@ratio of them (rounded up), oldest first
 *
 * Each table the iTLB-multihit workaround made (an instruction fetch split
 * a huge leaf, or mapped 4 KiB where a huge leaf could be) is zapped with
 * everything it maps, so that the next fault there maps a huge leaf again
 * if the guest no longer executes from it.  Takes mmu_lock for write, and
 * yields it between tables and inside large ones.
 */
void vmmu_tdp_mmu_recover_nx(struct vmmu_vm *vm, unsigned int ratio)
{
	unsigned long todo;

	write_lock(&vm->mmu_lock);
	spin_lock(&vm->tdp_mmu_pages_lock);
	todo = DIV_ROUND_UP(vm->nr_nx_tables, ratio);
	spin_unlock(&vm->tdp_mmu_pages_lock);
	while (todo--) {
		struct vmmu_mmu_page *sp;
		gfn_t start = 0, end = 0;

		spin_lock(&vm->tdp_mmu_pages_lock);
		sp = list_first_entry_or_null(&vm->nx_tables,
					      struct vmmu_mmu_page, nx_link);
		if (sp) {
			start = sp->gfn;
			end = start + vmmu_level_pages(sp->level + 1);
			/* Off the list even should the zap not reach it. */
			list_del_init(&sp->nx_link);
			vm->nr_nx_tables--;
		}
		spin_unlock(&vm->tdp_mmu_pages_lock);
		if (!sp)
			break;
		/* Flushed when it returns: the lock may go between tables. */
		vmmu_tdp_mmu_zap_gfn_range(vm, start, end, true);
		cond_resched_rwlock_write(&vm->mmu_lock);
	}
	write_unlock(&vm->mmu_lock);
}

/* Aging -------------------------------------------------------------------- */

/*
 * Test, and with @clear clear, the accessed bits of the leaves mapping
 * [start, end) in @root.  Lockless: RCU keeps the tables alive, and the
 * cmpxchg64() fails harmlessly if a fault or a zap changed the entry
 * meanwhile (a zapped entry is not young anyway).
 */
static bool tdp_mmu_age_root(struct vmmu_vm *vm, struct vmmu_mmu_page *root,
			     gfn_t start, gfn_t end, bool clear)
{
	const struct vmmu_spte_format *fmt = &vm->fmt;
	struct tdp_iter iter;
	bool young = false;

	for_each_tdp_pte(iter, root, fmt, start, end) {
		u64 old = iter.old_spte;

		if (!spte_present(fmt, old) || !spte_leaf(fmt, old, iter.level) ||
		    !spte_accessed(fmt, old))
			continue;
		young = true;
		if (!clear)
			break;
		/* Pairs with the walker's cmpxchg64() that set the bit. */
		if (cmpxchg64(iter.sptep, old, old & ~fmt->accessed) == old)
			atomic64_inc(vmmu_vm_stat(vm, young_cleared));
	}
	return young;
}

/**
 * vmmu_tdp_mmu_age_gfn_range() - age the mappings of [start, end)
 * @vm: the VM
 * @start: first gfn
 * @end: end gfn (exclusive)
 * @clear: clear the accessed bits, else only test them
 *
 * Looks at valid roots only: invalid ones are being zapped.  Needs no lock
 * but RCU, which it takes.
 *
 * Return: true if any leaf in the range was accessed.
 */
bool vmmu_tdp_mmu_age_gfn_range(struct vmmu_vm *vm, gfn_t start, gfn_t end,
				bool clear)
{
	struct vmmu_mmu_page *root;
	bool young = false;

	rcu_read_lock();
	/* Roots are freed after an RCU grace period: reading one is safe. */
	list_for_each_entry_rcu(root, &vm->valid_roots, valid_link) {
		young |= tdp_mmu_age_root(vm, root, start, end, clear);
		if (young && !clear)
			break;
	}
	rcu_read_unlock();
	return young;
}

/* Setup and teardown ------------------------------------------------------- */

/**
 * vmmu_tdp_mmu_init_vm() - initialize a new VM's TDP MMU state
 * @vm: the VM
 */
void vmmu_tdp_mmu_init_vm(struct vmmu_vm *vm)
{
	rwlock_init(&vm->mmu_lock);
	spin_lock_init(&vm->tdp_mmu_pages_lock);
	INIT_LIST_HEAD(&vm->valid_roots);
	INIT_LIST_HEAD(&vm->invalid_roots);
	INIT_LIST_HEAD(&vm->nx_tables);
}

/**
 * vmmu_tdp_mmu_destroy_vm() - free every root of a VM being destroyed
 * @vm: the VM; no vCPU holds a root any more
 */
void vmmu_tdp_mmu_destroy_vm(struct vmmu_vm *vm)
{
	int level;

	vmmu_tdp_mmu_invalidate_all_roots(vm);
	WARN_ON_ONCE(!list_empty(&vm->valid_roots));
	WARN_ON_ONCE(!list_empty(&vm->invalid_roots));
	/* Every table and leaf went with its root. */
	WARN_ON_ONCE(atomic64_read(vmmu_vm_stat(vm, tables)));
	for (level = 1; level <= VMMU_MAX_LEVEL; level++)
		WARN_ON_ONCE(atomic64_read(&vm->stats.mapped[level - 1]));
}

/**
 * vmmu_tdp_mmu_module_init() - create the cache of vmmu_mmu_page structs
 *
 * Return: 0 or -ENOMEM.
 */
int vmmu_tdp_mmu_module_init(void)
{
	vmmu_mmu_page_cache = KMEM_CACHE(vmmu_mmu_page, SLAB_ACCOUNT);
	return vmmu_mmu_page_cache ? 0 : -ENOMEM;
}

/**
 * vmmu_tdp_mmu_module_exit() - destroy the cache; after rcu_barrier()
 */
void vmmu_tdp_mmu_module_exit(void)
{
	kmem_cache_destroy(vmmu_mmu_page_cache);
}

/**
 * vmmu_tdp_mmu_header_cache() - where vCPU memcaches get vmmu_mmu_pages
 *
 * Return: the kmem_cache.
 */
struct kmem_cache *vmmu_tdp_mmu_header_cache(void)
{
	return vmmu_mmu_page_cache;
}
