// SPDX-License-Identifier: GPL-2.0
/*
 * The MSRs a guest may read and write, whatever the vendor.
 *
 * What a value may be is checked here, once (KVM's checks: EFER's bits and
 * LME under paging, a valid PAT, canonical addresses); where the value
 * lives is the vendor's: a field of its control block, or an MSR it
 * switches around the guest run (ops->get_msr, ops->set_msr).  EFER goes
 * through ops->set_efer, which adds what the vendor needs (SVM's SVME, VMX's
 * IA-32e entry control).  Every other MSR is refused: RDMSR and WRMSR of it
 * raise #GP.
 */
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

#include <vmmu/backend.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>
#include <vmmu/x86_state.h>

static bool x86_set_efer(struct vmmu_vcpu *vcpu, u64 efer)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;
	u64 old = ops->get_efer(vcpu);

	if (efer & ~VMMU_GUEST_EFER_VALID)
		return false;
	/* LME cannot change while paging is on; LMA is the CPU's. */
	if ((ops->get_cr0(vcpu) & X86_CR0_PG) && ((efer ^ old) & EFER_LME))
		return false;
	ops->set_efer(vcpu, (efer & ~EFER_LMA) | (old & EFER_LMA));
	return true;
}

/* Does @msr hold a linear address, which must be canonical? */
static bool x86_msr_is_address(u32 msr)
{
	switch (msr) {
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		return true;
	default:
		return false;
	}
}

/**
 * vmmu_x86_get_msr() - RDMSR of what vmmu virtualizes
 * @vcpu: the vCPU, loaded
 * @msr: the MSR
 * @data: its value
 *
 * Return: false if the guest's RDMSR must raise #GP.
 */
bool vmmu_x86_get_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 *data)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;

	switch (msr) {
	case MSR_EFER:
		*data = ops->get_efer(vcpu);
		return true;
	case MSR_IA32_APICBASE:
		*data = vcpu->x86.apic_base;
		return true;
	default:
		return ops->get_msr(vcpu, msr, data);
	}
}

/**
 * vmmu_x86_set_msr() - WRMSR of what vmmu virtualizes
 * @vcpu: the vCPU, loaded
 * @msr: the MSR
 * @data: the value
 *
 * Return: false if the guest's WRMSR must raise #GP (nothing changed).
 */
bool vmmu_x86_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;

	switch (msr) {
	case MSR_EFER:
		return x86_set_efer(vcpu, data);
	case MSR_IA32_APICBASE:
		vcpu->x86.apic_base = data;
		return true;
	case MSR_IA32_CR_PAT:
		if (!vmmu_pat_valid(data))
			return false;
		break;
	}
	if (x86_msr_is_address(msr) && !vmmu_canonical(data, ops->get_cr4(vcpu)))
		return false;
	return ops->set_msr(vcpu, msr, data);
}
