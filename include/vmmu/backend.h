/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vendor backend: what runs guest code on hardware.
 *
 * vCPUs of the software kind need no backend: they walk the tables in
 * software (mmu/sw_vcpu.c).  Hardware vCPUs (AMD SVM, Intel VMX) are
 * driven through one ops table, chosen at module init from the CPU's
 * features.  Everything generic stays above it: the KVM_RUN loop with
 * signals, rescheduling and requests, the kvm_run page, preemption
 * notifiers (dev/run.c), and what the x86 architecture defines whatever the
 * vendor (x86/, include/vmmu/x86.h): the entry section, the register
 * ioctls, the exit handlers.  Below it stays what only the vendor can do:
 * turning virtualization on, the control block, the world switch, decoding
 * exits, and the fine-grained access to guest state the x86 layer uses.
 *
 * A VM whose vCPU kind is a backend's holds that backend "enabled" (see
 * vmmu_backend_get() in dev/), so the CPUs are in the vendor's
 * virtualization mode exactly while such a VM exists.
 */
#ifndef _VMMU_BACKEND_H
#define _VMMU_BACKEND_H

#include <linux/types.h>

struct kvm_sregs;
struct vmmu_emul_ctxt;
struct vmmu_vcpu;

/**
 * struct vmmu_x86_event - the event waiting in the vendor's injection fields
 * @vector: its vector
 * @irq: an external interrupt
 * @nmi: an NMI; neither @irq nor @nmi: a hardware exception (the only
 *	three kinds vmmu injects)
 * @has_error: an exception delivered with an error code
 * @error: that error code
 */
struct vmmu_x86_event {
	u8 vector;
	bool irq;
	bool nmi;
	bool has_error;
	u32 error;
};

/**
 * struct vmmu_backend_ops - a hardware vCPU implementation
 * @name: "svm" or "vmx", shown in messages
 * @vcpu_kind: the VMMU_VCPU_* that selects this backend
 * @max_root_level: the deepest root the hardware walks (VMX: 5 only with
 *	5-level EPT), 0 if the format's own limit is the only one
 * @max_leaf_level: the largest leaf the hardware walks (VMMU_PG_LEVEL_*:
 *	EPT's 2M and 1G capabilities, NPT's 1G pages), 0 for the format's
 * @hardware_enable: enable virtualization on every online CPU (and on CPUs
 *	that come online later); called when the first VM of this backend is
 *	configured.  May sleep.  Returns 0, -EBUSY if another hypervisor owns
 *	the CPUs, or -ENOMEM.
 * @hardware_disable: turn it off everywhere; called when the last VM of the
 *	backend goes away.  May sleep.
 * @vcpu_create: allocate the vendor state of a new vCPU (x86/ resets it
 *	next).  Returns 0 or -ENOMEM, with nothing left allocated.
 * @vcpu_free: free it; the vCPU never runs again.  Also called after a
 *	failed @vcpu_create.
 * @vcpu_reset: put the vendor state in the architectural RESET state (also
 *	after a triple fault, when the control block is undefined)
 * @vcpu_load: the vCPU's thread now runs on @cpu (start of KVM_RUN, or
 *	rescheduled); preemption is disabled.  NULL if nothing to do.
 * @vcpu_put: the vCPU's thread leaves the CPU; preemption is disabled.
 *	NULL if nothing to do.
 * @state_get: make the guest state readable and writable through the ops
 *	below outside KVM_RUN (VMX: the VMCS current, preemption disabled);
 *	NULL if always so
 * @state_put: end of a @state_get section
 * @cpu_ready: can this CPU enter the guest (virtualization on, the control
 *	block current here)?  Interrupts are off.
 * @enter_guest: the world switch, once: set up what the entry needs (root,
 *	ASID or VPID, host state), enter, save the exit, restore the host's
 *	state.  Interrupts are off, the vCPU is in guest mode, the guest's FPU
 *	and PKRU loaded.
 * @handle_exit_irqoff: what must happen right after the exit with
 *	interrupts still off (VMX: a host NMI); may be NULL
 * @handle_exit: act on the exit (a vendor table of handlers, most of them
 *	x86/'s).  Returns 1 to go on, 0 to return to userspace with kvm_run
 *	filled in, or a negative errno.
 * @flush_tlb: the vCPU must not use any translation cached so far
 *	(VMMU_REQ_TLB_FLUSH, or a new root); takes effect at the next entry.
 * @read_gpr: a GPR as KVM numbers them (__VCPU_REGS_*)
 * @write_gpr: set one
 * @get_rip: RIP
 * @set_rip: set RIP as it is (x86/ truncates it outside 64-bit code)
 * @get_rflags: RFLAGS
 * @set_rflags: set RFLAGS
 * @insn_len: the length of the instruction that exited; @len is its length
 *	without prefixes, for a vendor that does not report one (SVM without
 *	NRIPS)
 * @in_64bit_code: is the guest in 64-bit mode (EFER.LMA and CS.L)?
 * @clear_interrupt_shadow: the instruction completed: an STI or MOV SS
 *	shadow ends
 * @inject_exception: deliver exception @vector (with @error if
 *	@has_error) at the next entry
 * @set_cr2: set the guest's CR2 (before injecting a #PF)
 * @inject_irq: deliver external interrupt @vector at the next entry (x86/
 *	checks first that the guest accepts interrupts and that no other event
 *	waits in the injection fields)
 * @get_event: does an event wait in the injection fields for the next
 *	entry (one injected, or one re-queued because an exit interrupted
 *	its delivery)?  If so, fills @ev in.
 * @cancel_event: empty the injection fields (KVM_SET_VCPU_EVENTS)
 * @get_interrupt_shadow: the guest's STI or MOV SS interrupt shadow, as
 *	KVM_X86_SHADOW_INT_* bits (0: none)
 * @set_interrupt_shadow: set it from KVM_X86_SHADOW_INT_* bits
 * @set_irq_window: exit (interrupt-window exit) as soon as the guest
 *	accepts interrupts (@on), or stop doing so
 * @inject_nmi: deliver an NMI at the next entry (x86/ checks first that
 *	NMIs are not blocked and that no other event waits in the injection
 *	fields); NMIs are blocked from then on until the guest's IRET
 * @get_nmi_mask: are NMIs blocked (an NMI was injected and its handler has
 *	not executed IRET yet)?
 * @set_nmi_mask: block NMIs, or unblock them (KVM_SET_VCPU_EVENTS)
 * @set_nmi_window: @on: exit (NMI-window exit) as soon as an NMI can be
 *	injected, i.e. after the IRET that ends the blocking, the interrupt
 *	shadow, or the delivery of the event in the injection fields; the
 *	exit calls vmmu_x86_handle_nmi_window().  Called before every entry
 *	while an NMI waits, with @on false once none does.
 * @get_emul_ctxt: the guest state the emulator reads (all but @vm)
 * @get_cr0: CR0 as the guest sees it
 * @get_cr4: CR4 as the guest sees it
 * @get_cr8: CR8 (the task priority, four bits)
 * @set_cr8: set CR8, already checked by x86/
 * @get_efer: EFER as the guest sees it
 * @set_efer: set EFER, already checked by x86/ (LMA kept as it was)
 * @get_msr: an MSR the control block holds; false if it holds no such MSR
 * @set_msr: set one, the value already checked by x86/; false likewise
 * @ucode_rev: the microcode revision a vCPU reports after RESET
 * @set_tsc_offset: what the guest's RDTSC and RDMSR of the TSC add to the
 *	host's TSC
 * @get_sregs: KVM_GET_SREGS
 * @set_sregs: KVM_SET_SREGS; returns 0 or -EINVAL for a state the vCPU
 *	cannot enter
 */
struct vmmu_backend_ops {
	const char *name;
	u32 vcpu_kind;
	int max_root_level;
	int max_leaf_level;
	int (*hardware_enable)(void);
	void (*hardware_disable)(void);
	int (*vcpu_create)(struct vmmu_vcpu *vcpu);
	void (*vcpu_free)(struct vmmu_vcpu *vcpu);
	void (*vcpu_reset)(struct vmmu_vcpu *vcpu);
	void (*vcpu_load)(struct vmmu_vcpu *vcpu, int cpu);
	void (*vcpu_put)(struct vmmu_vcpu *vcpu);
	void (*state_get)(struct vmmu_vcpu *vcpu);
	void (*state_put)(struct vmmu_vcpu *vcpu);
	bool (*cpu_ready)(struct vmmu_vcpu *vcpu);
	void (*enter_guest)(struct vmmu_vcpu *vcpu);
	void (*handle_exit_irqoff)(struct vmmu_vcpu *vcpu);
	int (*handle_exit)(struct vmmu_vcpu *vcpu);
	void (*flush_tlb)(struct vmmu_vcpu *vcpu);
	u64 (*read_gpr)(struct vmmu_vcpu *vcpu, unsigned int reg);
	void (*write_gpr)(struct vmmu_vcpu *vcpu, unsigned int reg, u64 val);
	u64 (*get_rip)(struct vmmu_vcpu *vcpu);
	void (*set_rip)(struct vmmu_vcpu *vcpu, u64 rip);
	u64 (*get_rflags)(struct vmmu_vcpu *vcpu);
	void (*set_rflags)(struct vmmu_vcpu *vcpu, u64 rflags);
	unsigned int (*insn_len)(struct vmmu_vcpu *vcpu, unsigned int len);
	bool (*in_64bit_code)(struct vmmu_vcpu *vcpu);
	void (*clear_interrupt_shadow)(struct vmmu_vcpu *vcpu);
	void (*inject_exception)(struct vmmu_vcpu *vcpu, unsigned int vector,
				 bool has_error, u32 error);
	void (*set_cr2)(struct vmmu_vcpu *vcpu, u64 cr2);
	void (*inject_irq)(struct vmmu_vcpu *vcpu, unsigned int vector);
	bool (*get_event)(struct vmmu_vcpu *vcpu, struct vmmu_x86_event *ev);
	void (*cancel_event)(struct vmmu_vcpu *vcpu);
	u32 (*get_interrupt_shadow)(struct vmmu_vcpu *vcpu);
	void (*set_interrupt_shadow)(struct vmmu_vcpu *vcpu, u32 shadow);
	void (*set_irq_window)(struct vmmu_vcpu *vcpu, bool on);
	void (*inject_nmi)(struct vmmu_vcpu *vcpu);
	bool (*get_nmi_mask)(struct vmmu_vcpu *vcpu);
	void (*set_nmi_mask)(struct vmmu_vcpu *vcpu, bool masked);
	void (*set_nmi_window)(struct vmmu_vcpu *vcpu, bool on);
	void (*get_emul_ctxt)(struct vmmu_vcpu *vcpu,
			      struct vmmu_emul_ctxt *ctxt);
	u64 (*get_cr0)(struct vmmu_vcpu *vcpu);
	u64 (*get_cr4)(struct vmmu_vcpu *vcpu);
	u64 (*get_cr8)(struct vmmu_vcpu *vcpu);
	void (*set_cr8)(struct vmmu_vcpu *vcpu, u64 cr8);
	u64 (*get_efer)(struct vmmu_vcpu *vcpu);
	void (*set_efer)(struct vmmu_vcpu *vcpu, u64 efer);
	bool (*get_msr)(struct vmmu_vcpu *vcpu, u32 msr, u64 *data);
	bool (*set_msr)(struct vmmu_vcpu *vcpu, u32 msr, u64 data);
	u64 ucode_rev;
	void (*set_tsc_offset)(struct vmmu_vcpu *vcpu, u64 offset);
	void (*get_sregs)(struct vmmu_vcpu *vcpu, struct kvm_sregs *sregs);
	int (*set_sregs)(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs);
};

/* Size of the vCPU mmap: the kvm_run page, then the port I/O data page. */
#define VMMU_RUN_PIO_PAGE	1
#define VMMU_VCPU_MMAP_PAGES	2

#ifdef VMMU_SVM
const struct vmmu_backend_ops *vmmu_svm_probe(void);
void vmmu_svm_exit(void);
#else
static inline const struct vmmu_backend_ops *vmmu_svm_probe(void)
{
	return NULL;
}

static inline void vmmu_svm_exit(void)
{
}
#endif

#ifdef VMMU_VMX
const struct vmmu_backend_ops *vmmu_vmx_probe(void);
void vmmu_vmx_exit(void);
#else
static inline const struct vmmu_backend_ops *vmmu_vmx_probe(void)
{
	return NULL;
}

static inline void vmmu_vmx_exit(void)
{
}
#endif

#endif /* _VMMU_BACKEND_H */
