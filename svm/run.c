// SPDX-License-Identifier: GPL-2.0
/*
 * One guest entry on SVM: the world switch x86/vcpu.c calls with
 * interrupts disabled, the vCPU in guest mode and the guest's FPU and PKRU
 * loaded:
 *
 *   nested CR3 and ASID -> vmenter.S (CLGI, STI, VMRUN, CLI, STGI) ->
 *   host XCR0 and breakpoints
 *
 * The guest runs with its own ASID, one of this CPU's.  ASIDs are handed
 * out per CPU in generations: a vCPU that needs a TLB flush, moved to
 * another CPU, or whose ASID is from an old generation takes the next
 * free ASID; when a CPU runs out, it starts a new generation and flushes
 * every ASID.  (QEMU has no per-ASID flush, so a new ASID is the flush.)
 */
#include <linux/smp.h>
#include <linux/string.h>
#include <asm/debugreg.h>
#include <asm/fpu/xcr.h>

#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/x86_state.h>

#include "svm.h"

/**
 * vmmu_svm_flush_tlb() - drop the vCPU's translations at the next entry
 * @vcpu: the vCPU, on its own thread
 */
void vmmu_svm_flush_tlb(struct vmmu_vcpu *vcpu)
{
	to_svm(vcpu)->need_new_asid = true;
}

/* Take a fresh ASID if the current one may hold stale translations. */
static void svm_assign_asid(struct vmmu_svm_vcpu *svm, int cpu)
{
	struct vmmu_svm_cpu *sc = this_cpu_ptr(&vmmu_svm_cpu);
	struct vmcb_control_area *c = &svm->vmcb->control;

	if (!svm->need_new_asid && svm->asid_cpu == cpu &&
	    svm->asid_generation == sc->asid_generation)
		return;
	if (sc->next_asid > vmmu_svm_max_asid) {
		sc->asid_generation++;
		sc->next_asid = 1;
		c->tlb_ctl = TLB_CONTROL_FLUSH_ALL_ASID;
	}
	svm->asid = sc->next_asid++;
	svm->asid_cpu = cpu;
	svm->asid_generation = sc->asid_generation;
	svm->need_new_asid = false;
	c->asid = svm->asid;
}

/* The nested page tables are the vCPU's root; a new root is a flush. */
static void svm_set_nested_cr3(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	u64 ncr3 = __pa(vcpu->root->spt);

	if (svm->vmcb->control.nested_cr3 != ncr3) {
		svm->vmcb->control.nested_cr3 = ncr3;
		svm->need_new_asid = true;
	}
}

/*
 * XSETBV is intercepted, yet QEMU (7.2) lets the guest's XSETBV through:
 * the host's XCR0 must be back before anything saves or restores FPU state
 * with it.  (An interrupt handler may, as soon as interrupts are on.)
 */
static void svm_load_host_xcr0(void)
{
	if (cpu_feature_enabled(X86_FEATURE_OSXSAVE) &&
	    xgetbv(XCR_XFEATURE_ENABLED_MASK) != vmmu_host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vmmu_host_xcr0);
}

/**
 * vmmu_svm_enter_guest() - VMRUN and back
 * @vcpu: the vCPU; interrupts are off, it is in guest mode
 */
void vmmu_svm_enter_guest(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmmu_svm_cpu *sc = this_cpu_ptr(&vmmu_svm_cpu);

	svm_set_nested_cr3(vcpu);
	svm_assign_asid(svm, smp_processor_id());
	svm->save_backup = svm->vmcb->save;
	memcpy(svm->regs_backup, svm->regs, sizeof(svm->regs));
	svm->event_inj_backup = svm->vmcb->control.event_inj;
	svm->event_inj_err_backup = svm->vmcb->control.event_inj_err;

	vmmu_svm_vmrun(svm->vmcb_pa, svm->regs, sc->host_save_pa);

	svm_load_host_xcr0();
	/*
	 * A VMRUN that failed did not flush either: whoever takes the next
	 * ASID here starts a new generation and flushes.
	 */
	if (unlikely(svm->vmcb->control.exit_code == (u32)SVM_EXIT_ERR))
		sc->next_asid = vmmu_svm_max_asid + 1;
	svm->vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	/* #VMEXIT disabled the host's hardware breakpoints. */
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
}

/**
 * vmmu_svm_cpu_ready() - is SVM on here?
 * @vcpu: the vCPU; interrupts are off
 *
 * Return: true unless this CPU came online without SVM (cannot happen: the
 * hotplug callback turns it on first).
 */
bool vmmu_svm_cpu_ready(struct vmmu_vcpu *vcpu)
{
	return this_cpu_read(vmmu_svm_cpu.enabled);
}
