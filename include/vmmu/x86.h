/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The x86 vCPU layer: what a hardware vCPU does the same way whatever the
 * vendor.
 *
 * svm/ and vmx/ know their control block (VMCB, VMCS) and their exits;
 * everything the instruction set defines is here, once: the KVM_RUN entry
 * section around the vendor's world switch (guest FPU and PKRU),
 * the register ioctls, and the exit handlers for HLT, CPUID, RDMSR/WRMSR,
 * XSETBV, INVD, port I/O, guest-physical faults with MMIO, and triple
 * faults.  A vendor's exit handler decodes its exit (an exit code into a
 * handler through a table, exit information into the structs below) and
 * calls the handler here; the handlers reach guest state only through the
 * fine-grained ops of struct vmmu_backend_ops (registers, RIP, instruction
 * length, interrupt shadow, event injection, control registers, EFER and
 * the MSRs the control block holds).
 *
 * Dependencies: svm/ and vmx/ call into x86/; x86/ calls a vendor only
 * through its ops table (vcpu->vm->backend).
 */
#ifndef _VMMU_X86_H
#define _VMMU_X86_H

#include <linux/bits.h>
#include <linux/compiler_types.h>
#include <linux/errno.h>
#include <linux/spinlock_types.h>
#include <linux/types.h>
#include <asm/fpu/types.h>

#include <vmmu/emul.h>

struct kvm_device_attr;
struct kvm_fpu;
struct kvm_msr_filter;
struct kvm_msr_list;
struct kvm_msrs;
struct kvm_regs;
struct kvm_sregs;
struct kvm_vcpu_events;
struct vmmu_vcpu;
struct vmmu_vm;
struct vmmu_x86_msr_filter;

/*
 * KVM_CAP_SYNC_REGS: the register sets kvm_run.s.regs carries (KVM's
 * KVM_SYNC_X86_VALID_FIELDS).
 */
#define VMMU_X86_SYNC_REGS	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | \
				 KVM_SYNC_X86_EVENTS)

/* The GPRs, RAX to R15, numbered as KVM numbers them (__VCPU_REGS_*). */
#define VMMU_X86_NR_GPRS	16

/* MSR_MISC_FEATURES_ENABLES: CPUID outside CPL 0 raises #GP. */
#define VMMU_X86_CPUID_FAULTING	BIT_ULL(0)

/* KVM's count of variable MTRRs, and the 11 fixed-range MTRR MSRs. */
#define VMMU_X86_MTRR_VAR	8
#define VMMU_X86_MTRR_FIXED	11
/* Machine-check banks, as many as KVM offers (KVM_MAX_MCE_BANKS). */
#define VMMU_X86_MCE_BANKS	32
/* The four MSRs of a bank: MCi_CTL, MCi_STATUS, MCi_ADDR, MCi_MISC. */
#define VMMU_X86_MCE_BANK_MSRS	4

/**
 * struct vmmu_x86_msrs - the MSRs that only hold a value for the guest
 * @misc_enable: IA32_MISC_ENABLE
 * @mtrr_def_type: IA32_MTRR_DEF_TYPE
 * @mtrr_fixed: the fixed-range MTRRs, in the order of x86_mtrr_fixed_msrs
 * @mtrr_var: the variable-range MTRRs: base, mask, base, mask...
 * @mcg_cap: IA32_MCG_CAP: the bank count in bits 7:0
 * @mcg_status: IA32_MCG_STATUS
 * @mcg_ctl: IA32_MCG_CTL
 * @mce_banks: MCi_CTL, MCi_STATUS, MCi_ADDR, MCi_MISC of each bank
 * @kvm_system_time: MSR_KVM_SYSTEM_TIME(_NEW), never enabled (no kvmclock)
 * @kvm_wall_clock: MSR_KVM_WALL_CLOCK(_NEW), always 0 (likewise)
 * @ucode_rev: IA32_UCODE_REV, the microcode revision the guest sees
 * @hwcr: AMD's HWCR: only McStatusWrEn may be set
 * @power_ctl: IA32_POWER_CTL
 * @tsc_adjust: IA32_TSC_ADJUST: what the guest's own TSC writes added
 * @platform_info: MSR_PLATFORM_INFO, which the VMM sets
 * @misc_features: MSR_MISC_FEATURES_ENABLES (CPUID faulting)
 *
 * vmmu makes no use of memory types (the host's, which TDP keeps, are WB)
 * or machine checks (none is ever injected): the guest's firmware and
 * kernel program them as on any PC, and read back what they wrote.
 */
struct vmmu_x86_msrs {
	u64 misc_enable;
	u64 mtrr_def_type;
	u64 mtrr_fixed[VMMU_X86_MTRR_FIXED];
	u64 mtrr_var[2 * VMMU_X86_MTRR_VAR];
	u64 mcg_cap;
	u64 mcg_status;
	u64 mcg_ctl;
	u64 mce_banks[VMMU_X86_MCE_BANKS * VMMU_X86_MCE_BANK_MSRS];
	u64 kvm_system_time;
	u64 kvm_wall_clock;
	u64 ucode_rev;
	u64 hwcr;
	u64 power_ctl;
	u64 tsc_adjust;
	u64 platform_info;
	u64 misc_features;
};

/**
 * struct vmmu_x86_vm - the vendor-neutral state of a VM with a backend
 * @tsc_lock: guards the TSC fields
 * @tsc_offset: the TSC offset of the VM's last synchronized TSC write
 * @tsc_written: the value that write gave the TSC
 * @tsc_ns: when, in boot-time nanoseconds
 * @tsc_valid: there was such a write
 * @bsp_vcpu_id: KVM_SET_BOOT_CPU_ID: the vCPU whose APIC base has the BSP
 *	bit after RESET (set only before the first vCPU exists)
 * @platform_info_readable: KVM_CAP_MSR_PLATFORM_INFO: the guest may read
 *	MSR_PLATFORM_INFO (else #GP); KVM's default is yes
 * @user_msr_mask: the KVM_MSR_EXIT_REASON_* bits of
 *	KVM_CAP_X86_USER_SPACE_MSR: a guest RDMSR or WRMSR refused for one of
 *	them exits to userspace instead of raising #GP
 * @msr_filter: the filter of KVM_X86_SET_MSR_FILTER, NULL if none; replaced
 *	under the VM's lock, read by vCPUs under RCU (x86/msr_filter.c)
 *
 * The TSCs of a VM's vCPUs start equal: vCPU creation and a VMM's write of
 * a value near where the last write would have brought the TSC by now use
 * the same offset (x86/msr.c).
 */
struct vmmu_x86_vm {
	spinlock_t tsc_lock;	/* the TSC fields below */
	u64 tsc_offset;
	u64 tsc_written;
	u64 tsc_ns;
	bool tsc_valid;
	u32 bsp_vcpu_id;
	bool platform_info_readable;
	u32 user_msr_mask;
	struct vmmu_x86_msr_filter __rcu *msr_filter;
};

/**
 * struct vmmu_x86_msr_exit - a RDMSR or WRMSR userspace is handling
 * @pending: KVM_RUN returned KVM_EXIT_X86_RDMSR or KVM_EXIT_X86_WRMSR for
 *	it; the next KVM_RUN completes it
 * @write: it is a WRMSR
 * @rip: the address of the instruction
 * @next_rip: the address after it
 */
struct vmmu_x86_msr_exit {
	bool pending;
	bool write;
	u64 rip;
	u64 next_rip;
};

/**
 * struct vmmu_x86_vcpu - the vendor-neutral state of a hardware vCPU
 * @guest_fpu: the guest's FPU/SSE/AVX state, loaded for the whole KVM_RUN
 * @fpu_allocated: @guest_fpu holds an allocated fpstate
 * @host_pkru: the host's PKRU while the guest runs
 * @guest_pkru: the guest's PKRU (not part of the FPU state swapped)
 * @apic_base: IA32_APIC_BASE as the guest and KVM_SET_SREGS set it (there is
 *	no local APIC in the kernel)
 * @pio: a port access userspace is handling
 * @mmio: an MMIO read userspace is handling
 * @msr_exit: a RDMSR or WRMSR userspace is handling
 * @irq_queued: KVM_INTERRUPT gave @irq_vector, not injected yet
 * @irq_vector: the vector of that interrupt
 * @irq_window: the backend's interrupt-window exit is on
 * @nmi_queued: KVM_NMI calls since the last entry (at most 2 counted)
 * @nmi_pending: NMIs to inject (at most 2: one to take now, one latched
 *	behind it; 1 while one is being handled)
 * @nmi_reinject: KVM_SET_VCPU_EVENTS gave an NMI in delivery together with
 *	an exception in delivery: the NMI goes right after the exception,
 *	whether NMIs are blocked or not
 * @nmi_window: the backend's NMI-window exit is on
 * @mce_pending: KVM_X86_SET_MCE raised a machine check (#MC), not injected
 *	yet
 * @shutdown_pending: KVM_X86_SET_MCE shut the vCPU down (a machine check
 *	it cannot take): the next KVM_RUN returns KVM_EXIT_SHUTDOWN
 * @entered: the vCPU has entered the guest once (KVM_SET_CPUID2 may then
 *	only give the same table again, as in KVM)
 * @tsc_offset: the guest's TSC minus the host's (the vendor adds it to every
 *	RDTSC and RDMSR of the TSC in the guest)
 * @msr: the MSRs x86/msr.c emulates in memory
 */
struct vmmu_x86_vcpu {
	struct fpu_guest guest_fpu;
	bool fpu_allocated;
	u32 host_pkru;
	u32 guest_pkru;
	u64 apic_base;
	struct vmmu_emul_pio pio;
	struct vmmu_emul_mmio mmio;
	struct vmmu_x86_msr_exit msr_exit;
	bool irq_queued;
	u8 irq_vector;
	bool irq_window;
	u8 nmi_queued;
	u8 nmi_pending;
	bool nmi_reinject;
	bool nmi_window;
	bool mce_pending;
	bool shutdown_pending;
	bool entered;
	u64 tsc_offset;
	struct vmmu_x86_msrs msr;
};

/**
 * struct vmmu_x86_io - a port I/O exit, decoded by the vendor
 * @exit_code: the vendor's exit code, for an error report
 * @info: the vendor's exit information, likewise
 * @port: the port
 * @size: 1, 2 or 4 bytes
 * @in: IN or INS
 * @string: INS or OUTS
 * @rep: a REP prefix, if @rep_known
 * @rep_known: the vendor reports REP
 * @addr_bytes: the address size (2, 4, 8), 0 if the vendor does not say
 * @next_rip: the instruction after it
 */
struct vmmu_x86_io {
	u64 exit_code;
	u64 info;
	u16 port;
	u8 size;
	bool in;
	bool string;
	bool rep;
	bool rep_known;
	u8 addr_bytes;
	u64 next_rip;
};

/**
 * struct vmmu_x86_gpa_fault - an NPF or EPT violation, decoded by the vendor
 * @exit_code: the vendor's exit code, for an error report
 * @info: the vendor's fault information (NPF error code, exit qualification)
 * @gpa: the guest-physical address
 * @error_code: the VMMU_PFERR_* bits of the access (present, write, user,
 *	fetch)
 * @event: the event being delivered when the fault happened (the vendor's
 *	valid bit set), 0 if none
 * @guest_walk: the fault was on the guest's own page-table walk, not on the
 *	access
 */
struct vmmu_x86_gpa_fault {
	u64 exit_code;
	u64 info;
	u64 gpa;
	u32 error_code;
	u32 event;
	bool guest_walk;
};

/**
 * struct vmmu_x86_hw - how a vendor turns its virtualization on per CPU
 * @cpuhp_name: the name of its CPU hotplug state ("vmmu/svm:online")
 * @cpu_online: enable it on this CPU (a CPU hotplug callback)
 * @cpu_offline: disable it on this CPU
 * @emergency_disable: turn it off on this CPU on a crash or an emergency
 *	reboot, possibly in NMI context
 * @cpuhp_state: the hotplug state while it is on, else 0 (read locklessly
 *	by the vendor's debugfs file)
 */
struct vmmu_x86_hw {
	const char *cpuhp_name;
	int (*cpu_online)(unsigned int cpu);
	int (*cpu_offline)(unsigned int cpu);
	void (*emergency_disable)(void);
	int cpuhp_state;
};

#if defined(VMMU_SVM) || defined(VMMU_VMX)
/* x86/enable.c: on every CPU, hotplug, the emergency callback. */
int vmmu_x86_hw_enable(struct vmmu_x86_hw *hw);
void vmmu_x86_hw_disable(struct vmmu_x86_hw *hw);
/* x86/vcpu.c: lifetime, KVM_RUN, registers. */
int vmmu_x86_vcpu_create(struct vmmu_vcpu *vcpu);
void vmmu_x86_vcpu_free(struct vmmu_vcpu *vcpu);
void vmmu_x86_vcpu_reset(struct vmmu_vcpu *vcpu);
void vmmu_x86_vcpu_load(struct vmmu_vcpu *vcpu, int cpu);
void vmmu_x86_vcpu_put(struct vmmu_vcpu *vcpu);
int vmmu_x86_vcpu_run_begin(struct vmmu_vcpu *vcpu);
void vmmu_x86_vcpu_run_end(struct vmmu_vcpu *vcpu);
int vmmu_x86_vcpu_run(struct vmmu_vcpu *vcpu);
void vmmu_x86_get_regs(struct vmmu_vcpu *vcpu, struct kvm_regs *regs);
void vmmu_x86_set_regs(struct vmmu_vcpu *vcpu, const struct kvm_regs *regs);
int vmmu_x86_interrupt(struct vmmu_vcpu *vcpu, u32 vector);
int vmmu_x86_nmi(struct vmmu_vcpu *vcpu);
void vmmu_x86_process_nmi(struct vmmu_vcpu *vcpu);
int vmmu_x86_set_sregs(struct vmmu_vcpu *vcpu, const struct kvm_sregs *sregs);
void vmmu_x86_state_get(struct vmmu_vcpu *vcpu);
void vmmu_x86_state_put(struct vmmu_vcpu *vcpu);
int vmmu_x86_msrs_ioctl(struct vmmu_vcpu *vcpu, bool set,
			struct kvm_msrs __user *umsrs);
int vmmu_x86_msr_index_list(struct kvm_msr_list __user *ulist);
int vmmu_x86_fpu_ioctl(struct vmmu_vcpu *vcpu, bool set,
		       struct kvm_fpu __user *ufpu);
int vmmu_x86_mce_ioctl(struct vmmu_vcpu *vcpu, unsigned int ioctl,
		       void __user *argp);
u64 vmmu_x86_mce_cap_supported(void);
int vmmu_x86_msr_feature_index_list(struct kvm_msr_list __user *ulist);
int vmmu_x86_msr_features_ioctl(struct kvm_msrs __user *umsrs);
int vmmu_x86_tsc_attr_ioctl(struct vmmu_vcpu *vcpu, unsigned int ioctl,
			    struct kvm_device_attr __user *uattr);
/* x86/events.c: KVM_GET/SET_VCPU_EVENTS and sync regs. */
void vmmu_x86_get_vcpu_events(struct vmmu_vcpu *vcpu,
			      struct kvm_vcpu_events *events);
int vmmu_x86_set_vcpu_events(struct vmmu_vcpu *vcpu,
			     const struct kvm_vcpu_events *events);
int vmmu_x86_vcpu_events_ioctl(struct vmmu_vcpu *vcpu, bool set,
			       struct kvm_vcpu_events __user *uevents);
int vmmu_x86_sync_regs_load(struct vmmu_vcpu *vcpu);
void vmmu_x86_sync_regs_store(struct vmmu_vcpu *vcpu);
int vmmu_x86_set_msr_filter(struct vmmu_vm *vm,
			    const struct kvm_msr_filter __user *ufilter);
void vmmu_x86_msr_filter_destroy(struct vmmu_vm *vm);
#else
/* No hardware backend is built, hence no hardware vCPU: never called. */
static inline int vmmu_x86_vcpu_create(struct vmmu_vcpu *vcpu)
{
	return -EINVAL;
}

static inline void vmmu_x86_vcpu_free(struct vmmu_vcpu *vcpu)
{
}

static inline void vmmu_x86_vcpu_load(struct vmmu_vcpu *vcpu, int cpu)
{
}

static inline void vmmu_x86_vcpu_put(struct vmmu_vcpu *vcpu)
{
}

static inline int vmmu_x86_vcpu_run_begin(struct vmmu_vcpu *vcpu)
{
	return -EINVAL;
}

static inline void vmmu_x86_vcpu_run_end(struct vmmu_vcpu *vcpu)
{
}

static inline int vmmu_x86_vcpu_run(struct vmmu_vcpu *vcpu)
{
	return -EINVAL;
}

static inline void vmmu_x86_get_regs(struct vmmu_vcpu *vcpu,
				     struct kvm_regs *regs)
{
}

static inline void vmmu_x86_set_regs(struct vmmu_vcpu *vcpu,
				     const struct kvm_regs *regs)
{
}

static inline int vmmu_x86_interrupt(struct vmmu_vcpu *vcpu, u32 vector)
{
	return -EINVAL;
}

static inline int vmmu_x86_nmi(struct vmmu_vcpu *vcpu)
{
	return -EINVAL;
}

static inline int vmmu_x86_set_sregs(struct vmmu_vcpu *vcpu,
				     const struct kvm_sregs *sregs)
{
	return -EINVAL;
}

static inline int vmmu_x86_msrs_ioctl(struct vmmu_vcpu *vcpu, bool set,
				      struct kvm_msrs __user *umsrs)
{
	return -EINVAL;
}

static inline int vmmu_x86_msr_index_list(struct kvm_msr_list __user *ulist)
{
	return -EINVAL;
}

static inline int vmmu_x86_fpu_ioctl(struct vmmu_vcpu *vcpu, bool set,
				     struct kvm_fpu __user *ufpu)
{
	return -EINVAL;
}

static inline int vmmu_x86_mce_ioctl(struct vmmu_vcpu *vcpu,
				     unsigned int ioctl, void __user *argp)
{
	return -EINVAL;
}

static inline u64 vmmu_x86_mce_cap_supported(void)
{
	return 0;
}

static inline int
vmmu_x86_msr_feature_index_list(struct kvm_msr_list __user *ulist)
{
	return -EINVAL;
}

static inline int vmmu_x86_msr_features_ioctl(struct kvm_msrs __user *umsrs)
{
	return -EINVAL;
}

static inline int vmmu_x86_tsc_attr_ioctl(struct vmmu_vcpu *vcpu,
					  unsigned int ioctl,
					  struct kvm_device_attr __user *uattr)
{
	return -ENXIO;
}

static inline int vmmu_x86_vcpu_events_ioctl(struct vmmu_vcpu *vcpu, bool set,
					     struct kvm_vcpu_events __user *uevents)
{
	return -EINVAL;
vmmu_x86_set_msr_filter(struct vmmu_vm *vm,
			const struct kvm_msr_filter __user *ufilter)
{
	return -ENOTTY;
}

static inline void vmmu_x86_msr_filter_destroy(struct vmmu_vm *vm)
{
}
#endif

/* x86/exit.c: exit handlers; each returns 1 (enter again), 0 or -errno. */
int vmmu_x86_handled(struct vmmu_vcpu *vcpu);
int vmmu_x86_skip(struct vmmu_vcpu *vcpu, unsigned int len);
int vmmu_x86_inject_ud(struct vmmu_vcpu *vcpu);
int vmmu_x86_inject_gp(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_hlt(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_cpuid(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_rdmsr(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_wrmsr(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_xsetbv(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_invd(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_shutdown(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_irq_window(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_nmi_window(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_io(struct vmmu_vcpu *vcpu, const struct vmmu_x86_io *io);
int vmmu_x86_complete_string_io(struct vmmu_vcpu *vcpu);
int vmmu_x86_handle_gpa_fault(struct vmmu_vcpu *vcpu,
			      const struct vmmu_x86_gpa_fault *f);

/* x86/msr.c: the MSRs a guest may read and write. */
bool vmmu_x86_get_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 *data, bool host);
bool vmmu_x86_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data, bool host);
void vmmu_x86_msr_create(struct vmmu_vcpu *vcpu);
bool vmmu_x86_apic_base_valid(struct vmmu_vcpu *vcpu, u64 data);
void vmmu_x86_msr_reset(struct vmmu_vcpu *vcpu);

/* x86/msr_filter.c: the MSR filter and MSR exits to userspace. */
bool vmmu_x86_msr_allowed(struct vmmu_vcpu *vcpu, u32 msr, u32 type);
int vmmu_x86_msr_refused(struct vmmu_vcpu *vcpu, u32 msr, u64 data,
			 bool write, bool filtered);
void vmmu_x86_complete_msr(struct vmmu_vcpu *vcpu);

#endif /* _VMMU_X86_H */
