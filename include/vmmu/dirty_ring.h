/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dirty ring: a per-vCPU log of the pages the vCPU wrote, in the order
 * it wrote them, shared with the VMM (KVM_CAP_DIRTY_LOG_RING).
 *
 * The ring is an array of struct kvm_dirty_gfn that the VMM maps from the
 * vCPU fd at page KVM_DIRTY_LOG_PAGE_OFFSET.  Its owner vCPU fills entries
 * (flags DIRTY, published with a release store) at @dirty_index; the VMM
 * harvests them in order and marks each RESET; KVM_RESET_DIRTY_RINGS then
 * write-protects the pages of the RESET entries, clears their flags and
 * advances @reset_index.  The VMM's half of the protocol is not trusted:
 * a reset never goes past @dirty_index and checks every slot and offset it
 * reads.  Once @soft_limit entries are in use the vCPU stops before its
 * next guest entry (KVM_EXIT_DIRTY_RING_FULL); the reserve above the soft
 * limit covers what a vCPU can still write on its way out, so the ring
 * never overflows.
 */
#ifndef _VMMU_DIRTY_RING_H
#define _VMMU_DIRTY_RING_H

#include <linux/kvm.h>
#include <linux/types.h>

struct page;

/* Entries above the soft limit, as in KVM (KVM_DIRTY_RING_RSVD_ENTRIES). */
#define VMMU_DIRTY_RING_RSVD_ENTRIES	64
/* The largest ring, as in KVM (KVM_DIRTY_RING_MAX_ENTRIES). */
#define VMMU_DIRTY_RING_MAX_ENTRIES	65536
#define VMMU_DIRTY_RING_MAX_BYTES	(VMMU_DIRTY_RING_MAX_ENTRIES * \
					 sizeof(struct kvm_dirty_gfn))

/**
 * struct vmmu_dirty_ring - one vCPU's dirty ring
 * @gfns: the entries, zeroed vmalloc memory the VMM maps
 * @size: number of entries, a power of two; 0 without a ring
 * @soft_limit: entries in use at which the vCPU must stop
 * @dirty_index: the next entry the vCPU fills (free-running); written only
 *	by the vCPU, under its mutex
 * @reset_index: the next entry a reset looks at (free-running); written only
 *	under the VM's slots_lock
 */
struct vmmu_dirty_ring {
	struct kvm_dirty_gfn *gfns;
	u32 size;
	u32 soft_limit;
	u32 dirty_index;
	u32 reset_index;
};

int vmmu_dirty_ring_check_size(u32 bytes);
int vmmu_dirty_ring_alloc(struct vmmu_dirty_ring *ring, u32 bytes);
void vmmu_dirty_ring_free(struct vmmu_dirty_ring *ring);
bool vmmu_dirty_ring_soft_full(const struct vmmu_dirty_ring *ring);
void vmmu_dirty_ring_push(struct vmmu_dirty_ring *ring, u32 slot, u64 offset);
struct page *vmmu_dirty_ring_page(struct vmmu_dirty_ring *ring,
				  unsigned long index);

#endif /* _VMMU_DIRTY_RING_H */
