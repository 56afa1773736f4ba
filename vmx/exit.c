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
 * The VMCS gives the length of the instruction that exited; handlers that
 * complete an instruction move RIP past it.  For MMIO the emulator decodes
 * the instruction (emul/), exactly as for SVM.
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
#include <vmmu/x86_state.h>

#include "vmx.h"

/* Exit reasons <asm/vmx.h> does not name in every kernel. */
#define VMX_EXIT_INIT_SIGNAL	3
#define VMX_EXIT_GETSEC		11

/* I/O exit qualification. */
#define VMX_IO_SIZE_MASK	0x7
#define VMX_IO_IN		BIT(3)
#define VMX_IO_STRING		BIT(4)
#define VMX_IO_PORT_SHIFT	16

/* CR-access exit qualification. */
#define VMX_CR_NUM_MASK		0xf
#define VMX_CR_TYPE_SHIFT	4
#define VMX_CR_TYPE_MASK	0x3
#define VMX_CR_TYPE_MOV_TO	0
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

static bool vmx_code64(struct vmmu_vmx_vcpu *vmx)
{
	return (vmx->guest_efer & EFER_LMA) &&
	       (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13));
}

/* Interrupt shadow ends: the instruction that exited is complete. */
static void vmx_clear_shadow(void)
{
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

	if (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
			   intr & ~(GUEST_INTR_STATE_STI |
				    GUEST_INTR_STATE_MOV_SS));
}

/* Set RIP to @rip, truncated outside 64-bit code. */
static void vmx_set_rip(struct vmmu_vmx_vcpu *vmx, u64 rip)
{
	if (!vmx_code64(vmx))
		rip = (u32)rip;
	vmcs_write(GUEST_RIP, rip);
	vmx_clear_shadow();
}

/* Go past the instruction that exited. */
static int vmx_skip(struct vmmu_vmx_vcpu *vmx)
{
	vmx_set_rip(vmx, vmcs_read(GUEST_RIP) +
		    vmcs_read(VM_EXIT_INSTRUCTION_LEN));
	return 1;
}

static int vmx_inject(struct vmmu_vmx_vcpu *vmx, unsigned int vector,
		      bool has_error, u32 error)
{
	u32 info = vector | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_VALID_MASK;

	/* Real mode has no error codes; an entry with one would fail. */
	if (has_error && (vmmu_vmx_guest_cr0() & X86_CR0_PE)) {
		info |= INTR_INFO_DELIVER_CODE_MASK;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error);
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
	return 1;
}

static int vmx_inject_ud(struct vmmu_vmx_vcpu *vmx)
{
	return vmx_inject(vmx, X86_TRAP_UD, false, 0);
}

static int vmx_inject_gp(struct vmmu_vmx_vcpu *vmx)
{
	return vmx_inject(vmx, X86_TRAP_GP, true, 0);
}

static int vmx_unexpected_exit(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	return vmmu_exit_internal_error(vcpu,
					KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
					2, vmx->exit_reason, vmx->exit_cpu, 0);
}

/* IN and OUT: userspace does the access; KVM_RUN completes it. */
static int vmx_handle_io(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 qual = vmcs_read(EXIT_QUALIFICATION);
	struct vmmu_emul_pio *pio = &vmx->pio;

	/* INS and OUTS are not emulated. */
	if (qual & VMX_IO_STRING)
		return vmmu_exit_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION,
						2, EXIT_REASON_IO_INSTRUCTION,
						qual, 0);
	pio->in = qual & VMX_IO_IN;
	pio->size = (qual & VMX_IO_SIZE_MASK) + 1;
	pio->rip = vmcs_read(GUEST_RIP);
	pio->next_rip = pio->rip + vmcs_read(VM_EXIT_INSTRUCTION_LEN);
	if (!vmx_code64(vmx))
		pio->next_rip = (u32)pio->next_rip;
	return vmmu_exit_pio(vcpu, pio, qual >> VMX_IO_PORT_SHIFT,
			     vmx->regs[__VCPU_REGS_RAX]);
}

/**
 * vmmu_vmx_complete_pio() - finish the port access userspace handled
 * @vcpu: the vCPU, loaded, at the start of KVM_RUN
 *
 * See vmmu_complete_pio(): a read's data goes to RAX, RIP moves on.
 *
 * Return: 0.
 */
int vmmu_vmx_complete_pio(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 rax = vmx->regs[__VCPU_REGS_RAX];

	if (vmmu_complete_pio(vcpu, &vmx->pio, vmcs_read(GUEST_RIP), &rax)) {
		vmx->regs[__VCPU_REGS_RAX] = rax;
		vmcs_write(GUEST_RIP, vmx->pio.next_rip);
		vmx_clear_shadow();
	}
	return 0;
}

static int vmx_handle_hlt(struct vmmu_vcpu *vcpu)
{
	/* No interrupt can wake the guest up: userspace decides. */
	vmx_skip(to_vmx(vcpu));
	atomic64_inc(vmmu_vcpu_stat(vcpu, halt_exits));
	vcpu->run->exit_reason = KVM_EXIT_HLT;
	return 0;
}

/* CPUID: the vCPU's table answers (core/cpuid.c). */
static int vmx_handle_cpuid(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long *regs = vmx->regs;
	u32 eax = regs[__VCPU_REGS_RAX], ecx = regs[__VCPU_REGS_RCX], ebx, edx;

	vmmu_cpuid(vcpu, vmmu_vmx_guest_cr4(), &eax, &ebx, &ecx, &edx);
	regs[__VCPU_REGS_RAX] = eax;
	regs[__VCPU_REGS_RBX] = ebx;
	regs[__VCPU_REGS_RCX] = ecx;
	regs[__VCPU_REGS_RDX] = edx;
	return vmx_skip(vmx);
}

/* The MSRs whose guest value is a VMCS field. */
static long vmx_msr_field(u32 msr)
{
	switch (msr) {
	case MSR_FS_BASE:
		return GUEST_FS_BASE;
	case MSR_GS_BASE:
		return GUEST_GS_BASE;
	case MSR_IA32_SYSENTER_CS:
		return GUEST_SYSENTER_CS;
	case MSR_IA32_SYSENTER_ESP:
		return GUEST_SYSENTER_ESP;
	case MSR_IA32_SYSENTER_EIP:
		return GUEST_SYSENTER_EIP;
	case MSR_IA32_CR_PAT:
		return GUEST_IA32_PAT;
	default:
		return -1;
	}
}

/* The MSRs vmmu switches by hand around a guest run. */
static u64 *vmx_msr_switched(struct vmmu_vmx_vcpu *vmx, u32 msr)
{
	switch (msr) {
	case MSR_STAR:
		return &vmx->star;
	case MSR_LSTAR:
		return &vmx->lstar;
	case MSR_CSTAR:
		return &vmx->cstar;
	case MSR_SYSCALL_MASK:
		return &vmx->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &vmx->kernel_gs_base;
	default:
		return NULL;
	}
}

/* RDMSR of what vmmu virtualizes (the same set as SVM); false means #GP. */
static bool vmx_get_msr(struct vmmu_vmx_vcpu *vmx, u32 msr, u64 *data)
{
	long field = vmx_msr_field(msr);
	u64 *sw = vmx_msr_switched(vmx, msr);

	if (field >= 0)
		*data = vmcs_read(field);
	else if (sw)
		*data = *sw;
	else if (msr == MSR_EFER)
		*data = vmx->guest_efer;
	else if (msr == MSR_IA32_APICBASE)
		*data = vmx->apic_base;
	else
		return false;
	return true;
}

/* WRMSR of what vmmu virtualizes; false means #GP. */
static bool vmx_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	long field = vmx_msr_field(msr);
	u64 *sw = vmx_msr_switched(vmx, msr);

	switch (msr) {
	case MSR_EFER:
		return vmmu_vmx_set_efer(vcpu, data);
	case MSR_IA32_APICBASE:
		vmx->apic_base = data;
		return true;
	case MSR_IA32_CR_PAT:
		if (!vmmu_pat_valid(data))
			return false;
		break;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!vmmu_canonical(data, vmmu_vmx_guest_cr4()))
			return false;
		break;
	}
	if (field >= 0)
		vmcs_write(field, data);
	else if (sw)
		*sw = data;
	else
		return false;
	return true;
}

/* Every MSR access exits (no MSR bitmap); unknown ones get #GP. */
static int vmx_handle_msr(struct vmmu_vcpu *vcpu, bool write)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long *regs = vmx->regs;
	u32 msr = regs[__VCPU_REGS_RCX];
	u64 data;

	if (write) {
		data = (u64)(u32)regs[__VCPU_REGS_RDX] << 32 |
		       (u32)regs[__VCPU_REGS_RAX];
		if (!vmx_set_msr(vcpu, msr, data))
			return vmx_inject_gp(vmx);
	} else {
		if (!vmx_get_msr(vmx, msr, &data))
			return vmx_inject_gp(vmx);
		regs[__VCPU_REGS_RAX] = (u32)data;
		regs[__VCPU_REGS_RDX] = data >> 32;
	}
	return vmx_skip(vmx);
}

/* XSETBV: only to the host's XCR0 (vmmu_xsetbv_ok()). */
static int vmx_handle_xsetbv(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned long *regs = vmx->regs;
	u64 value = (u64)(u32)regs[__VCPU_REGS_RDX] << 32 |
		    (u32)regs[__VCPU_REGS_RAX];

	if (!vmmu_xsetbv_ok(regs[__VCPU_REGS_RCX], value))
		return vmx_inject_gp(vmx);
	return vmx_skip(vmx);
}

/* GPR @reg as KVM numbers them: RSP lives in the VMCS. */
static u64 vmx_read_gpr(struct vmmu_vmx_vcpu *vmx, unsigned int reg)
{
	if (reg == __VCPU_REGS_RSP)
		return vmcs_read(GUEST_RSP);
	return vmx->regs[reg];
}

static void vmx_write_gpr(struct vmmu_vmx_vcpu *vmx, unsigned int reg, u64 val)
{
	if (reg == __VCPU_REGS_RSP)
		vmcs_write(GUEST_RSP, val);
	else
		vmx->regs[reg] = val;
}

/* MOV to CR0 or CR4 that touches a bit vmmu owns. */
static int vmx_handle_cr(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 qual = vmcs_read(EXIT_QUALIFICATION);
	unsigned int cr = qual & VMX_CR_NUM_MASK;
	u64 val;
	bool ok;

	if (((qual >> VMX_CR_TYPE_SHIFT) & VMX_CR_TYPE_MASK) != VMX_CR_TYPE_MOV_TO)
		return vmx_unexpected_exit(vcpu);
	val = vmx_read_gpr(vmx, (qual >> VMX_CR_GPR_SHIFT) & VMX_CR_GPR_MASK);
	if (!vmx_code64(vmx))
		val = (u32)val;
	if (cr == 0)
		ok = vmmu_vmx_set_cr0(vcpu, val);
	else if (cr == 4)
		ok = vmmu_vmx_set_cr4(vcpu, val);
	else
		return vmx_unexpected_exit(vcpu);
	return ok ? vmx_skip(vmx) : vmx_inject_gp(vmx);
}

/* The guest state the emulator reads, from the VMCS. */
static void vmx_emul_ctxt(struct vmmu_vcpu *vcpu, struct vmmu_emul_ctxt *ctxt)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 cs_ar = vmcs_read(GUEST_CS_AR_BYTES);

	ctxt->vm = vcpu->vm;
	ctxt->rip = vmcs_read(GUEST_RIP);
	ctxt->rflags = vmcs_read(GUEST_RFLAGS);
	ctxt->cs_base = vmcs_read(GUEST_CS_BASE);
	ctxt->cs_db = cs_ar & BIT(14);
	ctxt->cs_l = cs_ar & BIT(13);
	ctxt->cr0 = vmmu_vmx_guest_cr0();
	ctxt->cr3 = vmcs_read(GUEST_CR3);
	ctxt->cr4 = vmmu_vmx_guest_cr4();
	ctxt->efer = vmx->guest_efer;
}

/* KVM_EXIT_MMIO for a decoded access at @gpa; KVM_RUN completes a read. */
static int vmx_mmio_exit(struct vmmu_vcpu *vcpu, const struct vmmu_emul_insn *insn,
			 enum vmmu_emul_mode mode, gpa_t gpa)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	if (vmmu_exit_mmio(vcpu, &vmx->mmio, insn, mode, gpa,
			   vmcs_read(GUEST_RIP), vmx_read_gpr(vmx, insn->reg))) {
		vmcs_write(GUEST_RIP, vmx->mmio.next_rip);
		vmx_clear_shadow();
	}
	return 0;
}

/*
 * No memory at @gpa for this access: decode the instruction at CS:RIP and
 * hand the access to userspace, as svm/exit.c does.  Anything the emulator
 * cannot do is an internal error.
 */
static int vmx_handle_mmio(struct vmmu_vcpu *vcpu, gpa_t gpa, u64 qual,
			   u32 error_code)
{
	u8 bytes[VMMU_EMUL_MAX_INSN] = {};
	struct vmmu_emul_insn insn;
	struct vmmu_emul_ctxt ctxt;
	enum vmmu_emul_mode mode;
	unsigned int len = 0;
	u32 idt = vmcs_read(IDT_VECTORING_INFO_FIELD);

	/* An EPT violation while delivering an event. */
	if (idt & VECTORING_INFO_VALID_MASK)
		return vmmu_exit_internal_error(vcpu,
						KVM_INTERNAL_ERROR_DELIVERY_EV,
						3, EXIT_REASON_EPT_VIOLATION,
						gpa, idt);
	/* ... walking the guest's own tables, or fetching. */
	if (((qual & VMX_EPT_GLA_VALID) && !(qual & VMX_EPT_GLA_TRANSLATED)) ||
	    (error_code & VMMU_PFERR_FETCH))
		return vmmu_exit_emulation_error(vcpu, bytes, 0,
						 EXIT_REASON_EPT_VIOLATION,
						 gpa, qual);
	vmx_emul_ctxt(vcpu, &ctxt);
	mode = vmmu_emul_mode(&ctxt);
	if (vmmu_emul_fetch(&ctxt, bytes, &len))
		return vmmu_exit_emulation_error(vcpu, bytes, 0,
						 EXIT_REASON_EPT_VIOLATION,
						 gpa, qual);
	if (vmmu_emul_decode(bytes, len, mode, &insn) != VMMU_EMUL_OK ||
	    insn.write != !!(error_code & VMMU_PFERR_WRITE) ||
	    offset_in_page(gpa) + insn.bytes > PAGE_SIZE)
		return vmmu_exit_emulation_error(vcpu, bytes, len,
						 EXIT_REASON_EPT_VIOLATION,
						 gpa, qual);
	return vmx_mmio_exit(vcpu, &insn, mode, gpa);
}

/**
 * vmmu_vmx_complete_mmio() - finish the MMIO access userspace handled
 * @vcpu: the vCPU, loaded, at the start of KVM_RUN
 *
 * Like a port read: the guest stays on the instruction until the next
 * KVM_RUN, which takes the data from kvm_run.mmio.data into the register
 * and moves RIP past the instruction.  If userspace moved RIP meanwhile,
 * the access is dropped.  (Writes completed when they exited.)
 *
 * Return: 0.
 */
int vmmu_vmx_complete_mmio(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned int reg = vmx->mmio.insn.reg;
	u64 val = vmx_read_gpr(vmx, reg);

	if (vmmu_complete_mmio(vcpu, &vmx->mmio, vmcs_read(GUEST_RIP), &val)) {
		vmx_write_gpr(vmx, reg, val);
		vmcs_write(GUEST_RIP, vmx->mmio.next_rip);
		vmx_clear_shadow();
	}
	return 0;
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
	gpa_t gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	u32 error_code = 0;
	int r;

	if (qual & VMX_EPT_PERMS)
		error_code |= VMMU_PFERR_PRESENT;
	if (qual & VMX_EPT_WRITE)
		error_code |= VMMU_PFERR_WRITE;
	if (qual & VMX_EPT_FETCH)
		error_code |= VMMU_PFERR_FETCH;
	r = vmmu_page_fault(vcpu, gpa, error_code);
	if (r == VMMU_RET_FIXED || r == VMMU_RET_RETRY || r == -EINTR)
		return 1;	/* -EINTR: the loop sees the signal */
	if (r == VMMU_RET_MMIO)
		return vmx_handle_mmio(vcpu, gpa, qual, error_code);
	return r;
}

/* vmmu never builds misconfigured entries: the tables would be corrupt. */
static int vmx_handle_ept_misconfig(struct vmmu_vcpu *vcpu)
{
	return vmmu_exit_internal_error(vcpu,
					KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
					2, EXIT_REASON_EPT_MISCONFIG,
					vmcs_read(GUEST_PHYSICAL_ADDRESS), 0);
}

/* Triple fault: start from RESET. */
static int vmx_handle_triple_fault(struct vmmu_vcpu *vcpu)
{
	vmmu_vmx_vcpu_reset(vcpu);
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
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
 * An exit in the middle of delivering an exception (an EPT violation on the
 * IDT or the stack) loses the exception unless it is injected again.
 * Software exceptions come from their instruction, which runs again
 * instead; vmmu injects no interrupt or NMI.
 */
static void vmx_requeue_event(void)
{
	u32 info = vmcs_read(IDT_VECTORING_INFO_FIELD);

	if (!(info & VECTORING_INFO_VALID_MASK) ||
	    (info & VECTORING_INFO_TYPE_MASK) != INTR_TYPE_HARD_EXCEPTION)
		return;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info & ~BIT(12));
	if (info & VECTORING_INFO_DELIVER_CODE_MASK)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE,
			   vmcs_read(IDT_VECTORING_ERROR_CODE));
}

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

	if (vmx->vmfail || (vmx->exit_reason & VMMU_VMX_ENTRY_FAILED))
		return vmx_handle_fail_entry(vcpu);
	vmx_requeue_event();
	switch (vmx_exit_basic(vmx)) {
	case EXIT_REASON_EXTERNAL_INTERRUPT:
	case EXIT_REASON_PREEMPTION_TIMER:
		/* Handled by the host as interrupts came back on. */
		return 1;
	case EXIT_REASON_EXCEPTION_NMI:
		/* Only NMIs exit (no exception bitmap): run.c handled it. */
		return 1;
	case EXIT_REASON_EPT_VIOLATION:
		return vmx_handle_ept_violation(vcpu);
	case EXIT_REASON_EPT_MISCONFIG:
		return vmx_handle_ept_misconfig(vcpu);
	case EXIT_REASON_IO_INSTRUCTION:
		return vmx_handle_io(vcpu);
	case EXIT_REASON_HLT:
		return vmx_handle_hlt(vcpu);
	case EXIT_REASON_CPUID:
		return vmx_handle_cpuid(vcpu);
	case EXIT_REASON_MSR_READ:
		return vmx_handle_msr(vcpu, false);
	case EXIT_REASON_MSR_WRITE:
		return vmx_handle_msr(vcpu, true);
	case EXIT_REASON_XSETBV:
		return vmx_handle_xsetbv(vcpu);
	case EXIT_REASON_CR_ACCESS:
		return vmx_handle_cr(vcpu);
	case EXIT_REASON_TRIPLE_FAULT:
		return vmx_handle_triple_fault(vcpu);
	case EXIT_REASON_INVD:
		return vmx_skip(vmx);
	case EXIT_REASON_RDPMC:
		return vmx_inject_gp(vmx);
	case EXIT_REASON_VMCALL:
	case EXIT_REASON_VMCLEAR:
	case EXIT_REASON_VMLAUNCH:
	case EXIT_REASON_VMPTRLD:
	case EXIT_REASON_VMPTRST:
	case EXIT_REASON_VMREAD:
	case EXIT_REASON_VMRESUME:
	case EXIT_REASON_VMWRITE:
	case EXIT_REASON_VMOFF:
	case EXIT_REASON_VMON:
	case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID:
	case EXIT_REASON_VMFUNC:
	case VMX_EXIT_GETSEC:
	case EXIT_REASON_MONITOR_INSTRUCTION:
	case EXIT_REASON_MWAIT_INSTRUCTION:
		/* No nested VMX, no SMX, no MONITOR/MWAIT in the guest. */
		return vmx_inject_ud(vmx);
	case VMX_EXIT_INIT_SIGNAL:
	default:
		return vmx_unexpected_exit(vcpu);
	}
}
