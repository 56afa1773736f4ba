// SPDX-License-Identifier: GPL-2.0
/*
 * Guest register state checks shared by the hardware backends (svm/ and
 * vmx/): what KVM_SET_SREGS and WRMSR may set, whatever the vendor.
 */
#include <linux/kvm.h>
#include <asm/cpufeature.h>
#include <asm/fpu/xcr.h>

#include <vmmu/x86_state.h>

/**
 * vmmu_guest_cr4_valid() - CR4 bits the CPU supports, hence bits a guest
 * may set
 *
 * Return: the mask of allowed CR4 bits.
 */
u64 vmmu_guest_cr4_valid(void)
{
	u64 valid = X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE |
		    X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |
		    X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	if (boot_cpu_has(X86_FEATURE_UMIP))
		valid |= X86_CR4_UMIP;
	if (boot_cpu_has(X86_FEATURE_LA57))
		valid |= X86_CR4_LA57;
	if (boot_cpu_has(X86_FEATURE_FSGSBASE))
		valid |= X86_CR4_FSGSBASE;
	if (boot_cpu_has(X86_FEATURE_PCID))
		valid |= X86_CR4_PCIDE;
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		valid |= X86_CR4_OSXSAVE;
	if (boot_cpu_has(X86_FEATURE_SMEP))
		valid |= X86_CR4_SMEP;
	if (boot_cpu_has(X86_FEATURE_SMAP))
		valid |= X86_CR4_SMAP;
	if (boot_cpu_has(X86_FEATURE_PKU))
		valid |= X86_CR4_PKE;
	return valid;
}

/**
 * vmmu_sregs_valid() - could a CPU be in this state?
 * @s: the state KVM_SET_SREGS was given
 * @cr8_max: the highest CR8 the backend can hold
 *
 * KVM's checks, and what the hardware insists on at entry.
 *
 * Return: true if the state is acceptable.
 */
bool vmmu_sregs_valid(const struct kvm_sregs *s, u64 cr8_max)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s->interrupt_bitmap); i++)
		if (s->interrupt_bitmap[i])
			return false;	/* no interrupt delivery yet */
	if (s->efer & ~VMMU_GUEST_EFER_VALID)
		return false;
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
		if (s->cr3 & ~GENMASK_ULL(51, 0))
			return false;
		if (s->cs.l && s->cs.db)
			return false;
	} else if ((s->efer & EFER_LMA) || s->cs.l) {
		return false;
	}
	if (s->cr0 >> 32 || s->cr4 & ~vmmu_guest_cr4_valid() || s->cr8 > cr8_max)
		return false;
	if ((s->cr0 & X86_CR0_NW) && !(s->cr0 & X86_CR0_CD))
		return false;
	return !((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE));
}

/**
 * vmmu_pat_valid() - is @pat a valid IA32_PAT value?
 * @pat: the value a guest writes
 *
 * Return: true if every entry is UC, WC, WT, WP, WB or UC- (0, 1, 4-7).
 */
bool vmmu_pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 type = pat >> (i * 8);

		if (type > 7 || type == 2 || type == 3)
			return false;
	}
	return true;
}

/*
 * XCR0 as the host has it on every CPU (0 without XSAVE), read once at
 * module init: a guest's XSETBV may get through to the CPU under emulation,
 * so the value cannot be read back later.
 */
u64 vmmu_host_xcr0;

/**
 * vmmu_x86_state_init() - read what the checks here need from the host
 *
 * Called once at module init, before any backend or CPUID table.
 */
void vmmu_x86_state_init(void)
{
	if (boot_cpu_has(X86_FEATURE_OSXSAVE))
		vmmu_host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
}

/**
 * vmmu_xsetbv_ok() - may a guest's XSETBV set XCR[@index] to @value?
 * @index: ECX of the XSETBV
 * @value: EDX:EAX
 *
 * The guest runs with the host's XCR0, which covers every state the host
 * saves and restores: it may set XCR0 to exactly that, nothing else.
 *
 * Return: true if so; false means #GP.
 */
bool vmmu_xsetbv_ok(u32 index, u64 value)
{
	return index == XCR_XFEATURE_ENABLED_MASK && value == vmmu_host_xcr0;
}
