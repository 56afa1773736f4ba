/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vendor backend: what runs guest code on hardware.
 *
 * vCPUs of the software kind need no backend: they walk the tables in
 * software (mmu/sw_vcpu.c).  Hardware vCPUs (AMD SVM now, Intel VMX later)
 * are driven through one ops table, chosen at module init from the CPU's
 * features.  Everything generic stays above it: the KVM_RUN loop with
 * signals, rescheduling and requests, the kvm_run page, preemption
 * notifiers (dev/run.c); everything vendor-specific stays below it: turning
 * virtualization on, the control block, entry and exit handling.
 *
 * A VM whose vCPU kind is a backend's holds that backend "enabled" (see
 * vmmu_backend_get() in dev/), so the CPUs are in the vendor's
 * virtualization mode exactly while such a VM exists.
 */
#ifndef _VMMU_BACKEND_H
#define _VMMU_BACKEND_H

#include <linux/types.h>

struct vmmu_vcpu;
struct kvm_regs;
struct kvm_sregs;

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
 * @vcpu_create: allocate and initialize the vendor state of a new vCPU, in
 *	the architectural reset state.  Returns 0 or -ENOMEM.
 * @vcpu_free: free it; the vCPU never runs again.
 * @vcpu_load: the vCPU's thread now runs on @cpu (start of KVM_RUN, or
 *	rescheduled); preemption is disabled.
 * @vcpu_put: the vCPU's thread leaves the CPU; preemption is disabled.
 * @vcpu_run_begin: start of KVM_RUN, with the vCPU loaded: load the guest's
 *	FPU state and complete what userspace handled at the last exit (the
 *	data of a port read).  Returns 0 or a negative errno.
 * @vcpu_run_end: end of KVM_RUN: put the guest's FPU state back.
 * @vcpu_run: enter the guest once and handle the exit.  Called with the
 *	vCPU loaded, its root valid, preemption enabled.  Handles requests
 *	that arrive meanwhile by returning without entering.  Returns 1 to go
 *	on, 0 to return to userspace with kvm_run filled in, or a negative
 *	errno.
 * @flush_tlb: the vCPU must not use any translation cached so far
 *	(VMMU_REQ_TLB_FLUSH, or a new root); takes effect at the next entry.
 * @vcpu_kick: make a vCPU that is in guest mode leave it soon.  Never
 *	sleeps; callable under mmu_lock.
 * @get_regs: KVM_GET_REGS
 * @set_regs: KVM_SET_REGS
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
	void (*vcpu_load)(struct vmmu_vcpu *vcpu, int cpu);
	void (*vcpu_put)(struct vmmu_vcpu *vcpu);
	int (*vcpu_run_begin)(struct vmmu_vcpu *vcpu);
	void (*vcpu_run_end)(struct vmmu_vcpu *vcpu);
	int (*vcpu_run)(struct vmmu_vcpu *vcpu);
	void (*flush_tlb)(struct vmmu_vcpu *vcpu);
	void (*vcpu_kick)(struct vmmu_vcpu *vcpu);
	void (*get_regs)(struct vmmu_vcpu *vcpu, struct kvm_regs *regs);
	void (*set_regs)(struct vmmu_vcpu *vcpu, const struct kvm_regs *regs);
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
