// SPDX-License-Identifier: GPL-2.0
/*
 * Capabilities a VMM turns on: KVM_ENABLE_CAP on VM and vCPU fds, and the
 * MMU page limit that KVM_CAP_MMU_SHADOW_CACHE_CONTROL announces
 * (KVM_SET_NR_MMU_PAGES, KVM_GET_NR_MMU_PAGES).
 *
 * KVM_ENABLE_CAP looks the capability up in the table of its fd kind: one
 * table for the VM fd, one for the vCPU fd.  Anything not in the table is
 * refused with -EINVAL, as KVM refuses a capability it does not know, and
 * so is a capability KVM_CHECK_EXTENSION reports as 0 (on this machine or
 * for this VM), so that the two answers can never disagree.  A capability
 * is added with one entry, a handler that checks the flags and args of
 * that capability the way KVM checks them, and its non-zero answer in
 * vmmu_check_extension().
 */
#include <linux/kvm.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/dirty_log.h>
#include <vmmu/dirty_ring.h>
#include <vmmu/memslot.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#include "dev.h"

/* KVM_SET_NR_MMU_PAGES refuses less, as KVM (KVM_MIN_ALLOC_MMU_PAGES). */
#define VMMU_MIN_ALLOC_MMU_PAGES	64UL
/* Memslot pages per shadow page of KVM's default limit. */
#define VMMU_MEMSLOT_PAGES_PER_MMU_PAGE	50

/**
 * struct vmmu_vm_cap - a capability KVM_ENABLE_CAP can enable on a VM fd
 * @cap: the KVM_CAP_* number
 * @enable: checks @cap's flags and args, then enables it; returns 0 or a
 *	negative errno, with nothing changed on error
 */
struct vmmu_vm_cap {
	u32 cap;
	int (*enable)(struct vmmu_vm *vm, const struct kvm_enable_cap *cap);
};

/**
 * struct vmmu_vcpu_cap - a capability KVM_ENABLE_CAP can enable on a vCPU fd
 * @cap: the KVM_CAP_* number
 * @enable: checks @cap's args, then enables it (flags are checked before:
 *	KVM refuses non-zero flags for every vCPU capability); returns 0 or a
 *	negative errno, with nothing changed on error.  Runs under vcpu->mutex.
 */
struct vmmu_vcpu_cap {
	u32 cap;
	int (*enable)(struct vmmu_vcpu *vcpu, const struct kvm_enable_cap *cap);
};

/*
 * KVM_CAP_MAX_VCPU_ID: args[0] bounds the vCPU ids KVM_CREATE_VCPU accepts
 * from then on.  As in KVM 6.1: at most KVM_CAP_MAX_VCPU_ID (the value of
 * KVM_CHECK_EXTENSION), settable once (setting the same value again, or 0
 * while none was set, succeeds and changes nothing), and vCPUs created
 * before keep their ids.
 */
static int vmmu_vm_enable_max_vcpu_id(struct vmmu_vm *vm,
				      const struct kvm_enable_cap *cap)
{
	int r = -EINVAL;

	if (cap->flags || cap->args[0] > VMMU_MAX_VCPU_IDS)
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (vm->max_vcpu_ids == cap->args[0]) {
		r = 0;
	} else if (!vm->max_vcpu_ids) {
		vm->max_vcpu_ids = cap->args[0];
		r = 0;
	}
	mutex_unlock(&vm->lock);
	return r;
}

/*
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: args[0] is the new set of
 * KVM_DIRTY_LOG_* flags, replacing the old one, at any time (a slot that
 * logs already keeps its bitmap).  As in KVM, INITIALLY_SET is accepted
 * only together with MANUAL_PROTECT_ENABLE.
 */
static int vmmu_vm_enable_manual_dirty_log(struct vmmu_vm *vm,
					   const struct kvm_enable_cap *cap)
{
	u64 allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;

	if (cap->args[0] & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)
		allowed = VMMU_DIRTY_LOG_MANUAL_CAPS;
	if (cap->flags || (cap->args[0] & ~allowed))
		return -EINVAL;
	/* Read under slots_lock by harvests and memslot updates. */
	mutex_lock(&vm->slots_lock);
	WRITE_ONCE(vm->manual_dirty_log_protect, cap->args[0]);
	mutex_unlock(&vm->slots_lock);
	return 0;
}

/*
 * KVM_CAP_DIRTY_LOG_RING and KVM_CAP_DIRTY_LOG_RING_ACQ_REL: args[0] is the
 * size in bytes of every vCPU's ring.  KVM's checks and order: the size
 * (a power of two, at least a page and the reserved entries: -EINVAL;
 * above the largest ring: -E2BIG), set once (-EINVAL), only before the
 * first vCPU (-EINVAL).  The two differ only in what the VMM promises
 * about its own accesses (acquire/release on each entry's flags): vmmu
 * publishes entries with release stores and reads their flags with
 * acquire loads either way.  KVM ignores cap->flags here; so does vmmu.
 */
static int vmmu_vm_enable_dirty_ring(struct vmmu_vm *vm,
				     const struct kvm_enable_cap *cap)
{
	int r;

	if (cap->args[0] > U32_MAX)
		return -E2BIG;
	r = vmmu_dirty_ring_check_size((u32)cap->args[0]);
	if (r)
		return r;
	if (READ_ONCE(vm->dirty_ring_size))
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (atomic_read(&vm->online_vcpus))
		r = -EINVAL;
	else
		WRITE_ONCE(vm->dirty_ring_size, (u32)cap->args[0]);
	mutex_unlock(&vm->lock);
	return r;
}

/*
 * KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: logged slots keep a bitmap beside the
 * rings, for writes no vCPU makes, harvested with KVM_GET_DIRTY_LOG.  As in
 * KVM: only with rings enabled and while no memslot exists (so that every
 * logged slot gets its bitmap), flags 0; else -EINVAL.
 */
static int vmmu_vm_enable_dirty_ring_bitmap(struct vmmu_vm *vm,
					    const struct kvm_enable_cap *cap)
{
	int r = -EINVAL;

	if (cap->flags || !READ_ONCE(vm->dirty_ring_size))
		return -EINVAL;
	mutex_lock(&vm->slots_lock);
	if (!vmmu_memslots(vm)->nr) {
		WRITE_ONCE(vm->dirty_ring_with_bitmap, true);
		r = 0;
	}
	mutex_unlock(&vm->slots_lock);
	return r;
}

/*
 * KVM_CAP_MSR_PLATFORM_INFO: may the guest read MSR_PLATFORM_INFO (args[0]
 * non-zero; the default) or does it get #GP?  As in KVM: flags 0, any
 * time.
 */
static int vmmu_vm_enable_platform_info(struct vmmu_vm *vm,
					const struct kvm_enable_cap *cap)
{
	if (cap->flags)
		return -EINVAL;
	WRITE_ONCE(vm->x86.platform_info_readable, !!cap->args[0]);
	return 0;
}

/*
 * KVM_CAP_X86_USER_SPACE_MSR: args[0] is the set of KVM_MSR_EXIT_REASON_*
 * for which a guest RDMSR or WRMSR exits to userspace instead of raising
 * #GP (x86/msr_filter.c), replacing the old set, at any time.  KVM's
 * checks: flags 0, no other bit (-EINVAL).  vCPUs read it at their next
 * refused access.
 */
static int vmmu_vm_enable_user_space_msr(struct vmmu_vm *vm,
					 const struct kvm_enable_cap *cap)
{
	u64 all = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
		  KVM_MSR_EXIT_REASON_FILTER;

	if (cap->flags || (cap->args[0] & ~all))
		return -EINVAL;
	WRITE_ONCE(vm->x86.user_msr_mask, cap->args[0]);
	return 0;
}

static const struct vmmu_vm_cap vmmu_vm_caps[] = {
	{ KVM_CAP_MSR_PLATFORM_INFO, vmmu_vm_enable_platform_info },
	{ KVM_CAP_MAX_VCPU_ID, vmmu_vm_enable_max_vcpu_id },
	{ KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, vmmu_vm_enable_manual_dirty_log },
	{ KVM_CAP_DIRTY_LOG_RING, vmmu_vm_enable_dirty_ring },
	{ KVM_CAP_DIRTY_LOG_RING_ACQ_REL, vmmu_vm_enable_dirty_ring },
	{ KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, vmmu_vm_enable_dirty_ring_bitmap },
	{ KVM_CAP_X86_USER_SPACE_MSR, vmmu_vm_enable_user_space_msr },
};

/*
 * None yet: of KVM's x86 vCPU capabilities (Hyper-V SynIC, enlightened
 * VMCS, direct TLB flush, PV feature CPUID enforcement) vmmu implements
 * nothing they would turn on.
 */
static const struct vmmu_vcpu_cap vmmu_vcpu_caps[] = {
};

/**
 * vmmu_vm_enable_cap() - KVM_ENABLE_CAP on a VM fd
 * @vm: the VM
 * @ucap: the user's struct kvm_enable_cap
 *
 * Return: what the capability's handler returns; -EFAULT if @ucap cannot be
 * read, -EINVAL for a capability vmmu cannot enable on a VM.
 */
int vmmu_vm_enable_cap(struct vmmu_vm *vm, struct kvm_enable_cap __user *ucap)
{
	struct kvm_enable_cap cap;
	unsigned int i;

	if (copy_from_user(&cap, ucap, sizeof(cap)))
		return -EFAULT;
	if (!vmmu_check_extension(vm, cap.cap))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(vmmu_vm_caps); i++)
		if (vmmu_vm_caps[i].cap == cap.cap)
			return vmmu_vm_caps[i].enable(vm, &cap);
	return -EINVAL;
}

/**
 * vmmu_vcpu_enable_cap() - KVM_ENABLE_CAP on a vCPU fd
 * @vcpu: the vCPU; its mutex is held
 * @ucap: the user's struct kvm_enable_cap
 *
 * Return: what the capability's handler returns; -EFAULT if @ucap cannot be
 * read, -EINVAL for non-zero flags or a capability vmmu cannot enable on a
 * vCPU.
 */
int vmmu_vcpu_enable_cap(struct vmmu_vcpu *vcpu,
			 struct kvm_enable_cap __user *ucap)
{
	struct kvm_enable_cap cap;
	unsigned int i;

	lockdep_assert_held(&vcpu->mutex);
	if (copy_from_user(&cap, ucap, sizeof(cap)))
		return -EFAULT;
	if (cap.flags || !vmmu_check_extension(vcpu->vm, cap.cap))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(vmmu_vcpu_caps); i++)
		if (vmmu_vcpu_caps[i].cap == cap.cap)
			return vmmu_vcpu_caps[i].enable(vcpu, &cap);
	return -EINVAL;
}

/**
 * vmmu_vm_set_nr_mmu_pages() - KVM_SET_NR_MMU_PAGES
 * @vm: the VM
 * @nr: the most shadow pages the VM may use; at least 64
 *
 * The limit bounds shadow pages, which vmmu does not have yet: TDP tables
 * are not counted, as in KVM, so nothing is zapped to meet it.  Once set,
 * the limit no longer follows memslot changes.  Written under slots_lock,
 * where KVM writes it; read without it.
 *
 * Return: 0, or -EINVAL for fewer than 64 pages (nothing changes).
 */
int vmmu_vm_set_nr_mmu_pages(struct vmmu_vm *vm, unsigned long nr)
{
	if (nr < VMMU_MIN_ALLOC_MMU_PAGES)
		return -EINVAL;
	mutex_lock(&vm->slots_lock);
	/* One word, read locklessly by vmmu_vm_get_nr_mmu_pages(). */
	WRITE_ONCE(vm->n_requested_mmu_pages, nr);
	mutex_unlock(&vm->slots_lock);
	return 0;
}

/*
 * KVM's limit while the VMM set none: 0 until the first memslot update,
 * then one shadow page per 50 pages of memslots, at least 64.  KVM updates
 * it when a slot is created or deleted, the only changes that change the
 * number of pages; computing it from the current set gives the same value.
 * Only the first set, which has no slot, has generation 0.
 */
static unsigned long vmmu_default_mmu_pages(struct vmmu_memslots *set)
{
	unsigned long pages = 0;
	unsigned int i;

	if (!set->generation)
		return 0;
	for (i = 0; i < set->nr; i++)
		pages += set->slots[i]->npages;
	return max(pages / VMMU_MEMSLOT_PAGES_PER_MMU_PAGE,
		   VMMU_MIN_ALLOC_MMU_PAGES);
}

/**
 * vmmu_vm_get_nr_mmu_pages() - KVM_GET_NR_MMU_PAGES
 * @vm: the VM
 *
 * Never waits for a memslot update, as KVM's read of its limit does not:
 * the default comes from the set published now, under SRCU, so a read
 * racing with an update gives the value before or after it.
 *
 * Return: the limit set with KVM_SET_NR_MMU_PAGES, or KVM's default for the
 * current memslots.  KVM returns it as an int: so does vmmu, so a limit
 * above INT_MAX reads back truncated, as from KVM.
 */
int vmmu_vm_get_nr_mmu_pages(struct vmmu_vm *vm)
{
	/* Pairs with the WRITE_ONCE() in vmmu_vm_set_nr_mmu_pages(). */
	unsigned long nr = READ_ONCE(vm->n_requested_mmu_pages);
	int idx;

	if (!nr) {
		idx = srcu_read_lock(&vm->srcu);
		nr = vmmu_default_mmu_pages(vmmu_memslots(vm));
		srcu_read_unlock(&vm->srcu, idx);
	}
	return (int)nr;
}
