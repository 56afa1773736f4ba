// SPDX-License-Identifier: GPL-2.0
/*
 * Memslot sets: validation, copy-on-update and publication.
 *
 * An update is split in three steps so that the caller (dev/) can put the
 * MMU's work between them:
 *   prepare - check the request and build the new set (may fail);
 *   commit  - publish the new set and wait for SRCU readers of the old one;
 *   finish  - free the old set and the slot that was removed or replaced.
 * All three run under slots_lock.  Validation follows KVM's
 * __kvm_set_memory_region() step by step, so that userspace sees KVM's errno
 * for every bad request.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <vmmu/memslot.h>
#include <vmmu/stats.h>
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

	for (i = 0; i < set->nr; i++)
		vmmu_memslot_free(set->slots[i]);
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

/**
 * vmmu_memslot_prepare() - check a KVM_SET_USER_MEMORY_REGION request and
 *	build the memslot set it asks for
 * @vm: the VM
 * @mem: the request, already copied from userspace
 * @chg: filled in with the update; chg->kind is VMMU_MR_NONE when the
 *	request changes nothing
 *
 * Nothing is published yet: on error, the VM is unchanged.
 *
 * Return: 0, or KVM's errno for the request (-EINVAL, -EEXIST; -EINVAL
 * also for a created or moved slot that ends beyond the VM's gpa_bits), or
 * -ENOMEM.
 */
int vmmu_memslot_prepare(struct vmmu_vm *vm,
			 const struct kvm_userspace_memory_region *mem,
			 struct vmmu_memslot_change *chg)
{
	struct vmmu_memslot *new = NULL;
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
	}
	chg->new_set = vmmu_memslots_replace(chg->old_set, chg->old, new);
	if (!chg->new_set) {
		if (new)
			vmmu_memslot_free(new);
		return -ENOMEM;
	}
	chg->new = new;
	return 0;
}

/**
 * vmmu_memslot_commit() - publish a prepared memslot set
 * @vm: the VM
 * @chg: a change from vmmu_memslot_prepare() with kind != VMMU_MR_NONE
 *
 * On return no SRCU reader can still be using the old set, so the caller may
 * zap whatever the MMU mapped through a slot that was deleted or moved: no
 * page fault can map it again.
 */
void vmmu_memslot_commit(struct vmmu_vm *vm, struct vmmu_memslot_change *chg)
{
	struct vmmu_memslots *old_set = chg->old_set;

	lockdep_assert_held(&vm->slots_lock);
	chg->new_set->generation =
		(old_set->generation & ~VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS) + 1;
	/* Whoever still reads the old set learns that it is outdated. */
	WRITE_ONCE(old_set->generation,
		   old_set->generation | VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
	/* Pairs with srcu_dereference_check() in vmmu_memslots(). */
	rcu_assign_pointer(vm->memslots, chg->new_set);
	/*
	 * For gfn->pfn cache checks, which cannot take vm->srcu: a cache
	 * resolved in an older set fails its check from here on.
	 */
	WRITE_ONCE(vm->memslots_generation, chg->new_set->generation);
	synchronize_srcu_expedited(&vm->srcu);
}

/**
 * vmmu_memslot_finish() - free what a committed update replaced
 * @vm: the VM
 * @chg: the change passed to vmmu_memslot_commit()
 */
void vmmu_memslot_finish(struct vmmu_vm *vm, struct vmmu_memslot_change *chg)
{
	lockdep_assert_held(&vm->slots_lock);
	if (chg->old)
		vmmu_memslot_free(chg->old);
	vmmu_memslots_free(chg->old_set);
}
