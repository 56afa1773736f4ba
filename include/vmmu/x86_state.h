/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest register state checks shared by the hardware backends: which
 * control-register, EFER and MSR values a guest of either vendor may have.
 */
#ifndef _VMMU_X86_STATE_H
#define _VMMU_X86_STATE_H

#include <linux/types.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

struct kvm_sregs;

/* EFER bits a guest may have. */
#define VMMU_GUEST_EFER_VALID	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

u64 vmmu_guest_cr4_valid(void);
bool vmmu_sregs_valid(const struct kvm_sregs *s, u64 cr8_max);
bool vmmu_pat_valid(u64 pat);

extern u64 vmmu_host_xcr0;
void vmmu_x86_state_init(void);
bool vmmu_xsetbv_ok(u32 index, u64 value);

/**
 * vmmu_canonical() - is @addr canonical for a guest with @cr4?
 * @addr: a linear address
 * @cr4: the guest's CR4 (LA57 decides between 48 and 57 bits)
 *
 * Return: true if @addr is canonical.
 */
static inline bool vmmu_canonical(u64 addr, u64 cr4)
{
	int bits = cr4 & X86_CR4_LA57 ? 57 : 48;

	return (u64)((s64)(addr << (64 - bits)) >> (64 - bits)) == addr;
}

#endif /* _VMMU_X86_STATE_H */
