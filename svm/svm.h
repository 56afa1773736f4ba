/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svm/: the AMD SVM backend.  Internal interface between its files:
 *
 *   enable.c   SVM on and off per CPU (EFER.SVME, host save area), CPU
 *              hotplug, the emergency callback, per-CPU ASIDs, debugfs
 *   vcpu.c     the VMCB: reset state, registers, segments; the ops table
 *   run.c      one guest entry: ASID, VMRUN
 *   exit.c     exit decoding; the handlers are mostly x86/'s
 *   vmenter.S  the VMRUN itself
 */
#ifndef _VMMU_SVM_SVM_H
#define _VMMU_SVM_SVM_H

#include <linux/percpu.h>
#include <linux/types.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/svm.h>

#include <vmmu/vcpu.h>

struct kvm_sregs;
struct vmmu_backend_ops;

/* Guest GPRs in struct vmmu_svm_vcpu.regs, as KVM numbers them. */
#define VMMU_SVM_NR_REGS	16

/**
 * struct vmmu_svm_cpu - per-CPU SVM state
 * @enabled: vmmu set EFER.SVME on this CPU
 * @hsave: the host save area VMRUN uses (MSR_VM_HSAVE_PA)
 * @host_save: where VMSAVE keeps the host's FS, GS, TR, LDTR and syscall
 *	MSRs while a guest runs (VMLOAD brings them back)
 * @host_save_pa: physical address of @host_save
 * @asid_generation: bumped whenever the ASIDs of this CPU are recycled;
 *	a vCPU's ASID is good only in the generation it was taken in
 * @next_asid: next ASID to hand out
 */
struct vmmu_svm_cpu {
	bool enabled;
	struct page *hsave;
	struct page *host_save;
	unsigned long host_save_pa;
	u64 asid_generation;
	u32 next_asid;
};

DECLARE_PER_CPU(struct vmmu_svm_cpu, vmmu_svm_cpu);

/* Highest ASID the CPUs have (ASID 0 is the host's). */
extern u32 vmmu_svm_max_asid;
/* The I/O and MSR permission maps: everything intercepted. */
extern unsigned long vmmu_svm_iopm_pa;
extern unsigned long vmmu_svm_msrpm_pa;
/* Set once the emergency callback ran: faulting SVM instructions are ok. */
extern bool vmmu_svm_rebooting;

/**
 * struct vmmu_svm_vcpu - an SVM vCPU
 * @vmcb: the VMCB: guest state (save area) and controls
 * @vmcb_pa: its physical address
 * @regs: guest GPRs that VMRUN does not switch (RAX and RSP live in the
 *	VMCB); indexed by __VCPU_REGS_*
 * @save_backup: the save area as it was before the last VMRUN; a failed
 *	VMRUN (VMEXIT_INVALID) may leave host state in the VMCB
 * @regs_backup: @regs as they were before the last VMRUN, for the exit
 *	that left host state in the VMCB although VMRUN succeeded
 * @event_inj_backup: the VMCB's EVENTINJ before the last VMRUN, likewise
 * @event_inj_err_backup: its error code
 * @host_save_replays: such exits in a row, each replayed
 * @nmi_masked: NMIs are blocked: one was injected and its handler has not
 *	finished IRET (SVM keeps no such state for the guest; the IRET
 *	intercept is on while this is set and @nmi_iret_seen is not)
 * @nmi_iret_seen: the guest is at that IRET (@nmi_iret_rip): NMIs are
 *	unblocked at the first exit with another RIP
 * @nmi_singlestep: the guest runs with RFLAGS.TF (and RF) and the #DB
 *	intercept for one instruction, so that an NMI waiting for the end of
 *	an IRET, an interrupt shadow or an event delivery gets an exit
 * @nmi_iret_rip: the RIP of that IRET
 * @nmi_singlestep_flags: the guest's own TF and RF meanwhile
 * @asid: the ASID on @asid_cpu
 * @asid_cpu: the CPU @asid belongs to, -1 if none
 * @asid_generation: that CPU's generation when @asid was taken
 * @need_new_asid: the next entry must use a fresh ASID (TLB flush)
 */
struct vmmu_svm_vcpu {
	struct vmcb *vmcb;
	unsigned long vmcb_pa;
	unsigned long regs[VMMU_SVM_NR_REGS];
	struct vmcb_save_area save_backup;
	unsigned long regs_backup[VMMU_SVM_NR_REGS];
	u32 event_inj_backup;
	u32 event_inj_err_backup;
	unsigned int host_save_replays;
	bool nmi_masked;
	bool nmi_iret_seen;
	bool nmi_singlestep;
	u64 nmi_iret_rip;
	u64 nmi_singlestep_flags;
	u32 asid;
	int asid_cpu;
	u64 asid_generation;
	bool need_new_asid;
};

/* What an NMI single step sets in the guest's RFLAGS (svm/vcpu.c). */
#define SVM_NMI_STEP_FLAGS	(X86_EFLAGS_TF | X86_EFLAGS_RF)

static inline void svm_set_intercept(struct vmcb_control_area *c,
				     unsigned int bit)
{
	c->intercepts[bit / 32] |= BIT(bit % 32);
}

static inline void svm_clr_intercept(struct vmcb_control_area *c,
				     unsigned int bit)
{
	c->intercepts[bit / 32] &= ~BIT(bit % 32);
}

static inline struct vmmu_svm_vcpu *to_svm(struct vmmu_vcpu *vcpu)
{
	return vcpu->arch;
}

/* vmenter.S */
void vmmu_svm_vmrun(unsigned long vmcb_pa, unsigned long *regs,
		    unsigned long host_save_pa);

/* enable.c */
int vmmu_svm_hardware_enable(void);
void vmmu_svm_hardware_disable(void);

/* vcpu.c */
extern struct vmmu_backend_ops vmmu_svm_ops;
int vmmu_svm_vcpu_create(struct vmmu_vcpu *vcpu);
void vmmu_svm_vcpu_free(struct vmmu_vcpu *vcpu);
void vmmu_svm_vcpu_reset(struct vmmu_vcpu *vcpu);
void vmmu_svm_get_sregs(struct vmmu_vcpu *vcpu, struct kvm_sregs *sregs);
int vmmu_svm_set_sregs(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs);
bool vmmu_svm_nmi_step_done(struct vmmu_vcpu *vcpu);

/* run.c */
void vmmu_svm_flush_tlb(struct vmmu_vcpu *vcpu);
void vmmu_svm_enter_guest(struct vmmu_vcpu *vcpu);
bool vmmu_svm_cpu_ready(struct vmmu_vcpu *vcpu);

/* exit.c */
int vmmu_svm_handle_exit(struct vmmu_vcpu *vcpu);

#endif /* _VMMU_SVM_SVM_H */
