/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The instruction emulator for MMIO and string port I/O: vendor-neutral,
 * used by the hardware backends when the guest touches guest-physical
 * memory that no memslot backs (or writes to a read-only one), and for INS
 * and OUTS.
 *
 *   emul/walk.c    linear -> the guest's own page tables (with the access
 *                  rights of a data access) -> guest-physical -> memslot
 *                  -> bytes: the fetch of CS:RIP, reads and writes of
 *                  string I/O
 *   emul/decode.c  decode the MOV forms MMIO uses; the data of a write;
 *                  the register update of a completed read; INS and OUTS
 *   emul/string_io.c  INS and OUTS: the linear address, the elements of
 *                  one exit, how rSI, rDI and rCX move
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

/* Segment registers, numbered as the instruction set numbers them. */
enum vmmu_emul_seg {
	VMMU_EMUL_ES,
	VMMU_EMUL_CS,
	VMMU_EMUL_SS,
	VMMU_EMUL_DS,
	VMMU_EMUL_FS,
	VMMU_EMUL_GS,
	VMMU_EMUL_NR_SEGS,
};

/**
 * struct vmmu_emul_ctxt - the guest state the emulator reads
 * @vm: the VM whose memslots back guest-physical memory
 * @rip: RIP
 * @rflags: RFLAGS (VM: virtual-8086 mode; DF)
 * @seg_base: the base of each segment register (enum vmmu_emul_seg)
 * @cs_db: CS.D: 32-bit default operand size outside 64-bit mode
 * @cs_l: CS.L: 64-bit code in long mode
 * @cpl: the current privilege level (3: user accesses)
 * @cr0: CR0 (PE, WP, PG)
 * @cr3: CR3: the root of the guest's page tables
 * @cr4: CR4 (PSE, PAE, LA57)
 * @efer: EFER (LMA)
 */
struct vmmu_emul_ctxt {
	struct vmmu_vm *vm;
	u64 rip;
	u64 rflags;
	u64 seg_base[VMMU_EMUL_NR_SEGS];
	bool cs_db;
	bool cs_l;
	u8 cpl;
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
 * struct vmmu_emul_string_io - a decoded INS or OUTS
 * @len: its length in bytes
 * @size: the element size: 1, 2 or 4 bytes
 * @addr_bytes: the address size: 2, 4 or 8 (RSI, RDI and RCX wrap there)
 * @seg: the segment of the memory operand: ES for INS, DS or the
 *	override for OUTS
 * @in: INS (port to memory)
 * @rep: a REP (or REPNE) prefix: RCX counts the elements
 */
struct vmmu_emul_string_io {
	u8 len;
	u8 size;
	u8 addr_bytes;
	u8 seg;
	bool in;
	bool rep;
};

/**
 * struct vmmu_emul_pio - a port access waiting for userspace
 * @pending: userspace has not completed it yet
 * @in: a read: its data comes back in the I/O data page
 * @string: INS or OUTS: @count elements in the I/O data page
 * @size: 1, 2 or 4 bytes
 * @count: elements in this exit (1 for IN and OUT)
 * @rip: the instruction; the access is completed only if RIP is still there
 * @next_rip: where the guest goes on after it (@rip again for a batch of a
 *	REP that has elements left); not used for INS, whose completion
 *	decides from RCX then
 * @sio: INS: the decoded instruction (its length: @rip + len is the next
 *	instruction)
 * @exit_code: INS: the vendor's exit code, for an error report
 * @info: INS: the vendor's exit information, likewise
 *
 * What the completion needs of the exit is here, never in kvm_run, which
 * userspace may change between the exit and the completion; an INS takes
 * its destination and count from the registers at completion, as KVM's
 * does (a VMM may have changed them with KVM_SET_REGS).
 */
struct vmmu_emul_pio {
	bool pending;
	bool in;
	bool string;
	u8 size;
	u16 count;
	u64 rip;
	u64 next_rip;
	struct vmmu_emul_string_io sio;
	u64 exit_code;
	u64 info;
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

/**
 * struct vmmu_emul_pf - a guest page fault a data access raises
 * @addr: the linear address (CR2)
 * @error_code: the #PF error code: VMMU_PFERR_PRESENT (a protection
 *	violation, else not present), _WRITE, _USER
 */
struct vmmu_emul_pf {
	u64 addr;
	u32 error_code;
};

enum vmmu_emul_mode vmmu_emul_mode(const struct vmmu_emul_ctxt *ctxt);
int vmmu_emul_read_gpa(struct vmmu_vm *vm, u64 gpa, void *buf,
		       unsigned int len);
int vmmu_emul_fetch(const struct vmmu_emul_ctxt *ctxt, u8 *buf,
		    unsigned int *len);
int vmmu_emul_translate(const struct vmmu_emul_ctxt *ctxt, u64 la,
			bool write, u64 *gpa, struct vmmu_emul_pf *pf);
int vmmu_emul_probe_linear(const struct vmmu_emul_ctxt *ctxt, u64 la,
			   unsigned int len, bool write,
			   struct vmmu_emul_pf *pf);
int vmmu_emul_read_linear(const struct vmmu_emul_ctxt *ctxt, u64 la,
			  void *buf, unsigned int len, struct vmmu_emul_pf *pf);
int vmmu_emul_write_linear(struct vmmu_vcpu *vcpu,
			   const struct vmmu_emul_ctxt *ctxt, u64 la,
			   const void *buf, unsigned int len,
			   struct vmmu_emul_pf *pf);
int vmmu_emul_decode(const u8 *buf, unsigned int len,
		     enum vmmu_emul_mode mode, struct vmmu_emul_insn *insn);
int vmmu_emul_decode_string_io(const u8 *buf, unsigned int len,
			       enum vmmu_emul_mode mode,
			       struct vmmu_emul_string_io *sio);

/* emul/string_io.c: the arithmetic of INS and OUTS. */
u64 vmmu_emul_addr_mask(unsigned int addr_bytes);
u64 vmmu_emul_addr_set(u64 reg, u64 val, unsigned int addr_bytes);
u64 vmmu_emul_string_io_la(const struct vmmu_emul_ctxt *ctxt,
			   enum vmmu_emul_mode mode,
			   const struct vmmu_emul_string_io *sio, u64 reg);
unsigned int vmmu_emul_string_io_batch(const struct vmmu_emul_string_io *sio,
				       u64 reg, u64 la, bool df, u64 left);
void vmmu_emul_reverse(void *buf, unsigned int n, unsigned int size);

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
