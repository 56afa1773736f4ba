// SPDX-License-Identifier: GPL-2.0
/*
 * SVM exit handlers.
 *
 * Each handler returns 1 to enter the guest again, 0 to return to userspace
 * with kvm_run filled in, or a negative errno for KVM_RUN to return.
 *
 * The exit code picks a handler from a table; most are x86/'s, which see
 * the guest through the ops in svm/vcpu.c.  What is SVM's own stays here:
 * decoding NPF and IOIO exit information, failed VMRUNs, and QEMU's exits
 * that leave host state in the save area.
 *
 * QEMU's SVM has no NRIPS: the VMCB does not say where the next instruction
 * is, and svm_insn_len() answers with the length the handler knows.  For
 * port I/O the exit info gives the next RIP.
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
#include <vmmu/x86.h>

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

/*
 * IN, OUT, INS and OUTS.  EXITINFO1 says which, the size, REP and the
 * address size (QEMU fills them all); EXITINFO2 is the next RIP.
 */
static int svm_handle_io(struct vmmu_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;
	u64 info = c->exit_info_1;
	struct vmmu_x86_io io = {
		.exit_code = SVM_EXIT_IOIO,
		.info = info,
		.port = info >> SVM_IOIO_PORT_SHIFT,
		.in = info & SVM_IOIO_TYPE_MASK,
		.string = info & SVM_IOIO_STR_MASK,
		.rep = info & SVM_IOIO_REP_MASK,
		.rep_known = true,
		/* The size bits are one-hot: 1, 2 or 4 bytes. */
		.size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT,
		/* So are the address-size bits: 16, 32 or 64 bits. */
		.addr_bytes = ((info & SVM_IOIO_ASIZE_MASK) >>
			       SVM_IOIO_ASIZE_SHIFT) * 2,
		.next_rip = c->exit_info_2,
	};

	return vmmu_x86_handle_io(vcpu, &io);
}

/* RDMSR and WRMSR share one exit code. */
static int svm_handle_msr(struct vmmu_vcpu *vcpu)
{
	if (to_svm(vcpu)->vmcb->control.exit_info_1)
		return vmmu_x86_handle_wrmsr(vcpu);
	return vmmu_x86_handle_rdmsr(vcpu);
}

/* Nested page fault: the MMU maps the page, or userspace does the access. */
static int svm_handle_npf(struct vmmu_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;
	struct vmmu_x86_gpa_fault f = {
		.exit_code = SVM_EXIT_NPF,
		.info = c->exit_info_1,
		.gpa = c->exit_info_2,
		.error_code = c->exit_info_1 & SVM_NPF_PFERR_MASK,
		.guest_walk = c->exit_info_1 & SVM_NPF_GUEST_PAGE,
	};

	/* vmmu never sets reserved bits: the tables would be corrupt. */
	if (c->exit_info_1 & SVM_NPF_RSVD)
		return svm_unexpected_exit(vcpu);
	if (c->exit_int_info & SVM_EXITINTINFO_VALID)
		f.event = c->exit_int_info;
	return vmmu_x86_handle_gpa_fault(vcpu, &f);
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
	atomic64_inc(vmmu_vcpu_stat(vcpu, emulator_replays));
	if (++svm->host_save_replays > SVM_HOST_SAVE_REPLAYS)
		return svm_unexpected_exit(vcpu);
	return 1;
}

/*
 * Would the gate of exception @vector be readable through the guest's own
 * tables, as the CPU reads it to deliver the exception?
 */
static bool svm_gate_maps(const struct vmmu_emul_ctxt *ctxt,
			  const struct vmcb_save_area *b, unsigned int vector)
{
	unsigned int size = (b->efer & EFER_LMA) ? 16 : 8;
	struct vmmu_emul_ctxt sup = *ctxt;
	struct vmmu_emul_pf pf;
	u64 gpa;

	/* The CPU reads the IDT with supervisor rights at any CPL. */
	sup.cpl = 0;
	if ((vector + 1) * size - 1 > b->idtr.limit)
		return false;
	return !vmmu_emul_translate(&sup, b->idtr.base + vector * size, false,
				    &gpa, &pf);
}

/*
 * Is this triple fault an emulator's phantom page fault?  QEMU (7.2, TCG)
 * was seen, under host memory churn, to fault the very first instruction
 * fetch after a VMRUN (#PF, CR2 = RIP) although the guest's page tables
 * mapped RIP, vmmu's nested tables mapped those tables to the right pages,
 * and no invalidation had touched them since they were mapped: as if the
 * guest's walk had run without the nested translation, the mirror of the
 * host-state exits above.  A guest without an IDT shuts down right there;
 * a guest with one faults again on the gates of #PF and #DF (CR2 is then
 * the last gate's address) and shuts down too (seen in the QEMU boot lane:
 * Linux, after a port write).  A CPU faults there only if another vCPU
 * clears the guest's PTE during the entry.  So only a SHUTDOWN whose event
 * was a #PF, on the instruction VMRUN entered at (nothing injected at the
 * entry), while the guest's tables (walked in software from the state
 * before the VMRUN) map that instruction and, unless CR2 is that RIP (then
 * the #PF must be a fetch's), the gates of #PF and #DF, is run again from
 * that state, at most SVM_HOST_SAVE_REPLAYS times in a row.
 */
static bool svm_phantom_fetch_fault(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	const struct vmcb_save_area *b = &svm->save_backup;
	u32 info = svm->vmcb->control.exit_int_info;
	u8 bytes[VMMU_EMUL_MAX_INSN];
	struct vmmu_emul_ctxt ctxt = {
		.vm = vcpu->vm,
		.rip = b->rip,
		.rflags = b->rflags,
		.seg_base[VMMU_EMUL_CS] = b->cs.base,
		.cs_db = b->cs.attrib & SVM_SELECTOR_DB_MASK,
		.cs_l = b->cs.attrib & SVM_SELECTOR_L_MASK,
		.cpl = b->cpl,
		.cr0 = b->cr0,
		.cr3 = b->cr3,
		.cr4 = b->cr4,
		.efer = b->efer,
	};
	unsigned int len;

	if ((info & (SVM_EXITINTINFO_VALID | SVM_EXITINTINFO_TYPE_MASK |
		     SVM_EXITINTINFO_VEC_MASK)) !=
	    (SVM_EXITINTINFO_VALID | SVM_EXITINTINFO_TYPE_EXEPT | X86_TRAP_PF))
		return false;
	if ((svm->event_inj_backup & SVM_EVTINJ_VALID) ||
	    svm->vmcb->save.rip != b->rip)
		return false;
	if (svm->vmcb->save.cr2 != b->rip &&
	    (!(svm->vmcb->control.exit_int_info_err & VMMU_PFERR_FETCH) ||
	     !svm_gate_maps(&ctxt, b, X86_TRAP_PF) ||
	     !svm_gate_maps(&ctxt, b, X86_TRAP_DF)))
		return false;
	return !vmmu_emul_fetch(&ctxt, bytes, &len);
}

/* A triple fault: the vCPU starts from RESET, unless it was a phantom. */
static int svm_handle_shutdown(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_control_area *c = &svm->vmcb->control;

	if (svm->host_save_replays >= SVM_HOST_SAVE_REPLAYS ||
	    !svm_phantom_fetch_fault(vcpu))
		return vmmu_x86_handle_shutdown(vcpu);
	pr_warn_ratelimited("vmmu: CPU %d: a page fault on the first fetch after VMRUN at %#llx although the guest's tables map it: an emulator fault; the vCPU runs again from its state before that VMRUN\n",
			    svm->asid_cpu, svm->save_backup.rip);
	svm->vmcb->save = svm->save_backup;
	memcpy(svm->regs, svm->regs_backup, sizeof(svm->regs));
	c->event_inj = svm->event_inj_backup;
	c->event_inj_err = svm->event_inj_err_backup;
	svm->host_save_replays++;
	atomic64_inc(vmmu_vcpu_stat(vcpu, emulator_replays));
	return 1;
}

/*
 * An exit in the middle of delivering an event (an NPF on the IDT or the
 * stack) loses the event unless it is injected again: an exception, an
 * NMI (still blocking NMIs: svm_inject_nmi()) or an external interrupt.
 * #BP and #OF, and software interrupts, come from their instruction, which
 * runs again instead.
 */
static void svm_requeue_event(struct vmcb_control_area *c)
{
	u32 info = c->exit_int_info;
	u32 type = info & SVM_EXITINTINFO_TYPE_MASK;
	u32 vector = info & SVM_EXITINTINFO_VEC_MASK;

	c->event_inj = 0;
	if (!(info & SVM_EXITINTINFO_VALID))
		return;
	if (type == SVM_EXITINTINFO_TYPE_EXEPT &&
	    vector != X86_TRAP_BP && vector != X86_TRAP_OF) {
		c->event_inj = info;
		c->event_inj_err = c->exit_int_info_err;
	} else if (type == SVM_EXITINTINFO_TYPE_INTR ||
		   type == SVM_EXITINTINFO_TYPE_NMI) {
		c->event_inj = info;
	}
}

/*
 * The IRET of an NMI handler (the intercept exits before it executes):
 * NMIs stay blocked until it has, i.e. until an exit at another RIP.  A
 * waiting NMI single-steps over it (svm_set_nmi_window()).
 */
static int svm_handle_iret(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);

	svm->nmi_iret_seen = true;
	svm->nmi_iret_rip = svm->vmcb->save.rip;
	svm_clr_intercept(&svm->vmcb->control, INTERCEPT_IRET);
	atomic64_inc(vmmu_vcpu_stat(vcpu, nmi_window_exits));
	return 1;
}

static void svm_nmi_unblock_after_iret(struct vmmu_svm_vcpu *svm)
{
	if (svm->nmi_iret_seen && svm->vmcb->save.rip != svm->nmi_iret_rip) {
		svm->nmi_masked = false;
		svm->nmi_iret_seen = false;
	}
}

/*
 * #DB is intercepted only for the single step of an NMI window; if the
 * guest was single-stepping itself, its own #DB is delivered too.
 */
static int svm_handle_db(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	bool step = svm->nmi_singlestep;

	if ((!step || vmmu_svm_nmi_step_done(vcpu)) &&
	    !(svm->vmcb->control.event_inj & SVM_EVTINJ_VALID))
		svm->vmcb->control.event_inj = X86_TRAP_DB |
			SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID;
	return step ? vmmu_x86_handle_nmi_window(vcpu) : 1;
}

/*
 * The exit handlers, by exit code; an exit code without one is unexpected.
 * Host interrupts and NMIs were taken as interrupts came back on.  No
 * nested SVM, no MONITOR/MWAIT, no RDPRU in the guest: #UD.
 */
static int (*const svm_exit_handlers[])(struct vmmu_vcpu *vcpu) = {
	[SVM_EXIT_INTR] = vmmu_x86_handled,
	[SVM_EXIT_NMI] = vmmu_x86_handled,
	[SVM_EXIT_VINTR] = vmmu_x86_handle_irq_window,
	[SVM_EXIT_IRET] = svm_handle_iret,
	[SVM_EXIT_EXCP_BASE + X86_TRAP_DB] = svm_handle_db,
	[SVM_EXIT_NPF] = svm_handle_npf,
	[SVM_EXIT_IOIO] = svm_handle_io,
	[SVM_EXIT_HLT] = vmmu_x86_handle_hlt,
	[SVM_EXIT_CPUID] = vmmu_x86_handle_cpuid,
	[SVM_EXIT_MSR] = svm_handle_msr,
	[SVM_EXIT_XSETBV] = vmmu_x86_handle_xsetbv,
	[SVM_EXIT_SHUTDOWN] = svm_handle_shutdown,
	[SVM_EXIT_INVD] = vmmu_x86_handle_invd,
	[SVM_EXIT_RDPMC] = vmmu_x86_inject_gp,
	[SVM_EXIT_VMRUN] = vmmu_x86_inject_ud,
	[SVM_EXIT_VMMCALL] = vmmu_x86_inject_ud,
	[SVM_EXIT_VMLOAD] = vmmu_x86_inject_ud,
	[SVM_EXIT_VMSAVE] = vmmu_x86_inject_ud,
	[SVM_EXIT_STGI] = vmmu_x86_inject_ud,
	[SVM_EXIT_CLGI] = vmmu_x86_inject_ud,
	[SVM_EXIT_SKINIT] = vmmu_x86_inject_ud,
	[SVM_EXIT_INVLPGA] = vmmu_x86_inject_ud,
	[SVM_EXIT_MONITOR] = vmmu_x86_inject_ud,
	[SVM_EXIT_MWAIT] = vmmu_x86_inject_ud,
	[SVM_EXIT_RDPRU] = vmmu_x86_inject_ud,
};

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
	u64 code = svm_exit_code(c);

	if (svm_exit_invalid(c))
		return svm_handle_invalid(vcpu);
	if (unlikely(svm_save_holds_host(&svm->vmcb->save)))
		return svm_handle_host_save(vcpu);
	if (code != SVM_EXIT_SHUTDOWN)
		svm->host_save_replays = 0;
	svm_requeue_event(c);
	svm_nmi_unblock_after_iret(svm);
	if (code >= ARRAY_SIZE(svm_exit_handlers) || !svm_exit_handlers[code])
		return svm_unexpected_exit(vcpu);
	return svm_exit_handlers[code](vcpu);
}
