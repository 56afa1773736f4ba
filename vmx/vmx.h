/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx/: the Intel VMX backend.  Internal interface between its files:
 *
 *   enable.c   capabilities from the VMX MSRs, VMXON and VMXOFF per CPU,
 *              CPU hotplug, the emergency callback, VPIDs, debugfs
 *   vcpu.c     the VMCS: controls, reset state, registers, segments; the
 *              ops table
 *   run.c      load (VMPTRLD, VMCLEAR on migration), host state, one
 *              guest entry
 *   exit.c     exit decoding; the handlers are mostly x86/'s
 *   vmenter.S  VMLAUNCH/VMRESUME and the exit path
 */
#ifndef _VMMU_VMX_VMX_H
#define _VMMU_VMX_VMX_H

#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/types.h>
#include <asm/asm.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/vmx.h>

#include <vmmu/vcpu.h>

struct kvm_sregs;
struct vmmu_backend_ops;

/* Guest GPRs in struct vmmu_vmx_vcpu.regs, as KVM numbers them. */
#define VMMU_VMX_NR_REGS	16

/* VM-exit reason bit 31: the VM entry itself failed. */
#define VMMU_VMX_ENTRY_FAILED	BIT(31)

/**
 * struct vmmu_vmx_caps - what the CPU's VMX offers, from the VMX MSRs
 * @revision: VMCS revision identifier (IA32_VMX_BASIC)
 * @pin: pin-based controls vmmu uses
 * @proc: primary processor-based controls
 * @proc2: secondary processor-based controls
 * @exit: VM-exit controls
 * @entry: VM-entry controls
 * @ept_vpid: IA32_VMX_EPT_VPID_CAP
 * @cr0_fixed0: CR0 bits that must be 1 in VMX operation
 * @cr0_fixed1: CR0 bits that may be 1
 * @cr4_fixed0: CR4 bits that must be 1
 * @cr4_fixed1: CR4 bits that may be 1
 * @timer_rate: the preemption timer counts every 2^@timer_rate TSC ticks
 * @ept_ad: EPT accessed and dirty flags are enabled
 * @ept_5level: 5-level EPT is possible
 * @vpid: VPIDs are in use (with INVVPID single- or all-context)
 */
struct vmmu_vmx_caps {
	u32 revision;
	u32 pin;
	u32 proc;
	u32 proc2;
	u32 exit;
	u32 entry;
	u64 ept_vpid;
	u64 cr0_fixed0;
	u64 cr0_fixed1;
	u64 cr4_fixed0;
	u64 cr4_fixed1;
	unsigned int timer_rate;
	bool ept_ad;
	bool ept_5level;
	bool vpid;
};

extern struct vmmu_vmx_caps vmmu_vmx_caps;
/* Set once the emergency callback ran: faulting VMX instructions are ok. */
extern bool vmmu_vmx_rebooting;

/**
 * struct vmmu_vmx_cpu - per-CPU VMX state
 * @enabled: vmmu ran VMXON on this CPU (and set CR4.VMXE)
 * @vmxon: the VMXON region
 * @current_vmcs: the VMCS this CPU has current (VMPTRLD), or NULL
 * @loaded: every VMCS active on this CPU (struct vmmu_vmx_vcpu.loaded_link);
 *	changed only on this CPU with interrupts off
 */
struct vmmu_vmx_cpu {
	bool enabled;
	struct page *vmxon;
	void *current_vmcs;
	struct list_head loaded;
};

DECLARE_PER_CPU(struct vmmu_vmx_cpu, vmmu_vmx_cpu);

/**
 * struct vmmu_vmx_host - host state saved around one guest run
 * @ds_sel: DS, which VM exit leaves null
 * @es_sel: ES, likewise
 * @fs_sel: FS selector; non-zero ones are reloaded after the exit
 * @gs_sel: GS selector, likewise
 * @fs_base: the thread's FS base
 * @kernel_gs_base: the user GS base (MSR_KERNEL_GS_BASE in the kernel)
 * @debugctl: IA32_DEBUGCTL, which VM exit clears
 * @idt: the IDT descriptor (VM exit sets its limit to 0xffff)
 * @star: the syscall MSRs, switched by hand
 * @lstar: see @star
 * @cstar: see @star
 * @sfmask: see @star
 */
struct vmmu_vmx_host {
	u16 ds_sel;
	u16 es_sel;
	u16 fs_sel;
	u16 gs_sel;
	u64 fs_base;
	u64 kernel_gs_base;
	u64 debugctl;
	struct desc_ptr idt;
	u64 star;
	u64 lstar;
	u64 cstar;
	u64 sfmask;
};

/**
 * struct vmmu_vmx_vcpu - a VMX vCPU
 * @vmcs: the VMCS (one page, with the revision identifier)
 * @vmcs_pa: its physical address
 * @regs: guest GPRs but RSP (RSP and RIP live in the VMCS)
 * @loaded_cpu: the CPU the VMCS is active on, -1 if clear
 * @loaded_link: entry in that CPU's list of active VMCSs
 * @launched: the VMCS is launched: the next entry is a VMRESUME
 * @vpid: the vCPU's VPID, 0 if VPIDs are not used
 * @need_invept: flush the EPT-tagged translations before the next entry
 * @need_invvpid: flush the guest-linear translations of @vpid
 * @eptp: the EPTP of the current root
 * @host: host state saved around a guest run
 * @guest_efer: EFER as the guest sees it
 * @kernel_gs_base: the guest's MSR_KERNEL_GS_BASE
 * @star: the guest's syscall MSRs, loaded around a guest run
 * @lstar: see @star
 * @cstar: see @star
 * @sfmask: see @star
 * @cr2: the guest's CR2, which VM entry and exit do not switch
 * @cr8: what KVM_SET_SREGS last set (no TPR shadow)
 * @exit_reason: the last VM-exit reason, VMMU_VMX_ENTRY_FAILED included
 * @vmfail: the last VMLAUNCH/VMRESUME failed: its VM-instruction error
 * @exit_cpu: the CPU of the last exit
 */
struct vmmu_vmx_vcpu {
	void *vmcs;
	unsigned long vmcs_pa;
	unsigned long regs[VMMU_VMX_NR_REGS];
	int loaded_cpu;
	struct list_head loaded_link;
	bool launched;
	u16 vpid;
	bool need_invept;
	bool need_invvpid;
	u64 eptp;
	struct vmmu_vmx_host host;
	u64 guest_efer;
	u64 kernel_gs_base;
	u64 star;
	u64 lstar;
	u64 cstar;
	u64 sfmask;
	u64 cr2;
	u64 cr8;
	u32 exit_reason;
	u32 vmfail;
	int exit_cpu;
};

static inline struct vmmu_vmx_vcpu *to_vmx(struct vmmu_vcpu *vcpu)
{
	return vcpu->arch;
}

/*
 * VMREAD and VMWRITE of the current VMCS.  vmmu uses only fields the CPU
 * has (checked at probe), so the instructions cannot fail on a loaded VMCS.
 */
static __always_inline unsigned long vmcs_read(unsigned long field)
{
	unsigned long value;

	asm volatile("vmread %[field], %[value]"
		     : [value] "=rm" (value) : [field] "r" (field) : "cc");
	return value;
}

static __always_inline void vmcs_write(unsigned long field, unsigned long value)
{
	asm volatile("vmwrite %[value], %[field]"
		     : : [field] "r" (field), [value] "rm" (value)
		     : "cc", "memory");
}

static inline void vmcs_set_bits(unsigned long field, u32 bits)
{
	vmcs_write(field, vmcs_read(field) | bits);
}

static inline void vmcs_clear_bits(unsigned long field, u32 bits)
{
	vmcs_write(field, vmcs_read(field) & ~bits);
}

/* vmenter.S */
int vmmu_vmx_vmenter(unsigned long *regs, bool launched);
extern const char vmmu_vmx_vmexit[];

/* enable.c */
int vmmu_vmx_hardware_enable(void);
void vmmu_vmx_hardware_disable(void);
int vmmu_vmx_vpid_alloc(void);
void vmmu_vmx_vpid_free(int vpid);
int vmmu_vmclear(unsigned long pa);
int vmmu_vmptrld(unsigned long pa);

/* vcpu.c */
extern struct vmmu_backend_ops vmmu_vmx_ops;
int vmmu_vmx_vcpu_create(struct vmmu_vcpu *vcpu);
void vmmu_vmx_vcpu_free(struct vmmu_vcpu *vcpu);
void vmmu_vmx_vcpu_reset(struct vmmu_vcpu *vcpu);
void vmmu_vmx_get_sregs(struct vmmu_vcpu *vcpu, struct kvm_sregs *sregs);
int vmmu_vmx_set_sregs(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs);
u64 vmmu_vmx_guest_cr0(void);
u64 vmmu_vmx_guest_cr4(void);
bool vmmu_vmx_set_cr0(struct vmmu_vcpu *vcpu, u64 cr0);
bool vmmu_vmx_set_cr4(struct vmmu_vcpu *vcpu, u64 cr4);

/* run.c */
void vmmu_vmx_vcpu_load(struct vmmu_vcpu *vcpu, int cpu);
void vmmu_vmx_vcpu_clear(struct vmmu_vcpu *vcpu);
void vmmu_vmx_vmcs_get(struct vmmu_vcpu *vcpu);
void vmmu_vmx_vmcs_put(struct vmmu_vcpu *vcpu);
void vmmu_vmx_clear_cpu(void);
void vmmu_vmx_flush_tlb(struct vmmu_vcpu *vcpu);
void vmmu_vmx_enter_guest(struct vmmu_vcpu *vcpu);
void vmmu_vmx_handle_nmi(struct vmmu_vcpu *vcpu);
bool vmmu_vmx_cpu_ready(struct vmmu_vcpu *vcpu);

/* exit.c */
int vmmu_vmx_handle_exit(struct vmmu_vcpu *vcpu);

#endif /* _VMMU_VMX_VMX_H */
