// SPDX-License-Identifier: GPL-2.0
/*
 * VMX vCPUs: the VMCS, its controls and reset state, and the guest
 * registers as KVM's uAPI shows them.
 *
 * The VMCS is the only copy of the guest state VM entry and exit switch
 * (segments, control registers, RSP, RIP, RFLAGS, EFER, PAT, SYSENTER);
 * the other GPRs live in struct vmmu_vmx_vcpu and are swapped by
 * vmenter.S.  The VMCS can be read and written only while it is current on
 * the CPU that runs the code: every accessor here makes it so first
 * (vmmu_vmx_vmcs_get()).
 *
 * CR0.NE and CR4.VMXE must be 1 in VMX operation: the VMCS holds them set,
 * the read shadows hold the guest's own values, and the guest/host masks
 * make a guest write to those bits (and to CR0.PG, which switches long mode
 * on and off) exit to vmmu_vmx_set_cr0() and vmmu_vmx_set_cr4().
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <asm/desc.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/segment.h>
#include <asm/trapnr.h>

#include <vmmu/backend.h>
#include <vmmu/emul.h>
#include <vmmu/vcpu.h>
#include <vmmu/x86_state.h>
#include <linux/vmmu.h>

#include "vmx.h"

#define VMMU_VMX_DR7_RESET	0x400ULL
/* The power-on PAT: WB, WT, UC-, UC, then the same again. */
#define VMMU_VMX_PAT_RESET	0x0007040600070406ULL
/* CR8 has four bits. */
#define VMMU_VMX_CR8_MAX	0xfULL

/* Segment access rights as the VMCS holds them. */
#define VMMU_AR_TYPE_MASK	0xf
#define VMMU_AR_S		BIT(4)
#define VMMU_AR_DPL_SHIFT	5
#define VMMU_AR_P		BIT(7)
#define VMMU_AR_AVL		BIT(12)
#define VMMU_AR_L		BIT(13)
#define VMMU_AR_DB		BIT(14)
#define VMMU_AR_G		BIT(15)
#define VMMU_AR_UNUSABLE		BIT(16)

#define SEG_TYPE_DATA_RW	0x3	/* read/write, accessed */
#define SEG_TYPE_CODE_RX	0xb	/* execute/read, accessed */
#define SEG_TYPE_LDT		0x2
#define SEG_TYPE_BUSY_TSS16	0x3

/* The four VMCS fields of a segment register. */
struct vmx_seg {
	u16 selector;
	u16 base;
	u16 limit;
	u16 ar;
};

enum { VMX_ES, VMX_CS, VMX_SS, VMX_DS, VMX_FS, VMX_GS, VMX_LDTR, VMX_TR };

#define VMX_SEG(s) { GUEST_##s##_SELECTOR, GUEST_##s##_BASE, \
		     GUEST_##s##_LIMIT, GUEST_##s##_AR_BYTES }
static const struct vmx_seg vmx_segs[] = {
	[VMX_ES] = VMX_SEG(ES),
	[VMX_CS] = VMX_SEG(CS),
	[VMX_SS] = VMX_SEG(SS),
	[VMX_DS] = VMX_SEG(DS),
	[VMX_FS] = VMX_SEG(FS),
	[VMX_GS] = VMX_SEG(GS),
	[VMX_LDTR] = VMX_SEG(LDTR),
	[VMX_TR] = VMX_SEG(TR),
};

static void vmx_set_seg(int seg, u16 selector, u64 base, u32 limit, u32 ar)
{
	const struct vmx_seg *f = &vmx_segs[seg];

	vmcs_write(f->selector, selector);
	vmcs_write(f->base, base);
	vmcs_write(f->limit, limit);
	vmcs_write(f->ar, ar);
}

/* CR0 bits the guest cannot change without an exit. */
static u64 vmx_cr0_host_owned(void)
{
	return (vmmu_vmx_caps.cr0_fixed0 & ~(X86_CR0_PE | X86_CR0_PG)) |
	       X86_CR0_NE | X86_CR0_PG;
}

/* CR4 bits the guest cannot change without an exit. */
static u64 vmx_cr4_host_owned(void)
{
	return vmmu_vmx_caps.cr4_fixed0 | X86_CR4_VMXE;
}

/* The controls and the host state that do not change per CPU or entry. */
static void vmx_init_controls(struct vmmu_vmx_vcpu *vmx)
{
	const struct vmmu_vmx_caps *c = &vmmu_vmx_caps;
	u64 msr;

	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, c->pin);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, c->proc);
	/* VPID 0 is the host's: a vCPU without its own runs untagged. */
	vmcs_write(SECONDARY_VM_EXEC_CONTROL, vmx->vpid ? c->proc2 :
		   c->proc2 & ~SECONDARY_EXEC_ENABLE_VPID);
	vmcs_write(VM_EXIT_CONTROLS, c->exit);
	vmcs_write(VM_ENTRY_CONTROLS, c->entry);
	vmcs_write(EXCEPTION_BITMAP, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(CR0_GUEST_HOST_MASK, vmx_cr0_host_owned());
	vmcs_write(CR4_GUEST_HOST_MASK, vmx_cr4_host_owned());
	vmcs_write(VMCS_LINK_POINTER, -1ULL);
	if (c->vpid)
		vmcs_write(VIRTUAL_PROCESSOR_ID, vmx->vpid);

	/* Host state; CR3, CR4, FS, GS and the per-CPU tables: run.c. */
	vmcs_write(HOST_CR0, read_cr0());
	vmcs_write(HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(HOST_DS_SELECTOR, 0);
	vmcs_write(HOST_ES_SELECTOR, 0);
	vmcs_write(HOST_FS_SELECTOR, 0);
	vmcs_write(HOST_GS_SELECTOR, 0);
	vmcs_write(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	vmcs_write(HOST_RIP, (unsigned long)vmmu_vmx_vmexit);
	rdmsrl(MSR_IA32_SYSENTER_CS, msr);
	vmcs_write(HOST_IA32_SYSENTER_CS, msr);
	rdmsrl(MSR_IA32_SYSENTER_EIP, msr);
	vmcs_write(HOST_IA32_SYSENTER_EIP, msr);
	rdmsrl(MSR_IA32_CR_PAT, msr);
	vmcs_write(HOST_IA32_PAT, msr);
	rdmsrl(MSR_EFER, msr);
	vmcs_write(HOST_IA32_EFER, msr);
}

/**
 * vmmu_vmx_guest_cr0() - CR0 as the guest sees it
 *
 * The guest changes the bits it owns without an exit: those come from the
 * VMCS's CR0, the bits vmmu owns from the read shadow.  The VMCS must be
 * current.
 *
 * Return: the guest's CR0.
 */
u64 vmmu_vmx_guest_cr0(void)
{
	u64 owned = vmx_cr0_host_owned();

	return (vmcs_read(GUEST_CR0) & ~owned) |
	       (vmcs_read(CR0_READ_SHADOW) & owned);
}

/**
 * vmmu_vmx_guest_cr4() - CR4 as the guest sees it
 *
 * As vmmu_vmx_guest_cr0().
 *
 * Return: the guest's CR4.
 */
u64 vmmu_vmx_guest_cr4(void)
{
	u64 owned = vmx_cr4_host_owned();

	return (vmcs_read(GUEST_CR4) & ~owned) |
	       (vmcs_read(CR4_READ_SHADOW) & owned);
}

/* The guest's CR0, CR4 and EFER into the VMCS, with what VMX requires. */
static void vmx_write_cr0(struct vmmu_vmx_vcpu *vmx, u64 cr0)
{
	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(GUEST_CR0, cr0 | (vmmu_vmx_caps.cr0_fixed0 &
				     ~(X86_CR0_PE | X86_CR0_PG)));
}

static void vmx_write_cr4(struct vmmu_vmx_vcpu *vmx, u64 cr4)
{
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmcs_write(GUEST_CR4, cr4 | vmmu_vmx_caps.cr4_fixed0 | X86_CR4_VMXE);
}

static void vmx_write_efer(struct vmmu_vmx_vcpu *vmx, u64 efer)
{
	vmx->guest_efer = efer;
	vmcs_write(GUEST_IA32_EFER, efer);
	if (efer & EFER_LMA)
		vmcs_set_bits(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
	else
		vmcs_clear_bits(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
}

/*
 * 32-bit PAE paging: VM entry takes the four PDPTEs from the VMCS, not
 * from memory.  Read them at @cr3 (may sleep).  Returns false if they
 * cannot be read (no memory there).
 */
static bool vmx_read_pdptrs(struct vmmu_vcpu *vcpu, u64 cr3, u64 *pdptrs)
{
	return !vmmu_emul_read_gpa(vcpu->vm, cr3 & GENMASK_ULL(31, 5), pdptrs,
				   4 * sizeof(u64));
}

static void vmx_write_pdptrs(const u64 *pdptrs)
{
	vmcs_write(GUEST_PDPTR0, pdptrs[0]);
	vmcs_write(GUEST_PDPTR1, pdptrs[1]);
	vmcs_write(GUEST_PDPTR2, pdptrs[2]);
	vmcs_write(GUEST_PDPTR3, pdptrs[3]);
}

static bool vmx_pae_paging(u64 cr0, u64 cr4, u64 efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & EFER_LMA);
}

/* The state of a CPU after RESET: real mode at 0xffff0. */
static void vmx_init_guest(struct vmmu_vmx_vcpu *vmx)
{
	u32 data = VMMU_AR_P | VMMU_AR_S | SEG_TYPE_DATA_RW;

	vmx_set_seg(VMX_CS, 0xf000, 0xffff0000, 0xffff,
		    VMMU_AR_P | VMMU_AR_S | SEG_TYPE_CODE_RX);
	vmx_set_seg(VMX_DS, 0, 0, 0xffff, data);
	vmx_set_seg(VMX_ES, 0, 0, 0xffff, data);
	vmx_set_seg(VMX_FS, 0, 0, 0xffff, data);
	vmx_set_seg(VMX_GS, 0, 0, 0xffff, data);
	vmx_set_seg(VMX_SS, 0, 0, 0xffff, data);
	vmx_set_seg(VMX_LDTR, 0, 0, 0xffff, VMMU_AR_P | SEG_TYPE_LDT);
	vmx_set_seg(VMX_TR, 0, 0, 0xffff, VMMU_AR_P | SEG_TYPE_BUSY_TSS16);
	vmcs_write(GUEST_GDTR_BASE, 0);
	vmcs_write(GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(GUEST_IDTR_BASE, 0);
	vmcs_write(GUEST_IDTR_LIMIT, 0xffff);
	vmx_write_cr0(vmx, X86_CR0_NW | X86_CR0_CD | X86_CR0_ET);
	vmx_write_cr4(vmx, 0);
	vmx_write_efer(vmx, 0);
	vmcs_write(GUEST_CR3, 0);
	vmcs_write(GUEST_DR7, VMMU_VMX_DR7_RESET);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(GUEST_RFLAGS, X86_EFLAGS_FIXED);
	vmcs_write(GUEST_RIP, 0xfff0);
	vmcs_write(GUEST_RSP, 0);
	vmcs_write(GUEST_IA32_PAT, VMMU_VMX_PAT_RESET);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
}

/**
 * vmmu_vmx_vcpu_reset() - put a vCPU in the state of a CPU after RESET
 * @vcpu: the vCPU, not running
 *
 * The VMCS and the GPRs; x86/ resets the rest (vmmu_x86_vcpu_reset()).  Also
 * how a vCPU comes back after a triple fault.
 */
void vmmu_vmx_vcpu_reset(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	vmmu_vmx_vmcs_get(vcpu);
	vmx_init_controls(vmx);
	vmx_init_guest(vmx);
	vmmu_vmx_vmcs_put(vcpu);
	memset(vmx->regs, 0, sizeof(vmx->regs));
	vmx->kernel_gs_base = 0;
	vmx->star = 0;
	vmx->lstar = 0;
	vmx->cstar = 0;
	vmx->sfmask = 0;
	vmx->cr8 = 0;
	vmx->cr2 = 0;
	vmx->need_invvpid = true;
}

/**
 * vmmu_vmx_vcpu_create() - the VMX part of a new vCPU
 * @vcpu: the vCPU, not yet visible to userspace
 *
 * Return: 0 or -ENOMEM, with nothing left allocated.
 */
int vmmu_vmx_vcpu_create(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx;

	vmx = kzalloc(sizeof(*vmx), GFP_KERNEL_ACCOUNT);
	if (!vmx)
		return -ENOMEM;
	vmx->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vmx->vmcs) {
		kfree(vmx);
		return -ENOMEM;
	}
	*(u32 *)vmx->vmcs = vmmu_vmx_caps.revision;
	vmx->vmcs_pa = __pa(vmx->vmcs);
	vmx->loaded_cpu = -1;
	INIT_LIST_HEAD(&vmx->loaded_link);
	vmx->vpid = vmmu_vmx_vpid_alloc();
	vcpu->arch = vmx;
	/* A new VMCS is initialized (launch state clear) by VMCLEAR. */
	vmmu_vmclear(vmx->vmcs_pa);
	return 0;
}

/**
 * vmmu_vmx_vcpu_free() - free the VMX part of a vCPU
 * @vcpu: the vCPU; it never runs again
 *
 * The VMCS is cleared on the CPU it is active on before its page goes.
 */
void vmmu_vmx_vcpu_free(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	if (!vmx)
		return;
	vmmu_vmx_vcpu_clear(vcpu);
	vmmu_vmx_vpid_free(vmx->vpid);
	free_page((unsigned long)vmx->vmcs);
	kfree(vmx);
	vcpu->arch = NULL;
}

static void vmx_seg_to_kvm(struct kvm_segment *k, int seg)
{
	const struct vmx_seg *f = &vmx_segs[seg];
	u32 ar = vmcs_read(f->ar);

	k->base = vmcs_read(f->base);
	k->limit = vmcs_read(f->limit);
	k->selector = vmcs_read(f->selector);
	k->type = ar & VMMU_AR_TYPE_MASK;
	k->s = !!(ar & VMMU_AR_S);
	k->dpl = (ar >> VMMU_AR_DPL_SHIFT) & 3;
	k->present = !!(ar & VMMU_AR_P);
	k->avl = !!(ar & VMMU_AR_AVL);
	k->l = !!(ar & VMMU_AR_L);
	k->db = !!(ar & VMMU_AR_DB);
	k->g = !!(ar & VMMU_AR_G);
	k->unusable = !!(ar & VMMU_AR_UNUSABLE);
	if (k->unusable)
		k->present = 0;
	k->padding = 0;
}

static void vmx_seg_from_kvm(int seg, const struct kvm_segment *k)
{
	u32 ar;

	/* As in KVM: a segment that is not present is unusable. */
	if (k->unusable || !k->present)
		ar = VMMU_AR_UNUSABLE;
	else
		ar = (k->type & VMMU_AR_TYPE_MASK) |
		     (k->s ? VMMU_AR_S : 0) |
		     (k->dpl & 3) << VMMU_AR_DPL_SHIFT | VMMU_AR_P |
		     (k->avl ? VMMU_AR_AVL : 0) | (k->l ? VMMU_AR_L : 0) |
		     (k->db ? VMMU_AR_DB : 0) | (k->g ? VMMU_AR_G : 0);
	vmx_set_seg(seg, k->selector, k->base, k->limit, ar);
}

/**
 * vmmu_vmx_get_sregs() - KVM_GET_SREGS
 * @vcpu: the vCPU, not running
 * @sregs: filled in; CR0 and CR4 as the guest set them, no pending
 *	interrupt
 */
void vmmu_vmx_get_sregs(struct vmmu_vcpu *vcpu, struct kvm_sregs *sregs)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	memset(sregs, 0, sizeof(*sregs));
	vmmu_vmx_vmcs_get(vcpu);
	vmx_seg_to_kvm(&sregs->cs, VMX_CS);
	vmx_seg_to_kvm(&sregs->ds, VMX_DS);
	vmx_seg_to_kvm(&sregs->es, VMX_ES);
	vmx_seg_to_kvm(&sregs->fs, VMX_FS);
	vmx_seg_to_kvm(&sregs->gs, VMX_GS);
	vmx_seg_to_kvm(&sregs->ss, VMX_SS);
	vmx_seg_to_kvm(&sregs->tr, VMX_TR);
	vmx_seg_to_kvm(&sregs->ldt, VMX_LDTR);
	sregs->gdt.base = vmcs_read(GUEST_GDTR_BASE);
	sregs->gdt.limit = vmcs_read(GUEST_GDTR_LIMIT);
	sregs->idt.base = vmcs_read(GUEST_IDTR_BASE);
	sregs->idt.limit = vmcs_read(GUEST_IDTR_LIMIT);
	sregs->cr3 = vmcs_read(GUEST_CR3);
	sregs->cr0 = vmmu_vmx_guest_cr0();
	sregs->cr4 = vmmu_vmx_guest_cr4();
	vmmu_vmx_vmcs_put(vcpu);
	sregs->cr2 = vmx->cr2;
	sregs->cr8 = vmx->cr8;
	sregs->efer = vmx->guest_efer;
	sregs->apic_base = vcpu->x86.apic_base;
}

/**
 * vmmu_vmx_set_sregs() - KVM_SET_SREGS
 * @vcpu: the vCPU, not running
 * @sregs: the new state: real, protected or long mode
 *
 * The guest's own translations are flushed (INVVPID at the next entry):
 * its paging state may have changed under it.
 *
 * With 32-bit PAE paging the PDPTEs are read from guest memory at CR3 now,
 * as MOV to CR3 would.
 *
 * Return: 0, or -EINVAL (nothing changed) for a state no CPU can be in, or
 * one vmmu cannot give the guest (a pending interrupt, unsupported EFER or
 * CR4 bits, PAE paging with CR3 outside guest memory).
 */
int vmmu_vmx_set_sregs(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	bool pae = vmx_pae_paging(sregs->cr0, sregs->cr4, sregs->efer);
	u64 pdptrs[4];

	if (!vmmu_sregs_valid(sregs, VMMU_VMX_CR8_MAX))
		return -EINVAL;
	if (pae && !vmx_read_pdptrs(vcpu, sregs->cr3, pdptrs))
		return -EINVAL;
	vmmu_vmx_vmcs_get(vcpu);
	if (pae)
		vmx_write_pdptrs(pdptrs);
	vmx_seg_from_kvm(VMX_CS, &sregs->cs);
	vmx_seg_from_kvm(VMX_DS, &sregs->ds);
	vmx_seg_from_kvm(VMX_ES, &sregs->es);
	vmx_seg_from_kvm(VMX_FS, &sregs->fs);
	vmx_seg_from_kvm(VMX_GS, &sregs->gs);
	vmx_seg_from_kvm(VMX_SS, &sregs->ss);
	vmx_seg_from_kvm(VMX_TR, &sregs->tr);
	vmx_seg_from_kvm(VMX_LDTR, &sregs->ldt);
	vmcs_write(GUEST_GDTR_BASE, sregs->gdt.base);
	vmcs_write(GUEST_GDTR_LIMIT, sregs->gdt.limit);
	vmcs_write(GUEST_IDTR_BASE, sregs->idt.base);
	vmcs_write(GUEST_IDTR_LIMIT, sregs->idt.limit);
	vmcs_write(GUEST_CR3, sregs->cr3);
	vmx_write_cr0(vmx, sregs->cr0);
	vmx_write_cr4(vmx, sregs->cr4);
	vmx_write_efer(vmx, sregs->efer);
	vmmu_vmx_vmcs_put(vcpu);
	vmx->cr2 = sregs->cr2;
	vmx->cr8 = sregs->cr8;
	vcpu->x86.apic_base = sregs->apic_base;
	vmx->need_invvpid = true;
	return 0;
}

/**
 * vmmu_vmx_set_cr0() - the guest writes CR0 (a MOV that exited)
 * @vcpu: the vCPU, loaded
 * @cr0: the value
 *
 * Turning paging on with EFER.LME set enters long mode, turning it off
 * leaves it, and turning it on with PAE alone loads the PDPTEs: the CPU
 * does none of that for a write vmmu completes.  May sleep.
 *
 * Return: false if the write must fault (#GP).
 */
bool vmmu_vmx_set_cr0(struct vmmu_vcpu *vcpu, u64 cr0)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 efer = vmx->guest_efer;
	bool pg = cr0 & X86_CR0_PG, was_pg = vmmu_vmx_guest_cr0() & X86_CR0_PG;
	u64 pdptrs[4];

	if (cr0 >> 32 || (pg && !(cr0 & X86_CR0_PE)) ||
	    ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD)))
		return false;
	if (pg && !was_pg) {
		if (efer & EFER_LME) {
			if (!(vmmu_vmx_guest_cr4() & X86_CR4_PAE))
				return false;
			efer |= EFER_LMA;
		} else if (vmmu_vmx_guest_cr4() & X86_CR4_PAE) {
			if (!vmx_read_pdptrs(vcpu, vmcs_read(GUEST_CR3), pdptrs))
				return false;
			vmx_write_pdptrs(pdptrs);
		}
	} else if (!pg && was_pg) {
		efer &= ~EFER_LMA;
	}
	vmx_write_cr0(vmx, cr0);
	if (efer != vmx->guest_efer)
		vmx_write_efer(vmx, efer);
	if (pg != was_pg)
		vmx->need_invvpid = true;
	return true;
}

/**
 * vmmu_vmx_set_cr4() - the guest writes CR4 (a MOV that exited)
 * @vcpu: the vCPU, loaded
 * @cr4: the value
 *
 * Return: false if the write must fault (#GP): bits the guest may not set
 * (VMXE among them), or PAE cleared in long mode.
 */
bool vmmu_vmx_set_cr4(struct vmmu_vcpu *vcpu, u64 cr4)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	if (cr4 & ~vmmu_guest_cr4_valid())
		return false;
	if ((vmx->guest_efer & EFER_LMA) && !(cr4 & X86_CR4_PAE))
		return false;
	vmx_write_cr4(vmx, cr4);
	vmx->need_invvpid = true;
	return true;
}

/* GPR @reg as KVM numbers them: RSP lives in the VMCS. */
static u64 vmx_read_gpr(struct vmmu_vcpu *vcpu, unsigned int reg)
{
	if (reg == __VCPU_REGS_RSP)
		return vmcs_read(GUEST_RSP);
	return to_vmx(vcpu)->regs[reg];
}

static void vmx_write_gpr(struct vmmu_vcpu *vcpu, unsigned int reg, u64 val)
{
	if (reg == __VCPU_REGS_RSP)
		vmcs_write(GUEST_RSP, val);
	else
		to_vmx(vcpu)->regs[reg] = val;
}

static u64 vmx_get_rip(struct vmmu_vcpu *vcpu)
{
	return vmcs_read(GUEST_RIP);
}

static void vmx_set_rip(struct vmmu_vcpu *vcpu, u64 rip)
{
	vmcs_write(GUEST_RIP, rip);
}

static u64 vmx_get_rflags(struct vmmu_vcpu *vcpu)
{
	return vmcs_read(GUEST_RFLAGS);
}

static void vmx_set_rflags(struct vmmu_vcpu *vcpu, u64 rflags)
{
	vmcs_write(GUEST_RFLAGS, rflags);
}

/* The VMCS has the length, prefixes included. */
static unsigned int vmx_insn_len(struct vmmu_vcpu *vcpu, unsigned int len)
{
	return vmcs_read(VM_EXIT_INSTRUCTION_LEN);
}

static bool vmx_in_64bit_code(struct vmmu_vcpu *vcpu)
{
	return (to_vmx(vcpu)->guest_efer & EFER_LMA) &&
	       (vmcs_read(GUEST_CS_AR_BYTES) & VMMU_AR_L);
}

static void vmx_clear_interrupt_shadow(struct vmmu_vcpu *vcpu)
{
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

	if (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
			   intr & ~(GUEST_INTR_STATE_STI |
				    GUEST_INTR_STATE_MOV_SS));
}

static void vmx_inject_exception(struct vmmu_vcpu *vcpu, unsigned int vector,
				 bool has_error, u32 error)
{
	u32 info = vector | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_VALID_MASK;

	/* Real mode has no error codes; an entry with one would fail. */
	if (has_error && (vmmu_vmx_guest_cr0() & X86_CR0_PE)) {
		info |= INTR_INFO_DELIVER_CODE_MASK;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, error);
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
}

/* VMX does not switch CR2: enter_guest loads this copy. */
static void vmx_set_cr2(struct vmmu_vcpu *vcpu, u64 cr2)
{
	to_vmx(vcpu)->cr2 = cr2;
}

static void vmx_inject_irq(struct vmmu_vcpu *vcpu, unsigned int vector)
{
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD,
		   vector | INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK);
}

static bool vmx_get_event(struct vmmu_vcpu *vcpu, struct vmmu_x86_event *ev)
{
	u32 info = vmcs_read(VM_ENTRY_INTR_INFO_FIELD);

	if (!(info & INTR_INFO_VALID_MASK))
		return false;
	ev->vector = info & INTR_INFO_VECTOR_MASK;
	ev->irq = (info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_EXT_INTR;
	ev->nmi = (info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR;
	ev->has_error = info & INTR_INFO_DELIVER_CODE_MASK;
	ev->error = ev->has_error ?
		    vmcs_read(VM_ENTRY_EXCEPTION_ERROR_CODE) : 0;
	return true;
}

static void vmx_cancel_event(struct vmmu_vcpu *vcpu)
{
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
}

static u32 vmx_get_interrupt_shadow(struct vmmu_vcpu *vcpu)
{
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	u32 shadow = 0;

	if (intr & GUEST_INTR_STATE_STI)
		shadow |= KVM_X86_SHADOW_INT_STI;
	if (intr & GUEST_INTR_STATE_MOV_SS)
		shadow |= KVM_X86_SHADOW_INT_MOV_SS;
	return shadow;
}

/*
 * An entry fails with both kinds of shadow, or with an STI shadow and
 * RFLAGS.IF clear: a MOV SS shadow, which holds off interrupts as well,
 * stands in then.
 */
static void vmx_set_interrupt_shadow(struct vmmu_vcpu *vcpu, u32 shadow)
{
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);

	intr &= ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
	if ((shadow & KVM_X86_SHADOW_INT_MOV_SS) ||
	    ((shadow & KVM_X86_SHADOW_INT_STI) &&
	     !(vmcs_read(GUEST_RFLAGS) & X86_EFLAGS_IF)))
		intr |= GUEST_INTR_STATE_MOV_SS;
	else if (shadow & KVM_X86_SHADOW_INT_STI)
		intr |= GUEST_INTR_STATE_STI;
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr);
}

static void vmx_set_irq_window(struct vmmu_vcpu *vcpu, bool on)
{
	if (on)
		vmcs_set_bits(CPU_BASED_VM_EXEC_CONTROL,
			      CPU_BASED_INTR_WINDOW_EXITING);
	else
		vmcs_clear_bits(CPU_BASED_VM_EXEC_CONTROL,
				CPU_BASED_INTR_WINDOW_EXITING);
}

/*
 * NMIs, with virtual NMIs: the CPU blocks them when it delivers one and
 * unblocks them at the handler's IRET (GUEST_INTR_STATE_NMI); the
 * NMI-window exit comes as soon as one can be delivered.
 */
static bool vmx_nmi_in_delivery(void)
{
	u32 info = vmcs_read(VM_ENTRY_INTR_INFO_FIELD);

	return (info & (INTR_INFO_VALID_MASK | INTR_INFO_INTR_TYPE_MASK)) ==
	       (INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR);
}

static void vmx_inject_nmi(struct vmmu_vcpu *vcpu)
{
	/* The delivery blocks NMIs; an entry that finds them blocked fails. */
	vmcs_clear_bits(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD,
		   X86_TRAP_NMI | INTR_TYPE_NMI_INTR | INTR_INFO_VALID_MASK);
}

/* An NMI about to be delivered blocks NMIs already, as on SVM. */
static bool vmx_get_nmi_mask(struct vmmu_vcpu *vcpu)
{
	return (vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_STATE_NMI) ||
	       vmx_nmi_in_delivery();
}

static void vmx_set_nmi_mask(struct vmmu_vcpu *vcpu, bool masked)
{
	if (masked && !vmx_nmi_in_delivery())
		vmcs_set_bits(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI);
	else
		vmcs_clear_bits(GUEST_INTERRUPTIBILITY_INFO,
				GUEST_INTR_STATE_NMI);
}

static void vmx_set_nmi_window(struct vmmu_vcpu *vcpu, bool on)
{
	if (on)
		vmcs_set_bits(CPU_BASED_VM_EXEC_CONTROL,
			      CPU_BASED_NMI_WINDOW_EXITING);
	else
		vmcs_clear_bits(CPU_BASED_VM_EXEC_CONTROL,
				CPU_BASED_NMI_WINDOW_EXITING);
}

static void vmx_get_emul_ctxt(struct vmmu_vcpu *vcpu,
			      struct vmmu_emul_ctxt *ctxt)
{
	u32 cs_ar = vmcs_read(GUEST_CS_AR_BYTES);
	int seg;

	ctxt->rip = vmcs_read(GUEST_RIP);
	ctxt->rflags = vmcs_read(GUEST_RFLAGS);
	/* vmx_segs[] numbers ES to GS as the instruction set does. */
	BUILD_BUG_ON((int)VMX_ES != VMMU_EMUL_ES || (int)VMX_GS != VMMU_EMUL_GS);
	for (seg = VMMU_EMUL_ES; seg < VMMU_EMUL_NR_SEGS; seg++)
		ctxt->seg_base[seg] = vmcs_read(vmx_segs[seg].base);
	ctxt->cs_db = cs_ar & VMMU_AR_DB;
	ctxt->cs_l = cs_ar & VMMU_AR_L;
	ctxt->cpl = (vmcs_read(GUEST_SS_AR_BYTES) >> VMMU_AR_DPL_SHIFT) & 3;
	ctxt->cr0 = vmmu_vmx_guest_cr0();
	ctxt->cr3 = vmcs_read(GUEST_CR3);
	ctxt->cr4 = vmmu_vmx_guest_cr4();
	ctxt->efer = to_vmx(vcpu)->guest_efer;
}

static u64 vmx_get_cr0(struct vmmu_vcpu *vcpu)
{
	return vmmu_vmx_guest_cr0();
}

static u64 vmx_get_cr4(struct vmmu_vcpu *vcpu)
{
	return vmmu_vmx_guest_cr4();
}

/* No TPR shadow: CR8 accesses exit (vmx/exit.c) and use this copy. */
static u64 vmx_get_cr8(struct vmmu_vcpu *vcpu)
{
	return to_vmx(vcpu)->cr8;
}

static void vmx_set_cr8(struct vmmu_vcpu *vcpu, u64 cr8)
{
	to_vmx(vcpu)->cr8 = cr8;
}

static u64 vmx_get_efer(struct vmmu_vcpu *vcpu)
{
	return to_vmx(vcpu)->guest_efer;
}

static void vmx_set_efer(struct vmmu_vcpu *vcpu, u64 efer)
{
	vmx_write_efer(to_vmx(vcpu), efer);
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

static bool vmx_get_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 *data)
{
	long field = vmx_msr_field(msr);
	u64 *sw = vmx_msr_switched(to_vmx(vcpu), msr);

	if (field >= 0)
		*data = vmcs_read(field);
	else if (sw)
		*data = *sw;
	else
		return false;
	return true;
}

static bool vmx_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data)
{
	long field = vmx_msr_field(msr);
	u64 *sw = vmx_msr_switched(to_vmx(vcpu), msr);

	if (field >= 0)
		vmcs_write(field, data);
	else if (sw)
		*sw = data;
	else
		return false;
	return true;
}

/* With "use TSC offsetting" on (vmmu_vmx_caps.proc). */
static void vmx_set_tsc_offset(struct vmmu_vcpu *vcpu, u64 offset)
{
	vmcs_write(TSC_OFFSET, offset);
}

static void vmx_state_get(struct vmmu_vcpu *vcpu)
{
	vmmu_vmx_vmcs_get(vcpu);
}

static void vmx_state_put(struct vmmu_vcpu *vcpu)
{
	vmmu_vmx_vmcs_put(vcpu);
}

/*
 * The backend: x86/ runs the vCPU and handles what the architecture
 * defines, through the ops here that read and write the VMCS (current
 * while the vCPU is loaded, or inside vmx_state_get()).
 */
struct vmmu_backend_ops vmmu_vmx_ops = {
	.name = "vmx",
	.vcpu_kind = VMMU_VCPU_VMX,
	.hardware_enable = vmmu_vmx_hardware_enable,
	.hardware_disable = vmmu_vmx_hardware_disable,
	.vcpu_create = vmmu_vmx_vcpu_create,
	.vcpu_free = vmmu_vmx_vcpu_free,
	.vcpu_reset = vmmu_vmx_vcpu_reset,
	.vcpu_load = vmmu_vmx_vcpu_load,
	.state_get = vmx_state_get,
	.state_put = vmx_state_put,
	.cpu_ready = vmmu_vmx_cpu_ready,
	.enter_guest = vmmu_vmx_enter_guest,
	.handle_exit_irqoff = vmmu_vmx_handle_nmi,
	.handle_exit = vmmu_vmx_handle_exit,
	.flush_tlb = vmmu_vmx_flush_tlb,
	.read_gpr = vmx_read_gpr,
	.write_gpr = vmx_write_gpr,
	.get_rip = vmx_get_rip,
	.set_rip = vmx_set_rip,
	.get_rflags = vmx_get_rflags,
	.set_rflags = vmx_set_rflags,
	.insn_len = vmx_insn_len,
	.in_64bit_code = vmx_in_64bit_code,
	.clear_interrupt_shadow = vmx_clear_interrupt_shadow,
	.inject_exception = vmx_inject_exception,
	.set_cr2 = vmx_set_cr2,
	.inject_irq = vmx_inject_irq,
	.get_event = vmx_get_event,
	.cancel_event = vmx_cancel_event,
	.get_interrupt_shadow = vmx_get_interrupt_shadow,
	.set_interrupt_shadow = vmx_set_interrupt_shadow,
	.set_irq_window = vmx_set_irq_window,
	.inject_nmi = vmx_inject_nmi,
	.get_nmi_mask = vmx_get_nmi_mask,
	.set_nmi_mask = vmx_set_nmi_mask,
	.set_nmi_window = vmx_set_nmi_window,
	.get_emul_ctxt = vmx_get_emul_ctxt,
	.get_cr0 = vmx_get_cr0,
	.get_cr4 = vmx_get_cr4,
	.get_cr8 = vmx_get_cr8,
	.set_cr8 = vmx_set_cr8,
	.get_efer = vmx_get_efer,
	.set_efer = vmx_set_efer,
	.get_msr = vmx_get_msr,
	.set_msr = vmx_set_msr,
	/* KVM's value for VMX vCPUs. */
	.ucode_rev = 0x100000000ULL,
	.set_tsc_offset = vmx_set_tsc_offset,
	.get_sregs = vmmu_vmx_get_sregs,
	.set_sregs = vmmu_vmx_set_sregs,
};
