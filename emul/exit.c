// SPDX-License-Identifier: GPL-2.0
/*
 * Exits to userspace that both hardware backends fill in the same way:
 * internal errors, the emulator's error report, and port I/O with its
 * completion at the next KVM_RUN (IN and OUT here; INS and OUTS, which
 * need guest memory, in x86/exit.c).  The backends keep the vendor part (where
 * RIP and RAX live, how long the instruction is); the kvm_run layout is
 * here, once.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/string.h>

#include <vmmu/backend.h>
#include <vmmu/emul.h>
#include <vmmu/vcpu.h>

/**
 * vmmu_exit_internal_error() - KVM_EXIT_INTERNAL_ERROR
 * @vcpu: the vCPU
 * @suberror: KVM_INTERNAL_ERROR_*
 * @ndata: how many of @d0, @d1, @d2 mean something (at most 3)
 * @d0: first data word
 * @d1: second data word
 * @d2: third data word
 *
 * Return: 0, for the exit handler to return to userspace.
 */
int vmmu_exit_internal_error(struct vmmu_vcpu *vcpu, u32 suberror,
			     unsigned int ndata, u64 d0, u64 d1, u64 d2)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = ndata;
	run->internal.data[0] = d0;
	run->internal.data[1] = d1;
	run->internal.data[2] = d2;
	return 0;
}

/**
 * vmmu_exit_emulation_error() - the emulator gave up on an MMIO access
 * @vcpu: the vCPU
 * @insn: the instruction bytes fetched (may be none)
 * @insn_len: how many, at most VMMU_EMUL_MAX_INSN
 * @exit_code: the vendor's exit code (NPF, EPT violation)
 * @gpa: the guest-physical address of the access
 * @error: the vendor's fault information (NPF error code, exit
 *	qualification)
 *
 * KVM_EXIT_INTERNAL_ERROR with KVM_INTERNAL_ERROR_EMULATION, laid out as
 * KVM does: flags, the number of instruction bytes and the bytes (when the
 * fetch got any), then @exit_code, @gpa and @error (ndata 7).
 *
 * Return: 0.
 */
int vmmu_exit_emulation_error(struct vmmu_vcpu *vcpu, const u8 *insn,
			      unsigned int insn_len, u64 exit_code, u64 gpa,
			      u64 error)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->internal.ndata = 7;
	memset(run->internal.data, 0, 7 * sizeof(u64));
	run->internal.data[0] = insn_len ?
		KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES : 0;
	run->internal.data[1] = insn_len;
	memcpy(&run->internal.data[2], insn, insn_len);
	run->internal.data[4] = exit_code;
	run->internal.data[5] = gpa;
	run->internal.data[6] = error;
	return 0;
}

/**
 * vmmu_exit_pio() - KVM_EXIT_IO; KVM_RUN completes it
 * @vcpu: the vCPU
 * @pio: the vCPU's pending access, with @in, @string, @size, @count, @rip
 *	and @next_rip set by x86/ (and the data of an OUTS in the I/O page)
 * @port: the port
 * @rax: the guest's RAX (the data of an OUT)
 *
 * Return: 0.
 */
int vmmu_exit_pio(struct vmmu_vcpu *vcpu, struct vmmu_emul_pio *pio,
		  u16 port, u64 rax)
{
	struct kvm_run *run = vcpu->run;

	pio->pending = true;
	atomic64_inc(vmmu_vcpu_stat(vcpu, io_exits));
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = pio->in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = pio->size;
	run->io.port = port;
	run->io.count = pio->count;
	run->io.data_offset = VMMU_RUN_PIO_PAGE * PAGE_SIZE;
	if (!pio->in && !pio->string)
		memcpy(vcpu->pio_data, &rax, pio->size);
	return 0;
}

/**
 * vmmu_complete_pio() - finish the port access userspace handled
 * @vcpu: the vCPU, at the start of KVM_RUN
 * @pio: its pending access
 * @rip: the guest's RIP now
 * @rax: the guest's RAX; a read's data is merged into it
 *
 * As in KVM, the guest stays on the IN or OUT until the next KVM_RUN: a
 * read takes its data from the I/O data page (a 32-bit read zero-extends
 * into RAX, narrower ones merge), then RIP moves on.  If userspace moved
 * RIP meanwhile, the access is dropped.
 *
 * Return: true if the backend must set RIP to @pio->next_rip (and end an
 * interrupt shadow), false if there was nothing to complete.
 */
bool vmmu_complete_pio(struct vmmu_vcpu *vcpu, struct vmmu_emul_pio *pio,
		       u64 rip, u64 *rax)
{
	u64 data;

	if (!pio->pending)
		return false;
	pio->pending = false;
	if (rip != pio->rip)
		return false;
	if (pio->in) {
		data = pio->size == 4 ? 0 : *rax;
		memcpy(&data, vcpu->pio_data, pio->size);
		*rax = data;
	}
	return true;
}

/**
 * vmmu_exit_mmio() - KVM_EXIT_MMIO for a decoded access
 * @vcpu: the vCPU
 * @mmio: the vCPU's pending MMIO access
 * @insn: the decoded instruction
 * @mode: the mode it was decoded in (RIP wraps at 4G outside 64-bit mode)
 * @gpa: the guest-physical address of the access
 * @rip: the guest's RIP, on the instruction
 * @reg: the value of the instruction's register operand (for a write)
 *
 * As in KVM, a write is complete when it exits: its data goes to userspace
 * and RIP moves on now.  A read waits for its data until the next KVM_RUN
 * (vmmu_complete_mmio()).
 *
 * Return: true if the backend must set RIP to @mmio->next_rip now (and end
 * an interrupt shadow): a write.
 */
bool vmmu_exit_mmio(struct vmmu_vcpu *vcpu, struct vmmu_emul_mmio *mmio,
		    const struct vmmu_emul_insn *insn,
		    enum vmmu_emul_mode mode, u64 gpa, u64 rip, u64 reg)
{
	struct kvm_run *run = vcpu->run;
	u64 data = 0;

	mmio->insn = *insn;
	mmio->rip = rip;
	mmio->next_rip = rip + insn->len;
	if (mode != VMMU_EMUL_MODE64)
		mmio->next_rip = (u32)mmio->next_rip;
	mmio->pending = !insn->write;
	if (insn->write)
		data = vmmu_emul_write_data(insn, reg);
	atomic64_inc(vmmu_vcpu_stat(vcpu, mmio_exits));
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = insn->bytes;
	run->mmio.is_write = insn->write;
	memcpy(run->mmio.data, &data, sizeof(run->mmio.data));
	return insn->write;
}

/**
 * vmmu_complete_mmio() - finish the MMIO read userspace handled
 * @vcpu: the vCPU, at the start of KVM_RUN
 * @mmio: its pending MMIO access
 * @rip: the guest's RIP now
 * @reg: the value of the destination register; the data is merged into it
 *
 * The data in kvm_run.mmio.data goes into the register, zero- or
 * sign-extended as the instruction says.  If userspace moved RIP
 * meanwhile, the read is dropped.
 *
 * Return: true if the backend must write @reg back and set RIP to
 * @mmio->next_rip, false if there was nothing to complete.
 */
bool vmmu_complete_mmio(struct vmmu_vcpu *vcpu, struct vmmu_emul_mmio *mmio,
			u64 rip, u64 *reg)
{
	u64 data;

	if (!mmio->pending)
		return false;
	mmio->pending = false;
	if (rip != mmio->rip)
		return false;
	memcpy(&data, vcpu->run->mmio.data, sizeof(data));
	*reg = vmmu_emul_complete_read(&mmio->insn, *reg, data);
	return true;
}
