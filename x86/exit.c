// SPDX-License-Identifier: GPL-2.0
/*
 * Exit handlers that are the same for every vendor.
 *
 * The vendor decodes its exit and calls one of these (svm/exit.c and
 * vmx/exit.c dispatch through tables indexed by their exit codes).  Each
 * returns 1 to enter the guest again, 0 to return to userspace with
 * kvm_run filled in, or a negative errno for KVM_RUN to return.  They run
 * with interrupts and preemption enabled, the vCPU loaded, and reach guest
 * state only through the backend's ops.
 *
 * An instruction that completes moves RIP past itself: by the length the
 * vendor reports, or, where it reports none (QEMU's SVM has no NRIPS), by
 * the length the handler knows for it (HLT 1, CPUID, RDMSR, WRMSR, INVD 2,
 * XSETBV 3; prefixes are not expected there).  MMIO instructions are
 * decoded by the emulator (emul/), which finds their length.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/msr-index.h>
#include <asm/trapnr.h>

#include <vmmu/backend.h>
#include <vmmu/cpuid.h>
#include <vmmu/emul.h>
#include <vmmu/mmu.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>
#include <vmmu/x86_state.h>

static const struct vmmu_backend_ops *x86_ops(struct vmmu_vcpu *vcpu)
{
	return vcpu->vm->backend;
}

/* RIP moves to @rip (wrapping at 4G outside 64-bit code): it completed. */
static void x86_complete_at(struct vmmu_vcpu *vcpu, u64 rip)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);

	if (!ops->in_64bit_code(vcpu))
		rip = (u32)rip;
	ops->set_rip(vcpu, rip);
	/* A completed instruction ends an STI or MOV SS interrupt shadow. */
	ops->clear_interrupt_shadow(vcpu);
}

/**
 * vmmu_x86_handled() - an exit with nothing left to do (a host interrupt or
 *	NMI, taken as interrupts came back on)
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_handled(struct vmmu_vcpu *vcpu)
{
	return 1;
}

/**
 * vmmu_x86_skip() - go past the instruction that exited
 * @vcpu: the vCPU
 * @len: its length without prefixes, for a vendor that reports none
 *
 * Return: 1.
 */
int vmmu_x86_skip(struct vmmu_vcpu *vcpu, unsigned int len)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);

	x86_complete_at(vcpu, ops->get_rip(vcpu) + ops->insn_len(vcpu, len));
	return 1;
}

static int x86_inject(struct vmmu_vcpu *vcpu, unsigned int vector,
		      bool has_error, u32 error)
{
	x86_ops(vcpu)->inject_exception(vcpu, vector, has_error, error);
	return 1;
}

/**
 * vmmu_x86_inject_ud() - the instruction that exited raises #UD
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_inject_ud(struct vmmu_vcpu *vcpu)
{
	return x86_inject(vcpu, X86_TRAP_UD, false, 0);
}

/**
 * vmmu_x86_inject_gp() - the instruction that exited raises #GP(0)
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_inject_gp(struct vmmu_vcpu *vcpu)
{
	return x86_inject(vcpu, X86_TRAP_GP, true, 0);
}

/* EDX:EAX of WRMSR and XSETBV. */
static u64 x86_edx_eax(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);

	return (u64)(u32)ops->read_gpr(vcpu, __VCPU_REGS_RDX) << 32 |
	       (u32)ops->read_gpr(vcpu, __VCPU_REGS_RAX);
}

/**
 * vmmu_x86_handle_hlt() - HLT
 * @vcpu: the vCPU
 *
 * No interrupt can wake the guest up in the kernel: userspace decides.
 *
 * Return: 0 (KVM_EXIT_HLT).
 */
int vmmu_x86_handle_hlt(struct vmmu_vcpu *vcpu)
{
	vmmu_x86_skip(vcpu, 1);
	atomic64_inc(vmmu_vcpu_stat(vcpu, halt_exits));
	vcpu->run->exit_reason = KVM_EXIT_HLT;
	return 0;
}

/**
 * vmmu_x86_handle_cpuid() - CPUID: the vCPU's table answers (core/cpuid.c)
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_handle_cpuid(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	u32 eax = ops->read_gpr(vcpu, __VCPU_REGS_RAX);
	u32 ecx = ops->read_gpr(vcpu, __VCPU_REGS_RCX);
	u32 ebx, edx;

	vmmu_cpuid(vcpu, ops->get_cr4(vcpu), &eax, &ebx, &ecx, &edx);
	ops->write_gpr(vcpu, __VCPU_REGS_RAX, eax);
	ops->write_gpr(vcpu, __VCPU_REGS_RBX, ebx);
	ops->write_gpr(vcpu, __VCPU_REGS_RCX, ecx);
	ops->write_gpr(vcpu, __VCPU_REGS_RDX, edx);
	return vmmu_x86_skip(vcpu, 2);
}

/**
 * vmmu_x86_handle_rdmsr() - RDMSR; one vmmu does not virtualize gets #GP
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_handle_rdmsr(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	u32 msr = ops->read_gpr(vcpu, __VCPU_REGS_RCX);
	u64 data;

	if (!vmmu_x86_get_msr(vcpu, msr, &data, false))
		return vmmu_x86_inject_gp(vcpu);
	ops->write_gpr(vcpu, __VCPU_REGS_RAX, (u32)data);
	ops->write_gpr(vcpu, __VCPU_REGS_RDX, data >> 32);
	return vmmu_x86_skip(vcpu, 2);
}

/**
 * vmmu_x86_handle_wrmsr() - WRMSR; a value or MSR vmmu refuses gets #GP
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_handle_wrmsr(struct vmmu_vcpu *vcpu)
{
	u32 msr = x86_ops(vcpu)->read_gpr(vcpu, __VCPU_REGS_RCX);

	if (!vmmu_x86_set_msr(vcpu, msr, x86_edx_eax(vcpu), false))
		return vmmu_x86_inject_gp(vcpu);
	return vmmu_x86_skip(vcpu, 2);
}

/**
 * vmmu_x86_handle_xsetbv() - XSETBV: only to the host's XCR0
 * @vcpu: the vCPU
 *
 * See vmmu_xsetbv_ok().
 *
 * Return: 1.
 */
int vmmu_x86_handle_xsetbv(struct vmmu_vcpu *vcpu)
{
	u32 index = x86_ops(vcpu)->read_gpr(vcpu, __VCPU_REGS_RCX);

	if (!vmmu_xsetbv_ok(index, x86_edx_eax(vcpu)))
		return vmmu_x86_inject_gp(vcpu);
	return vmmu_x86_skip(vcpu, 3);
}

/**
 * vmmu_x86_handle_invd() - INVD, which would drop the host's dirty cache
 *	lines: a no-op for the guest
 * @vcpu: the vCPU
 *
 * Return: 1.
 */
int vmmu_x86_handle_invd(struct vmmu_vcpu *vcpu)
{
	return vmmu_x86_skip(vcpu, 2);
}

/**
 * vmmu_x86_handle_shutdown() - a triple fault: the vCPU starts from RESET
 * @vcpu: the vCPU
 *
 * The control block is undefined after it (SVM), so nothing of it is kept.
 *
 * Return: 0 (KVM_EXIT_SHUTDOWN).
 */
int vmmu_x86_handle_shutdown(struct vmmu_vcpu *vcpu)
{
	vmmu_x86_vcpu_reset(vcpu);
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}

/**
 * vmmu_x86_handle_irq_window() - the guest accepts interrupts now
 * @vcpu: the vCPU
 *
 * The window exit goes off; the next entry delivers the queued interrupt,
 * or the run loop returns KVM_EXIT_IRQ_WINDOW_OPEN to the userspace that
 * asked for it.
 *
 * Return: 1.
 */
int vmmu_x86_handle_irq_window(struct vmmu_vcpu *vcpu)
{
	x86_ops(vcpu)->set_irq_window(vcpu, false);
	vcpu->x86.irq_window = false;
	atomic64_inc(vmmu_vcpu_stat(vcpu, irq_window_exits));
	return 1;
}

/**
 * vmmu_x86_handle_io() - IN and OUT: userspace does the access
 * @vcpu: the vCPU
 * @io: the access, decoded by the vendor
 *
 * KVM_RUN completes it (vmmu_x86_vcpu_run_begin()).  INS and OUTS are not
 * emulated: an internal error with the vendor's exit code and information.
 *
 * Return: 0.
 */
int vmmu_x86_handle_io(struct vmmu_vcpu *vcpu, const struct vmmu_x86_io *io)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_emul_pio *pio = &vcpu->x86.pio;

	if (io->string)
		return vmmu_exit_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION,
						2, io->exit_code, io->info, 0);
	pio->in = io->in;
	pio->size = io->size;
	pio->rip = ops->get_rip(vcpu);
	pio->next_rip = io->next_rip;
	if (!ops->in_64bit_code(vcpu))
		pio->next_rip = (u32)pio->next_rip;
	return vmmu_exit_pio(vcpu, pio, io->port,
			     ops->read_gpr(vcpu, __VCPU_REGS_RAX));
}

/*
 * No memory at the fault's gpa for this access: decode the instruction at
 * CS:RIP and hand the access to userspace.  Anything the emulator cannot do
 * (an event being delivered, a fetch, the guest's own page-table walk, an
 * instruction it does not know, an access that crosses a page) is an
 * internal error.
 */
static int x86_handle_mmio(struct vmmu_vcpu *vcpu,
			   const struct vmmu_x86_gpa_fault *f)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_emul_mmio *mmio = &vcpu->x86.mmio;
	u8 bytes[VMMU_EMUL_MAX_INSN] = {};
	struct vmmu_emul_insn insn;
	struct vmmu_emul_ctxt ctxt;
	enum vmmu_emul_mode mode;
	unsigned int len = 0;
	u64 rip;

	if (f->event)
		return vmmu_exit_internal_error(vcpu,
						KVM_INTERNAL_ERROR_DELIVERY_EV,
						3, f->exit_code, f->gpa, f->event);
	if (f->guest_walk || (f->error_code & VMMU_PFERR_FETCH))
		return vmmu_exit_emulation_error(vcpu, bytes, 0, f->exit_code,
						 f->gpa, f->info);
	ops->get_emul_ctxt(vcpu, &ctxt);
	ctxt.vm = vcpu->vm;
	mode = vmmu_emul_mode(&ctxt);
	if (vmmu_emul_fetch(&ctxt, bytes, &len))
		return vmmu_exit_emulation_error(vcpu, bytes, 0, f->exit_code,
						 f->gpa, f->info);
	if (vmmu_emul_decode(bytes, len, mode, &insn) != VMMU_EMUL_OK ||
	    insn.write != !!(f->error_code & VMMU_PFERR_WRITE) ||
	    offset_in_page(f->gpa) + insn.bytes > PAGE_SIZE)
		return vmmu_exit_emulation_error(vcpu, bytes, len, f->exit_code,
						 f->gpa, f->info);
	rip = ops->get_rip(vcpu);
	if (vmmu_exit_mmio(vcpu, mmio, &insn, mode, f->gpa, rip,
			   ops->read_gpr(vcpu, insn.reg))) {
		ops->set_rip(vcpu, mmio->next_rip);
		ops->clear_interrupt_shadow(vcpu);
	}
	return 0;
}

/**
 * vmmu_x86_handle_gpa_fault() - NPF or EPT violation: the MMU maps the
 *	page, or userspace does the access
 * @vcpu: the vCPU
 * @f: the fault, decoded by the vendor
 *
 * Return: 1 (mapped, or retry; -EINTR too: the loop sees the signal), 0
 * (an MMIO exit or an error report), or a negative errno.
 */
int vmmu_x86_handle_gpa_fault(struct vmmu_vcpu *vcpu,
			      const struct vmmu_x86_gpa_fault *f)
{
	int r = vmmu_page_fault(vcpu, f->gpa, f->error_code);

	if (r == VMMU_RET_FIXED || r == VMMU_RET_RETRY || r == -EINTR)
		return 1;
	if (r == VMMU_RET_MMIO)
		return x86_handle_mmio(vcpu, f);
	return r;
}
