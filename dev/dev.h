/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface of dev/: the character device and the fds it hands out.
 */
#ifndef _VMMU_DEV_DEV_H
#define _VMMU_DEV_DEV_H

#include <linux/types.h>

struct file;
struct kvm_cpuid2;
struct kvm_enable_cap;
struct vmmu_cpuid;
struct vm_area_struct;
struct vmmu_backend_ops;
struct vmmu_spte_format;
struct vmmu_vcpu;
struct vmmu_vm;

/* vCPU ids are below this, as KVM_CAP_MAX_VCPU_ID reports. */
#define VMMU_MAX_VCPU_IDS	VMMU_MAX_VCPUS

struct vmmu_stats;

void vmmu_vm_fill_stats(struct vmmu_vm *vm, struct vmmu_stats *st);
int vmmu_vm_get_stats_fd(struct vmmu_vm *vm);
int vmmu_vcpu_get_stats_fd(struct vmmu_vcpu *vcpu);
void vmmu_vm_debugfs_create(struct vmmu_vm *vm);
void vmmu_vcpu_debugfs_create(struct vmmu_vcpu *vcpu);
void vmmu_vm_debugfs_remove(struct vmmu_vm *vm);
long vmmu_check_extension(struct vmmu_vm *vm, unsigned long cap);
int vmmu_dev_create_vm(unsigned long type);
int vmmu_host_levels(void);
void vmmu_vm_default_format(struct vmmu_spte_format *fmt);
const struct vmmu_backend_ops *vmmu_vm_get_backend(u32 vcpu_kind);
void vmmu_dev_vm_put(struct vmmu_vm *vm);
int vmmu_vm_create_vcpu(struct vmmu_vm *vm, unsigned long id);

/* caps.c: KVM_ENABLE_CAP and the MMU page limit */
int vmmu_vm_enable_cap(struct vmmu_vm *vm, struct kvm_enable_cap __user *ucap);
int vmmu_vcpu_enable_cap(struct vmmu_vcpu *vcpu,
			 struct kvm_enable_cap __user *ucap);
int vmmu_vm_set_nr_mmu_pages(struct vmmu_vm *vm, unsigned long nr);
int vmmu_vm_get_nr_mmu_pages(struct vmmu_vm *vm);

/* run.c: hardware vCPUs */
void vmmu_backend_init(void);
void vmmu_backend_exit(void);
bool vmmu_backend_available(void);
u32 vmmu_backend_default_kind(void);
const struct vmmu_backend_ops *vmmu_backend_find(u32 vcpu_kind);
int vmmu_backend_get(const struct vmmu_backend_ops *ops);
void vmmu_backend_put(const struct vmmu_backend_ops *ops);
int vmmu_vcpu_hw_init(struct vmmu_vcpu *vcpu);
void vmmu_vcpu_hw_destroy(struct vmmu_vcpu *vcpu);
int vmmu_vcpu_mmap(struct file *file, struct vm_area_struct *vma);
int vmmu_vcpu_run(struct vmmu_vcpu *vcpu);
long vmmu_vcpu_regs_ioctl(struct vmmu_vcpu *vcpu, unsigned int ioctl,
			  void __user *argp);
int vmmu_cpuid_to_user(const struct vmmu_cpuid *table,
		       struct kvm_cpuid2 __user *ucpuid);

#endif /* _VMMU_DEV_DEV_H */
