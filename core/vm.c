// SPDX-License-Identifier: GPL-2.0
/*
 * VM objects: allocation and freeing.  The order in which a VM's parts are
 * set up and torn down is dev/'s (dev/vm.c).
 */
#include <linux/memcontrol.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include <vmmu/memslot.h>
#include <vmmu/stats.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vm.h>

/**
 * vmmu_vm_alloc() - allocate a VM owned by the current process's mm
 *
 * Return: the VM with one reference, which the caller hands to the VM fd, or
 * an ERR_PTR.
 */
struct vmmu_vm *vmmu_vm_alloc(void)
{
	struct vmmu_memslots *slots;
	struct vmmu_vm *vm;
	int r;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);

	r = init_srcu_struct(&vm->srcu);
	if (r)
		goto err_free_vm;

	slots = vmmu_memslots_alloc_empty();
	if (!slots) {
		r = -ENOMEM;
		goto err_cleanup_srcu;
	}
	RCU_INIT_POINTER(vm->memslots, slots);

	mutex_init(&vm->lock);
	mutex_init(&vm->slots_lock);
	spin_lock_init(&vm->mn_invalidate_lock);
	spin_lock_init(&vm->x86.tsc_lock);
	vm->x86.platform_info_readable = true;
	rcuwait_init(&vm->mn_memslots_update_rcuwait);
	refcount_set(&vm->users, 1);
	vm->mm = current->mm;
	mmgrab(vm->mm);
	vm->memcg = get_mem_cgroup_from_mm(vm->mm);
	vm->split_pt_cache.memcg = vm->memcg;
	vm->split_header_cache.memcg = vm->memcg;
	/* Splitting is best effort: a memcg at its limit says no, no OOM. */
	vm->split_pt_cache.gfp = __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	vm->split_header_cache.gfp = __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	vm->split_header_cache.kmem = vmmu_tdp_mmu_header_cache();
	vmmu_object_inc(VMMU_OBJ_VM);
	return vm;

err_cleanup_srcu:
	cleanup_srcu_struct(&vm->srcu);
err_free_vm:
	kfree(vm);
	return ERR_PTR(r);
}

/**
 * vmmu_vm_free() - free a VM's core parts
 * @vm: a VM that no fd, vCPU or callback can reach any more
 */
void vmmu_vm_free(struct vmmu_vm *vm)
{
	struct mm_struct *mm = vm->mm;

	vmmu_memslots_destroy(rcu_dereference_protected(vm->memslots, 1));
	cleanup_srcu_struct(&vm->srcu);
	vmmu_memcache_free(&vm->split_pt_cache);
	vmmu_memcache_free(&vm->split_header_cache);
	mem_cgroup_put(vm->memcg);
	mutex_destroy(&vm->slots_lock);
	mutex_destroy(&vm->lock);
	kfree(vm);
	vmmu_object_dec(VMMU_OBJ_VM);
	mmdrop(mm);
}
