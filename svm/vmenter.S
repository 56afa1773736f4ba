/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMRUN: switch to the guest and back.
 *
 * Called with interrupts off.  GIF is cleared first, so from here until
 * STGI no interrupt or NMI reaches the host, even with RFLAGS.IF set:
 *
 *   CLGI; VMSAVE host; VMLOAD guest; STI; guest GPRs; VMRUN
 *   ... guest runs, with the host's IF=1 so physical interrupts exit ...
 *   #VMEXIT (GIF=0); save guest GPRs; VMSAVE guest; VMLOAD host;
 *   RSB and return-predictor hygiene; CLI; STGI
 *
 * VMRUN and #VMEXIT switch only part of the host state: FS, GS (and with
 * it every per-CPU access), TR, LDTR, KERNEL_GS_BASE and the syscall and
 * sysenter MSRs are VMSAVE'd to a per-CPU page before the guest runs and
 * VMLOAD'ed back before GIF is set again, so nothing, instrumented or not,
 * runs with the guest's GS.  Until then only the stack is reliable: the
 * pointers needed after #VMEXIT are kept there.
 *
 * If the emergency callback turned SVM off (crash, emergency reboot), an
 * SVM instruction faults; it is then skipped, otherwise the fault is a bug.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/nospec-branch.h>

#define GPR(reg)	(__VCPU_REGS_##reg * 8)

/* Where the arguments are kept on the stack after the pushes below. */
#define SP_VMCB		0
#define SP_REGS		8
#define SP_HOST_SAVE	16

	.text

/**
 * vmmu_svm_vmrun - run the guest until the next #VMEXIT
 * @vmcb_pa:      physical address of the guest's VMCB (%rdi)
 * @regs:         the guest's GPRs, indexed by __VCPU_REGS_* (%rsi)
 * @host_save_pa: physical address of this CPU's host save page (%rdx)
 */
SYM_FUNC_START(vmmu_svm_vmrun)
	push %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx
	push %rdx
	push %rsi
	push %rdi

1:	clgi
2:	mov %rdx, %rax
3:	vmsave %rax
4:	mov SP_VMCB(%rsp), %rax
5:	vmload %rax
6:
	/* Host IF=1 at VMRUN: physical interrupts cause #VMEXIT(INTR). */
	sti

	mov SP_REGS(%rsp), %rsi
	mov GPR(RCX)(%rsi), %rcx
	mov GPR(RDX)(%rsi), %rdx
	mov GPR(RBX)(%rsi), %rbx
	mov GPR(RBP)(%rsi), %rbp
	mov GPR(RDI)(%rsi), %rdi
	mov GPR(R8)(%rsi), %r8
	mov GPR(R9)(%rsi), %r9
	mov GPR(R10)(%rsi), %r10
	mov GPR(R11)(%rsi), %r11
	mov GPR(R12)(%rsi), %r12
	mov GPR(R13)(%rsi), %r13
	mov GPR(R14)(%rsi), %r14
	mov GPR(R15)(%rsi), %r15
	mov GPR(RSI)(%rsi), %rsi

	/* Clobbers EFLAGS.ZF. */
	VM_CLEAR_CPU_BUFFERS

	/* RAX still holds the VMCB address. */
7:	vmrun %rax
8:
	/* #VMEXIT: GIF=0, RSP and RAX are the host's again. */
	mov SP_REGS(%rsp), %rax
	mov %rcx, GPR(RCX)(%rax)
	mov %rdx, GPR(RDX)(%rax)
	mov %rbx, GPR(RBX)(%rax)
	mov %rbp, GPR(RBP)(%rax)
	mov %rsi, GPR(RSI)(%rax)
	mov %rdi, GPR(RDI)(%rax)
	mov %r8, GPR(R8)(%rax)
	mov %r9, GPR(R9)(%rax)
	mov %r10, GPR(R10)(%rax)
	mov %r11, GPR(R11)(%rax)
	mov %r12, GPR(R12)(%rax)
	mov %r13, GPR(R13)(%rax)
	mov %r14, GPR(R14)(%rax)
	mov %r15, GPR(R15)(%rax)

	mov SP_VMCB(%rsp), %rax
9:	vmsave %rax
10:	mov SP_HOST_SAVE(%rsp), %rax
11:	vmload %rax
12:
	/* Before any RET: the guest may have filled the RSB. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT
#ifdef UNTRAIN_RET_VM
	UNTRAIN_RET_VM
#else
	UNTRAIN_RET
	ALTERNATIVE "", "call entry_ibpb", X86_FEATURE_IBPB_ON_VMEXIT
#endif

	/* IF back to 0 before GIF=1: interrupts wait for the C caller. */
	cli
13:	stgi
14:
	/* Leave no guest value in a register, even a restored one. */
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d

	add $24, %rsp
	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	RET

	/* An SVM instruction faulted: fine only after the emergency callback. */
20:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 2b
	ud2
30:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 4b
	ud2
50:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 6b
	ud2
70:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 8b
	ud2
90:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 10b
	ud2
110:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 12b
	ud2
130:	cmpb $0, vmmu_svm_rebooting(%rip)
	jne 14b
	ud2

	_ASM_EXTABLE(1b, 20b)
	_ASM_EXTABLE(3b, 30b)
	_ASM_EXTABLE(5b, 50b)
	_ASM_EXTABLE(7b, 70b)
	_ASM_EXTABLE(9b, 90b)
	_ASM_EXTABLE(11b, 110b)
	_ASM_EXTABLE(13b, 130b)
SYM_FUNC_END(vmmu_svm_vmrun)
