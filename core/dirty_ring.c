// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty ring of a vCPU: allocation, the vCPU's push, and the pages the
 * VMM maps.  Resets, which write-protect pages, are the MMU's
 * (mmu/dirty_log.c).  See include/vmmu/dirty_ring.h.
 */
#include <linux/kvm.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include <vmmu/dirty_ring.h>

/**
 * vmmu_dirty_ring_check_size() - is @bytes a ring size KVM would take?
 * @bytes: the size KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING) asks for
 *
 * Return: 0; -EINVAL (not a power of two, or smaller than a page or than
 * the reserved entries); -E2BIG (above the largest ring).
 */
int vmmu_dirty_ring_check_size(u32 bytes)
{
	if (!is_power_of_2(bytes))
		return -EINVAL;
	if (bytes < VMMU_DIRTY_RING_RSVD_ENTRIES * sizeof(struct kvm_dirty_gfn) ||
	    bytes < PAGE_SIZE)
		return -EINVAL;
	if (bytes > VMMU_DIRTY_RING_MAX_BYTES)
		return -E2BIG;
	return 0;
}

/**
 * vmmu_dirty_ring_alloc() - give a new vCPU its ring
 * @ring: the vCPU's ring, zeroed
 * @bytes: the VM's ring size, checked by vmmu_dirty_ring_check_size()
 *
 * Return: 0 or -ENOMEM.
 */
int vmmu_dirty_ring_alloc(struct vmmu_dirty_ring *ring, u32 bytes)
{
	/*
	 * Whole pages, zeroed (they are mapped into the VMM as they are),
	 * charged to the VMM's memory cgroup like the VM's other memory.
	 */
	ring->gfns = __vmalloc(bytes, GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!ring->gfns)
		return -ENOMEM;
	ring->size = bytes / sizeof(struct kvm_dirty_gfn);
	ring->soft_limit = ring->size - VMMU_DIRTY_RING_RSVD_ENTRIES;
	return 0;
}

/**
 * vmmu_dirty_ring_free() - free a vCPU's ring
 * @ring: the ring; no mapping of it is left (the mappings hold the vCPU
 *	fd, so the vCPU, freed with its VM, outlives them)
 */
void vmmu_dirty_ring_free(struct vmmu_dirty_ring *ring)
{
	vfree(ring->gfns);
	ring->gfns = NULL;
}

static u32 vmmu_dirty_ring_used(const struct vmmu_dirty_ring *ring)
{
	/* Pairs with the WRITE_ONCE()s of the indices. */
	return READ_ONCE(ring->dirty_index) - READ_ONCE(ring->reset_index);
}

/**
 * vmmu_dirty_ring_soft_full() - must the vCPU stop before its next entry?
 * @ring: a vCPU's ring (size 0: never)
 *
 * Return: true once @ring->soft_limit entries wait for a reset.
 */
bool vmmu_dirty_ring_soft_full(const struct vmmu_dirty_ring *ring)
{
	return ring->size && vmmu_dirty_ring_used(ring) >= ring->soft_limit;
}

/**
 * vmmu_dirty_ring_push() - log a page the vCPU wrote
 * @ring: the vCPU's ring; the caller is the vCPU (its mutex is held)
 * @slot: the slot id (address space 0)
 * @offset: the page's index in the slot
 *
 * Never sleeps.  The ring never overflows: every caller stops at the soft
 * limit, and the entries above it cover what a vCPU writes on its way out.
 */
void vmmu_dirty_ring_push(struct vmmu_dirty_ring *ring, u32 slot, u64 offset)
{
	struct kvm_dirty_gfn *e;

	if (WARN_ON_ONCE(vmmu_dirty_ring_used(ring) >= ring->size))
		return;
	e = &ring->gfns[ring->dirty_index & (ring->size - 1)];
	WRITE_ONCE(e->slot, slot);
	WRITE_ONCE(e->offset, offset);
	/* Pairs with the VMM's acquire load of the flags it harvests. */
	smp_store_release(&e->flags, KVM_DIRTY_GFN_F_DIRTY);
	/* Pairs with smp_load_acquire() in vmmu_reset_dirty_ring(). */
	smp_store_release(&ring->dirty_index, ring->dirty_index + 1);
}

/**
 * vmmu_dirty_ring_page() - the page of the ring at @index
 * @ring: a vCPU's ring
 * @index: page index within the ring
 *
 * Return: the page, or NULL past the ring's end.
 */
struct page *vmmu_dirty_ring_page(struct vmmu_dirty_ring *ring,
				  unsigned long index)
{
	if (!ring->gfns ||
	    index >= ring->size * sizeof(struct kvm_dirty_gfn) / PAGE_SIZE)
		return NULL;
	return vmalloc_to_page((void *)ring->gfns + index * PAGE_SIZE);
}
