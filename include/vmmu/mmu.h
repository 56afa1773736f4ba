/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmu/: the page-fault entry and the software vCPU.
 */
#ifndef _VMMU_MMU_H
#define _VMMU_MMU_H

#include <linux/types.h>
#include <linux/kvm_types.h>

struct mm_struct;
struct vmmu_vcpu;
struct vmmu_access;
struct vmmu_memslot;
struct vmmu_spte_format;
struct vmmu_translation;
struct kvm_pre_fault_memory;

/* Page-fault error code bits, as x86 reports them. */
#define VMMU_PFERR_PRESENT	BIT(0)
#define VMMU_PFERR_WRITE	BIT(1)
#define VMMU_PFERR_USER		BIT(2)
#define VMMU_PFERR_FETCH	BIT(4)
/* vmmu's own: KVM_PRE_FAULT_MEMORY maps what it was asked, no fault-around. */
#define VMMU_PFERR_PREFAULT	BIT(31)

int vmmu_page_fault(struct vmmu_vcpu *vcpu, gpa_t gpa, u32 error_code);
int vmmu_slot_max_level(const struct vmmu_spte_format *fmt,
			const struct vmmu_memslot *slot, gfn_t gfn);
int vmmu_host_mapping_level(struct mm_struct *mm, unsigned long hva);
int vmmu_vcpu_mmu_requests(struct vmmu_vcpu *vcpu,
			   void (*flush_tlb)(struct vmmu_vcpu *vcpu));
int vmmu_pre_fault_memory(struct vmmu_vcpu *vcpu,
			  struct kvm_pre_fault_memory *range);
int vmmu_sw_vcpu_access(struct vmmu_vcpu *vcpu, struct vmmu_access *acc);
void vmmu_vcpu_translate(struct vmmu_vcpu *vcpu, struct vmmu_translation *tr,
			 bool show_pfn);

#endif /* _VMMU_MMU_H */
