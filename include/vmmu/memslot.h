/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memslots: the map from guest-physical frames to the VMM's virtual memory.
 *
 * A VM's memslots form one immutable set.  An update builds a new set under
 * slots_lock, publishes it with rcu_assign_pointer() and waits for SRCU
 * readers of the old set before freeing it, so a reader holding vm->srcu may
 * use a set and every slot in it without further locking.  Slots are never
 * changed in place: a move or a flags change replaces the slot object.
 *
 * A delete or a move publishes twice: first a set in which the slot is
 * replaced by an invalid copy (faults on it retry, the notifier still zaps
 * through it), then, once everything mapped through it is zapped and
 * flushed, the final set.  See Documentation/locking.rst, "Memslot updates".
 */
#ifndef _VMMU_MEMSLOT_H
#define _VMMU_MEMSLOT_H

#include <linux/kvm.h>
#include <linux/kvm_types.h>
#include <linux/types.h>
#include <linux/srcu.h>
#include <linux/bits.h>

struct vmmu_vm;

/* Number of user memslots, reported as KVM_CAP_NR_MEMSLOTS. */
#define VMMU_NR_MEMSLOTS	512
/* Largest slot, in pages, as in KVM. */
#define VMMU_MEM_MAX_NR_PAGES	((1UL << 31) - 1)
/* Flags KVM_SET_USER_MEMORY_REGION accepts. */
#define VMMU_MEM_FLAGS_VALID	(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)

/*
 * Set in a memslot set's generation once a newer set has been published:
 * whoever cached something against that generation must look again.
 */
#define VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS	BIT_ULL(63)

/**
 * struct vmmu_memslot - one memslot; immutable once published
 * @base_gfn: first guest frame number
 * @npages: number of pages
 * @userspace_addr: host virtual address of the first page
 * @flags: KVM_MEM_* flags
 * @dirty_bitmap: with KVM_MEM_LOG_DIRTY_PAGES, one bit per page (set:
 *	written since the last harvest), then as many bits of scratch space
 *	for KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG (under slots_lock);
 *	else NULL.  The only part of a slot that changes after publication:
 *	bits are set and cleared atomically.  A move or a flags change that
 *	keeps logging hands it to the new slot.
 * @id: slot id (the low 16 bits of kvm_userspace_memory_region.slot)
 * @invalid: the slot is being deleted or moved: page faults on it retry,
 *	other users treat it as absent, and mmu_notifier invalidations of its
 *	host range still zap what it mapped
 */
struct vmmu_memslot {
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	u32 flags;
	unsigned long *dirty_bitmap;
	u16 id;
	bool invalid;
};

/**
 * struct vmmu_memslots - the set of a VM's memslots; immutable once published
 * @generation: bumped by every update; VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS is
 *	set once this set has been replaced
 * @nr: number of slots in @slots
 * @id_to_index: index in @slots of each slot id, or -1
 * @slots: the slots, sorted by base_gfn; they never overlap
 */
struct vmmu_memslots {
	u64 generation;
	int nr;
	s16 id_to_index[VMMU_NR_MEMSLOTS];
	struct vmmu_memslot *slots[];
};

enum vmmu_mr_change {
	VMMU_MR_NONE,
	VMMU_MR_CREATE,
	VMMU_MR_DELETE,
	VMMU_MR_MOVE,
	VMMU_MR_FLAGS_ONLY,
};

/**
 * struct vmmu_memslot_change - an update between prepare and finish
 * @kind: what the update does; VMMU_MR_NONE when there is nothing to do
 * @old: the slot deleted or replaced, or NULL for a create
 * @new: the slot created or the replacement, or NULL for a delete
 * @invalid: delete and move: the invalid copy of @old, else NULL
 * @old_set: the set being replaced
 * @invalid_set: delete and move: @old_set with @old replaced by @invalid,
 *	published while the MMU zaps what @old mapped; else NULL
 * @new_set: the set being published
 */
struct vmmu_memslot_change {
	enum vmmu_mr_change kind;
	struct vmmu_memslot *old;
	struct vmmu_memslot *new;
	struct vmmu_memslot *invalid;
	struct vmmu_memslots *old_set;
	struct vmmu_memslots *invalid_set;
	struct vmmu_memslots *new_set;
};

static inline gfn_t vmmu_memslot_end(const struct vmmu_memslot *slot)
{
	return slot->base_gfn + slot->npages;
}

/* Bytes of one half of @slot's dirty bitmap: whole longs, as in KVM. */
static inline unsigned long vmmu_dirty_bitmap_bytes(const struct vmmu_memslot *slot)
{
	return ALIGN(slot->npages, BITS_PER_LONG) / 8;
}

struct vmmu_memslots *vmmu_memslots_alloc_empty(void);
void vmmu_memslots_destroy(struct vmmu_memslots *set);

struct vmmu_memslots *vmmu_memslots(struct vmmu_vm *vm);
struct vmmu_memslot *vmmu_memslots_find(struct vmmu_memslots *set, gfn_t gfn);

/**
 * vmmu_memslots_find_valid() - the slot that maps @gfn, for users other
 *	than page faults
 * @set: a memslot set the caller keeps alive
 * @gfn: the guest frame number
 *
 * A slot being deleted or moved is treated as absent, so nothing new is
 * read or cached through it.
 *
 * Return: the slot, or NULL.
 */
static inline struct vmmu_memslot *
vmmu_memslots_find_valid(struct vmmu_memslots *set, gfn_t gfn)
{
	struct vmmu_memslot *slot = vmmu_memslots_find(set, gfn);

	return slot && !slot->invalid ? slot : NULL;
}

struct vmmu_memslot *vmmu_memslots_id(struct vmmu_memslots *set, u16 id);

struct vmmu_vcpu;

void vmmu_mark_page_dirty_in_slot(struct vmmu_vcpu *vcpu,
				  const struct vmmu_memslot *slot, gfn_t gfn);
void vmmu_mark_page_dirty(struct vmmu_vm *vm, struct vmmu_vcpu *vcpu,
			  gfn_t gfn);

int vmmu_memslot_prepare(struct vmmu_vm *vm,
			 const struct kvm_userspace_memory_region *mem,
			 struct vmmu_memslot_change *chg);
void vmmu_memslot_commit_invalid(struct vmmu_vm *vm,
				 struct vmmu_memslot_change *chg);
void vmmu_memslot_commit(struct vmmu_vm *vm, struct vmmu_memslot_change *chg);
void vmmu_memslot_finish(struct vmmu_vm *vm, struct vmmu_memslot_change *chg);

#endif /* _VMMU_MEMSLOT_H */
