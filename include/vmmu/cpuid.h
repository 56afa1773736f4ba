/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPUID a guest sees.
 *
 * vmmu builds one "supported" table at module init: the host's CPUID
 * filtered to what vmmu virtualizes (KVM_GET_SUPPORTED_CPUID hands it out).
 * Each hardware vCPU answers the guest's CPUID instruction from its own
 * table, set with KVM_SET_CPUID2, or from the supported table until then.
 * Nothing here is vendor-specific: every backend answers CPUID exits with
 * vmmu_cpuid().
 */
#ifndef _VMMU_CPUID_H
#define _VMMU_CPUID_H

#include <linux/kvm.h>
#include <linux/types.h>

struct vmmu_vcpu;

/* At most this many entries in a vCPU's table (KVM's limit too). */
#define VMMU_MAX_CPUID_ENTRIES	256

/**
 * struct vmmu_cpuid - a CPUID table
 * @nent: number of entries
 * @entries: leaf (function), subleaf (index) and the four registers, as
 *	in KVM; the index counts only with KVM_CPUID_FLAG_SIGNIFCANT_INDEX
 */
struct vmmu_cpuid {
	u32 nent;
	struct kvm_cpuid_entry2 entries[];
};

int vmmu_cpuid_init(unsigned int gpa_bits);
void vmmu_cpuid_exit(void);
const struct vmmu_cpuid *vmmu_supported_cpuid(void);

struct vmmu_cpuid *vmmu_cpuid_alloc(u32 nent);
void vmmu_cpuid_free(struct vmmu_cpuid *table);
int vmmu_cpuid_check(const struct vmmu_cpuid *table);

const struct vmmu_cpuid *vmmu_vcpu_cpuid(struct vmmu_vcpu *vcpu);
void vmmu_vcpu_set_cpuid(struct vmmu_vcpu *vcpu, struct vmmu_cpuid *table);
void vmmu_vcpu_free_cpuid(struct vmmu_vcpu *vcpu);
unsigned int vmmu_vcpu_phys_bits(struct vmmu_vcpu *vcpu);
bool vmmu_vcpu_cpuid_is_amd(struct vmmu_vcpu *vcpu);
bool vmmu_vcpu_has_tsc_adjust(struct vmmu_vcpu *vcpu);
bool vmmu_cpuid_equal(const struct vmmu_cpuid *a, const struct vmmu_cpuid *b);
void vmmu_cpuid(struct vmmu_vcpu *vcpu, u64 cr4, u32 *eax, u32 *ebx,
		u32 *ecx, u32 *edx);

#endif /* _VMMU_CPUID_H */
