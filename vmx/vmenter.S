/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMLAUNCH/VMRESUME: switch to the guest and back.
 *
 * Called with interrupts off and the vCPU's VMCS current.  The host's
 * stack pointer goes into the VMCS (HOST_RSP) here, where it is known;
 * HOST_RIP is vmmu_vmx_vmexit, set once with the controls.  The guest GPRs
 * but RSP (a VMCS field) are loaded from and saved to @regs.
 *
 *   push callee-saved registers, @launched, @regs; HOST_RSP = RSP;
 *   guest GPRs; VMRESUME (or VMLAUNCH the first time)
 *   ... guest runs; external interrupts, NMIs and the preemption timer
 *   exit ...
 *   VM exit at vmmu_vmx_vmexit: RSP is the host's again; save guest GPRs;
 *   RSB hygiene; clear what the guest left in registers; return 0
 *
 * A VMfail (the instruction falls through) returns 1; the caller reads the
 * VM-instruction error.  If the emergency callback turned VMX off (crash,
 * emergency reboot), VMLAUNCH/VMRESUME fault; that is then reported as a
 * VMfail, otherwise the fault is a bug.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

#define GPR(reg)	(__VCPU_REGS_##reg * 8)

/* The VMCS encoding of HOST_RSP (checked against <asm/vmx.h> in run.c). */
#define VMMU_VMCS_HOST_RSP	0x6c14

/* Where the arguments are kept on the stack after the pushes below. */
#define SP_REGS		0
#define SP_LAUNCHED	8

	.text

/**
 * vmmu_vmx_vmenter - run the guest until the next VM exit
 * @regs:     the guest's GPRs, indexed by __VCPU_REGS_* (%rdi)
 * @launched: VMRESUME if true, else VMLAUNCH (%sil)
 *
 * Return: 0 after a VM exit (an entry-failure exit included), 1 if the
 * instruction failed (VMfail).
 */
SYM_FUNC_START(vmmu_vmx_vmenter)
	push %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx
	push %rsi
	push %rdi

	mov $VMMU_VMCS_HOST_RSP, %eax
	vmwrite %rsp, %rax
	jbe .Lvmfail

	/* Clobbers EFLAGS.ZF. */
	VM_CLEAR_CPU_BUFFERS

	/* ZF=1: VMLAUNCH.  MOVs keep the flags. */
	cmpb $0, SP_LAUNCHED(%rsp)

	mov GPR(RAX)(%rdi), %rax
	mov GPR(RCX)(%rdi), %rcx
	mov GPR(RDX)(%rdi), %rdx
	mov GPR(RBX)(%rdi), %rbx
	mov GPR(RBP)(%rdi), %rbp
	mov GPR(RSI)(%rdi), %rsi
	mov GPR(R8)(%rdi), %r8
	mov GPR(R9)(%rdi), %r9
	mov GPR(R10)(%rdi), %r10
	mov GPR(R11)(%rdi), %r11
	mov GPR(R12)(%rdi), %r12
	mov GPR(R13)(%rdi), %r13
	mov GPR(R14)(%rdi), %r14
	mov GPR(R15)(%rdi), %r15
	mov GPR(RDI)(%rdi), %rdi

	je .Lvmlaunch

	/*
	 * The VM exit comes back at vmmu_vmx_vmexit with the stack as it is
	 * here: tell objtool so.
	 */
	UNWIND_HINT_SAVE
.Lvmresume:
	vmresume
	jmp .Lvmfail

.Lvmlaunch:
	vmlaunch
	jmp .Lvmfail

	_ASM_EXTABLE(.Lvmresume, .Lfixup)
	_ASM_EXTABLE(.Lvmlaunch, .Lfixup)

SYM_INNER_LABEL(vmmu_vmx_vmexit, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	ENDBR

	/* RSP is the host's; every GPR but RSP still holds the guest's. */
	push %rax
	mov SP_REGS+8(%rsp), %rax
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
	pop GPR(RAX)(%rax)

	xor %ebx, %ebx
	jmp .Lout

.Lfixup:
	cmpb $0, vmmu_vmx_rebooting(%rip)
	jne .Lvmfail
	ud2

.Lvmfail:
	mov $1, %ebx

.Lout:
	/* Before any RET: the guest may have filled the RSB. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT

	/* Leave no guest value in a register, even a restored one. */
	mov %ebx, %eax
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d

	add $16, %rsp
	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	RET
SYM_FUNC_END(vmmu_vmx_vmenter)
