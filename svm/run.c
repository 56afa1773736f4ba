// SPDX-License-Identifier: GPL-2.0
/*
 * One guest entry on SVM.
 *
 * dev/run.c loops: requests, signals, rescheduling, then
 * vmmu_svm_vcpu_run() for one VMRUN and its exit.  Here, with interrupts
 * disabled:
 *
 *   enter guest mode (fails if a request came in) -> last checks -> guest
 *   FPU and PKRU -> nested CR3 and ASID -> vmenter.S (CLGI, STI, VMRUN,
 *   CLI, STGI) -> host PKRU and breakpoints -> leave guest mode
 *
 * and then, with interrupts on again (the interrupt that made the guest
 * exit is taken there), the exit handler.
 *
 * The guest runs with its own ASID, one of this CPU's.  ASIDs are handed
 * out per CPU in generations: a vCPU that needs a TLB flush, moved to
 * another CPU, or whose ASID is from an old generation takes the next
 * free ASID; when a CPU runs out, it starts a new generation and flushes
 * every ASID.  (QEMU has no per-ASID flush, so a new ASID is the flush.)
 */
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <asm/debugreg.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/special_insns.h>

#include <vmmu/pfncache.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/x86_state.h>

#include "svm.h"

/**
 * vmmu_svm_vcpu_load() - the vCPU's thread runs on @cpu now
 * @vcpu: the vCPU
 * @cpu: the current CPU; preemption is disabled
 *
 * The ASID check at the next entry notices the move.
 */
void vmmu_svm_vcpu_load(struct vmmu_vcpu *vcpu, int cpu)
{
	/* Read by vmmu_svm_vcpu_kick(), on another CPU. */
	WRITE_ONCE(vcpu->cpu, cpu);
}

/**
 * vmmu_svm_vcpu_put() - the vCPU's thread leaves its CPU
 * @vcpu: the vCPU; preemption is disabled
 */
void vmmu_svm_vcpu_put(struct vmmu_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->cpu, -1);
}

/**
 * vmmu_svm_vcpu_run_begin() - start of KVM_RUN
 * @vcpu: the vCPU, loaded
 *
 * Loads the guest's FPU state for the whole ioctl: the host's is saved in
 * the task, and a context switch saves and restores the guest's.  Then
 * completes the port or MMIO access userspace handled at the last exit.
 *
 * Return: 0 or a negative errno.
 */
int vmmu_svm_vcpu_run_begin(struct vmmu_vcpu *vcpu)
{
	fpu_swap_kvm_fpstate(&to_svm(vcpu)->guest_fpu, true);
	vmmu_svm_complete_pio(vcpu);
	return vmmu_svm_complete_mmio(vcpu);
}

/**
 * vmmu_svm_vcpu_run_end() - end of KVM_RUN: the host's FPU state is back
 * @vcpu: the vCPU
 */
void vmmu_svm_vcpu_run_end(struct vmmu_vcpu *vcpu)
{
	fpu_swap_kvm_fpstate(&to_svm(vcpu)->guest_fpu, false);
}

/**
 * vmmu_svm_flush_tlb() - drop the vCPU's translations at the next entry
 * @vcpu: the vCPU, on its own thread
 */
void vmmu_svm_flush_tlb(struct vmmu_vcpu *vcpu)
{
	to_svm(vcpu)->need_new_asid = true;
}

static void vmmu_svm_kick_ipi(void *unused)
{
}

/**
 * vmmu_svm_vcpu_kick() - make a vCPU in guest mode exit
 * @vcpu: the vCPU
 *
 * Any interrupt makes the guest exit (INTR is intercepted), and one that
 * arrives while the vCPU prepares its entry, interrupts off, is taken as
 * soon as the guest runs.  From contexts that cannot send an IPI the vCPU
 * exits at its next timer tick instead.
 */
void vmmu_svm_vcpu_kick(struct vmmu_vcpu *vcpu)
{
	int cpu = READ_ONCE(vcpu->cpu);

	if (cpu < 0 || !in_task() || irqs_disabled())
		return;
	smp_call_function_single(cpu, vmmu_svm_kick_ipi, NULL, 0);
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
 * PKRU is not part of the FPU state fpu_swap_kvm_fpstate() switches; a
 * guest that turned CR4.PKE on may change it.
 */
static void svm_load_guest_pkru(struct vmmu_svm_vcpu *svm)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return;
	svm->host_pkru = rdpkru();
	if (svm->guest_pkru != svm->host_pkru)
		wrpkru(svm->guest_pkru);
}

static void svm_load_host_pkru(struct vmmu_svm_vcpu *svm)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return;
	svm->guest_pkru = rdpkru();
	if (svm->guest_pkru != svm->host_pkru)
		wrpkru(svm->host_pkru);
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

/* VMRUN and back; interrupts are off and the vCPU is in guest mode. */
static void svm_enter_guest(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmmu_svm_cpu *sc = this_cpu_ptr(&vmmu_svm_cpu);

	/* An interrupt handler used the FPU since the guest's was loaded. */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	svm_load_guest_pkru(svm);
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
	svm_load_host_pkru(svm);
	/* #VMEXIT disabled the host's hardware breakpoints. */
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
}

/* Should the vCPU go back to the loop instead of entering the guest? */
static bool svm_exit_request(void)
{
	return need_resched() || signal_pending(current);
}

/**
 * vmmu_svm_vcpu_run() - enter the guest once and handle the exit
 * @vcpu: the vCPU, loaded, with a valid root; preemption enabled
 *
 * The vCPU is in guest mode (vmmu_vcpu_enter_guest_mode()) from before
 * VMRUN until after #VMEXIT, with interrupts off, so remote TLB flushes wait
 * for it and their kick's IPI makes the guest exit.
 *
 * Return: 1 to go on, 0 to return to userspace, or a negative errno.
 */
int vmmu_svm_vcpu_run(struct vmmu_vcpu *vcpu)
{
	local_irq_disable();
	if (!vmmu_vcpu_enter_guest_mode(vcpu)) {
		local_irq_enable();
		return 1;
	}
	if (svm_exit_request()) {
		vmmu_vcpu_exit_guest_mode(vcpu);
		local_irq_enable();
		return 1;
	}
	/*
	 * Cannot happen: a CPU comes online only once SVM is on there.  Fail
	 * rather than VMRUN outside SVM.
	 */
	if (unlikely(!this_cpu_read(vmmu_svm_cpu.enabled))) {
		vmmu_vcpu_exit_guest_mode(vcpu);
		local_irq_enable();
		return -EIO;
	}
	vmmu_runstate_enter(vcpu);
	svm_enter_guest(vcpu);
	vmmu_runstate_exit(vcpu);
	atomic64_inc(vmmu_vcpu_stat(vcpu, exits));
	vmmu_vcpu_exit_guest_mode(vcpu);
	local_irq_enable();
	return vmmu_svm_handle_exit(vcpu);
}
