// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging, the MMU's side: write-protecting a slot whose logging was
 * turned on, and the harvests KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG,
 * with KVM's arguments, errnos and semantics.
 *
 * vmmu logs by write protection on every vCPU kind: a logged page is mapped
 * read-only until its first write, whose fault marks it.  The CPU's dirty
 * bits are not used for logging: without a hardware log of the pages they
 * were set on (Intel's PML), a harvest would have to scan every leaf of the
 * slot, and a dirty ring could not be fed at all.
 *
 * A harvest clears bits, then write-protects the pages of exactly those
 * bits, then flushes every vCPU's TLB, then returns: a write after the
 * return faults and is logged for the next harvest.  The harvest holds
 * mmu_lock only for read: a fault marks its page after the writable leaf is
 * in place, so a harvest that runs in between either protects the leaf
 * after the bit was cleared (and the bit is set again by the fault, for the
 * next round) or finds the bit set.  See locking.rst, "Dirty logging".
 */
#include <linux/bitmap.h>
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/uaccess.h>

#include <vmmu/dirty_log.h>
#include <vmmu/memslot.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/dirty_ring.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

/*
 * Split huge leaves when logging begins (KVM's parameter of the same name):
 * the whole slot when it is turned on, or, with KVM_DIRTY_LOG_INITIALLY_SET,
 * the pages each harvest protects.  Off, a huge leaf is write-protected
 * whole, and the first write to it splits it in the fault.
 */
static bool eager_page_split = true;
module_param(eager_page_split, bool, 0644);
MODULE_PARM_DESC(eager_page_split,
		 "split huge mappings when dirty logging starts (default: on)");

static bool vmmu_initially_set(struct vmmu_vm *vm)
{
	return READ_ONCE(vm->manual_dirty_log_protect) &
	       KVM_DIRTY_LOG_INITIALLY_SET;
}

/**
 * vmmu_dirty_log_slot_changed() - the MMU's part of a published flags change
 * @vm: the VM; slots_lock is held
 * @old: the slot before the change
 * @new: the slot after it, published and the old one no longer in use
 *
 * Turning logging on splits the slot's huge leaves (eager_page_split) and
 * write-protects every leaf of the slot (neither with
 * KVM_DIRTY_LOG_INITIALLY_SET: the log already says every page is dirty,
 * and KVM_CLEAR_DIRTY_LOG splits and protects what it clears).  A fault
 * that looked the old slot up cannot install afterwards: the memslot
 * generation moved before the old set's readers were waited for.  Turning
 * it off zaps the tables that huge leaves can replace
 * (vmmu_tdp_mmu_recover_huge()); the protected 4 KiB leaves left become
 * writable again at their next write, by the fast path.
 */
void vmmu_dirty_log_slot_changed(struct vmmu_vm *vm,
				 const struct vmmu_memslot *old,
				 const struct vmmu_memslot *new)
{
	bool was = old->flags & KVM_MEM_LOG_DIRTY_PAGES;
	bool is = new->flags & KVM_MEM_LOG_DIRTY_PAGES;

	lockdep_assert_held(&vm->slots_lock);
	if (was && !is) {
		vmmu_tdp_mmu_recover_huge(vm, new);
		return;
	}
	if (was || !is || vmmu_initially_set(vm))
		return;
	/* Best effort: what stays huge is write-protected whole. */
	if (READ_ONCE(eager_page_split))
		vmmu_tdp_mmu_split_range(vm, new->base_gfn,
					 vmmu_memslot_end(new));
	vmmu_tdp_mmu_wrprot_range(vm, new->base_gfn, vmmu_memslot_end(new));
}

/*
 * Write-protect the pages of @mask (bit 0: gfn @base) for a harvest.  With
 * KVM_DIRTY_LOG_INITIALLY_SET nothing was split or protected when logging
 * began: the huge leaves over these pages are split first, so that the
 * protection is page by page.  Under slots_lock.
 */
static bool vmmu_dirty_log_protect(struct vmmu_vm *vm, gfn_t base,
				   unsigned long mask)
{
	if (mask && READ_ONCE(eager_page_split) && vmmu_initially_set(vm))
		vmmu_tdp_mmu_split_range(vm, base + __ffs(mask),
					 base + __fls(mask) + 1);
	return vmmu_tdp_mmu_wrprot_mask(vm, base, mask);
}

/* The logged slot @id names, under slots_lock; KVM's errnos. */
static int vmmu_dirty_log_slot(struct vmmu_vm *vm, u32 id,
			       struct vmmu_memslot **slot)
{
	lockdep_assert_held(&vm->slots_lock);
	/* vmmu has one address space (no SMM): as_id must be 0. */
	if ((id >> 16) || (u16)id >= VMMU_NR_MEMSLOTS)
		return -EINVAL;
	*slot = vmmu_memslots_id(vmmu_memslots(vm), (u16)id);
	if (!*slot || !(*slot)->dirty_bitmap)
		return -ENOENT;
	return 0;
}

static int vmmu_get_dirty_log_locked(struct vmmu_vm *vm,
				     struct kvm_dirty_log *log)
{
	struct vmmu_memslot *slot;
	unsigned long *bitmap, *buf;
	unsigned long i, n;
	bool flush = false;
	int r;

	/* The rings log the vCPUs' writes; the bitmaps, if any, the rest. */
	if (!vmmu_vm_uses_dirty_bitmap(vm))
		return -ENXIO;
	r = vmmu_dirty_log_slot(vm, log->slot, &slot);
	if (r)
		return r;
	bitmap = slot->dirty_bitmap;
	n = vmmu_dirty_bitmap_bytes(slot);
	if (READ_ONCE(vm->manual_dirty_log_protect) &
	    KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) {
		/* A snapshot; KVM_CLEAR_DIRTY_LOG clears and protects. */
		buf = bitmap;
	} else {
		buf = bitmap + n / sizeof(long);
		memset(buf, 0, n);
		for (i = 0; i < n / sizeof(long); i++) {
			unsigned long mask;

			if (!READ_ONCE(bitmap[i]))
				continue;
			/* Pairs with set_bit_le() in the marking paths. */
			mask = xchg(&bitmap[i], 0);
			buf[i] = mask;
			flush |= vmmu_dirty_log_protect(vm, slot->base_gfn +
							i * BITS_PER_LONG,
							mask);
			cond_resched();
		}
	}
	/* No write after the return may go unlogged. */
	if (flush)
		vmmu_flush_remote_tlbs(vm);
	if (copy_to_user(log->dirty_bitmap, buf, n))
		return -EFAULT;
	return 0;
}

/**
 * vmmu_get_dirty_log() - KVM_GET_DIRTY_LOG
 * @vm: the VM
 * @log: the slot and the user buffer, one bit per page, rounded up to a
 *	multiple of 64 bits
 *
 * Without manual protection: report and clear the log, write-protect the
 * pages reported; every vCPU TLB is flushed before the bitmap is copied
 * out.  With KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE: report only.
 *
 * Return: 0; -ENXIO (the VM uses dirty rings without
 * KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP), -EINVAL (address space or slot id
 * out of range), -ENOENT (no such slot, or it does not log), -EFAULT (the
 * buffer: the log was cleared and protected nonetheless, as in KVM).
 */
int vmmu_get_dirty_log(struct vmmu_vm *vm, struct kvm_dirty_log *log)
{
	int r;

	mutex_lock(&vm->slots_lock);
	r = vmmu_get_dirty_log_locked(vm, log);
	mutex_unlock(&vm->slots_lock);
	return r;
}

static int vmmu_clear_dirty_log_locked(struct vmmu_vm *vm,
				       struct kvm_clear_dirty_log *log)
{
	struct vmmu_memslot *slot;
	unsigned long *bitmap, *buf;
	unsigned long i, words;
	u64 first = log->first_page, num = log->num_pages;
	bool flush = false;
	int r;

	if (!vmmu_vm_uses_dirty_bitmap(vm))
		return -ENXIO;
	r = vmmu_dirty_log_slot(vm, log->slot, &slot);
	/* KVM checks the alignment before it looks for the slot. */
	if (r != -EINVAL && (first & 63))
		return -EINVAL;
	if (r)
		return r;
	/*
	 * Whole words of the log, except that the range may end at the
	 * slot's end with a partial one.
	 */
	if (first > slot->npages || num > slot->npages - first ||
	    (num < slot->npages - first && (num & 63)))
		return -EINVAL;
	bitmap = slot->dirty_bitmap;
	buf = bitmap + vmmu_dirty_bitmap_bytes(slot) / sizeof(long);
	words = DIV_ROUND_UP(num, BITS_PER_LONG);
	if (copy_from_user(buf, log->dirty_bitmap, words * sizeof(long)))
		return -EFAULT;
	for (i = 0; i < words; i++) {
		atomic_long_t *p = (atomic_long_t *)&bitmap[first / BITS_PER_LONG + i];
		unsigned long mask = buf[i];

		if (!mask)
			continue;
		/*
		 * The bits that were set and are now clear: never a page
		 * beyond the slot, whose bits are never set.
		 */
		mask &= atomic_long_fetch_andnot(mask, p);
		flush |= vmmu_dirty_log_protect(vm, slot->base_gfn + first +
						i * BITS_PER_LONG, mask);
		cond_resched();
	}
	if (flush)
		vmmu_flush_remote_tlbs(vm);
	return 0;
}

/**
 * vmmu_clear_dirty_log() - KVM_CLEAR_DIRTY_LOG
 * @vm: the VM
 * @log: the slot, the range [first_page, first_page + num_pages) of its
 *	pages and a user bitmap of that range (bit 0: first_page)
 *
 * Clears the log's bits that are set in the user bitmap and write-protects
 * those pages; every vCPU TLB is flushed before it returns.  Meant for
 * KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, but, as in KVM, works without it.
 *
 * Return: 0; -ENXIO (as for KVM_GET_DIRTY_LOG), -EINVAL (address space or
 * slot id out of range, first_page not a multiple of 64, a range past the
 * slot's end, or num_pages not a multiple of 64 unless the range ends at
 * the slot's end), -ENOENT (no such slot, or it does not log), -EFAULT
 * (the buffer; nothing cleared).
 */
int vmmu_clear_dirty_log(struct vmmu_vm *vm, struct kvm_clear_dirty_log *log)
{
	int r;

	mutex_lock(&vm->slots_lock);
	r = vmmu_clear_dirty_log_locked(vm, log);
	mutex_unlock(&vm->slots_lock);
	return r;
}

/*
 * Write-protect the pages of @mask (bit 0: page @offset) of slot @id, as
 * a reset entry names them: the VMM wrote the slot and offset, so a slot
 * that is gone, or pages past its end, are skipped.
 */
static bool vmmu_reset_dirty_gfns(struct vmmu_vm *vm, u32 id, u64 offset,
				  u64 mask)
{
	struct vmmu_memslot *slot;

	if (!mask || (id >> 16) || (u16)id >= VMMU_NR_MEMSLOTS)
		return false;
	slot = vmmu_memslots_id(vmmu_memslots(vm), (u16)id);
	/* offset < npages <= 2^31: the sum cannot wrap. */
	if (!slot || offset >= slot->npages ||
	    offset + __fls(mask) >= slot->npages)
		return false;
	return vmmu_tdp_mmu_wrprot_mask(vm, slot->base_gfn + offset, mask);
}

/*
 * Reset the entries of @vcpu's ring that the VMM harvested (flags RESET),
 * in order, up to the first that is not, and never past the last entry
 * the vCPU published.  Pages of one slot within 64 of each other are
 * write-protected together.
 */
static u32 vmmu_reset_dirty_ring(struct vmmu_vm *vm, struct vmmu_dirty_ring *ring,
				 bool *flush)
{
	/* Pairs with the release store in vmmu_dirty_ring_push(). */
	u32 end = smp_load_acquire(&ring->dirty_index);
	u32 cur_slot = 0, count = 0;
	u64 cur_offset = 0, mask = 0;

	while (ring->reset_index != end) {
		struct kvm_dirty_gfn *e =
			&ring->gfns[ring->reset_index & (ring->size - 1)];
		u32 slot;
		u64 offset;
		s64 delta;

		/* Pairs with the VMM's release store of RESET. */
		if (!(smp_load_acquire(&e->flags) & KVM_DIRTY_GFN_F_RESET))
			break;
		slot = READ_ONCE(e->slot);
		offset = READ_ONCE(e->offset);
		/* The VMM may reuse the entry once it reads 0. */
		smp_store_release(&e->flags, 0);
		/* Pairs with READ_ONCE() in the vCPU's full checks. */
		WRITE_ONCE(ring->reset_index, ring->reset_index + 1);
		count++;
		delta = (s64)(offset - cur_offset);
		if (mask && slot == cur_slot && delta >= 0 &&
		    delta < BITS_PER_LONG) {
			mask |= 1ULL << delta;
			continue;
		}
		*flush |= vmmu_reset_dirty_gfns(vm, cur_slot, cur_offset, mask);
		cur_slot = slot;
		cur_offset = offset;
		mask = 1;
		if (!(count % 1024))
			cond_resched();
	}
	*flush |= vmmu_reset_dirty_gfns(vm, cur_slot, cur_offset, mask);
	return count;
}

/**
 * vmmu_reset_dirty_rings() - KVM_RESET_DIRTY_RINGS
 * @vm: the VM
 *
 * For every vCPU, resets the entries the VMM harvested (see
 * vmmu_reset_dirty_ring()): their pages are write-protected again, and
 * every vCPU's TLB is flushed before the call returns, so that the next
 * write to each of them is logged again.  vCPUs keep running.
 *
 * Return: the number of entries reset, or -EINVAL if the VM has no rings.
 */
int vmmu_reset_dirty_rings(struct vmmu_vm *vm)
{
	struct vmmu_vcpu *vcpu;
	bool flush = false;
	u32 count = 0;
	int i;

	if (!READ_ONCE(vm->dirty_ring_size))
		return -EINVAL;
	mutex_lock(&vm->slots_lock);
	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++)
		count += vmmu_reset_dirty_ring(vm, &vcpu->dirty_ring, &flush);
	mutex_unlock(&vm->slots_lock);
	if (flush)
		vmmu_flush_remote_tlbs(vm);
	return min_t(u32, count, INT_MAX);
}
