// SPDX-License-Identifier: GPL-2.0
/*
 * Memslot sets: validation, copy-on-update and publication.
 *
 * An update is split in steps so that the caller (dev/) can put the MMU's
 * work between them:
 *   prepare        - check the request and build the new sets (may fail);
 *   commit_invalid - delete and move only: publish the set in which the
 *                    slot is invalid and wait for SRCU readers of the old
 *                    one; the caller then zaps what the slot mapped;
 *   commit         - publish the final set and wait for SRCU readers;
 *   finish         - free the replaced sets and slots.
 * All of them run under slots_lock.  Validation follows KVM's
 * __kvm_set_memory_region() step by step, so that userspace sees KVM's errno
 * for every bad request.
 */
#include <linux/mm.h>
#include <linux/rcuwait.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <vmmu/memslot.h>
#include <vmmu/stats.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

static struct vmmu_memslots *vmmu_memslots_alloc(int nr)
{
	struct vmmu_memslots *set;

	set = kvzalloc(struct_size(set, slots, nr), GFP_KERNEL_ACCOUNT);
	if (!set)
		return NULL;
	set->nr = nr;
	vmmu_object_inc(VMMU_OBJ_MEMSLOT_SET);
	return set;
}

static void vmmu_memslots_free(struct vmmu_memslots *set)
{
	kvfree(set);
	vmmu_object_dec(VMMU_OBJ_MEMSLOT_SET);
}

static void vmmu_memslot_free(struct vmmu_memslot *slot)
{
	kfree(slot);
	vmmu_object_dec(VMMU_OBJ_MEMSLOT);
}

static void vmmu_dirty_bitmap_free(unsigned long *bitmap)
{
	if (!bitmap)
		return;
	kvfree(bitmap);
	vmmu_object_dec(VMMU_OBJ_DIRTY_BITMAP);
}

/*
 * The dirty bitmap of @new, which logs dirty pages: @old's if it logged
 * too (a move or a flags change keeps what was logged and not harvested),
 * else a new one, all set with KVM_DIRTY_LOG_INITIALLY_SET (every page
 * counts as dirty until KVM_CLEAR_DIRTY_LOG says otherwise).
 */
static int vmmu_memslot_dirty_bitmap(struct vmmu_vm *vm,
				     struct vmmu_memslot *new,
				     const struct vmmu_memslot *old)
{
	unsigned long bytes = vmmu_dirty_bitmap_bytes(new);

	if (old && old->dirty_bitmap) {
		new->dirty_bitmap = old->dirty_bitmap;
		return 0;
	}
	/* The log, and the scratch half for GET and CLEAR. */
	new->dirty_bitmap = kvzalloc(2 * bytes, GFP_KERNEL_ACCOUNT);
	if (!new->dirty_bitmap)
		return -ENOMEM;
	vmmu_object_inc(VMMU_OBJ_DIRTY_BITMAP);
	if (READ_ONCE(vm->manual_dirty_log_protect) & KVM_DIRTY_LOG_INITIALLY_SET)
		bitmap_set(new->dirty_bitmap, 0, new->npages);
	return 0;
}

/* Did @chg's new slot bring a bitmap of its own (not @old's)? */
static bool vmmu_memslot_new_bitmap(const struct vmmu_memslot_change *chg)
{
	return chg->new && chg->new->dirty_bitmap &&
	       (!chg->old || chg->new->dirty_bitmap != chg->old->dirty_bitmap);
}

/* Rebuild the id -> index map after @set->slots was filled in. */
static void vmmu_memslots_index(struct vmmu_memslots *set)
{
	int i;

	for (i = 0; i < VMMU_NR_MEMSLOTS; i++)
		set->id_to_index[i] = -1;
	for (i = 0; i < set->nr; i++)
		set->id_to_index[set->slots[i]->id] = i;
}

/**
 * vmmu_memslots_alloc_empty() - the memslot set of a new VM
 *
 * Return: an empty set with generation 0, or NULL.
 */
struct vmmu_memslots *vmmu_memslots_alloc_empty(void)
{
	struct vmmu_memslots *set = vmmu_memslots_alloc(0);

	if (set)
		vmmu_memslots_index(set);
	return set;
}

/**
 * vmmu_memslots_destroy() - free a set and every slot in it
 * @set: a set that no reader can reach any more
 */
void vmmu_memslots_destroy(struct vmmu_memslots *set)
{
	int i;

	for (i = 0; i < set->nr; i++) {
		vmmu_dirty_bitmap_free(set->slots[i]->dirty_bitmap);
		vmmu_memslot_free(set->slots[i]);
	}
	vmmu_memslots_free(set);
}

/**
 * vmmu_memslots() - the VM's current memslot set
 * @vm: the VM
 *
 * The caller holds vm->srcu (the set stays valid until srcu_read_unlock()) or
 * slots_lock (the set stays current until the lock is dropped).
 */
struct vmmu_memslots *vmmu_memslots(struct vmmu_vm *vm)
{
	/* Pairs with rcu_assign_pointer() in vmmu_memslot_commit(). */
	return srcu_dereference_check(vm->memslots, &vm->srcu,
				      lockdep_is_held(&vm->slots_lock));
}

/* Index of the first slot that ends after @gfn, or set->nr. */
static int vmmu_memslots_upper(struct vmmu_memslots *set, gfn_t gfn)
{
	int lo = 0, hi = set->nr;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (vmmu_memslot_end(set->slots[mid]) <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/**
 * vmmu_memslots_find() - the slot that contains a guest frame
 * @set: a memslot set the caller keeps alive
 * @gfn: the guest frame number
 *
 * Return: the slot, or NULL if no slot maps @gfn.
 */
struct vmmu_memslot *vmmu_memslots_find(struct vmmu_memslots *set, gfn_t gfn)
{
	int i = vmmu_memslots_upper(set, gfn);

	if (i < set->nr && set->slots[i]->base_gfn <= gfn)
		return set->slots[i];
	return NULL;
}

/**
 * vmmu_memslots_id() - the slot with a given id
 * @set: a memslot set the caller keeps alive
 * @id: a slot id below VMMU_NR_MEMSLOTS
 *
 * Return: the slot, or NULL if the id is unused.
 */
struct vmmu_memslot *vmmu_memslots_id(struct vmmu_memslots *set, u16 id)
{
	int i = set->id_to_index[id];

	return i < 0 ? NULL : set->slots[i];
}

/**
 * vmmu_mark_page_dirty_in_slot() - log a write to a page
 * @vcpu: the vCPU that wrote it (its mutex is held), or NULL for a write
 *	no vCPU made
 * @slot: the slot that maps @gfn, from a set the caller keeps alive
 * @gfn: the page written
 *
 * Nothing if the slot does not log dirty pages.  A vCPU's write goes to
 * its dirty ring if the VM uses rings, every other write to the slot's
 * bitmap, if it has one: a VM with rings but without
 * KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP has no place for a write no vCPU
 * made (only the test caches make such writes; Documentation/uapi.rst).
 * Called after the write, or after the leaf that lets a vCPU write was
 * installed: a harvest that runs in between finds the page only at its
 * next round, and the page is copied by the harvest that reports it
 * (locking.rst, "Dirty logging").  Never sleeps.
 */
void vmmu_mark_page_dirty_in_slot(struct vmmu_vcpu *vcpu,
				  const struct vmmu_memslot *slot, gfn_t gfn)
{
	if (!slot || !(slot->flags & KVM_MEM_LOG_DIRTY_PAGES))
		return;
	if (vcpu && vcpu->dirty_ring.size)
		vmmu_dirty_ring_push(&vcpu->dirty_ring, slot->id,
				     gfn - slot->base_gfn);
	else if (slot->dirty_bitmap)
		set_bit_le(gfn - slot->base_gfn, slot->dirty_bitmap);
}

/**
 * vmmu_mark_page_dirty() - log a write the kernel made to guest memory
 * @vm: the VM
 * @vcpu: the vCPU on whose behalf (and on whose thread) it was made, or
 *	NULL
 * @gfn: the page written
 *
 * For writers that hold no memslot (gfn->pfn caches).  Takes vm->srcu;
 * never sleeps, callable in atomic context.
 */
void vmmu_mark_page_dirty(struct vmmu_vm *vm, struct vmmu_vcpu *vcpu,
			  gfn_t gfn)
{
	int idx = srcu_read_lock(&vm->srcu);

	vmmu_mark_page_dirty_in_slot(vcpu,
				     vmmu_memslots_find_valid(vmmu_memslots(vm),
							      gfn), gfn);
	srcu_read_unlock(&vm->srcu, idx);
}

/* Does [start, end) overlap a slot other than @id? */
static bool vmmu_memslots_overlap(struct vmmu_memslots *set, u16 id,
				  gfn_t start, gfn_t end)
{
	int i = vmmu_memslots_upper(set, start);

	/* Slots do not overlap, so at most the next two are candidates. */
	if (i < set->nr && set->slots[i]->id == id)
		i++;
	return i < set->nr && set->slots[i]->base_gfn < end;
}

/*
 * The checks KVM makes before it looks at the existing slots, in its order
 * (kvm_vm_ioctl_set_memory_region() and __kvm_set_memory_region()).
 */
static int vmmu_memslot_check_args(const struct kvm_userspace_memory_region *mem)
{
	u16 as_id = mem->slot >> 16;
	u16 id = (u16)mem->slot;

	if (id >= VMMU_NR_MEMSLOTS)
		return -EINVAL;
	if (mem->flags & ~VMMU_MEM_FLAGS_VALID)
		return -EINVAL;
	if (!PAGE_ALIGNED(mem->memory_size))
		return -EINVAL;
	if (!PAGE_ALIGNED(mem->guest_phys_addr))
		return -EINVAL;
	/* Guest memory is later read through the hva with user accessors. */
	if (!PAGE_ALIGNED(mem->userspace_addr) ||
	    mem->userspace_addr != untagged_addr(mem->userspace_addr) ||
	    !access_ok(u64_to_user_ptr(mem->userspace_addr), mem->memory_size))
		return -EINVAL;
	/* vmmu has a single address space: no SMM. */
	if (as_id != 0)
		return -EINVAL;
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	if ((mem->memory_size >> PAGE_SHIFT) > VMMU_MEM_MAX_NR_PAGES)
		return -EINVAL;
	return 0;
}

/* Decide what @mem does to the existing slot @old; KVM's errnos. */
static int vmmu_memslot_classify(struct vmmu_memslots *set,
				 const struct kvm_userspace_memory_region *mem,
				 struct vmmu_memslot *old,
				 enum vmmu_mr_change *kind)
{
	u16 id = (u16)mem->slot;
	gfn_t base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
	unsigned long npages = mem->memory_size >> PAGE_SHIFT;

	if (!npages) {
		if (!old)
			return -EINVAL;
		*kind = VMMU_MR_DELETE;
		return 0;
	}
	if (!old) {
		*kind = VMMU_MR_CREATE;
	} else {
		if (mem->userspace_addr != old->userspace_addr ||
		    npages != old->npages ||
		    ((mem->flags ^ old->flags) & KVM_MEM_READONLY))
			return -EINVAL;
		if (base_gfn != old->base_gfn)
			*kind = VMMU_MR_MOVE;
		else if (mem->flags != old->flags)
			*kind = VMMU_MR_FLAGS_ONLY;
		else
			*kind = VMMU_MR_NONE;
	}
	if ((*kind == VMMU_MR_CREATE || *kind == VMMU_MR_MOVE) &&
	    vmmu_memslots_overlap(set, id, base_gfn, base_gfn + npages))
		return -EEXIST;
	return 0;
}

/*
 * KVM's architecture check (kvm_arch_prepare_memory_region()), made after
 * every generic one: a created or moved slot must end within what the VM's
 * tables can map (gpa_bits), or its gfns would alias low ones in the
 * tables.  A flags change or a delete keeps a range that passed.
 */
static int vmmu_memslot_check_reach(struct vmmu_vm *vm,
				    const struct kvm_userspace_memory_region *mem,
				    enum vmmu_mr_change kind)
{
	if (kind != VMMU_MR_CREATE && kind != VMMU_MR_MOVE)
		return 0;
	if (!vmmu_gpa_range_in_reach(&vm->fmt, mem->guest_phys_addr,
				     mem->memory_size))
		return -EINVAL;
	return 0;
}

/* Copy @old_set without @old and with @new, keeping the gfn order. */
static struct vmmu_memslots *vmmu_memslots_replace(struct vmmu_memslots *old_set,
						   struct vmmu_memslot *old,
						   struct vmmu_memslot *new)
{
	int nr = old_set->nr - !!old + !!new;
	struct vmmu_memslots *set;
	int i, j = 0;

	set = vmmu_memslots_alloc(nr);
	if (!set)
		return NULL;
	for (i = 0; i < old_set->nr; i++)
		if (old_set->slots[i] != old)
			set->slots[j++] = old_set->slots[i];
	if (new) {
		/* Shift larger slots up; @new overlaps none of them. */
		for (i = j; i > 0 && set->slots[i - 1]->base_gfn > new->base_gfn; i--)
			set->slots[i] = set->slots[i - 1];
		set->slots[i] = new;
	}
	vmmu_memslots_index(set);
	return set;
}

/* A copy of @slot that faults retry on while it is being deleted or moved. */
static struct vmmu_memslot *vmmu_memslot_dup_invalid(const struct vmmu_memslot *slot)
{
	struct vmmu_memslot *inv = kmemdup(slot, sizeof(*slot), GFP_KERNEL_ACCOUNT);

	if (!inv)
		return NULL;
	vmmu_object_inc(VMMU_OBJ_MEMSLOT);
	inv->invalid = true;
	return inv;
}

/* Free what vmmu_memslot_prepare() allocated for a change never published. */
static void vmmu_memslot_unprepare(struct vmmu_memslot_change *chg)
{
	if (chg->invalid_set)
		vmmu_memslots_free(chg->invalid_set);
	if (chg->invalid)
		vmmu_memslot_free(chg->invalid);
	if (chg->new_set)
		vmmu_memslots_free(chg->new_set);
	if (vmmu_memslot_new_bitmap(chg))
		vmmu_dirty_bitmap_free(chg->new->dirty_bitmap);
	if (chg->new)
		vmmu_memslot_free(chg->new);
}

/* Build the slot and sets a validated change publishes. */
static int vmmu_memslot_build(struct vmmu_vm *vm,
			      struct vmmu_memslot_change *chg,
			      const struct kvm_userspace_memory_region *mem)
{
	struct vmmu_memslot *new;
	int r;

	if (chg->kind == VMMU_MR_DELETE || chg->kind == VMMU_MR_MOVE) {
		chg->invalid = vmmu_memslot_dup_invalid(chg->old);
		if (!chg->invalid)
			return -ENOMEM;
		chg->invalid_set = vmmu_memslots_replace(chg->old_set, chg->old,
							 chg->invalid);
		if (!chg->invalid_set)
			return -ENOMEM;
	}
	if (chg->kind != VMMU_MR_DELETE) {
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new)
			return -ENOMEM;
		vmmu_object_inc(VMMU_OBJ_MEMSLOT);
		new->id = (u16)mem->slot;
		new->base_gfn = mem->guest_phys_addr >> PAGE_SHIFT;
		new->npages = mem->memory_size >> PAGE_SHIFT;
		new->userspace_addr = mem->userspace_addr;
		new->flags = mem->flags;
		chg->new = new;
		if ((new->flags & KVM_MEM_LOG_DIRTY_PAGES) &&
		    vmmu_vm_uses_dirty_bitmap(vm)) {
			r = vmmu_memslot_dirty_bitmap(vm, new, chg->old);
			if (r)
				return r;
		}
	}
	chg->new_set = vmmu_memslots_replace(chg->old_set, chg->old, chg->new);
	return chg->new_set ? 0 : -ENOMEM;
}

/**
 * vmmu_memslot_prepare() - check a KVM_SET_USER_MEMORY_REGION request and
 *	build the memslot sets it asks for
 * @vm: the VM
 * @mem: the request, already copied from userspace
 * @chg: filled in with the update; chg->kind is VMMU_MR_NONE when the
 *	request changes nothing
 *
 * Nothing is published yet: on error, the VM is unchanged.  Everything the
 * update publishes is allocated here, so that once it starts it cannot fail.
 *
 * Return: 0, or KVM's errno for the request (-EINVAL, -EEXIST; -EINVAL
 * also for a created or moved slot that ends beyond the VM's gpa_bits), or
 * -ENOMEM.
 */
int vmmu_memslot_prepare(struct vmmu_vm *vm,
			 const struct kvm_userspace_memory_region *mem,
			 struct vmmu_memslot_change *chg)
{
	int r;

	lockdep_assert_held(&vm->slots_lock);
	memset(chg, 0, sizeof(*chg));
	r = vmmu_memslot_check_args(mem);
	if (r)
		return r;

	chg->old_set = vmmu_memslots(vm);
	chg->old = vmmu_memslots_id(chg->old_set, (u16)mem->slot);
	r = vmmu_memslot_classify(chg->old_set, mem, chg->old, &chg->kind);
	if (r || chg->kind == VMMU_MR_NONE)
		return r;
	r = vmmu_memslot_check_reach(vm, mem, chg->kind);
	if (r)
		return r;

	r = vmmu_memslot_build(vm, chg, mem);
	if (r)
		vmmu_memslot_unprepare(chg);
	return r;
}

/*
 * Wait until no mmu_notifier invalidation is between its start and its end,
 * then publish @new_set with vm->mn_invalidate_lock held, so that no
 * invalidation can start meanwhile.  Start and end of one invalidation thus
 * always see the same set, which lets the notifier skip ranges that no
 * memslot maps (notifier/notifier.c).  An update may wait for a while under
 * a stream of invalidations; they never wait for it.
 */
static void vmmu_memslots_swap(struct vmmu_vm *vm, struct vmmu_memslots *new_set)
{
	spin_lock(&vm->mn_invalidate_lock);
	prepare_to_rcuwait(&vm->mn_memslots_update_rcuwait);
	while (vm->mn_active_invalidate_count) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		spin_unlock(&vm->mn_invalidate_lock);
		schedule();
		spin_lock(&vm->mn_invalidate_lock);
	}
	finish_rcuwait(&vm->mn_memslots_update_rcuwait);
	/* Pairs with srcu_dereference_check() in vmmu_memslots(). */
	rcu_assign_pointer(vm->memslots, new_set);
	spin_unlock(&vm->mn_invalidate_lock);
}

/*
 * Replace @old_set by @new_set: a new generation, publication, and a wait
 * until no SRCU reader can still use @old_set.
 */
static void vmmu_memslots_publish(struct vmmu_vm *vm,
				  struct vmmu_memslots *old_set,
				  struct vmmu_memslots *new_set)
{
	lockdep_assert_held(&vm->slots_lock);
	new_set->generation =
		(old_set->generation & ~VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS) + 1;
	/* Whoever still reads the old set learns that it is outdated. */
	WRITE_ONCE(old_set->generation,
		   old_set->generation | VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	vmmu_memslots_swap(vm, new_set);
	/*
	 * For the checks that cannot take vm->srcu (gfn->pfn caches) and for
	 * page faults, which compare it under mmu_lock with the generation of
	 * the set they looked their slot up in: a fault or a cache resolved in
	 * an older set fails its check from here on.  Pairs with READ_ONCE()
	 * in vmmu_pfncache_check() and vmmu_fault_map().
	 */
	WRITE_ONCE(vm->memslots_generation, new_set->generation);
	synchronize_srcu_expedited(&vm->srcu);
}

/**
 * vmmu_memslot_commit_invalid() - publish the set in which the slot being
 *	deleted or moved is invalid
 * @vm: the VM
 * @chg: a delete or a move from vmmu_memslot_prepare()
 *
 * On return no SRCU reader can still find the slot valid: page faults on its
 * gfns retry, while mmu_notifier invalidations of its host range still find
 * it and zap what it mapped.  The caller zaps and flushes everything mapped
 * through the slot, then calls vmmu_memslot_commit().
 */
void vmmu_memslot_commit_invalid(struct vmmu_vm *vm,
				 struct vmmu_memslot_change *chg)
{
	vmmu_memslots_publish(vm, chg->old_set, chg->invalid_set);
}

/**
 * vmmu_memslot_commit() - publish the final memslot set
 * @vm: the VM
 * @chg: a change from vmmu_memslot_prepare() with kind != VMMU_MR_NONE; a
 *	delete or a move went through vmmu_memslot_commit_invalid() and the
 *	MMU's zap first
 *
 * On return no SRCU reader can still be using a replaced set.
 */
void vmmu_memslot_commit(struct vmmu_vm *vm, struct vmmu_memslot_change *chg)
{
	vmmu_memslots_publish(vm, chg->invalid_set ?: chg->old_set,
			      chg->new_set);
}

/**
 * vmmu_memslot_finish() - free what a committed update replaced
 * @vm: the VM
 * @chg: the change passed to vmmu_memslot_commit()
 */
void vmmu_memslot_finish(struct vmmu_vm *vm, struct vmmu_memslot_change *chg)
{
	lockdep_assert_held(&vm->slots_lock);
	/* Unless the new slot took it over, the log goes with @old. */
	if (chg->old && (!chg->new ||
			 chg->new->dirty_bitmap != chg->old->dirty_bitmap))
		vmmu_dirty_bitmap_free(chg->old->dirty_bitmap);
	if (chg->old)
		vmmu_memslot_free(chg->old);
	if (chg->invalid)
		vmmu_memslot_free(chg->invalid);
	if (chg->invalid_set)
		vmmu_memslots_free(chg->invalid_set);
	vmmu_memslots_free(chg->old_set);
}
