// SPDX-License-Identifier: GPL-2.0
/*
 * SVM vCPUs: the VMCB, its reset state, and the guest registers as KVM's
 * uAPI shows them.
 *
 * The VMCB's save area is the only copy of the guest state that VMRUN
 * switches (segments, control registers, RAX, RSP, RIP, RFLAGS); VMLOAD and
 * VMSAVE switch FS, GS, TR, LDTR and the syscall MSRs through the same save
 * area.  The other GPRs live in struct vmmu_svm_vcpu and are swapped by
 * vmenter.S.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <asm/cpufeature.h>
#include <asm/msr-index.h>
#include <asm/trapnr.h>
#include <asm/processor-flags.h>

#include <vmmu/backend.h>
#include <vmmu/emul.h>
#include <vmmu/vcpu.h>
#include <vmmu/x86_state.h>
#include <linux/vmmu.h>

#include "svm.h"

#define VMMU_SVM_DR6_RESET	0xffff0ff0ULL
#define VMMU_SVM_DR7_RESET	0x400ULL
/* The power-on PAT: WB, WT, UC-, UC, then the same again. */
#define VMMU_SVM_PAT_RESET	0x0007040600070406ULL

/* Segment attributes in the VMCB's packed form. */
#define SEG_TYPE_DATA_RW	0x3	/* read/write, accessed */
#define SEG_TYPE_CODE_RX	0xb	/* execute/read, accessed */
#define SEG_TYPE_LDT		0x2
#define SEG_TYPE_BUSY_TSS16	0x3

#define SEG_ATTR_S		SVM_SELECTOR_S_MASK
#define SEG_ATTR_P		SVM_SELECTOR_P_MASK

/* What every guest exit vmmu must see, or must not let the guest do. */
static const u8 vmmu_svm_intercepts[] = {
	INTERCEPT_INTR,		/* host interrupts, kicks */
	INTERCEPT_NMI,
	INTERCEPT_SHUTDOWN,	/* triple fault */
	INTERCEPT_CPUID,
	INTERCEPT_HLT,
	INTERCEPT_IOIO_PROT,	/* with every bit of the IOPM set */
	INTERCEPT_MSR_PROT,	/* with every bit of the MSRPM set */
	INTERCEPT_XSETBV,	/* the host's XCR0 stays the host's */
	INTERCEPT_INVD,		/* would drop the host's dirty cache lines */
	INTERCEPT_RDPMC,	/* the host's counters */
	INTERCEPT_MONITOR,
	INTERCEPT_MWAIT,
	INTERCEPT_TASK_SWITCH,
	INTERCEPT_VMRUN,	/* VMRUN fails without this one */
	INTERCEPT_VMMCALL,
	INTERCEPT_VMLOAD,
	INTERCEPT_VMSAVE,
	INTERCEPT_STGI,
	INTERCEPT_CLGI,
	INTERCEPT_SKINIT,
	INTERCEPT_INVLPGA,
	INTERCEPT_RDPRU,
};

static void svm_init_control(struct vmcb_control_area *c)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmmu_svm_intercepts); i++)
		svm_set_intercept(c, vmmu_svm_intercepts[i]);
	c->iopm_base_pa = vmmu_svm_iopm_pa;
	c->msrpm_base_pa = vmmu_svm_msrpm_pa;
	/*
	 * The guest's RFLAGS.IF masks only virtual interrupts; physical ones
	 * exit to the host whatever the guest does.
	 */
	c->int_ctl = V_INTR_MASKING_MASK;
	c->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	/* asid and nested_cr3 are set before every VMRUN; clean stays 0. */
}

static void svm_set_seg(struct vmcb_seg *seg, u16 selector, u64 base,
			u32 limit, u16 attrib)
{
	seg->selector = selector;
	seg->base = base;
	seg->limit = limit;
	seg->attrib = attrib;
}

/* The state of a CPU after RESET: real mode at 0xffff0. */
static void svm_init_save(struct vmcb_save_area *save)
{
	u16 data = SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_DATA_RW;

	svm_set_seg(&save->cs, 0xf000, 0xffff0000, 0xffff,
		    SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_CODE_RX);
	svm_set_seg(&save->ds, 0, 0, 0xffff, data);
	svm_set_seg(&save->es, 0, 0, 0xffff, data);
	svm_set_seg(&save->fs, 0, 0, 0xffff, data);
	svm_set_seg(&save->gs, 0, 0, 0xffff, data);
	svm_set_seg(&save->ss, 0, 0, 0xffff, data);
	svm_set_seg(&save->ldtr, 0, 0, 0xffff, SEG_ATTR_P | SEG_TYPE_LDT);
	svm_set_seg(&save->tr, 0, 0, 0xffff, SEG_ATTR_P | SEG_TYPE_BUSY_TSS16);
	svm_set_seg(&save->gdtr, 0, 0, 0xffff, 0);
	svm_set_seg(&save->idtr, 0, 0, 0xffff, 0);
	save->cr0 = X86_CR0_NW | X86_CR0_CD | X86_CR0_ET;
	save->efer = EFER_SVME;
	save->dr6 = VMMU_SVM_DR6_RESET;
	save->dr7 = VMMU_SVM_DR7_RESET;
	save->rflags = X86_EFLAGS_FIXED;
	save->rip = 0xfff0;
	save->g_pat = VMMU_SVM_PAT_RESET;
}

/**
 * vmmu_svm_vcpu_reset() - put a vCPU in the state of a CPU after RESET
 * @vcpu: the vCPU, not running
 *
 * The VMCB and the GPRs; x86/ resets the rest (vmmu_x86_vcpu_reset()).  Also
 * how a vCPU comes back after a triple fault: the VMCB is undefined after a
 * SHUTDOWN intercept.
 */
void vmmu_svm_vcpu_reset(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);

	clear_page(svm->vmcb);
	svm_init_control(&svm->vmcb->control);
	svm_init_save(&svm->vmcb->save);
	memset(svm->regs, 0, sizeof(svm->regs));
	svm->nmi_masked = false;
	svm->nmi_iret_seen = false;
	svm->nmi_singlestep = false;
	svm->need_new_asid = true;
}

/**
 * vmmu_svm_vcpu_create() - the SVM part of a new vCPU
 * @vcpu: the vCPU, not yet visible to userspace
 *
 * Return: 0 or -ENOMEM, with nothing left allocated.
 */
int vmmu_svm_vcpu_create(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm;

	svm = kzalloc(sizeof(*svm), GFP_KERNEL_ACCOUNT);
	if (!svm)
		return -ENOMEM;
	svm->vmcb = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!svm->vmcb) {
		kfree(svm);
		return -ENOMEM;
	}
	svm->vmcb_pa = __pa(svm->vmcb);
	svm->asid_cpu = -1;
	vcpu->arch = svm;
	return 0;
}

/**
 * vmmu_svm_vcpu_free() - free the SVM part of a vCPU
 * @vcpu: the vCPU; it never runs again
 */
void vmmu_svm_vcpu_free(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);

	if (!svm)
		return;
	free_page((unsigned long)svm->vmcb);
	kfree(svm);
	vcpu->arch = NULL;
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

static u64 svm_read_gpr(struct vmmu_vcpu *vcpu, unsigned int reg)
{
	return *svm_gpr(to_svm(vcpu), reg);
}

static void svm_write_gpr(struct vmmu_vcpu *vcpu, unsigned int reg, u64 val)
{
	*svm_gpr(to_svm(vcpu), reg) = val;
}

static u64 svm_get_rip(struct vmmu_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.rip;
}

static void svm_set_rip(struct vmmu_vcpu *vcpu, u64 rip)
{
	to_svm(vcpu)->vmcb->save.rip = rip;
}

/* The TF and RF an NMI single step sets are hidden: the guest's are shown. */
static u64 svm_get_rflags(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	u64 rflags = svm->vmcb->save.rflags;

	if (svm->nmi_singlestep)
		rflags = (rflags & ~SVM_NMI_STEP_FLAGS) |
			 svm->nmi_singlestep_flags;
	return rflags;
}

static void svm_set_rflags(struct vmmu_vcpu *vcpu, u64 rflags)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);

	if (svm->nmi_singlestep) {
		svm->nmi_singlestep_flags = rflags & SVM_NMI_STEP_FLAGS;
		rflags |= SVM_NMI_STEP_FLAGS;
	}
	svm->vmcb->save.rflags = rflags;
}

/* No NRIPS under QEMU: the handler's own length. */
static unsigned int svm_insn_len(struct vmmu_vcpu *vcpu, unsigned int len)
{
	return len;
}

static bool svm_in_64bit_code(struct vmmu_vcpu *vcpu)
{
	const struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;

	return (save->efer & EFER_LMA) && (save->cs.attrib & SVM_SELECTOR_L_MASK);
}

static void svm_clear_interrupt_shadow(struct vmmu_vcpu *vcpu)
{
	to_svm(vcpu)->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
}

static void svm_inject_exception(struct vmmu_vcpu *vcpu, unsigned int vector,
				 bool has_error, u32 error)
{
	struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;

	c->event_inj = vector | SVM_EVTINJ_TYPE_EXEPT | SVM_EVTINJ_VALID;
	if (has_error)
		c->event_inj |= SVM_EVTINJ_VALID_ERR;
	c->event_inj_err = error;
}

static void svm_set_cr2(struct vmmu_vcpu *vcpu, u64 cr2)
{
	to_svm(vcpu)->vmcb->save.cr2 = cr2;
}

static void svm_inject_irq(struct vmmu_vcpu *vcpu, unsigned int vector)
{
	to_svm(vcpu)->vmcb->control.event_inj = vector | SVM_EVTINJ_TYPE_INTR |
						 SVM_EVTINJ_VALID;
}

static bool svm_get_event(struct vmmu_vcpu *vcpu, struct vmmu_x86_event *ev)
{
	const struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;
	u32 inj = c->event_inj;

	if (!(inj & SVM_EVTINJ_VALID))
		return false;
	ev->vector = inj & SVM_EVTINJ_VEC_MASK;
	ev->irq = (inj & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_INTR;
	ev->nmi = (inj & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_NMI;
	ev->has_error = inj & SVM_EVTINJ_VALID_ERR;
	ev->error = ev->has_error ? c->event_inj_err : 0;
	return true;
}

static void svm_cancel_event(struct vmmu_vcpu *vcpu)
{
	to_svm(vcpu)->vmcb->control.event_inj = 0;
}

/* SVM has one shadow bit, whichever instruction set it: report both. */
static u32 svm_get_interrupt_shadow(struct vmmu_vcpu *vcpu)
{
	if (to_svm(vcpu)->vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK)
		return KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI;
	return 0;
}

static void svm_set_interrupt_shadow(struct vmmu_vcpu *vcpu, u32 shadow)
{
	u32 *int_state = &to_svm(vcpu)->vmcb->control.int_state;

	if (shadow)
		*int_state |= SVM_INTERRUPT_SHADOW_MASK;
	else
		*int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
}

/*
 * The interrupt window: a virtual interrupt (V_IRQ) of the highest
 * priority, whose delivery the VINTR intercept turns into an exit once the
 * guest has RFLAGS.IF set and no interrupt shadow.
 */
static void svm_set_irq_window(struct vmmu_vcpu *vcpu, bool on)
{
	struct vmcb_control_area *c = &to_svm(vcpu)->vmcb->control;

	c->int_ctl &= ~(V_IRQ_MASK | V_INTR_PRIO_MASK);
	if (on) {
		c->int_vector = 0;
		c->int_ctl |= V_IRQ_MASK | 0xf << V_INTR_PRIO_SHIFT;
		svm_set_intercept(c, INTERCEPT_VINTR);
	} else {
		svm_clr_intercept(c, INTERCEPT_VINTR);
	}
}

/*
 * NMIs.  SVM keeps no NMI blocking for the guest (without vNMI, which QEMU
 * does not emulate): vmmu blocks NMIs from an injection until the IRET of
 * the handler, seen by the IRET intercept; they are unblocked once that
 * IRET has executed (svm_nmi_unblock_after_iret()).
 */
static void svm_set_nmi_mask(struct vmmu_vcpu *vcpu, bool masked)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);

	svm->nmi_masked = masked;
	svm->nmi_iret_seen = false;
	if (masked)
		svm_set_intercept(&svm->vmcb->control, INTERCEPT_IRET);
	else
		svm_clr_intercept(&svm->vmcb->control, INTERCEPT_IRET);
}

static void svm_inject_nmi(struct vmmu_vcpu *vcpu)
{
	to_svm(vcpu)->vmcb->control.event_inj = X86_TRAP_NMI |
		SVM_EVTINJ_TYPE_NMI | SVM_EVTINJ_VALID;
	svm_set_nmi_mask(vcpu, true);
}

static bool svm_get_nmi_mask(struct vmmu_vcpu *vcpu)
{
	return to_svm(vcpu)->nmi_masked;
}

/*
 * SVM has no NMI-window exit.  While NMIs are blocked and the IRET has not
 * been reached, its intercept is the exit.  Otherwise what holds the NMI
 * off ends with the next instruction (the IRET, the one in the interrupt
 * shadow) or the next instruction boundary (the event being delivered):
 * the guest runs that one instruction with RFLAGS.TF, whose #DB exits.
 */
static void svm_set_nmi_window(struct vmmu_vcpu *vcpu, bool on)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	u64 rflags = svm->vmcb->save.rflags;

	if (!on || svm->nmi_singlestep ||
	    (svm->nmi_masked && !svm->nmi_iret_seen))
		return;
	svm->nmi_singlestep_flags = rflags & SVM_NMI_STEP_FLAGS;
	svm->nmi_singlestep = true;
	svm->vmcb->save.rflags = rflags | SVM_NMI_STEP_FLAGS;
	svm_set_intercept(&svm->vmcb->control,
			  INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_DB);
}

/**
 * vmmu_svm_nmi_step_done() - the single step of svm_set_nmi_window() exited
 * @vcpu: the vCPU
 *
 * Gives the guest its own TF and RF back (IRET may have loaded others:
 * those stay) and turns the #DB intercept off.
 *
 * Return: did the guest run with TF set itself (its own single-step #DB is
 * due as well)?
 */
bool vmmu_svm_nmi_step_done(struct vmmu_vcpu *vcpu)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	u64 own = svm->nmi_singlestep_flags;

	svm->nmi_singlestep = false;
	svm->vmcb->save.rflags = (svm->vmcb->save.rflags & ~X86_EFLAGS_RF) |
				 (own & X86_EFLAGS_RF);
	if (!(own & X86_EFLAGS_TF))
		svm->vmcb->save.rflags &= ~X86_EFLAGS_TF;
	svm_clr_intercept(&svm->vmcb->control,
			  INTERCEPT_EXCEPTION_OFFSET + X86_TRAP_DB);
	return own & X86_EFLAGS_TF;
}

static void svm_get_emul_ctxt(struct vmmu_vcpu *vcpu,
			      struct vmmu_emul_ctxt *ctxt)
{
	const struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;

	ctxt->rip = save->rip;
	ctxt->rflags = save->rflags;
	ctxt->seg_base[VMMU_EMUL_ES] = save->es.base;
	ctxt->seg_base[VMMU_EMUL_CS] = save->cs.base;
	ctxt->seg_base[VMMU_EMUL_SS] = save->ss.base;
	ctxt->seg_base[VMMU_EMUL_DS] = save->ds.base;
	ctxt->seg_base[VMMU_EMUL_FS] = save->fs.base;
	ctxt->seg_base[VMMU_EMUL_GS] = save->gs.base;
	ctxt->cs_db = save->cs.attrib & SVM_SELECTOR_DB_MASK;
	ctxt->cs_l = save->cs.attrib & SVM_SELECTOR_L_MASK;
	ctxt->cpl = save->cpl;
	ctxt->cr0 = save->cr0;
	ctxt->cr3 = save->cr3;
	ctxt->cr4 = save->cr4;
	ctxt->efer = save->efer;
}

static u64 svm_get_cr0(struct vmmu_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.cr0;
}

static u64 svm_get_cr4(struct vmmu_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.cr4;
}

/* With V_INTR_MASKING, the guest's CR8 is the VMCB's V_TPR. */
static u64 svm_get_cr8(struct vmmu_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->control.int_ctl & V_TPR_MASK;
}

static void svm_set_cr8(struct vmmu_vcpu *vcpu, u64 cr8)
{
	u32 *int_ctl = &to_svm(vcpu)->vmcb->control.int_ctl;

	*int_ctl = (*int_ctl & ~V_TPR_MASK) | (cr8 & V_TPR_MASK);
}

/* The guest never sees SVME: VMRUN needs it in the guest's EFER. */
static u64 svm_get_efer(struct vmmu_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb->save.efer & ~EFER_SVME;
}

static void svm_set_efer(struct vmmu_vcpu *vcpu, u64 efer)
{
	to_svm(vcpu)->vmcb->save.efer = efer | EFER_SVME;
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

static bool svm_get_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 *data)
{
	u64 *field = svm_msr_field(&to_svm(vcpu)->vmcb->save, msr);

	if (field)
		*data = *field;
	return field;
}

static bool svm_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data)
{
	u64 *field = svm_msr_field(&to_svm(vcpu)->vmcb->save, msr);

	if (field)
		*field = data;
	return field;
}

static void svm_set_tsc_offset(struct vmmu_vcpu *vcpu, u64 offset)
{
	to_svm(vcpu)->vmcb->control.tsc_offset = offset;
}

static void svm_seg_to_kvm(struct kvm_segment *k, const struct vmcb_seg *s)
{
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->attrib & SVM_SELECTOR_TYPE_MASK;
	k->s = !!(s->attrib & SVM_SELECTOR_S_MASK);
	k->dpl = (s->attrib & SVM_SELECTOR_DPL_MASK) >> SVM_SELECTOR_DPL_SHIFT;
	k->present = !!(s->attrib & SVM_SELECTOR_P_MASK);
	k->avl = !!(s->attrib & SVM_SELECTOR_AVL_MASK);
	k->l = !!(s->attrib & SVM_SELECTOR_L_MASK);
	k->db = !!(s->attrib & SVM_SELECTOR_DB_MASK);
	/* SVM ignores G and may not keep it: derive it from the limit. */
	k->g = s->limit > 0xfffff;
	/* The VMCB has no "unusable": a segment that is not present is. */
	k->unusable = !k->present;
	k->padding = 0;
}

static void svm_seg_from_kvm(struct vmcb_seg *s, const struct kvm_segment *k)
{
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->attrib = (k->type & SVM_SELECTOR_TYPE_MASK) |
		    (k->s & 1) << SVM_SELECTOR_S_SHIFT |
		    (k->dpl & 3) << SVM_SELECTOR_DPL_SHIFT |
		    ((k->present & 1) && !k->unusable) << SVM_SELECTOR_P_SHIFT |
		    (k->avl & 1) << SVM_SELECTOR_AVL_SHIFT |
		    (k->l & 1) << SVM_SELECTOR_L_SHIFT |
		    (k->db & 1) << SVM_SELECTOR_DB_SHIFT |
		    (k->g & 1) << SVM_SELECTOR_G_SHIFT;
}

/**
 * vmmu_svm_get_sregs() - KVM_GET_SREGS
 * @vcpu: the vCPU, not running
 * @sregs: filled in; EFER without vmmu's SVME, no pending interrupt
 */
void vmmu_svm_get_sregs(struct vmmu_vcpu *vcpu, struct kvm_sregs *sregs)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	const struct vmcb_save_area *save = &svm->vmcb->save;

	memset(sregs, 0, sizeof(*sregs));
	svm_seg_to_kvm(&sregs->cs, &save->cs);
	svm_seg_to_kvm(&sregs->ds, &save->ds);
	svm_seg_to_kvm(&sregs->es, &save->es);
	svm_seg_to_kvm(&sregs->fs, &save->fs);
	svm_seg_to_kvm(&sregs->gs, &save->gs);
	svm_seg_to_kvm(&sregs->ss, &save->ss);
	svm_seg_to_kvm(&sregs->tr, &save->tr);
	svm_seg_to_kvm(&sregs->ldt, &save->ldtr);
	/* The CPL is SS.DPL, as KVM reports it. */
	sregs->ss.dpl = save->cpl;
	sregs->gdt.base = save->gdtr.base;
	sregs->gdt.limit = save->gdtr.limit;
	sregs->idt.base = save->idtr.base;
	sregs->idt.limit = save->idtr.limit;
	sregs->cr0 = save->cr0;
	sregs->cr2 = save->cr2;
	sregs->cr3 = save->cr3;
	sregs->cr4 = save->cr4;
	sregs->cr8 = svm->vmcb->control.int_ctl & V_TPR_MASK;
	sregs->efer = save->efer & ~EFER_SVME;
	sregs->apic_base = vcpu->x86.apic_base;
}

/**
 * vmmu_svm_set_sregs() - KVM_SET_SREGS
 * @vcpu: the vCPU, not running
 * @sregs: the new state: real, protected or long mode
 *
 * The guest's own translations are flushed (a fresh ASID at the next
 * entry): its paging state may have changed under it.
 *
 * Return: 0, or -EINVAL (nothing changed) for a state no CPU can be in, or
 * one vmmu cannot give the guest (a pending interrupt, unsupported EFER or
 * CR4 bits).
 */
int vmmu_svm_set_sregs(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	struct vmmu_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;
	u32 *int_ctl = &svm->vmcb->control.int_ctl;

	if (!vmmu_sregs_valid(sregs, V_TPR_MASK))
		return -EINVAL;
	svm_seg_from_kvm(&save->cs, &sregs->cs);
	svm_seg_from_kvm(&save->ds, &sregs->ds);
	svm_seg_from_kvm(&save->es, &sregs->es);
	svm_seg_from_kvm(&save->fs, &sregs->fs);
	svm_seg_from_kvm(&save->gs, &sregs->gs);
	svm_seg_from_kvm(&save->ss, &sregs->ss);
	svm_seg_from_kvm(&save->tr, &sregs->tr);
	svm_seg_from_kvm(&save->ldtr, &sregs->ldt);
	save->cpl = sregs->ss.dpl & 3;
	save->gdtr.base = sregs->gdt.base;
	save->gdtr.limit = sregs->gdt.limit;
	save->idtr.base = sregs->idt.base;
	save->idtr.limit = sregs->idt.limit;
	save->cr0 = sregs->cr0;
	save->cr2 = sregs->cr2;
	save->cr3 = sregs->cr3;
	save->cr4 = sregs->cr4;
	/* VMRUN refuses a guest without SVME: the guest never sees it. */
	save->efer = sregs->efer | EFER_SVME;
	*int_ctl = (*int_ctl & ~V_TPR_MASK) | sregs->cr8;
	vcpu->x86.apic_base = sregs->apic_base;
	svm->need_new_asid = true;
	return 0;
}

/*
 * The backend: x86/ runs the vCPU and handles what the architecture
 * defines, through the ops here that read and write the VMCB.
 */
struct vmmu_backend_ops vmmu_svm_ops = {
	.name = "svm",
	.vcpu_kind = VMMU_VCPU_SVM,
	.hardware_enable = vmmu_svm_hardware_enable,
	.hardware_disable = vmmu_svm_hardware_disable,
	.vcpu_create = vmmu_svm_vcpu_create,
	.vcpu_free = vmmu_svm_vcpu_free,
	.vcpu_reset = vmmu_svm_vcpu_reset,
	.cpu_ready = vmmu_svm_cpu_ready,
	.enter_guest = vmmu_svm_enter_guest,
	.handle_exit = vmmu_svm_handle_exit,
	.flush_tlb = vmmu_svm_flush_tlb,
	.read_gpr = svm_read_gpr,
	.write_gpr = svm_write_gpr,
	.get_rip = svm_get_rip,
	.set_rip = svm_set_rip,
	.get_rflags = svm_get_rflags,
	.set_rflags = svm_set_rflags,
	.insn_len = svm_insn_len,
	.in_64bit_code = svm_in_64bit_code,
	.clear_interrupt_shadow = svm_clear_interrupt_shadow,
	.inject_exception = svm_inject_exception,
	.set_cr2 = svm_set_cr2,
	.inject_irq = svm_inject_irq,
	.get_event = svm_get_event,
	.cancel_event = svm_cancel_event,
	.get_interrupt_shadow = svm_get_interrupt_shadow,
	.set_interrupt_shadow = svm_set_interrupt_shadow,
	.set_irq_window = svm_set_irq_window,
	.inject_nmi = svm_inject_nmi,
	.get_nmi_mask = svm_get_nmi_mask,
	.set_nmi_mask = svm_set_nmi_mask,
	.set_nmi_window = svm_set_nmi_window,
	.get_emul_ctxt = svm_get_emul_ctxt,
	.get_cr0 = svm_get_cr0,
	.get_cr4 = svm_get_cr4,
	.get_cr8 = svm_get_cr8,
	.set_cr8 = svm_set_cr8,
	.get_efer = svm_get_efer,
	.set_efer = svm_set_efer,
	.get_msr = svm_get_msr,
	.set_msr = svm_set_msr,
	/* KVM's value for SVM vCPUs. */
	.ucode_rev = 0x01000065,
	.set_tsc_offset = svm_set_tsc_offset,
	.get_sregs = vmmu_svm_get_sregs,
	.set_sregs = vmmu_svm_set_sregs,
};
