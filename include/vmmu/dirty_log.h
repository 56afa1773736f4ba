/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty logging: which guest pages were written since userspace last
 * asked (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG).  The bitmap itself and
 * the marking of pages belong to the memslots (include/vmmu/memslot.h);
 * this is the MMU's side: harvests and logging turned on.
 *
 * Every write to a logged slot is recorded in the slot's dirty bitmap:
 * writes of vCPUs (hardware and software) because each logged page is
 * mapped read-only until its first write fault, which marks it; writes of
 * the kernel through a gfn->pfn cache because the writer marks the page.
 * A harvest clears bits and write-protects exactly the pages whose bits it
 * cleared, and flushes every vCPU's TLB before it returns.  See
 * Documentation/design.rst ("Dirty logging") and locking.rst for the order
 * of marking, protecting and flushing.
 */
#ifndef _VMMU_DIRTY_LOG_H
#define _VMMU_DIRTY_LOG_H

#include <linux/kvm.h>
#include <linux/kvm_types.h>

struct vmmu_memslot;
struct vmmu_vm;

/* The flags KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 reports and accepts. */
#define VMMU_DIRTY_LOG_MANUAL_CAPS	(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | \
					 KVM_DIRTY_LOG_INITIALLY_SET)

void vmmu_dirty_log_slot_changed(struct vmmu_vm *vm,
				 const struct vmmu_memslot *old,
				 const struct vmmu_memslot *new);
int vmmu_get_dirty_log(struct vmmu_vm *vm, struct kvm_dirty_log *log);
int vmmu_clear_dirty_log(struct vmmu_vm *vm, struct kvm_clear_dirty_log *log);
int vmmu_reset_dirty_rings(struct vmmu_vm *vm);

#endif /* _VMMU_DIRTY_LOG_H */
