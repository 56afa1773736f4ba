/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface of dev/: the character device and the fds it hands out.
 */
#ifndef _VMMU_DEV_DEV_H
#define _VMMU_DEV_DEV_H

struct vmmu_vm;

/* vCPU ids are below this, as KVM_CAP_MAX_VCPU_ID reports. */
#define VMMU_MAX_VCPU_IDS	VMMU_MAX_VCPUS

struct vmmu_stats;

void vmmu_vm_fill_stats(struct vmmu_vm *vm, struct vmmu_stats *st);
void vmmu_vm_debugfs_create(struct vmmu_vm *vm);
void vmmu_vm_debugfs_remove(struct vmmu_vm *vm);
long vmmu_check_extension(struct vmmu_vm *vm, unsigned long cap);
int vmmu_dev_create_vm(unsigned long type);
void vmmu_dev_vm_put(struct vmmu_vm *vm);
int vmmu_vm_create_vcpu(struct vmmu_vm *vm, unsigned long id);

#endif /* _VMMU_DEV_DEV_H */
