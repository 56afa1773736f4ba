// SPDX-License-Identifier: GPL-2.0
/*
 * SVM exit handlers.
 *
 * Each handler returns 1 to enter the guest again, 0 to return to userspace
 * with kvm_run filled in, or a negative errno for KVM_RUN to return.
 *
 * QEMU's SVM has no NRIPS: the VMCB does not say where the next instruction
 * is.  Handlers that complete an instruction advance RIP by its length,
 * which is fixed for every instruction handled so (no prefixes expected):
 * HLT 1, CPUID/RDMSR/WRMSR/INVD 2, XSETBV 3.  For port I/O the exit info
 * gives the next RIP; for MMIO the emulator decodes the instruction
 * (emul/) and finds its length.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/string.h>
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

#include "svm.h"

#define SVM_IOIO_PORT_SHIFT	16
/* NPF error code: the x86 page-fault bits vmmu_page_fault() takes. */
#define SVM_NPF_PFERR_MASK	(VMMU_PFERR_PRESENT | VMMU_PFERR_WRITE | \
				 VMMU_PFERR_USER | VMMU_PFERR_FETCH)
#define SVM_NPF_RSVD		BIT(3)
/* The NPF happened on the guest's own page-table walk, not the access. */
#define SVM_NPF_GUEST_PAGE	BIT_ULL(33)

static u64 svm_exit_code(const struct vmcb_control_area *c)
{
	return (u64)c->exit_code_hi << 32 | c->exit_code;
}

/*
 * VMEXIT_INVALID is -1; QEMU writes it to the low half of the exit code
 * only, so only that half is compared.
 */
static bool svm_exit_invalid(const struct vmcb_control_area *c)
{
	return c->exit_code == (u32)SVM_EXIT_ERR;
}

/* Go past the instruction that exited, @len bytes long. */
static int svm_skip(struct vmmu_svm_vcpu *svm, unsigned int len)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	bool code64 = (save->efer & EFER_LMA) &&
		      (save->cs.attrib & SVM_SELECTOR_L_MASK);

	save->rip += len;
	if (!code64)
		save->rip = (u32)save->rip;
	/* A completed instruction ends an STI or MOV SS interrupt shadow. */
	svm->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	return 1;
}

static int svm_inject(struct vmmu_svm_vcpu *svm, unsigned int vector,
		      bool has_error, u32 error)
{
	struct vmcb_control_area *c = &svm->vmcb->control;

	c->event_inj = vector | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID;
	if (has_error)
		c->event_inj |= SVM_EVTINJ_VALID_ERR;
	c->event_inj_err = error;
	return 1;
}

static int svm_inject_ud(struct vmmu_svm_vcpu *svm)
{
	return svm_inject(svm, X86_TRAP_UD, false, 0);
}

static int svm_inject_gp(struct vmmu_svm_vcpu *svm)
{
	return svm_inject(svm, X86_TRAP_GP, true, 0);
}

/*
 * KVM's two words (exit code, CPU), then what tells an exit vmmu does not
 * expect apart: its exit info (an NPF's error code and gpa) and the event
 * that was being delivered.
 */
static int svm_unexpected_exit(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	const struct vmcb_control_area *c = &svm->vmcb->control;
	struct kvm_run *run = vcpu->run;

	vmmu_exit_internal_error(vcpu, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
				 2, svm_exit_code(c), svm->asid_cpu, 0);
	run->internal.data[2] = c->exit_info_1;
	run->internal.data[3] = c->exit_info_2;
	run->internal.data[4] = c->exit_int_info;
	run->internal.ndata = 5;
	return 0;
}

/* IN and OUT: userspace does the access; KVM_RUN completes it. */
static int svm_handle_io(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb *vmcb = svm->vmcb;
	u64 info = vmcb->control.exit_info_1;
	struct vmmu_emul_pio *pio = &svm->pio;

	/* INS and OUTS are not emulated. */
	if (info & SVM_IOIO_STR_MASK)
		return vmmu_exit_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION,
						2, SVM_EXIT_IOIO, info, 0);
	pio->in = info & SVM_IOIO_TYPE_MASK;
	/* The size bits are one-hot: 1, 2 or 4 bytes. */
	pio->size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;
	pio->rip = vmcb->save.rip;
	pio->next_rip = vmcb->control.exit_info_2;
	return vmmu_exit_pio(vcpu, pio, info >> SVM_IOIO_PORT_SHIFT,
			     vmcb->save.rax);
}

/**
 * vmmu_svm_complete_pio() - finish the port access userspace handled
 * @vcpu: the vCPU, at the start of KVM_RUN
 *
 * See vmmu_complete_pio(): a read's data goes to RAX, RIP moves on.
 *
 * Return: 0.
 */
int vmmu_svm_complete_pio(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;

	if (vmmu_complete_pio(vcpu, &svm->pio, save->rip, &save->rax)) {
		save->rip = svm->pio.next_rip;
		svm->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	}
	return 0;
}

static int svm_handle_hlt(struct vmmu_vcpu *vcpu)
{
	/* No interrupt can wake the guest up: userspace decides. */
	svm_skip(to_svm(vcpu), 1);
	atomic64_inc(vmmu_vcpu_stat(vcpu, halt_exits));
	vcpu->run->exit_reason = KVM_EXIT_HLT;
	return 0;
}

/* CPUID: the vCPU's table answers (core/cpuid.c). */
static int svm_handle_cpuid(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	unsigned long *regs = svm->regs;
	u32 eax = svm->vmcb->save.rax, ecx = regs[__VCPU_REGS_RCX], ebx, edx;

	vmmu_cpuid(vcpu, svm->vmcb->save.cr4, &eax, &ebx, &ecx, &edx);
	svm->vmcb->save.rax = eax;
	regs[__VCPU_REGS_RBX] = ebx;
	regs[__VCPU_REGS_RCX] = ecx;
	regs[__VCPU_REGS_RDX] = edx;
	return svm_skip(svm, 2);
}

/* The MSRs whose guest value is a field of the VMCB's save area. */
static u64 *svm_msr_field(struct vmcb_save_area *save, u32 msr)
{
	switch (msr) {
	case MSR_STAR:
		return &save->star;
	case MSR_LSTAR:
		return &save->lstar;
	case MSR_CSTAR:
		return &save->cstar;
	case MSR_SYSCALL_MASK:
		return &save->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &save->kernel_gs_base;
	case MSR_FS_BASE:
		return &save->fs.base;
	case MSR_GS_BASE:
		return &save->gs.base;
	case MSR_IA32_SYSENTER_CS:
		return &save->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:
		return &save->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:
		return &save->sysenter_eip;
	case MSR_IA32_CR_PAT:
		return &save->g_pat;
	default:
		return NULL;
	}
}

/* RDMSR of what vmmu virtualizes; false means #GP. */
static bool svm_get_msr(struct vmmu_svm_vcpu *svm, u32 msr, u64 *data)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	u64 *field = svm_msr_field(save, msr);

	if (field)
		*data = *field;
	else if (msr == MSR_EFER)
		*data = save->efer & ~EFER_SVME;
	else if (msr == MSR_IA32_APICBASE)
		*data = svm->apic_base;
	else
		return false;
	return true;
}

static bool svm_set_efer(struct vmcb_save_area *save, u64 efer)
{
	if (efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
		return false;
	/* LME cannot change while paging is on; LMA is the CPU's. */
	if ((save->cr0 & X86_CR0_PG) && ((efer ^ save->efer) & EFER_LME))
		return false;
	save->efer = (efer & ~EFER_LMA) | (save->efer & EFER_LMA) | EFER_SVME;
	return true;
}

/* WRMSR of what vmmu virtualizes; false means #GP. */
static bool svm_set_msr(struct vmmu_svm_vcpu *svm, u32 msr, u64 data)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	u64 *field = svm_msr_field(save, msr);

	switch (msr) {
	case MSR_EFER:
		return svm_set_efer(save, data);
	case MSR_IA32_APICBASE:
		svm->apic_base = data;
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
		if (!vmmu_canonical(data, save->cr4))
			return false;
		break;
	}
	if (!field)
		return false;
	*field = data;
	return true;
}

/* Every MSR access exits; the ones vmmu does not virtualize get #GP. */
static int svm_handle_msr(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;
	unsigned long *regs = svm->regs;
	u32 msr = regs[__VCPU_REGS_RCX];
	u64 data;

	if (svm->vmcb->control.exit_info_1) {
		data = (u64)(u32)regs[__VCPU_REGS_RDX] << 32 | (u32)save->rax;
		if (!svm_set_msr(svm, msr, data))
			return svm_inject_gp(svm);
	} else {
		if (!svm_get_msr(svm, msr, &data))
			return svm_inject_gp(svm);
		save->rax = (u32)data;
		regs[__VCPU_REGS_RDX] = data >> 32;
	}
	return svm_skip(svm, 2);
}

/* XSETBV: only to the host's XCR0 (vmmu_xsetbv_ok()). */
static int svm_handle_xsetbv(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	unsigned long *regs = svm->regs;
	u64 value = (u64)(u32)regs[__VCPU_REGS_RDX] << 32 |
		    (u32)svm->vmcb->save.rax;

	if (!vmmu_xsetbv_ok(regs[__VCPU_REGS_RCX], value))
		return svm_inject_gp(svm);
	return svm_skip(svm, 3);
}

/* The guest state the emulator reads, from the VMCB. */
static void svm_emul_ctxt(struct vmmu_vcpu *vcpu, struct vmmu_emul_ctxt *ctxt)
{
	const struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;

	ctxt->vm = vcpu->vm;
	ctxt->rip = save->rip;
	ctxt->rflags = save->rflags;
	ctxt->cs_base = save->cs.base;
	ctxt->cs_db = save->cs.attrib & SVM_SELECTOR_DB_MASK;
	ctxt->cs_l = save->cs.attrib & SVM_SELECTOR_L_MASK;
	ctxt->cr0 = save->cr0;
	ctxt->cr3 = save->cr3;
	ctxt->cr4 = save->cr4;
	ctxt->efer = save->efer;
}

/* GPR @reg as KVM numbers them: RAX and RSP live in the VMCB. */
static u64 *svm_gpr(struct vmmu_svm_vcpu *svm, unsigned int reg)
{
	if (reg == __VCPU_REGS_RAX)
		return &svm->vmcb->save.rax;
	if (reg == __VCPU_REGS_RSP)
		return &svm->vmcb->save.rsp;
	return (u64 *)&svm->regs[reg];
}

/* KVM_EXIT_MMIO for a decoded access at @gpa; KVM_RUN completes a read. */
static int svm_mmio_exit(struct vmmu_vcpu *vcpu, const struct vmmu_emul_insn *insn,
			 enum vmmu_emul_mode mode, gpa_t gpa)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb *vmcb = svm->vmcb;

	if (vmmu_exit_mmio(vcpu, &svm->mmio, insn, mode, gpa, vmcb->save.rip,
			   *svm_gpr(svm, insn->reg))) {
		vmcb->save.rip = svm->mmio.next_rip;
		vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	}
	return 0;
}

/*
 * No memory at @gpa for this access: decode the instruction at CS:RIP and
 * hand the access to userspace.  Anything the emulator cannot do (a fetch
 * through a missing guest PTE or from MMIO, an instruction it does not
 * know, an access that crosses a page) is an internal error.
 */
static int svm_handle_mmio(struct vmmu_vcpu *vcpu, gpa_t gpa, u64 error_code)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	u8 bytes[VMMU_EMUL_MAX_INSN] = {};
	struct vmmu_emul_insn insn;
	struct vmmu_emul_ctxt ctxt;
	enum vmmu_emul_mode mode;
	unsigned int len = 0;

	/* An NPF while delivering an event, or walking the guest's tables. */
	if (svm->vmcb->control.exit_int_info & SVM_EXITINTINFO_VALID)
		return vmmu_exit_internal_error(vcpu,
						KVM_INTERNAL_ERROR_DELIVERY_EV,
						3, SVM_EXIT_NPF, gpa,
						svm->vmcb->control.exit_int_info);
	if (error_code & (SVM_NPF_GUEST_PAGE | VMMU_PFERR_FETCH))
		return vmmu_exit_emulation_error(vcpu, bytes, 0, SVM_EXIT_NPF,
						 gpa, error_code);
	svm_emul_ctxt(vcpu, &ctxt);
	mode = vmmu_emul_mode(&ctxt);
	if (vmmu_emul_fetch(&ctxt, bytes, &len))
		return vmmu_exit_emulation_error(vcpu, bytes, 0, SVM_EXIT_NPF,
						 gpa, error_code);
	if (vmmu_emul_decode(bytes, len, mode, &insn) != VMMU_EMUL_OK ||
	    insn.write != !!(error_code & VMMU_PFERR_WRITE) ||
	    offset_in_page(gpa) + insn.bytes > PAGE_SIZE)
		return vmmu_exit_emulation_error(vcpu, bytes, len, SVM_EXIT_NPF,
						 gpa, error_code);
	return svm_mmio_exit(vcpu, &insn, mode, gpa);
}

/**
 * vmmu_svm_complete_mmio() - finish the MMIO access userspace handled
 * @vcpu: the vCPU, at the start of KVM_RUN
 *
 * Like a port read: the guest stays on the instruction until the next
 * KVM_RUN, which takes the data from kvm_run.mmio.data into the register
 * and moves RIP past the instruction.  If userspace moved RIP meanwhile,
 * the access is dropped.  (Writes completed when they exited.)
 *
 * Return: 0.
 */
int vmmu_svm_complete_mmio(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb *vmcb = svm->vmcb;

	if (vmmu_complete_mmio(vcpu, &svm->mmio, vmcb->save.rip,
			       svm_gpr(svm, svm->mmio.insn.reg))) {
		vmcb->save.rip = svm->mmio.next_rip;
		vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	}
	return 0;
}

/* Nested page fault: the MMU maps the page, or userspace does the access. */
static int svm_handle_npf(struct vmmu_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;
	u64 error_code = c->exit_info_1;
	gpa_t gpa = c->exit_info_2;
	int r;

	/* vmmu never sets reserved bits: the tables would be corrupt. */
	if (error_code & SVM_NPF_RSVD)
		return svm_unexpected_exit(vcpu);
	r = vmmu_page_fault(vcpu, gpa, error_code & SVM_NPF_PFERR_MASK);
	if (r == VMMU_RET_FIXED || r == VMMU_RET_RETRY || r == -EINTR)
		return 1;	/* -EINTR: the loop sees the signal */
	if (r == VMMU_RET_MMIO)
		return svm_handle_mmio(vcpu, gpa, error_code);
	return r;
}

/* Triple fault.  The VMCB is undefined after it: start from RESET. */
static int svm_handle_shutdown(struct vmmu_vcpu *vcpu)
{
	vmmu_svm_vcpu_reset(vcpu);
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}

/* VMRUN refused the guest state; the save area may hold host state. */
static int svm_handle_invalid(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct kvm_run *run = vcpu->run;

	svm->vmcb->save = svm->save_backup;
	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = (u64)SVM_EXIT_ERR;
	run->fail_entry.cpu = svm->asid_cpu;
	return 0;
}

/*
 * Did the exit save the host's state in the save area instead of the
 * guest's?  QEMU (7.2, TCG) was seen to do so under load: right after a
 * #VMEXIT it took a second one, an NPF on the host's own page-table walk
 * (error code with the guest-page bit, gpa in host RAM), and saved the host
 * state of that moment over the guest's: RIP just past VMRUN (or further
 * on in the host's code), RAX the VMCB's address, the host's CR3.  A guest
 * is never there with the host's page tables and a RIP in the kernel's
 * text, unless it set both on purpose, and then the replay only hurts it.
 */
static bool svm_save_holds_host(const struct vmcb_save_area *save)
{
	return save->rip >= __START_KERNEL_map &&
	       (save->cr3 & PHYSICAL_PAGE_MASK) == __pa(current->mm->pgd);
}

/* Back-to-back host-state exits before vmmu gives up on the vCPU. */
#define SVM_HOST_SAVE_REPLAYS	8

/*
 * The guest's state of this exit is lost.  Never show the host's (kernel
 * addresses, a physical address) through KVM_GET_REGS: the vCPU goes back
 * to its state before the VMRUN, event to inject included, and runs again
 * from there.  The guest repeats what it did since that VMRUN, which only
 * ever was the few instructions up to its next exit.  No CPU can leave the
 * host's RIP and CR3 in the guest's save area, so this never runs outside
 * an emulator; should it keep happening, KVM_RUN ends with
 * UNEXPECTED_EXIT_REASON rather than loop.
 */
static int svm_handle_host_save(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_control_area *c = &svm->vmcb->control;

	pr_warn_ratelimited("vmmu: CPU %d: the VMCB held host state after #VMEXIT %#llx (info %#llx %#llx): an emulator fault; the vCPU runs again from its state before that VMRUN\n",
			    svm->asid_cpu, svm_exit_code(c), c->exit_info_1,
			    c->exit_info_2);
	svm->vmcb->save = svm->save_backup;
	memcpy(svm->regs, svm->regs_backup, sizeof(svm->regs));
	c->event_inj = svm->event_inj_backup;
	c->event_inj_err = svm->event_inj_err_backup;
	if (++svm->host_save_replays > SVM_HOST_SAVE_REPLAYS)
		return svm_unexpected_exit(vcpu);
	return 1;
}

/*
 * An exit in the middle of delivering an exception (an NPF on the IDT or
 * the stack) loses the exception unless it is injected again.  #BP and #OF
 * come from their instruction, which runs again instead; vmmu injects no
 * interrupt or NMI.
 */
static void svm_requeue_event(struct vmcb_control_area *c)
{
	u32 info = c->exit_int_info;
	u32 vector = info & SVM_EXITINTINFO_VEC_MASK;

	c->event_inj = 0;
	if (!(info & SVM_EXITINTINFO_VALID) ||
	    (info & SVM_EXITINTINFO_TYPE_MASK) != SVM_EXITINTINFO_TYPE_EXEPT ||
	    vector == X86_TRAP_BP || vector == X86_TRAP_OF)
		return;
	c->event_inj = info;
	c->event_inj_err = c->exit_int_info_err;
}

/**
 * vmmu_svm_handle_exit() - act on the exit of the last VMRUN
 * @vcpu: the vCPU, whose mutex is held; interrupts and preemption enabled
 *
 * Return: 1 to enter the guest again, 0 to return to userspace with
 * kvm_run filled in, or a negative errno.
 */
int vmmu_svm_handle_exit(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_control_area *c = &svm->vmcb->control;

	if (svm_exit_invalid(c))
		return svm_handle_invalid(vcpu);
	if (unlikely(svm_save_holds_host(&svm->vmcb->save)))
		return svm_handle_host_save(vcpu);
	svm->host_save_replays = 0;
	svm_requeue_event(c);
	/* Every exit code vmmu handles fits in the low half. */
	if (c->exit_code_hi)
		return svm_unexpected_exit(vcpu);
	switch (c->exit_code) {
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
		/* Handled by the host as interrupts came back on. */
		return 1;
	case SVM_EXIT_NPF:
		return svm_handle_npf(vcpu);
	case SVM_EXIT_IOIO:
		return svm_handle_io(vcpu);
	case SVM_EXIT_HLT:
		return svm_handle_hlt(vcpu);
	case SVM_EXIT_CPUID:
		return svm_handle_cpuid(vcpu);
	case SVM_EXIT_MSR:
		return svm_handle_msr(vcpu);
	case SVM_EXIT_XSETBV:
		return svm_handle_xsetbv(vcpu);
	case SVM_EXIT_SHUTDOWN:
		return svm_handle_shutdown(vcpu);
	case SVM_EXIT_INVD:
		return svm_skip(svm, 2);
	case SVM_EXIT_RDPMC:
		return svm_inject_gp(svm);
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMMCALL:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_INVLPGA:
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
	case SVM_EXIT_RDPRU:
		/* No nested SVM, no MONITOR/MWAIT, no RDPRU in the guest. */
		return svm_inject_ud(svm);
	default:
		return svm_unexpected_exit(vcpu);
	}
}
