// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware vCPUs whatever the vendor: lifetime, the entry section of
 * KVM_RUN, and the general registers of KVM_GET/SET_REGS.
 *
 * dev/run.c loops: requests, signals, rescheduling, then
 * vmmu_x86_vcpu_run() for one entry and its exit.  Here, with interrupts
 * disabled:
 *
 *   enter guest mode (fails if a request came in) -> last checks -> guest
 *   FPU and PKRU -> the vendor's world switch (ops->enter_guest) -> host
 *   PKRU -> ops->handle_exit_irqoff -> leave guest mode
 *
 * and then, with interrupts on again (the interrupt that made the guest
 * exit is taken there), the vendor's exit handler.
 */
#include <linux/kvm.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/processor-flags.h>
#include <asm/trapnr.h>
#include <asm/special_insns.h>

#include <vmmu/backend.h>
#include <vmmu/pfncache.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>

#define VMMU_X86_APIC_BASE	0xfee00000ULL
#define VMMU_X86_APIC_ENABLE	BIT_ULL(11)
#define VMMU_X86_APIC_BSP	BIT_ULL(8)
/* EDX at RESET holds the processor signature; KVM's default before CPUID. */
#define VMMU_X86_RESET_EDX	0x600
/* CR8 has four bits. */
#define VMMU_X86_CR8_MAX	0xfULL

static const struct vmmu_backend_ops *x86_ops(struct vmmu_vcpu *vcpu)
{
	return vcpu->vm->backend;
}

/**
 * vmmu_x86_vcpu_create() - the hardware part of a new vCPU
 * @vcpu: the vCPU, not yet visible to userspace; its VM has a backend
 *
 * The guest FPU state, the vendor's state, then both in the RESET state.
 * On failure the caller frees with vmmu_x86_vcpu_free().
 *
 * Return: 0 or -ENOMEM.
 */
int vmmu_x86_vcpu_create(struct vmmu_vcpu *vcpu)
{
	int r;

	if (!fpu_alloc_guest_fpstate(&vcpu->x86.guest_fpu))
		return -ENOMEM;
	vcpu->x86.fpu_allocated = true;
	r = x86_ops(vcpu)->vcpu_create(vcpu);
	if (r)
		return r;
	vmmu_x86_msr_create(vcpu);
	vmmu_x86_vcpu_reset(vcpu);
	return 0;
}

/**
 * vmmu_x86_vcpu_free() - free what vmmu_x86_vcpu_create() allocated
 * @vcpu: the vCPU; it never runs again
 */
void vmmu_x86_vcpu_free(struct vmmu_vcpu *vcpu)
{
	x86_ops(vcpu)->vcpu_free(vcpu);
	if (vcpu->x86.fpu_allocated)
		fpu_free_guest_fpstate(&vcpu->x86.guest_fpu);
	vcpu->x86.fpu_allocated = false;
}

/**
 * vmmu_x86_vcpu_reset() - put a vCPU in the state of a CPU after RESET
 * @vcpu: the vCPU, not running (or handling its triple fault)
 *
 * The vendor's control block first (real mode at 0xffff0, zeroed GPRs),
 * then what is the same for every vendor: EDX, the APIC base with the BSP
 * bit for the boot vCPU (0 unless KVM_SET_BOOT_CPU_ID), PKRU, the MSRs
 * RESET defines, no pending access.
 */
void vmmu_x86_vcpu_reset(struct vmmu_vcpu *vcpu)
{
	struct vmmu_x86_vcpu *x86 = &vcpu->x86;

	x86_ops(vcpu)->vcpu_reset(vcpu);
	x86_ops(vcpu)->write_gpr(vcpu, __VCPU_REGS_RDX, VMMU_X86_RESET_EDX);
	x86->apic_base = VMMU_X86_APIC_BASE | VMMU_X86_APIC_ENABLE;
	if (vcpu->vcpu_id == READ_ONCE(vcpu->vm->x86.bsp_vcpu_id))
		x86->apic_base |= VMMU_X86_APIC_BSP;
	x86->guest_pkru = 0;
	vmmu_x86_msr_reset(vcpu);
	memset(&x86->pio, 0, sizeof(x86->pio));
	memset(&x86->mmio, 0, sizeof(x86->mmio));
	memset(&x86->msr_exit, 0, sizeof(x86->msr_exit));
	x86->irq_queued = false;
	x86->nmi_queued = 0;
	x86->nmi_pending = 0;
	x86->nmi_reinject = false;
	x86->mce_pending = false;
	x86->shutdown_pending = false;
	/*
	 * The vendor's reset turned its interrupt-window and NMI-window exits
	 * off and unblocked NMIs.
	 */
	x86->irq_window = false;
	x86->nmi_window = false;
}

/**
 * vmmu_x86_vcpu_load() - the vCPU's thread runs on @cpu now
 * @vcpu: the vCPU
 * @cpu: the current CPU; preemption is disabled
 */
void vmmu_x86_vcpu_load(struct vmmu_vcpu *vcpu, int cpu)
{
	if (x86_ops(vcpu)->vcpu_load)
		x86_ops(vcpu)->vcpu_load(vcpu, cpu);
	/* Read by kicks (core/vcpu.c), on another CPU. */
	WRITE_ONCE(vcpu->cpu, cpu);
}

/**
 * vmmu_x86_vcpu_put() - the vCPU's thread leaves its CPU
 * @vcpu: the vCPU; preemption is disabled
 */
void vmmu_x86_vcpu_put(struct vmmu_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->cpu, -1);
	if (x86_ops(vcpu)->vcpu_put)
		x86_ops(vcpu)->vcpu_put(vcpu);
}

/**
 * vmmu_x86_vcpu_run_begin() - start of KVM_RUN
 * @vcpu: the vCPU, loaded
 *
 * Loads the guest's FPU state for the whole ioctl (the host's is saved in
 * the task, and a context switch saves and restores the guest's), the
 * register sets userspace marked dirty in kvm_run (sync regs:
 * vmmu_x86_sync_regs_load()), sets CR8 from kvm_run.cr8, as KVM does
 * without an in-kernel local APIC (userspace's APIC owns the task
 * priority), then completes the port or MMIO
 * read userspace handled at the last exit: its data goes to the register
 * (or, for INS, to guest memory: vmmu_x86_complete_string_io()), RIP past
 * the instruction; or the RDMSR or WRMSR (vmmu_x86_complete_msr()).
 *
 * Return: 1 to run the guest; 0 to return to userspace with kvm_run
 * filled in (an INS that could not complete); -EINVAL (sync regs that
 * fail their checks, or kvm_run.cr8 above 15, which changes nothing), or
 * the errno of vmmu_x86_complete_string_io().
 */
int vmmu_x86_vcpu_run_begin(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_vcpu *x86 = &vcpu->x86;
	unsigned int reg = x86->mmio.insn.reg;
	u64 val = READ_ONCE(vcpu->run->cr8);

	/* vmmu_x86_vcpu_run_end() puts it back whatever this returns. */
	fpu_swap_kvm_fpstate(&x86->guest_fpu, true);
	if (vmmu_x86_sync_regs_load(vcpu))
		return -EINVAL;
	/* No local APIC in the kernel: userspace's TPR is the guest's CR8. */
	if (val > VMMU_X86_CR8_MAX)
		return -EINVAL;
	ops->set_cr8(vcpu, val);
	vmmu_x86_complete_msr(vcpu);
	if (x86->pio.pending && x86->pio.string)
		return vmmu_x86_complete_string_io(vcpu);
	if (x86->pio.pending) {
		val = ops->read_gpr(vcpu, __VCPU_REGS_RAX);
		if (vmmu_complete_pio(vcpu, &x86->pio, ops->get_rip(vcpu), &val)) {
			ops->write_gpr(vcpu, __VCPU_REGS_RAX, val);
			ops->set_rip(vcpu, x86->pio.next_rip);
			ops->clear_interrupt_shadow(vcpu);
		}
	}
	if (x86->mmio.pending) {
		val = ops->read_gpr(vcpu, reg);
		if (vmmu_complete_mmio(vcpu, &x86->mmio, ops->get_rip(vcpu), &val)) {
			ops->write_gpr(vcpu, reg, val);
			ops->set_rip(vcpu, x86->mmio.next_rip);
			ops->clear_interrupt_shadow(vcpu);
		}
	}
	return 1;
}

/* Does the guest accept an interrupt now (IF set, no STI/MOV SS shadow)? */
static bool x86_interrupt_allowed(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);

	return (ops->get_rflags(vcpu) & X86_EFLAGS_IF) &&
	       !ops->get_interrupt_shadow(vcpu);
}

/* Does an event wait in the vendor's injection fields? */
static bool x86_event_pending(struct vmmu_vcpu *vcpu)
{
	struct vmmu_x86_event ev;

	return x86_ops(vcpu)->get_event(vcpu, &ev);
}

/*
 * kvm_run.ready_for_interrupt_injection: a KVM_INTERRUPT now would be
 * delivered at the next entry, before any guest instruction (the guest
 * accepts interrupts, none is queued, no event waits for re-injection).
 */
static bool x86_ready_for_interrupt(struct vmmu_vcpu *vcpu)
{
	return x86_interrupt_allowed(vcpu) && !vcpu->x86.irq_queued &&
	       !x86_event_pending(vcpu);
}

/**
 * vmmu_x86_vcpu_run_end() - end of KVM_RUN
 * @vcpu: the vCPU, still loaded
 *
 * Stores the register sets userspace asked for in kvm_run.kvm_valid_regs
 * (sync regs), fills what KVM reports on every return from KVM_RUN without
 * an in-kernel local APIC (if_flag, cr8, apic_base,
 * ready_for_interrupt_injection), then puts the host's FPU state back.
 */
void vmmu_x86_vcpu_run_end(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct kvm_run *run = vcpu->run;

	vmmu_x86_sync_regs_store(vcpu);
	run->if_flag = !!(ops->get_rflags(vcpu) & X86_EFLAGS_IF);
	run->cr8 = ops->get_cr8(vcpu);
	run->apic_base = vcpu->x86.apic_base;
	run->ready_for_interrupt_injection = x86_ready_for_interrupt(vcpu);
	fpu_swap_kvm_fpstate(&vcpu->x86.guest_fpu, false);
}

/**
 * vmmu_x86_interrupt() - KVM_INTERRUPT: queue an external interrupt
 * @vcpu: the vCPU, whose mutex is held
 * @vector: the vector (struct kvm_interrupt.irq)
 *
 * Without an in-kernel interrupt controller the VMM's PIC or APIC decides
 * which interrupt the vCPU takes and calls this when kvm_run says the
 * vCPU is ready for one.  The interrupt is delivered at the next entry
 * where the guest accepts it (KVM injects it at the next entry whatever
 * RFLAGS.IF says; VMX refuses such an entry); a second one before that
 * replaces the first, as in KVM.
 *
 * Return: 0, or -EINVAL for a vector above 255.
 */
int vmmu_x86_interrupt(struct vmmu_vcpu *vcpu, u32 vector)
{
	if (vector >= KVM_NR_INTERRUPTS)
		return -EINVAL;
	vcpu->x86.irq_vector = vector;
	vcpu->x86.irq_queued = true;
	return 0;
}

/**
 * vmmu_x86_nmi() - KVM_NMI: raise an NMI on the vCPU
 * @vcpu: the vCPU, whose mutex is held
 *
 * As on a CPU, NMIs do not queue up: one is delivered at the next entry
 * where NMIs are not blocked and one more is latched behind it; more are
 * lost (vmmu_x86_process_nmi()).  Without an in-kernel local APIC the VMM
 * decides which vCPU takes an NMI (LINT1, an NMI IPI, its monitor's "nmi").
 *
 * Return: 0.
 */
int vmmu_x86_nmi(struct vmmu_vcpu *vcpu)
{
	if (vcpu->x86.nmi_queued < 2)
		vcpu->x86.nmi_queued++;
	return 0;
}

/* Does an NMI wait in the vendor's injection fields? */
static bool x86_nmi_in_delivery(struct vmmu_vcpu *vcpu)
{
	struct vmmu_x86_event ev;

	return x86_ops(vcpu)->get_event(vcpu, &ev) && ev.nmi;
}

/**
 * vmmu_x86_process_nmi() - count the NMIs KVM_NMI raised into the pending
 *	ones
 * @vcpu: the vCPU, loaded or between vmmu_x86_state_get() and _put()
 *
 * Two may wait while no NMI is being handled (the first is delivered at
 * once, the second is latched behind it), one while one is (in delivery,
 * or its handler has not executed IRET yet): the rest is lost, as on a CPU.
 */
void vmmu_x86_process_nmi(struct vmmu_vcpu *vcpu)
{
	struct vmmu_x86_vcpu *x86 = &vcpu->x86;
	unsigned int limit = 2;

	if (x86_ops(vcpu)->get_nmi_mask(vcpu) || x86->nmi_reinject ||
	    x86_nmi_in_delivery(vcpu))
		limit = 1;
	x86->nmi_pending = min_t(unsigned int,
				 x86->nmi_pending + x86->nmi_queued, limit);
	x86->nmi_queued = 0;
}

/* Can an NMI be delivered now (not blocked, no STI/MOV SS shadow)? */
static bool x86_nmi_allowed(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);

	return !ops->get_nmi_mask(vcpu) && !ops->get_interrupt_shadow(vcpu);
}

/*
 * Before an entry: an event whose delivery an exit interrupted waits in
 * the injection fields and goes first; then, in the order of their
 * priority, an NMI in delivery that KVM_SET_VCPU_EVENTS gave, a machine
 * check, a pending NMI if NMIs are not blocked, the queued interrupt if the
 * guest accepts it; one event per entry.  The NMI window is open while an
 * NMI waits; the interrupt window while an interrupt is queued or
 * userspace asks (request_interrupt_window).
 */
static void x86_inject_events(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_vcpu *x86 = &vcpu->x86;
	bool window;

	if (x86->nmi_queued)
		vmmu_x86_process_nmi(vcpu);
	if (x86->nmi_reinject && !x86_event_pending(vcpu)) {
		ops->inject_nmi(vcpu);
		x86->nmi_reinject = false;
	}
	if (x86->mce_pending && !x86_event_pending(vcpu)) {
		ops->inject_exception(vcpu, X86_TRAP_MC, false, 0);
		x86->mce_pending = false;
	}
	if (x86->nmi_pending && !x86_event_pending(vcpu) &&
	    x86_nmi_allowed(vcpu)) {
		ops->inject_nmi(vcpu);
		x86->nmi_pending--;
		atomic64_inc(vmmu_vcpu_stat(vcpu, nmi_injections));
	}
	window = x86->nmi_pending || x86->nmi_reinject;
	if (window || x86->nmi_window) {
		ops->set_nmi_window(vcpu, window);
		x86->nmi_window = window;
	}
	if (x86->irq_queued && !x86_event_pending(vcpu) &&
	    x86_interrupt_allowed(vcpu)) {
		ops->inject_irq(vcpu, x86->irq_vector);
		x86->irq_queued = false;
		atomic64_inc(vmmu_vcpu_stat(vcpu, irq_injections));
	}
	window = x86->irq_queued || READ_ONCE(vcpu->run->request_interrupt_window);
	if (window != x86->irq_window) {
		ops->set_irq_window(vcpu, window);
		x86->irq_window = window;
	}
}

/*
 * PKRU is not part of the FPU state fpu_swap_kvm_fpstate() switches; a
 * guest that turned CR4.PKE on may change it.
 */
static void x86_load_guest_pkru(struct vmmu_x86_vcpu *x86)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return;
	x86->host_pkru = rdpkru();
	if (x86->guest_pkru != x86->host_pkru)
		wrpkru(x86->guest_pkru);
}

static void x86_load_host_pkru(struct vmmu_x86_vcpu *x86)
{
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		return;
	x86->guest_pkru = rdpkru();
	if (x86->guest_pkru != x86->host_pkru)
		wrpkru(x86->host_pkru);
}

/* Should the vCPU go back to the loop instead of entering the guest? */
static bool x86_exit_request(void)
{
	return need_resched() || signal_pending(current);
}

/**
 * vmmu_x86_vcpu_run() - enter the guest once and handle the exit
 * @vcpu: the vCPU, loaded, with a valid root; preemption enabled
 *
 * The vCPU is in guest mode (vmmu_vcpu_enter_guest_mode()) from before the
 * entry until after the exit, with interrupts off, so remote TLB flushes
 * wait for it and their kick's IPI makes the guest exit.
 *
 * Return: 1 to go on, 0 to return to userspace, or a negative errno.
 */
int vmmu_x86_vcpu_run(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	int r = 1;

	if (vcpu->x86.shutdown_pending) {
		vcpu->x86.shutdown_pending = false;
		return vmmu_x86_handle_shutdown(vcpu);
	}
	x86_inject_events(vcpu);
	local_irq_disable();
	if (!vmmu_vcpu_enter_guest_mode(vcpu))
		goto out_irq;
	if (x86_exit_request())
		goto out_guest_mode;
	/*
	 * Cannot happen: a CPU comes online only once virtualization is on
	 * there, and the vCPU is loaded here.  Fail rather than enter.
	 */
	if (unlikely(!ops->cpu_ready(vcpu))) {
		r = -EIO;
		goto out_guest_mode;
	}
	vmmu_runstate_enter(vcpu);
	/* An interrupt handler used the FPU since the guest's was loaded. */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	x86_load_guest_pkru(&vcpu->x86);
	vcpu->x86.entered = true;
	ops->enter_guest(vcpu);
	x86_load_host_pkru(&vcpu->x86);
	if (ops->handle_exit_irqoff)
		ops->handle_exit_irqoff(vcpu);
	vmmu_runstate_exit(vcpu);
	atomic64_inc(vmmu_vcpu_stat(vcpu, exits));
	vmmu_vcpu_exit_guest_mode(vcpu);
	local_irq_enable();
	r = ops->handle_exit(vcpu);
	/* The window userspace asked for is open: its turn to inject. */
	if (r > 0 && READ_ONCE(vcpu->run->request_interrupt_window) &&
	    x86_ready_for_interrupt(vcpu)) {
		vcpu->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
		atomic64_inc(vmmu_vcpu_stat(vcpu, request_irq_exits));
		return 0;
	}
	return r;

out_guest_mode:
	vmmu_vcpu_exit_guest_mode(vcpu);
out_irq:
	local_irq_enable();
	return r;
}

/**
 * vmmu_x86_state_get() - make guest state readable through the ops outside
 *	KVM_RUN
 * @vcpu: the vCPU, whose mutex is held
 *
 * VMX makes its VMCS current and disables preemption until
 * vmmu_x86_state_put().
 */
void vmmu_x86_state_get(struct vmmu_vcpu *vcpu)
{
	if (x86_ops(vcpu)->state_get)
		x86_ops(vcpu)->state_get(vcpu);
}

/**
 * vmmu_x86_state_put() - end of a vmmu_x86_state_get() section
 * @vcpu: the vCPU
 */
void vmmu_x86_state_put(struct vmmu_vcpu *vcpu)
{
	if (x86_ops(vcpu)->state_put)
		x86_ops(vcpu)->state_put(vcpu);
}

/* Where struct kvm_regs keeps each GPR, in KVM's numbering. */
#define X86_REGS_GPR(num, field) \
	[__VCPU_REGS_##num] = offsetof(struct kvm_regs, field)
static const unsigned short x86_regs_off[VMMU_X86_NR_GPRS] = {
	X86_REGS_GPR(RAX, rax), X86_REGS_GPR(RCX, rcx),
	X86_REGS_GPR(RDX, rdx), X86_REGS_GPR(RBX, rbx),
	X86_REGS_GPR(RSP, rsp), X86_REGS_GPR(RBP, rbp),
	X86_REGS_GPR(RSI, rsi), X86_REGS_GPR(RDI, rdi),
	X86_REGS_GPR(R8, r8), X86_REGS_GPR(R9, r9),
	X86_REGS_GPR(R10, r10), X86_REGS_GPR(R11, r11),
	X86_REGS_GPR(R12, r12), X86_REGS_GPR(R13, r13),
	X86_REGS_GPR(R14, r14), X86_REGS_GPR(R15, r15),
};

static u64 *x86_regs_gpr(struct kvm_regs *regs, unsigned int reg)
{
	return (u64 *)((char *)regs + x86_regs_off[reg]);
}

/**
 * vmmu_x86_get_regs() - KVM_GET_REGS
 * @vcpu: the vCPU, not running
 * @regs: filled in
 */
void vmmu_x86_get_regs(struct vmmu_vcpu *vcpu, struct kvm_regs *regs)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	unsigned int reg;

	vmmu_x86_state_get(vcpu);
	for (reg = 0; reg < VMMU_X86_NR_GPRS; reg++)
		*x86_regs_gpr(regs, reg) = ops->read_gpr(vcpu, reg);
	regs->rip = ops->get_rip(vcpu);
	regs->rflags = ops->get_rflags(vcpu);
	vmmu_x86_state_put(vcpu);
}

/**
 * vmmu_x86_set_regs() - KVM_SET_REGS
 * @vcpu: the vCPU, not running
 * @regs: the new values; RFLAGS bit 1 is always set, as on a real CPU
 */
void vmmu_x86_set_regs(struct vmmu_vcpu *vcpu, const struct kvm_regs *regs)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct kvm_regs r = *regs;
	unsigned int reg;

	vmmu_x86_state_get(vcpu);
	for (reg = 0; reg < VMMU_X86_NR_GPRS; reg++)
		ops->write_gpr(vcpu, reg, *x86_regs_gpr(&r, reg));
	ops->set_rip(vcpu, regs->rip);
	ops->set_rflags(vcpu, regs->rflags | X86_EFLAGS_FIXED);
	vmmu_x86_state_put(vcpu);
}

/**
 * vmmu_x86_set_sregs() - KVM_SET_SREGS
 * @vcpu: the vCPU, whose mutex is held
 * @sregs: the new state
 *
 * The APIC base is checked here as WRMSR checks it; the vendor checks and
 * loads the rest.
 *
 * Return: 0, or -EINVAL with nothing changed.
 */
int vmmu_x86_set_sregs(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	if (!vmmu_x86_apic_base_valid(vcpu, sregs->apic_base))
		return -EINVAL;
	return x86_ops(vcpu)->set_sregs(vcpu, sregs);
}

/**
 * vmmu_x86_fpu_ioctl() - KVM_GET_FPU and KVM_SET_FPU
 * @vcpu: the vCPU, whose mutex is held (not running: its FPU state is in
 *	memory)
 * @set: KVM_SET_FPU
 * @ufpu: the user's struct kvm_fpu
 *
 * The x87 and SSE state, from and to the legacy (FXSAVE) area of the
 * guest's fpstate, as KVM does.
 *
 * Return: 0 or -EFAULT.
 */
int vmmu_x86_fpu_ioctl(struct vmmu_vcpu *vcpu, bool set,
		       struct kvm_fpu __user *ufpu)
{
	struct fxregs_state *fx = &vcpu->x86.guest_fpu.fpstate->regs.fxsave;
	struct kvm_fpu fpu;

	if (!set) {
		memset(&fpu, 0, sizeof(fpu));
		memcpy(fpu.fpr, fx->st_space, sizeof(fpu.fpr));
		fpu.fcw = fx->cwd;
		fpu.fsw = fx->swd;
		fpu.ftwx = fx->twd;
		fpu.last_opcode = fx->fop;
		fpu.last_ip = fx->rip;
		fpu.last_dp = fx->rdp;
		memcpy(fpu.xmm, fx->xmm_space, sizeof(fpu.xmm));
		fpu.mxcsr = fx->mxcsr;
		return copy_to_user(ufpu, &fpu, sizeof(fpu)) ? -EFAULT : 0;
	}
	if (copy_from_user(&fpu, ufpu, sizeof(fpu)))
		return -EFAULT;
	memcpy(fx->st_space, fpu.fpr, sizeof(fpu.fpr));
	fx->cwd = fpu.fcw;
	fx->swd = fpu.fsw;
	fx->twd = fpu.ftwx;
	fx->fop = fpu.last_opcode;
	fx->rip = fpu.last_ip;
	fx->rdp = fpu.last_dp;
	memcpy(fx->xmm_space, fpu.xmm, sizeof(fpu.xmm));
	fx->mxcsr = fpu.mxcsr;
	/*
	 * In the XSAVE format, a component whose XSTATE_BV bit is clear is
	 * loaded in its initial state, whatever the legacy area says: a new
	 * vCPU's fpstate has it clear.
	 */
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		vcpu->x86.guest_fpu.fpstate->regs.xsave.header.xfeatures |=
			XFEATURE_MASK_FPSSE;
	return 0;
}
