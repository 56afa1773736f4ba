/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The instruction emulator for MMIO: vendor-neutral, used by the hardware
 * backends when the guest touches guest-physical memory that no memslot
 * backs (or writes to a read-only one).
 *
 *   emul/walk.c    fetch: CS:RIP -> linear -> the guest's own page tables
 *                  -> guest-physical -> memslot -> bytes
 *   emul/decode.c  decode the MOV forms MMIO uses; the data of a write;
 *                  the register update of a completed read
 *   emul/exit.c    the kvm_run side the backends share: internal errors,
 *                  the emulator's error report, port I/O and MMIO and
 *                  their completion
 *
 * The backend fills a struct vmmu_emul_ctxt from its control block (no
 * vendor type appears here), reads and writes the register operand
 * itself, and keeps a struct vmmu_emul_mmio while userspace handles the
 * access.
 */
#ifndef _VMMU_EMUL_H
#define _VMMU_EMUL_H

#include <linux/types.h>

struct vmmu_vcpu;
struct vmmu_vm;

/* The longest x86 instruction. */
#define VMMU_EMUL_MAX_INSN	15

/**
 * struct vmmu_emul_ctxt - the guest state the emulator reads
 * @vm: the VM whose memslots back guest-physical memory
 * @rip: RIP
 * @rflags: RFLAGS (VM: virtual-8086 mode)
 * @cs_base: CS base
 * @cs_db: CS.D: 32-bit default operand size outside 64-bit mode
 * @cs_l: CS.L: 64-bit code in long mode
 * @cr0: CR0 (PE, PG)
 * @cr3: CR3: the root of the guest's page tables
 * @cr4: CR4 (PSE, PAE, LA57)
 * @efer: EFER (LMA)
 */
struct vmmu_emul_ctxt {
	struct vmmu_vm *vm;
	u64 rip;
	u64 rflags;
	u64 cs_base;
	bool cs_db;
	bool cs_l;
	u64 cr0;
	u64 cr3;
	u64 cr4;
	u64 efer;
};

/* How the CPU decodes the code at CS:RIP. */
enum vmmu_emul_mode {
	VMMU_EMUL_MODE16,	/* real, virtual-8086, or 16-bit code segment */
	VMMU_EMUL_MODE32,	/* 32-bit protected or compatibility mode */
	VMMU_EMUL_MODE64,	/* 64-bit mode */
};

/* How a read's data reaches the destination register. */
enum vmmu_emul_ext {
	VMMU_EMUL_EXT_NONE,	/* MOV: data is as wide as the register */
	VMMU_EMUL_EXT_ZERO,	/* MOVZX */
	VMMU_EMUL_EXT_SIGN,	/* MOVSX, MOVSXD */
};

/**
 * struct vmmu_emul_insn - a decoded MMIO instruction
 * @len: its length in bytes
 * @bytes: the memory access size: 1, 2, 4 or 8
 * @reg_bytes: the register operand's size: 1, 2, 4 or 8
 * @reg: the register operand, a GPR index as KVM numbers them (RAX 0,
 *	RCX 1 ... R15 15); unused with @has_imm
 * @high_byte: the register is AH, CH, DH or BH (bits 15:8 of @reg)
 * @write: memory is the destination
 * @has_imm: a write of @imm (MOV r/m, imm)
 * @ext: for a read, how the data is extended to @reg_bytes
 * @imm: the immediate, sign-extended to 64 bits
 */
struct vmmu_emul_insn {
	u8 len;
	u8 bytes;
	u8 reg_bytes;
	u8 reg;
	bool high_byte;
	bool write;
	bool has_imm;
	enum vmmu_emul_ext ext;
	u64 imm;
};

/**
 * struct vmmu_emul_pio - a port access waiting for userspace
 * @pending: userspace has not completed it yet
 * @in: a read: its data comes back in the I/O data page
 * @size: 1, 2 or 4 bytes
 * @rip: the instruction; the access is completed only if RIP is still there
 * @next_rip: where the guest goes on after it
 */
struct vmmu_emul_pio {
	bool pending;
	bool in;
	u8 size;
	u64 rip;
	u64 next_rip;
};

/**
 * struct vmmu_emul_mmio - an MMIO read waiting for userspace
 * @pending: userspace has not completed it yet (writes never wait)
 * @insn: the instruction
 * @rip: where it is; the access is completed only if RIP is still there
 * @next_rip: where the guest goes on after it
 */
struct vmmu_emul_mmio {
	bool pending;
	struct vmmu_emul_insn insn;
	u64 rip;
	u64 next_rip;
};

/* Why the emulator gave up (the backend reports an internal error). */
enum vmmu_emul_result {
	VMMU_EMUL_OK,
	VMMU_EMUL_UNMAPPED,	/* a guest PTE not present, or no memory */
	VMMU_EMUL_UNSUPPORTED,	/* not an instruction this emulator knows */
	VMMU_EMUL_TRUNCATED,	/* the instruction runs past what was fetched */
};

enum vmmu_emul_mode vmmu_emul_mode(const struct vmmu_emul_ctxt *ctxt);
int vmmu_emul_read_gpa(struct vmmu_vm *vm, u64 gpa, void *buf,
		       unsigned int len);
int vmmu_emul_fetch(const struct vmmu_emul_ctxt *ctxt, u8 *buf,
		    unsigned int *len);
int vmmu_emul_decode(const u8 *buf, unsigned int len,
		     enum vmmu_emul_mode mode, struct vmmu_emul_insn *insn);
u64 vmmu_emul_write_data(const struct vmmu_emul_insn *insn, u64 reg);
u64 vmmu_emul_complete_read(const struct vmmu_emul_insn *insn, u64 reg,
			    u64 data);

/* emul/exit.c: exits the backends fill in the same way. */
int vmmu_exit_internal_error(struct vmmu_vcpu *vcpu, u32 suberror,
			     unsigned int ndata, u64 d0, u64 d1, u64 d2);
int vmmu_exit_emulation_error(struct vmmu_vcpu *vcpu, const u8 *insn,
			      unsigned int insn_len, u64 exit_code, u64 gpa,
			      u64 error);
int vmmu_exit_pio(struct vmmu_vcpu *vcpu, struct vmmu_emul_pio *pio,
		  u16 port, u64 rax);
bool vmmu_complete_pio(struct vmmu_vcpu *vcpu, struct vmmu_emul_pio *pio,
		       u64 rip, u64 *rax);
bool vmmu_exit_mmio(struct vmmu_vcpu *vcpu, struct vmmu_emul_mmio *mmio,
		    const struct vmmu_emul_insn *insn,
		    enum vmmu_emul_mode mode, u64 gpa, u64 rip, u64 reg);
bool vmmu_complete_mmio(struct vmmu_vcpu *vcpu, struct vmmu_emul_mmio *mmio,
			u64 rip, u64 *reg);

#endif /* _VMMU_EMUL_H */
