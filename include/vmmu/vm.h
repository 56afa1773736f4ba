/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM object.
 *
 * A VM belongs to the mm of the process that created it: vmmu pins the
 * mm_struct (mmgrab(), not mmget(), so the address space itself can still go
 * away) and refuses VM ioctls from any other mm.  The VM lives while any fd
 * refers to it; see Documentation/design.rst for the lifetime rules and
 * Documentation/locking.rst for the locks.
 */
#ifndef _VMMU_VM_H
#define _VMMU_VM_H

#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/srcu.h>

struct vmmu_memslots;

/**
 * struct vmmu_vm - a virtual machine
 * @mm: the creating process's mm; pinned with mmgrab()
 * @users: references from the VM fd (and later vCPU fds)
 * @lock: serializes VM-wide configuration; outermost lock of the VM
 * @slots_lock: serializes memslot updates; nests inside @lock
 * @srcu: protects readers of @memslots
 * @memslots: the current memslot set; written under @slots_lock, read
 *	under @srcu
 */
struct vmmu_vm {
	struct mm_struct *mm;
	refcount_t users;
	struct mutex lock;		/* VM-wide configuration */
	struct mutex slots_lock;	/* memslot updates */
	struct srcu_struct srcu;
	struct vmmu_memslots __rcu *memslots;
};

struct vmmu_vm *vmmu_vm_create(void);
void vmmu_vm_get(struct vmmu_vm *vm);
void vmmu_vm_put(struct vmmu_vm *vm);

#endif /* _VMMU_VM_H */
