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
#include <linux/slab.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
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
 * With CPUID faulting on, CPUID outside CPL 0 raises #GP instead.
 *
 * Return: 1.
 */
int vmmu_x86_handle_cpuid(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	u32 eax = ops->read_gpr(vcpu, __VCPU_REGS_RAX);
	u32 ecx = ops->read_gpr(vcpu, __VCPU_REGS_RCX);
	struct vmmu_emul_ctxt ctxt;
	u32 ebx, edx;

	/* CPUID faulting (MSR_MISC_FEATURES_ENABLES): #GP outside CPL 0. */
	if (vcpu->x86.msr.misc_features & VMMU_X86_CPUID_FAULTING) {
		ops->get_emul_ctxt(vcpu, &ctxt);
		if (ctxt.cpl)
			return vmmu_x86_inject_gp(vcpu);
	}
	vmmu_cpuid(vcpu, ops->get_cr4(vcpu), &eax, &ebx, &ecx, &edx);
	ops->write_gpr(vcpu, __VCPU_REGS_RAX, eax);
	ops->write_gpr(vcpu, __VCPU_REGS_RBX, ebx);
	ops->write_gpr(vcpu, __VCPU_REGS_RCX, ecx);
	ops->write_gpr(vcpu, __VCPU_REGS_RDX, edx);
	return vmmu_x86_skip(vcpu, 2);
}

/**
 * vmmu_x86_handle_rdmsr() - RDMSR; one the filter denies or vmmu does not
 *	virtualize goes to userspace or gets #GP (vmmu_x86_msr_refused())
 * @vcpu: the vCPU
 *
 * Return: 1, or 0 for KVM_EXIT_X86_RDMSR.
 */
int vmmu_x86_handle_rdmsr(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	u32 msr = ops->read_gpr(vcpu, __VCPU_REGS_RCX);
	u64 data;

	if (!vmmu_x86_msr_allowed(vcpu, msr, KVM_MSR_FILTER_READ))
		return vmmu_x86_msr_refused(vcpu, msr, 0, false, true);
	if (!vmmu_x86_get_msr(vcpu, msr, &data, false))
		return vmmu_x86_msr_refused(vcpu, msr, 0, false, false);
	ops->write_gpr(vcpu, __VCPU_REGS_RAX, (u32)data);
	ops->write_gpr(vcpu, __VCPU_REGS_RDX, data >> 32);
	return vmmu_x86_skip(vcpu, 2);
}

/**
 * vmmu_x86_handle_wrmsr() - WRMSR; one the filter denies, or a value or MSR
 *	vmmu refuses, goes to userspace or gets #GP (vmmu_x86_msr_refused())
 * @vcpu: the vCPU
 *
 * Return: 1, or 0 for KVM_EXIT_X86_WRMSR.
 */
int vmmu_x86_handle_wrmsr(struct vmmu_vcpu *vcpu)
{
	u32 msr = x86_ops(vcpu)->read_gpr(vcpu, __VCPU_REGS_RCX);
	u64 data = x86_edx_eax(vcpu);

	if (!vmmu_x86_msr_allowed(vcpu, msr, KVM_MSR_FILTER_WRITE))
		return vmmu_x86_msr_refused(vcpu, msr, data, true, true);
	if (!vmmu_x86_set_msr(vcpu, msr, data, false))
		return vmmu_x86_msr_refused(vcpu, msr, data, true, false);
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
 * vmmu_x86_handle_nmi_window() - an NMI may be deliverable now
 * @vcpu: the vCPU
 *
 * The vendor's NMI-window exit, or its equivalent (SVM: the single step
 * after the IRET or the instruction that held NMIs off).  The window goes
 * off; the next entry delivers the pending NMI if nothing blocks it any
 * more, or opens the window again.
 *
 * Return: 1.
 */
int vmmu_x86_handle_nmi_window(struct vmmu_vcpu *vcpu)
{
	x86_ops(vcpu)->set_nmi_window(vcpu, false);
	vcpu->x86.nmi_window = false;
	atomic64_inc(vmmu_vcpu_stat(vcpu, nmi_window_exits));
	return 1;
}

/* Moves RSI or RDI, and RCX with REP, past @n elements. */
static void x86_string_io_advance(struct vmmu_vcpu *vcpu,
				  const struct vmmu_emul_string_io *sio,
				  bool df, u64 reg, u64 rcx, unsigned int n)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	unsigned int gpr = sio->in ? __VCPU_REGS_RDI : __VCPU_REGS_RSI;
	u64 bytes = (u64)n * sio->size;

	ops->write_gpr(vcpu, gpr, vmmu_emul_addr_set(reg, df ? reg - bytes :
							     reg + bytes,
						     sio->addr_bytes));
	if (sio->rep)
		ops->write_gpr(vcpu, __VCPU_REGS_RCX,
			       vmmu_emul_addr_set(rcx, rcx - n, sio->addr_bytes));
}

/*
 * A data access of string I/O failed: a guest #PF is injected (CR2 first),
 * memory without a memslot (MMIO, which KVM would emulate) is an internal
 * error with the linear address, and a host mapping that cannot be
 * accessed is -EFAULT for KVM_RUN.
 */
static int x86_string_io_fault(struct vmmu_vcpu *vcpu, int r,
			       const struct vmmu_emul_pf *pf, u64 la,
			       const u8 *bytes, unsigned int len,
			       u64 exit_code, u64 info)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);

	if (r == -EACCES) {
		ops->set_cr2(vcpu, pf->addr);
		return x86_inject(vcpu, X86_TRAP_PF, true, pf->error_code);
	}
	if (r == -ENOENT)
		return vmmu_exit_emulation_error(vcpu, bytes, len, exit_code,
						 la, info);
	return r;
}

/* Does the decoded instruction agree with what the vendor reported? */
static bool x86_string_io_agrees(const struct vmmu_x86_io *io,
				 const struct vmmu_emul_string_io *sio)
{
	return sio->in == io->in && sio->size == io->size &&
	       (!io->rep_known || sio->rep == io->rep) &&
	       (!io->addr_bytes || sio->addr_bytes == io->addr_bytes);
}

/* The first byte of a batch of @n elements from @la, in either direction. */
static u64 x86_string_io_low(enum vmmu_emul_mode mode, u64 la, bool df,
			     unsigned int n, unsigned int size)
{
	if (!df)
		return la;
	la -= (u64)(n - 1) * size;
	return mode == VMMU_EMUL_MODE64 ? la : (u32)la;
}

/* In 64-bit mode a linear address must be canonical (else #GP). */
static bool x86_canonical(const struct vmmu_emul_ctxt *ctxt, u64 la)
{
	unsigned int bits = ctxt->cr4 & X86_CR4_LA57 ? 57 : 48;

	return sign_extend64(la, bits - 1) == la;
}

/**
 * struct x86_string_io - one INS or OUTS exit being handled
 * @ctxt: the guest state
 * @mode: the mode it decodes in
 * @sio: the instruction
 * @bytes: its bytes, for an error report
 * @len: how many were fetched
 */
struct x86_string_io {
	struct vmmu_emul_ctxt ctxt;
	enum vmmu_emul_mode mode;
	struct vmmu_emul_string_io sio;
	u8 bytes[VMMU_EMUL_MAX_INSN];
	unsigned int len;
};

/* Fetch and decode the INS or OUTS at CS:RIP; 0 or an error report. */
static int x86_string_io_decode(struct vmmu_vcpu *vcpu,
				const struct vmmu_x86_io *io,
				struct x86_string_io *s)
{
	u64 next_rip, io_next_rip;

	x86_ops(vcpu)->get_emul_ctxt(vcpu, &s->ctxt);
	s->ctxt.vm = vcpu->vm;
	s->mode = vmmu_emul_mode(&s->ctxt);
	s->len = 0;
	if (vmmu_emul_fetch(&s->ctxt, s->bytes, &s->len))
		goto error;
	if (vmmu_emul_decode_string_io(s->bytes, s->len, s->mode,
				       &s->sio) != VMMU_EMUL_OK)
		goto error;
	next_rip = s->ctxt.rip + s->sio.len;
	io_next_rip = io->next_rip;
	if (s->mode != VMMU_EMUL_MODE64) {
		next_rip = (u32)next_rip;
		io_next_rip = (u32)io_next_rip;
	}
	if (x86_string_io_agrees(io, &s->sio) && next_rip == io_next_rip)
		return 0;
error:
	vmmu_exit_emulation_error(vcpu, s->bytes, s->len, io->exit_code, 0,
				  io->info);
	return -EINVAL;
}

/*
 * INS and OUTS: decode the instruction; REP with rCX 0 is done at once;
 * else one batch goes to userspace.  OUTS reads its elements into the I/O
 * data page and moves rSI and rCX now; INS only checks that its
 * destination is mapped and writable (a #PF comes before the port is
 * read), and KVM_RUN writes the data (vmmu_x86_complete_string_io()).
 */
static int x86_handle_string_io(struct vmmu_vcpu *vcpu,
				const struct vmmu_x86_io *io)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_emul_pio *pio = &vcpu->x86.pio;
	struct x86_string_io s;
	u64 rcx, left, reg, la, low;
	struct vmmu_emul_pf pf;
	unsigned int n;
	bool df;
	int r;

	if (x86_string_io_decode(vcpu, io, &s))
		return 0;
	rcx = ops->read_gpr(vcpu, __VCPU_REGS_RCX);
	left = s.sio.rep ? rcx & vmmu_emul_addr_mask(s.sio.addr_bytes) : 1;
	if (!left) {
		x86_complete_at(vcpu, io->next_rip);
		return 1;
	}
	reg = ops->read_gpr(vcpu, s.sio.in ? __VCPU_REGS_RDI : __VCPU_REGS_RSI);
	la = vmmu_emul_string_io_la(&s.ctxt, s.mode, &s.sio, reg);
	if (s.mode == VMMU_EMUL_MODE64 && !x86_canonical(&s.ctxt, la))
		return vmmu_x86_inject_gp(vcpu);
	df = s.ctxt.rflags & X86_EFLAGS_DF;
	n = vmmu_emul_string_io_batch(&s.sio, reg, la, df, left);
	if (!n)
		return vmmu_exit_emulation_error(vcpu, s.bytes, s.len,
						 io->exit_code, la, io->info);
	low = x86_string_io_low(s.mode, la, df, n, s.sio.size);
	if (s.sio.in)
		r = vmmu_emul_probe_linear(&s.ctxt, low, n * s.sio.size, true,
					   &pf);
	else
		r = vmmu_emul_read_linear(&s.ctxt, low, vcpu->pio_data,
					  n * s.sio.size, &pf);
	if (r)
		return x86_string_io_fault(vcpu, r, &pf, la, s.bytes, s.len,
					   io->exit_code, io->info);
	if (!s.sio.in && df)
		vmmu_emul_reverse(vcpu->pio_data, n, s.sio.size);
	*pio = (struct vmmu_emul_pio){
		.in = s.sio.in, .string = true, .size = s.sio.size, .count = n,
		.rip = s.ctxt.rip, .sio = s.sio,
		.exit_code = io->exit_code, .info = io->info,
	};
	/* RIP stays on the instruction until the batch that ends it. */
	pio->next_rip = left > n ? s.ctxt.rip : io->next_rip;
	if (!s.sio.in)
		x86_string_io_advance(vcpu, &s.sio, df, reg, rcx, n);
	return vmmu_exit_pio(vcpu, pio, io->port, 0);
}

/*
 * The first @n elements of the INS batch in the I/O page, in memory order
 * (reversed with DF); a kmalloc'ed copy in *@bounce then.
 */
static const void *x86_string_io_data(struct vmmu_vcpu *vcpu,
				      const struct vmmu_emul_pio *pio,
				      unsigned int n, bool df, void **bounce)
{
	*bounce = NULL;
	if (!df || n == 1)
		return vcpu->pio_data;
	*bounce = kmemdup(vcpu->pio_data, n * pio->size, GFP_KERNEL_ACCOUNT);
	if (*bounce)
		vmmu_emul_reverse(*bounce, n, pio->size);
	return *bounce;
}

/**
 * struct x86_ins_done - an INS completion: what it does, for the error path
 * @la: the linear address of the first element
 * @pf: the #PF the write raised
 */
struct x86_ins_done {
	u64 la;
	struct vmmu_emul_pf pf;
};

/*
 * Execute the INS again, as KVM does, with the registers as they are now (a
 * VMM may have changed RCX, RDI or RFLAGS.DF with KVM_SET_REGS), taking its
 * elements from the batch userspace read: as many as RCX still asks for,
 * at most the batch's count (and no more than fit before a page or the
 * address-size wrap).  Sets *@done_insn when RCX reaches 0 (or without
 * REP).  Return: 0 or an errno of vmmu_emul_write_linear() (-ENOMEM).
 */
static int x86_string_io_write(struct vmmu_vcpu *vcpu,
			       const struct vmmu_emul_pio *pio,
			       struct x86_ins_done *d, bool *done_insn)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	const struct vmmu_emul_string_io *sio = &pio->sio;
	u64 mask = vmmu_emul_addr_mask(sio->addr_bytes);
	struct vmmu_emul_ctxt ctxt;
	enum vmmu_emul_mode mode;
	u64 rcx, rdi, left;
	unsigned int n;
	const void *data;
	void *bounce;
	bool df;
	int r;

	ops->get_emul_ctxt(vcpu, &ctxt);
	ctxt.vm = vcpu->vm;
	mode = vmmu_emul_mode(&ctxt);
	df = ctxt.rflags & X86_EFLAGS_DF;
	rcx = ops->read_gpr(vcpu, __VCPU_REGS_RCX);
	rdi = ops->read_gpr(vcpu, __VCPU_REGS_RDI);
	left = sio->rep ? rcx & mask : 1;
	*done_insn = true;
	if (!left)
		return 0;
	d->la = vmmu_emul_string_io_la(&ctxt, mode, sio, rdi);
	n = vmmu_emul_string_io_batch(sio, rdi, d->la, df,
				      min_t(u64, left, pio->count));
	if (!n)
		return -ENOENT;
	data = x86_string_io_data(vcpu, pio, n, df, &bounce);
	if (!data)
		return -ENOMEM;
	r = vmmu_emul_write_linear(vcpu, &ctxt,
				   x86_string_io_low(mode, d->la, df, n, pio->size),
				   data, n * pio->size, &d->pf);
	kfree(bounce);
	if (r)
		return r;
	x86_string_io_advance(vcpu, sio, df, rdi, rcx, n);
	*done_insn = left == n;
	return 0;
}

/**
 * vmmu_x86_complete_string_io() - finish the INS or OUTS batch userspace
 *	handled
 * @vcpu: the vCPU, at the start of KVM_RUN, with a string access pending
 *
 * Of kvm_run nothing is read (userspace may have changed its count, size
 * or offset): the batch's count and size are the vCPU's own.  If userspace
 * moved RIP meanwhile the access is dropped.  OUTS moved its registers at
 * the exit.  INS executes again with the current registers, taking its
 * data from the batch (x86_string_io_write()): its destination is
 * translated again through the guest's tables and looked up again in the
 * memslots (they may have changed since the exit), written through the
 * slots' hvas and marked dirty, then RDI and RCX move.  RIP moves past the
 * instruction when RCX reaches 0; else the guest executes it again.
 *
 * The write may wait for a userfaultfd that holds the destination (only a
 * fatal signal ends that wait, as for any kernel access to user memory).
 *
 * Return: 1 to run the guest; 0 to return to userspace with kvm_run filled
 * in (an internal error: the destination has no writable memslot now,
 * nothing written, the registers as before the batch); -EFAULT (the
 * destination's host memory cannot be written; registers as before the
 * batch); -ENOMEM (still pending).  A destination the guest's tables no
 * longer map injects a #PF, the batch dropped.
 */
int vmmu_x86_complete_string_io(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_emul_pio *pio = &vcpu->x86.pio;
	struct x86_ins_done d = {};
	bool done_insn = true;
	u64 next_rip;
	int r;

	if (ops->get_rip(vcpu) != pio->rip) {
		pio->pending = false;
		return 1;
	}
	next_rip = pio->next_rip;
	if (pio->in) {
		r = x86_string_io_write(vcpu, pio, &d, &done_insn);
		/* Still pending: the next KVM_RUN tries again. */
		if (r == -ENOMEM)
			return r;
		pio->pending = false;
		if (r)
			return x86_string_io_fault(vcpu, r, &d.pf, d.la, NULL, 0,
						   pio->exit_code, pio->info);
		next_rip = done_insn ? pio->rip + pio->sio.len : pio->rip;
	}
	pio->pending = false;
	x86_complete_at(vcpu, next_rip);
	return 1;
}

/**
 * vmmu_x86_handle_io() - IN, OUT, INS and OUTS: userspace does the access
 * @vcpu: the vCPU
 * @io: the access, decoded by the vendor
 *
 * KVM_RUN completes it (vmmu_x86_vcpu_run_begin()).
 *
 * Return: 0, or for string I/O also 1 (REP with rCX 0, a #PF or #GP
 * injected) or -EFAULT.
 */
int vmmu_x86_handle_io(struct vmmu_vcpu *vcpu, const struct vmmu_x86_io *io)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_emul_pio *pio = &vcpu->x86.pio;

	if (io->string)
		return x86_handle_string_io(vcpu, io);
	pio->in = io->in;
	pio->string = false;
	pio->size = io->size;
	pio->count = 1;
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
