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

#include <linux/errno.h>
#include <linux/types.h>
#include <asm/fpu/types.h>

#include <vmmu/emul.h>

struct kvm_regs;
struct vmmu_vcpu;

/* The GPRs, RAX to R15, numbered as KVM numbers them (__VCPU_REGS_*). */
#define VMMU_X86_NR_GPRS	16

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
 * @irq_queued: KVM_INTERRUPT gave @irq_vector, not injected yet
 * @irq_vector: the vector of that interrupt
 * @irq_window: the backend's interrupt-window exit is on
 */
struct vmmu_x86_vcpu {
	struct fpu_guest guest_fpu;
	bool fpu_allocated;
	u32 host_pkru;
	u32 guest_pkru;
	u64 apic_base;
	struct vmmu_emul_pio pio;
	struct vmmu_emul_mmio mmio;
	bool irq_queued;
	u8 irq_vector;
	bool irq_window;
};

/**
 * struct vmmu_x86_io - a port I/O exit, decoded by the vendor
 * @exit_code: the vendor's exit code, for an error report
 * @info: the vendor's exit information, likewise
 * @port: the port
 * @size: 1, 2 or 4 bytes
 * @in: IN or INS
 * @string: INS or OUTS
 * @next_rip: the instruction after it
 */
struct vmmu_x86_io {
	u64 exit_code;
	u64 info;
	u16 port;
	u8 size;
	bool in;
	bool string;
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

#if defined(VMMU_SVM) || defined(VMMU_VMX)
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
int vmmu_x86_handle_io(struct vmmu_vcpu *vcpu, const struct vmmu_x86_io *io);
int vmmu_x86_handle_gpa_fault(struct vmmu_vcpu *vcpu,
			      const struct vmmu_x86_gpa_fault *f);

/* x86/msr.c: the MSRs a guest may read and write. */
bool vmmu_x86_get_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 *data);
bool vmmu_x86_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data);

#endif /* _VMMU_X86_H */
