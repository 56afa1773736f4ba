// SPDX-License-Identifier: GPL-2.0
/*
 * The arithmetic of INS and OUTS: where the memory operand is, how many
 * elements one exit to userspace carries, and how rSI, rDI and rCX move.
 *
 * The memory operand is at segment base + rSI (OUTS) or rDI (INS), the
 * register taken at the address size (16, 32 or 64 bits); in 64-bit mode
 * only FS and GS have a base, elsewhere the linear address wraps at 4 GiB.
 * With REP, rCX (at the address size) counts the elements; RFLAGS.DF makes
 * the registers count down.
 *
 * One exit carries a batch of elements, as KVM's does, so that a REP of a
 * page costs one exit instead of thousands: never more than rCX, never more
 * than the I/O data page holds, and never across a guest-linear page
 * boundary, so that the batch needs one translation (only a single element
 * may straddle two pages: a batch of one, in two parts).  A batch never
 * crosses the wrap of the address size either; an element that would is
 * not emulated.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <asm/processor-flags.h>

#include <vmmu/emul.h>

/**
 * vmmu_emul_addr_mask() - the bits of rSI, rDI and rCX an address size uses
 * @addr_bytes: 2, 4 or 8
 *
 * Return: the mask.
 */
u64 vmmu_emul_addr_mask(unsigned int addr_bytes)
{
	return addr_bytes == 8 ? ~0ULL : BIT_ULL(8 * addr_bytes) - 1;
}

/**
 * vmmu_emul_addr_set() - a register after a string instruction moved it
 * @reg: its value before
 * @val: the new value at the address size
 * @addr_bytes: 2 (the low 16 bits change), 4 (a 32-bit write: bits 63:32
 *	are cleared, as for any 32-bit register write), 8
 *
 * Return: the register's new value.
 */
u64 vmmu_emul_addr_set(u64 reg, u64 val, unsigned int addr_bytes)
{
	if (addr_bytes == 2)
		return (reg & ~0xffffULL) | (val & 0xffff);
	return val & vmmu_emul_addr_mask(addr_bytes);
}

/**
 * vmmu_emul_string_io_la() - the linear address of the next element
 * @ctxt: the guest state (segment bases)
 * @mode: the mode the instruction was decoded in
 * @sio: the instruction
 * @reg: rDI for INS, rSI for OUTS
 *
 * Return: the linear address (32 bits outside 64-bit mode).
 */
u64 vmmu_emul_string_io_la(const struct vmmu_emul_ctxt *ctxt,
			   enum vmmu_emul_mode mode,
			   const struct vmmu_emul_string_io *sio, u64 reg)
{
	u64 off = reg & vmmu_emul_addr_mask(sio->addr_bytes);
	u64 base = ctxt->seg_base[sio->seg];

	if (mode == VMMU_EMUL_MODE64)
		return sio->seg == VMMU_EMUL_FS || sio->seg == VMMU_EMUL_GS ?
		       base + off : off;
	return (u32)(base + off);
}

/**
 * vmmu_emul_string_io_batch() - how many elements the next exit carries
 * @sio: the instruction
 * @reg: rDI for INS, rSI for OUTS
 * @la: the linear address of the first element (vmmu_emul_string_io_la())
 * @df: RFLAGS.DF: the elements go downwards from @la
 * @left: elements left: rCX at the address size with REP, else 1 (not 0)
 *
 * Return: at least 1, or 0 if the first element crosses the wrap of the
 * address size (not emulated).
 */
unsigned int vmmu_emul_string_io_batch(const struct vmmu_emul_string_io *sio,
				       u64 reg, u64 la, bool df, u64 left)
{
	u64 off = reg & vmmu_emul_addr_mask(sio->addr_bytes);
	u64 mask = vmmu_emul_addr_mask(sio->addr_bytes);
	unsigned int size = sio->size;
	u64 page_room, wrap_room = U64_MAX;

	if (sio->addr_bytes < 8 && mask - off + 1 < size)
		return 0;
	/* Bytes the batch may take in its page and before the wrap. */
	if (df) {
		page_room = offset_in_page(la) + size;
		if (sio->addr_bytes < 8)
			wrap_room = off + size;
	} else {
		page_room = PAGE_SIZE - offset_in_page(la);
		if (sio->addr_bytes < 8)
			wrap_room = mask - off + 1;
	}
	/* The first element straddles two pages: a batch of one. */
	if (page_room < size || page_room > PAGE_SIZE)
		return 1;
	return min3(left, min(page_room, wrap_room) / size,
		    (u64)(PAGE_SIZE / size));
}

/**
 * vmmu_emul_reverse() - reverse the order of elements in a buffer
 * @buf: @n elements of @size bytes
 * @n: how many
 * @size: 1, 2 or 4
 *
 * With RFLAGS.DF the I/O data page holds the elements in the order the
 * port sees them, the first at the highest address in memory.
 */
void vmmu_emul_reverse(void *buf, unsigned int n, unsigned int size)
{
	u8 *lo = buf, *hi = lo + (n - 1) * size, tmp[4];

	for (; lo < hi; lo += size, hi -= size) {
		memcpy(tmp, lo, size);
		memcpy(lo, hi, size);
		memcpy(hi, tmp, size);
	}
}
