// SPDX-License-Identifier: GPL-2.0
/*
 * VMX exit handlers.
 *
 * Each handler returns 1 to enter the guest again, 0 to return to userspace
 * with kvm_run filled in, or a negative errno for KVM_RUN to return.  They
 * run with interrupts and preemption enabled and may sleep: the VMCS stays
 * current on whatever CPU runs them (the preemption notifier loads it
 * again after every reschedule).
 *
 * The basic exit reason picks a handler from a table; most are x86/'s,
 * which see the guest through the ops in vmx/vcpu.c (the VMCS gives the
 * length of the instruction that exited).  What is VMX's own stays here:
 * decoding EPT-violation and I/O exit qualifications, MOV to CR0/CR4 of
 * the bits vmmu owns, failed entries.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <asm/fpu/xcr.h>
#include <asm/msr-index.h>
#include <asm/processor.h>
#include <asm/trapnr.h>

#include <vmmu/backend.h>
#include <vmmu/cpuid.h>
#include <vmmu/emul.h>
#include <vmmu/mmu.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/x86.h>

#include "vmx.h"

/* Exit reasons <asm/vmx.h> does not name in every kernel. */
#define VMX_EXIT_INIT_SIGNAL	3
#define VMX_EXIT_GETSEC		11

/* I/O exit qualification. */
#define VMX_IO_SIZE_MASK	0x7
#define VMX_IO_IN		BIT(3)
#define VMX_IO_STRING		BIT(4)
#define VMX_IO_REP		BIT(5)
#define VMX_IO_PORT_SHIFT	16

/* CR-access exit qualification. */
#define VMX_CR_NUM_MASK		0xf
#define VMX_CR_TYPE_SHIFT	4
#define VMX_CR_TYPE_MASK	0x3
#define VMX_CR_TYPE_MOV_TO	0
#define VMX_CR_TYPE_MOV_FROM	1
/* CR8 has four bits. */
#define VMX_CR8_MAX		0xfULL
#define VMX_CR_GPR_SHIFT	8
#define VMX_CR_GPR_MASK		0xf

/* EPT-violation exit qualification. */
#define VMX_EPT_READ		BIT(0)
#define VMX_EPT_WRITE		BIT(1)
#define VMX_EPT_FETCH		BIT(2)
#define VMX_EPT_PERMS		GENMASK(5, 3)	/* R, W, X of the entry */
#define VMX_EPT_GLA_VALID	BIT(7)
#define VMX_EPT_GLA_TRANSLATED	BIT(8)

static u32 vmx_exit_basic(const struct vmmu_vmx_vcpu *vmx)
{
	return (u16)vmx->exit_reason;
}

static int vmx_unexpected_exit(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	return vmmu_exit_internal_error(vcpu,
					KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
					2, vmx->exit_reason, vmx->exit_cpu, 0);
}

/*
 * IN, OUT, INS and OUTS.  The exit qualification says which, the size and
 * REP; the address size is in the VM-exit instruction information, which
 * not every CPU fills for them: the decoder finds it.
 */
static int vmx_handle_io(struct vmmu_vcpu *vcpu)
{
	u64 qual = vmcs_read(EXIT_QUALIFICATION);
	struct vmmu_x86_io io = {
		.exit_code = EXIT_REASON_IO_INSTRUCTION,
		.info = qual,
		.port = qual >> VMX_IO_PORT_SHIFT,
		.in = qual & VMX_IO_IN,
		.string = qual & VMX_IO_STRING,
		.rep = qual & VMX_IO_REP,
		.rep_known = true,
		.size = (qual & VMX_IO_SIZE_MASK) + 1,
		.next_rip = vmcs_read(GUEST_RIP) +
			    vmcs_read(VM_EXIT_INSTRUCTION_LEN),
	};

	return vmmu_x86_handle_io(vcpu, &io);
}

/*
 * MOV to or from CR8 (always exits: no TPR shadow), and MOV to CR0 or CR4
 * that touches a bit vmmu owns.  CR8 exists in 64-bit mode only; its
 * reserved bits 63:4 set is #GP, as on a CPU.
 */
static int vmx_handle_cr(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = &vmmu_vmx_ops;
	u64 qual = vmcs_read(EXIT_QUALIFICATION);
	unsigned int cr = qual & VMX_CR_NUM_MASK;
	unsigned int type = (qual >> VMX_CR_TYPE_SHIFT) & VMX_CR_TYPE_MASK;
	unsigned int reg = (qual >> VMX_CR_GPR_SHIFT) & VMX_CR_GPR_MASK;
	u64 val;
	bool ok;

	if (cr == 8 && type == VMX_CR_TYPE_MOV_FROM) {
		ops->write_gpr(vcpu, reg, ops->get_cr8(vcpu));
		return vmmu_x86_skip(vcpu, 4);
	}
	if (type != VMX_CR_TYPE_MOV_TO)
		return vmx_unexpected_exit(vcpu);
	val = ops->read_gpr(vcpu, reg);
	if (!ops->in_64bit_code(vcpu))
		val = (u32)val;
	if (cr == 0) {
		ok = vmmu_vmx_set_cr0(vcpu, val);
	} else if (cr == 4) {
		ok = vmmu_vmx_set_cr4(vcpu, val);
	} else if (cr == 8) {
		ok = val <= VMX_CR8_MAX;
		if (ok)
			ops->set_cr8(vcpu, val);
	} else {
		return vmx_unexpected_exit(vcpu);
	}
	return ok ? vmmu_x86_skip(vcpu, 3) : vmmu_x86_inject_gp(vcpu);
}

/*
 * EPT violation: the MMU maps the page, or userspace does the access.  The
 * error code vmmu_page_fault() takes comes from the exit qualification:
 * present if the entry allowed any access, write and fetch as the access
 * was.
 */
static int vmx_handle_ept_violation(struct vmmu_vcpu *vcpu)
{
	u64 qual = vmcs_read(EXIT_QUALIFICATION);
	u32 idt = vmcs_read(IDT_VECTORING_INFO_FIELD);
	struct vmmu_x86_gpa_fault f = {
		.exit_code = EXIT_REASON_EPT_VIOLATION,
		.info = qual,
		.gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS),
		/* A linear address that the access did not translate yet. */
		.guest_walk = (qual & VMX_EPT_GLA_VALID) &&
			      !(qual & VMX_EPT_GLA_TRANSLATED),
	};

	if (qual & VMX_EPT_PERMS)
		f.error_code |= VMMU_PFERR_PRESENT;
	if (qual & VMX_EPT_WRITE)
		f.error_code |= VMMU_PFERR_WRITE;
	if (qual & VMX_EPT_FETCH)
		f.error_code |= VMMU_PFERR_FETCH;
	if (idt & VECTORING_INFO_VALID_MASK)
		f.event = idt;
	/*
	 * An IRET that faulted here had unblocked NMIs; it runs again, and
	 * NMIs must stay blocked until it completes.
	 */
	else if (qual & INTR_INFO_UNBLOCK_NMI)
		vmcs_set_bits(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI);
	return vmmu_x86_handle_gpa_fault(vcpu, &f);
}

/* vmmu never builds misconfigured entries: the tables would be corrupt. */
static int vmx_handle_ept_misconfig(struct vmmu_vcpu *vcpu)
{
	return vmmu_exit_internal_error(vcpu,
					KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
					2, EXIT_REASON_EPT_MISCONFIG,
					vmcs_read(GUEST_PHYSICAL_ADDRESS), 0);
}

/*
 * The entry failed: VMfail (the VM-instruction error says why: a VMCS
 * field vmmu set wrong, or a guest state the CPU refuses on this path) or
 * an entry-failure exit (invalid guest state, MSR loading, machine check).
 */
static int vmx_handle_fail_entry(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason =
		vmx->vmfail ? vmx->vmfail : vmx->exit_reason;
	run->fail_entry.cpu = vmx->exit_cpu;
	return 0;
}

/*
 * An exit in the middle of delivering an event (an EPT violation on the
 * IDT or the stack) loses the event unless it is injected again: a
 * hardware exception, an NMI or an external interrupt.  Software
 * exceptions and interrupts come from their instruction, which runs again
 * instead.  An NMI goes in again with NMIs unblocked (its delivery blocks
 * them): an entry that injects one with them blocked fails.
 */
static void vmx_requeue_event(void)
{
	u32 info = vmcs_read(IDT_VECTORING_INFO_FIELD);
	u32 type = info & VECTORING_INFO_TYPE_MASK;

	if (!(info & VECTORING_INFO_VALID_MASK) ||
	    (type != INTR_TYPE_HARD_EXCEPTION && type != INTR_TYPE_EXT_INTR &&
	     type != INTR_TYPE_NMI_INTR))
		return;
	if (type == INTR_TYPE_NMI_INTR)
		vmcs_clear_bits(GUEST_INTERRUPTIBILITY_INFO,
				GUEST_INTR_STATE_NMI);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info & ~BIT(12));
	if (info & VECTORING_INFO_DELIVER_CODE_MASK)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE,
			   vmcs_read(IDT_VECTORING_ERROR_CODE));
}

/*
 * The exit handlers, by basic exit reason; a reason without one is
 * unexpected.  Host interrupts were taken as interrupts came back on, an
 * NMI (only NMIs exit: no exception bitmap) right after the exit.  No
 * nested VMX, no SMX, no MONITOR/MWAIT in the guest: #UD.
 */
static int (*const vmx_exit_handlers[])(struct vmmu_vcpu *vcpu) = {
	[EXIT_REASON_EXTERNAL_INTERRUPT] = vmmu_x86_handled,
	[EXIT_REASON_PREEMPTION_TIMER] = vmmu_x86_handled,
	[EXIT_REASON_INTERRUPT_WINDOW] = vmmu_x86_handle_irq_window,
	[EXIT_REASON_NMI_WINDOW] = vmmu_x86_handle_nmi_window,
	[EXIT_REASON_EXCEPTION_NMI] = vmmu_x86_handled,
	[EXIT_REASON_EPT_VIOLATION] = vmx_handle_ept_violation,
	[EXIT_REASON_EPT_MISCONFIG] = vmx_handle_ept_misconfig,
	[EXIT_REASON_IO_INSTRUCTION] = vmx_handle_io,
	[EXIT_REASON_HLT] = vmmu_x86_handle_hlt,
	[EXIT_REASON_CPUID] = vmmu_x86_handle_cpuid,
	[EXIT_REASON_MSR_READ] = vmmu_x86_handle_rdmsr,
	[EXIT_REASON_MSR_WRITE] = vmmu_x86_handle_wrmsr,
	[EXIT_REASON_XSETBV] = vmmu_x86_handle_xsetbv,
	[EXIT_REASON_CR_ACCESS] = vmx_handle_cr,
	[EXIT_REASON_TRIPLE_FAULT] = vmmu_x86_handle_shutdown,
	[EXIT_REASON_INVD] = vmmu_x86_handle_invd,
	[EXIT_REASON_RDPMC] = vmmu_x86_inject_gp,
	[EXIT_REASON_VMCALL] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMCLEAR] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMLAUNCH] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMPTRLD] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMPTRST] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMREAD] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMRESUME] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMWRITE] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMOFF] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMON] = vmmu_x86_inject_ud,
	[EXIT_REASON_INVEPT] = vmmu_x86_inject_ud,
	[EXIT_REASON_INVVPID] = vmmu_x86_inject_ud,
	[EXIT_REASON_VMFUNC] = vmmu_x86_inject_ud,
	[VMX_EXIT_GETSEC] = vmmu_x86_inject_ud,
	[EXIT_REASON_MONITOR_INSTRUCTION] = vmmu_x86_inject_ud,
	[EXIT_REASON_MWAIT_INSTRUCTION] = vmmu_x86_inject_ud,
};

/**
 * vmmu_vmx_handle_exit() - act on the exit of the last entry
 * @vcpu: the vCPU, whose mutex is held; interrupts and preemption enabled
 *
 * Return: 1 to enter the guest again, 0 to return to userspace with
 * kvm_run filled in, or a negative errno.
 */
int vmmu_vmx_handle_exit(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 reason = vmx_exit_basic(vmx);

	if (vmx->vmfail || (vmx->exit_reason & VMMU_VMX_ENTRY_FAILED))
		return vmx_handle_fail_entry(vcpu);
	vmx_requeue_event();
	/* INIT_SIGNAL among the unexpected. */
	if (reason >= ARRAY_SIZE(vmx_exit_handlers) || !vmx_exit_handlers[reason])
		return vmx_unexpected_exit(vcpu);
	return vmx_exit_handlers[reason](vcpu);
}
