// SPDX-License-Identifier: GPL-2.0
/*
 * The instruction decoder: the MOV forms a guest uses on device
 * registers, and the string port I/O instructions (INS, OUTS).
 *
 *   88, 89   MOV r/m, reg          8A, 8B   MOV reg, r/m
 *   C6, C7   MOV r/m, imm (/0)     A0-A3    MOV to/from moffs (rAX)
 *   0F B6/B7 MOVZX                 0F BE/BF MOVSX
 *   63       MOVSXD (64-bit mode)
 *
 * Prefixes: 66 (operand size), 67 (address size: decides the ModRM form
 * and the moffs width), segment overrides (skipped: the guest-physical
 * address comes from the exit), REX in 64-bit mode.  LOCK, REP and REPNE
 * are not emulated, nor is anything else (string instructions, ALU
 * operations on memory, XCHG ...): the backend reports an internal error.
 *
 *   6C, 6D   INS m8, INS m16/m32    6E, 6F   OUTS m8, OUTS m16/m32
 *
 * are decoded on their own (vmmu_emul_decode_string_io()): their memory
 * operand is implicit (ES:rDI, DS:rSI or the segment override), and REP
 * or REPNE (both mean REP here) makes rCX count the elements.
 *
 * The decoder finds the instruction's length from its ModRM, SIB and
 * displacement, the access size from the operand size, and the register
 * operand; it never computes the effective address.
 */
#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include <vmmu/emul.h>

/* Opcode properties. */
#define OP_MODRM	BIT(0)	/* a ModRM memory operand follows */
#define OP_MOFFS	BIT(1)	/* an address-size offset follows; reg is rAX */
#define OP_BYTE		BIT(2)	/* byte operands */
#define OP_WRITE	BIT(3)	/* memory is the destination */
#define OP_IMM		BIT(4)	/* the source is an immediate */
#define OP_64ONLY	BIT(5)	/* exists in 64-bit mode only */

/**
 * struct emul_opcode - what the decoder knows of one opcode
 * @flags: OP_*; 0 for an opcode that is not emulated
 * @mem_bytes: fixed memory operand size (MOVZX, MOVSX, MOVSXD); 0 if it
 *	is the operand size
 * @ext: how a read extends into the register
 */
struct emul_opcode {
	u8 flags;
	u8 mem_bytes;
	u8 ext;
};

static const struct emul_opcode emul_onebyte[256] = {
	[0x63] = { OP_MODRM | OP_64ONLY, 4, VMMU_EMUL_EXT_SIGN },
	[0x88] = { OP_MODRM | OP_BYTE | OP_WRITE },
	[0x89] = { OP_MODRM | OP_WRITE },
	[0x8a] = { OP_MODRM | OP_BYTE },
	[0x8b] = { OP_MODRM },
	[0xa0] = { OP_MOFFS | OP_BYTE },
	[0xa1] = { OP_MOFFS },
	[0xa2] = { OP_MOFFS | OP_BYTE | OP_WRITE },
	[0xa3] = { OP_MOFFS | OP_WRITE },
	[0xc6] = { OP_MODRM | OP_BYTE | OP_WRITE | OP_IMM },
	[0xc7] = { OP_MODRM | OP_WRITE | OP_IMM },
};

static const struct emul_opcode emul_twobyte[256] = {
	[0xb6] = { OP_MODRM, 1, VMMU_EMUL_EXT_ZERO },
	[0xb7] = { OP_MODRM, 2, VMMU_EMUL_EXT_ZERO },
	[0xbe] = { OP_MODRM, 1, VMMU_EMUL_EXT_SIGN },
	[0xbf] = { OP_MODRM, 2, VMMU_EMUL_EXT_SIGN },
};

#define PFX_OPSIZE	0x66
#define PFX_ADDRSIZE	0x67
#define PFX_LOCK	0xf0
#define PFX_REPNE	0xf2
#define PFX_REP		0xf3
#define OPCODE_ESCAPE	0x0f

#define REX_B		BIT(0)
#define REX_X		BIT(1)
#define REX_R		BIT(2)
#define REX_W		BIT(3)

#define MODRM_MOD(m)	((m) >> 6)
#define MODRM_REG(m)	(((m) >> 3) & 7)
#define MODRM_RM(m)	((m) & 7)
#define SIB_BASE(s)	((s) & 7)

/* The bytes being decoded; reading past @len sets @truncated. */
struct emul_cursor {
	const u8 *buf;
	unsigned int len;
	unsigned int pos;
	bool truncated;
};

/* The next @n bytes (n <= 8), little endian; 0 past the end. */
static u64 emul_next(struct emul_cursor *c, unsigned int n)
{
	u64 v = 0;
	unsigned int i;

	if (c->pos + n > c->len) {
		c->truncated = true;
		c->pos = c->len;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (u64)c->buf[c->pos + i] << (8 * i);
	c->pos += n;
	return v;
}

/**
 * struct emul_prefixes - the prefixes before an opcode
 * @opsize: 66
 * @addrsize: 67
 * @rep: F3 or F2
 * @lock: F0
 * @seg: the last segment override (enum vmmu_emul_seg), or -1
 * @rex: the REX byte right before the opcode (64-bit mode), or 0
 */
struct emul_prefixes {
	bool opsize;
	bool addrsize;
	bool rep;
	bool lock;
	int seg;
	u8 rex;
};

/* The segment override prefixes, by segment register. */
static const u8 emul_segment_prefixes[VMMU_EMUL_NR_SEGS] = {
	[VMMU_EMUL_ES] = 0x26, [VMMU_EMUL_CS] = 0x2e, [VMMU_EMUL_SS] = 0x36,
	[VMMU_EMUL_DS] = 0x3e, [VMMU_EMUL_FS] = 0x64, [VMMU_EMUL_GS] = 0x65,
};

/* The segment register a prefix byte overrides with, or -1. */
static int emul_segment_prefix(u8 b)
{
	int seg;

	for (seg = 0; seg < VMMU_EMUL_NR_SEGS; seg++)
		if (emul_segment_prefixes[seg] == b)
			return seg;
	return -1;
}

/* Legacy prefixes and REX, up to the opcode. */
static void emul_prefixes(struct emul_cursor *c, enum vmmu_emul_mode mode,
			  struct emul_prefixes *p)
{
	int seg;
	u8 b;

	memset(p, 0, sizeof(*p));
	p->seg = -1;
	for (; c->pos < c->len; c->pos++) {
		b = c->buf[c->pos];
		if (mode == VMMU_EMUL_MODE64 && (b & 0xf0) == 0x40) {
			p->rex = b;
			continue;
		}
		seg = emul_segment_prefix(b);
		if (b == PFX_LOCK)
			p->lock = true;
		else if (b == PFX_REP || b == PFX_REPNE)
			p->rep = true;
		else if (b == PFX_OPSIZE)
			p->opsize = true;
		else if (b == PFX_ADDRSIZE)
			p->addrsize = true;
		else if (seg >= 0)
			p->seg = seg;
		else
			break;
		/* A REX counts only right before the opcode. */
		p->rex = 0;
	}
}

static unsigned int emul_op_bytes(enum vmmu_emul_mode mode, bool opsize,
				  u8 rex)
{
	if (rex & REX_W)
		return 8;
	if (mode == VMMU_EMUL_MODE16)
		return opsize ? 4 : 2;
	return opsize ? 2 : 4;
}

static unsigned int emul_addr_bytes(enum vmmu_emul_mode mode, bool addrsize)
{
	if (mode == VMMU_EMUL_MODE64)
		return addrsize ? 4 : 8;
	if (mode == VMMU_EMUL_MODE32)
		return addrsize ? 2 : 4;
	return addrsize ? 4 : 2;
}

/* Skip the SIB byte and displacement of a memory operand. */
static void emul_skip_modrm(struct emul_cursor *c, u8 modrm,
			    unsigned int addr_bytes)
{
	unsigned int mod = MODRM_MOD(modrm), rm = MODRM_RM(modrm);

	if (addr_bytes == 2) {
		/* [disp16] alone, or [regs + disp8/disp16]. */
		if (mod == 2 || (mod == 0 && rm == 6))
			emul_next(c, 2);
		else if (mod == 1)
			emul_next(c, 1);
		return;
	}
	/* rm 4: a SIB; its base 5 without displacement means disp32. */
	if (rm == 4 && SIB_BASE(emul_next(c, 1)) == 5 && mod == 0)
		emul_next(c, 4);
	/* mod 0, rm 5: disp32 (RIP-relative in 64-bit mode). */
	if (mod == 2 || (mod == 0 && rm == 5))
		emul_next(c, 4);
	else if (mod == 1)
		emul_next(c, 1);
}

/* The access and register sizes of a decoded opcode. */
static void emul_sizes(const struct emul_opcode *op, unsigned int op_bytes,
		       struct vmmu_emul_insn *insn)
{
	insn->reg_bytes = op->flags & OP_BYTE ? 1 : op_bytes;
	insn->bytes = insn->reg_bytes;
	if (op->mem_bytes)
		insn->bytes = min_t(unsigned int, op->mem_bytes, op_bytes);
	insn->ext = op->ext;
	insn->write = op->flags & OP_WRITE;
}

/* The ModRM or moffs operand; false if it is not a memory operand. */
static bool emul_operand(struct emul_cursor *c, const struct emul_opcode *op,
			 unsigned int addr_bytes, u8 rex,
			 struct vmmu_emul_insn *insn)
{
	u8 modrm;

	if (op->flags & OP_MOFFS) {
		insn->reg = 0;	/* rAX */
		emul_next(c, addr_bytes);
		return true;
	}
	modrm = emul_next(c, 1);
	if (MODRM_MOD(modrm) == 3)
		return false;	/* a register operand: no memory access */
	if ((op->flags & OP_IMM) && MODRM_REG(modrm))
		return false;	/* C6/C7 with reg != 0 is something else */
	insn->reg = MODRM_REG(modrm) | (rex & REX_R ? 8 : 0);
	emul_skip_modrm(c, modrm, addr_bytes);
	return true;
}

static const struct emul_opcode *emul_opcode(struct emul_cursor *c)
{
	u8 b = emul_next(c, 1);

	if (b == OPCODE_ESCAPE)
		return &emul_twobyte[(u8)emul_next(c, 1)];
	return &emul_onebyte[b];
}

/**
 * vmmu_emul_decode() - decode an MMIO instruction
 * @buf: the instruction bytes
 * @len: how many there are (at most VMMU_EMUL_MAX_INSN)
 * @mode: how the CPU decodes them
 * @insn: out: the instruction
 *
 * Return: VMMU_EMUL_OK, VMMU_EMUL_UNSUPPORTED (not an instruction the
 * emulator knows, or one without a memory operand), VMMU_EMUL_TRUNCATED
 * (it goes on past @len).
 */
int vmmu_emul_decode(const u8 *buf, unsigned int len,
		     enum vmmu_emul_mode mode, struct vmmu_emul_insn *insn)
{
	struct emul_cursor c = { .buf = buf, .len = len };
	const struct emul_opcode *op;
	struct emul_prefixes p;
	unsigned int op_bytes;
	u8 rex;

	memset(insn, 0, sizeof(*insn));
	emul_prefixes(&c, mode, &p);
	if (p.lock || p.rep)
		return VMMU_EMUL_UNSUPPORTED;
	rex = p.rex;
	op = emul_opcode(&c);
	if (c.truncated)
		return VMMU_EMUL_TRUNCATED;
	if (!op->flags ||
	    ((op->flags & OP_64ONLY) && mode != VMMU_EMUL_MODE64))
		return VMMU_EMUL_UNSUPPORTED;
	op_bytes = emul_op_bytes(mode, p.opsize, rex);
	emul_sizes(op, op_bytes, insn);
	if (!emul_operand(&c, op, emul_addr_bytes(mode, p.addrsize), rex, insn))
		return c.truncated ? VMMU_EMUL_TRUNCATED : VMMU_EMUL_UNSUPPORTED;
	if (op->flags & OP_IMM) {
		insn->has_imm = true;
		/* At most 32 bits, sign-extended to a 64-bit operand. */
		insn->imm = sign_extend64(emul_next(&c, min(insn->bytes, 4U)),
					  8 * min(insn->bytes, 4U) - 1);
	}
	/* Without REX, byte registers 4-7 are AH, CH, DH, BH. */
	if (insn->reg_bytes == 1 && !rex && insn->reg >= 4) {
		insn->high_byte = true;
		insn->reg -= 4;
	}
	if (c.truncated)
		return VMMU_EMUL_TRUNCATED;
	insn->len = c.pos;
	return VMMU_EMUL_OK;
}

#define OP_INSB		0x6c
#define OP_INS		0x6d
#define OP_OUTSB	0x6e
#define OP_OUTS		0x6f

/**
 * vmmu_emul_decode_string_io() - decode an INS or OUTS
 * @buf: the instruction bytes
 * @len: how many there are (at most VMMU_EMUL_MAX_INSN)
 * @mode: how the CPU decodes them
 * @sio: out: the instruction
 *
 * The element size is 1 for 6C and 6E, else 2 with 66 and 4 without (in
 * 16-bit code the other way round; REX.W does not make it 8).  INS writes
 * through ES, which no prefix overrides; OUTS reads through DS or the
 * override (in 64-bit mode the caller ignores every base but FS's and
 * GS's).
 *
 * Return: VMMU_EMUL_OK, VMMU_EMUL_UNSUPPORTED (another instruction, or
 * LOCK, which makes INS and OUTS raise #UD), VMMU_EMUL_TRUNCATED.
 */
int vmmu_emul_decode_string_io(const u8 *buf, unsigned int len,
			       enum vmmu_emul_mode mode,
			       struct vmmu_emul_string_io *sio)
{
	struct emul_cursor c = { .buf = buf, .len = len };
	struct emul_prefixes p;
	u8 op;

	memset(sio, 0, sizeof(*sio));
	emul_prefixes(&c, mode, &p);
	op = emul_next(&c, 1);
	if (c.truncated)
		return VMMU_EMUL_TRUNCATED;
	if (p.lock || op < OP_INSB || op > OP_OUTS)
		return VMMU_EMUL_UNSUPPORTED;
	sio->len = c.pos;
	sio->in = op <= OP_INS;
	sio->rep = p.rep;
	sio->size = op == OP_INSB || op == OP_OUTSB ? 1 :
		    min(emul_op_bytes(mode, p.opsize, 0), 4U);
	sio->addr_bytes = emul_addr_bytes(mode, p.addrsize);
	if (sio->in)
		sio->seg = VMMU_EMUL_ES;
	else
		sio->seg = p.seg >= 0 ? p.seg : VMMU_EMUL_DS;
	return VMMU_EMUL_OK;
}

/**
 * vmmu_emul_write_data() - the data an MMIO write stores
 * @insn: a decoded write
 * @reg: the value of its register operand (unused for an immediate)
 *
 * Return: the data, in the low @insn->bytes bytes.
 */
u64 vmmu_emul_write_data(const struct vmmu_emul_insn *insn, u64 reg)
{
	u64 v;

	if (insn->has_imm)
		v = insn->imm;
	else
		v = reg >> (insn->high_byte ? 8 : 0);
	return insn->bytes == 8 ? v : v & (BIT_ULL(8 * insn->bytes) - 1);
}

/**
 * vmmu_emul_complete_read() - the register value after an MMIO read
 * @insn: a decoded read
 * @reg: the destination register's value before it
 * @data: what was read, in the low @insn->bytes bytes
 *
 * The data is zero- or sign-extended to the register's size; a 1 or 2
 * byte register merges into the GPR, a 4-byte one zero-extends to 64 bits.
 *
 * Return: the register's new value.
 */
u64 vmmu_emul_complete_read(const struct vmmu_emul_insn *insn, u64 reg,
			    u64 data)
{
	unsigned int bits = 8 * insn->bytes;
	u64 v = bits == 64 ? data : data & (BIT_ULL(bits) - 1);

	if (insn->ext == VMMU_EMUL_EXT_SIGN)
		v = sign_extend64(v, bits - 1);
	switch (insn->reg_bytes) {
	case 1:
		if (insn->high_byte)
			return (reg & ~0xff00ULL) | (v & 0xff) << 8;
		return (reg & ~0xffULL) | (v & 0xff);
	case 2:
		return (reg & ~0xffffULL) | (v & 0xffff);
	case 4:
		return (u32)v;
	default:
		return v;
	}
}
