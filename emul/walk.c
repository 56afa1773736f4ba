// SPDX-License-Identifier: GPL-2.0
/*
 * Instruction fetch for the emulator: from CS:RIP through the guest's own
 * page tables to guest-physical memory, read through the memslots.
 *
 * The guest's paging mode is data: a struct emul_paging per mode (levels,
 * entry size, index bits, the highest level that may map a large page),
 * and one loop walks any of them.  Only translation matters here: the CPU
 * already fetched the instruction, so its permissions allowed it; the
 * walker checks presence and sets no accessed bit.
 *
 * A guest page-table entry that is not present, a table or instruction
 * byte in guest-physical memory without a memslot (MMIO), or a host
 * mapping that cannot be read makes the fetch fail; no #PF is injected.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include <vmmu/emul.h>
#include <vmmu/memslot.h>
#include <vmmu/vm.h>

#define EMUL_PTE_PRESENT	BIT_ULL(0)
#define EMUL_PTE_LARGE		BIT_ULL(7)
/* Bits 51:12 of a 64-bit entry: the next table or the page. */
#define EMUL_PTE_ADDR		GENMASK_ULL(51, 12)
/* PSE-36: bits 20:13 of a 4 MiB PDE are bits 39:32 of the address. */
#define EMUL_PSE36_LOW		13
#define EMUL_PSE36_MASK		0xffULL
/* A PAE CR3 points at 32-byte aligned PDPTEs. */
#define EMUL_PAE_CR3_ADDR	GENMASK_ULL(31, 5)

/**
 * struct emul_paging - one guest paging mode
 * @levels: levels of tables; level 1 maps 4 KiB pages
 * @pte_size: bytes per entry, 4 or 8
 * @index_bits: index bits per level (the top level takes what is left)
 * @large_level: highest level whose entry may map a page (PS), 0 if none
 * @cr3_mask: the bits of CR3 that hold the top table
 */
struct emul_paging {
	u8 levels;
	u8 pte_size;
	u8 index_bits;
	u8 large_level;
	u64 cr3_mask;
};

static const struct emul_paging emul_paging_32 = {
	.levels = 2, .pte_size = 4, .index_bits = 10, .large_level = 0,
	.cr3_mask = GENMASK_ULL(31, 12),
};

static const struct emul_paging emul_paging_32_pse = {
	.levels = 2, .pte_size = 4, .index_bits = 10, .large_level = 2,
	.cr3_mask = GENMASK_ULL(31, 12),
};

static const struct emul_paging emul_paging_pae = {
	.levels = 3, .pte_size = 8, .index_bits = 9, .large_level = 2,
	.cr3_mask = EMUL_PAE_CR3_ADDR,
};

static const struct emul_paging emul_paging_4level = {
	.levels = 4, .pte_size = 8, .index_bits = 9, .large_level = 3,
	.cr3_mask = EMUL_PTE_ADDR,
};

static const struct emul_paging emul_paging_5level = {
	.levels = 5, .pte_size = 8, .index_bits = 9, .large_level = 3,
	.cr3_mask = EMUL_PTE_ADDR,
};

/* The guest's paging mode, or NULL if paging is off. */
static const struct emul_paging *emul_paging(const struct vmmu_emul_ctxt *ctxt)
{
	if (!(ctxt->cr0 & X86_CR0_PG))
		return NULL;
	if (ctxt->efer & EFER_LMA)
		return ctxt->cr4 & X86_CR4_LA57 ? &emul_paging_5level :
						  &emul_paging_4level;
	if (ctxt->cr4 & X86_CR4_PAE)
		return &emul_paging_pae;
	return ctxt->cr4 & X86_CR4_PSE ? &emul_paging_32_pse : &emul_paging_32;
}

/**
 * vmmu_emul_mode() - how the CPU decodes the guest's code now
 * @ctxt: the guest state
 *
 * Return: 16-bit (real mode, virtual-8086 mode, a 16-bit code segment),
 * 32-bit, or 64-bit (long mode with CS.L).
 */
enum vmmu_emul_mode vmmu_emul_mode(const struct vmmu_emul_ctxt *ctxt)
{
	if (!(ctxt->cr0 & X86_CR0_PE) || (ctxt->rflags & X86_EFLAGS_VM))
		return VMMU_EMUL_MODE16;
	if ((ctxt->efer & EFER_LMA) && ctxt->cs_l)
		return VMMU_EMUL_MODE64;
	return ctxt->cs_db ? VMMU_EMUL_MODE32 : VMMU_EMUL_MODE16;
}

/**
 * vmmu_emul_read_gpa() - read guest-physical memory through the memslots
 * @vm: the VM; called from its process (the memslots' hvas are its)
 * @gpa: where
 * @buf: filled in
 * @len: bytes; [@gpa, @gpa + @len) stays within one page
 *
 * Read-only slots read normally.  May sleep (a host page fault, or
 * userfaultfd).
 *
 * Return: 0, -ENOENT (no memslot: MMIO), -EFAULT (the host mapping
 * cannot be read).
 */
int vmmu_emul_read_gpa(struct vmmu_vm *vm, u64 gpa, void *buf,
		       unsigned int len)
{
	gfn_t gfn = gpa >> PAGE_SHIFT;
	struct vmmu_memslot *slot;
	unsigned long hva;
	int idx, r = 0;

	idx = srcu_read_lock(&vm->srcu);
	slot = vmmu_memslots_find_valid(vmmu_memslots(vm), gfn);
	if (!slot) {
		r = -ENOENT;
	} else {
		hva = slot->userspace_addr +
		      ((gfn - slot->base_gfn) << PAGE_SHIFT) +
		      offset_in_page(gpa);
		if (copy_from_user(buf, (const void __user *)hva, len))
			r = -EFAULT;
	}
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}

/* Read the entry @index of the table at @table. */
static int emul_read_pte(struct vmmu_vm *vm, const struct emul_paging *pg,
			 u64 table, u64 index, u64 *pte)
{
	u32 pte32;
	int r;

	if (pg->pte_size == 8)
		return vmmu_emul_read_gpa(vm, table + index * 8, pte, 8);
	r = vmmu_emul_read_gpa(vm, table + index * 4, &pte32, 4);
	*pte = pte32;
	return r;
}

/* The page a leaf entry at @level maps, with the offset of @la in it. */
static u64 emul_leaf_gpa(const struct emul_paging *pg, u64 pte,
			 unsigned int shift, u64 la)
{
	u64 offset = la & (BIT_ULL(shift) - 1);
	u64 base = pte & EMUL_PTE_ADDR & ~(BIT_ULL(shift) - 1);

	/* A 32-bit 4 MiB page keeps bits 39:32 of its address in 20:13. */
	if (pg->pte_size == 4 && shift > PAGE_SHIFT)
		base = (pte & GENMASK_ULL(31, shift)) |
		       ((pte >> EMUL_PSE36_LOW) & EMUL_PSE36_MASK) << 32;
	return base | offset;
}

/*
 * Translate the linear address @la through the guest's tables.
 * Return: 0, -ENOENT (not present, or a table without memory), -EFAULT.
 */
static int emul_translate(const struct vmmu_emul_ctxt *ctxt, u64 la, u64 *gpa)
{
	const struct emul_paging *pg = emul_paging(ctxt);
	u64 table, pte, index;
	unsigned int level, shift;
	int r;

	if (!pg) {
		*gpa = la;
		return 0;
	}
	table = ctxt->cr3 & pg->cr3_mask;
	for (level = pg->levels; level; level--) {
		shift = PAGE_SHIFT + (level - 1) * pg->index_bits;
		index = (la >> shift) & (BIT_ULL(pg->index_bits) - 1);
		r = emul_read_pte(ctxt->vm, pg, table, index, &pte);
		if (r)
			return r;
		if (!(pte & EMUL_PTE_PRESENT))
			return -ENOENT;
		if (level == 1 ||
		    (level <= pg->large_level && (pte & EMUL_PTE_LARGE))) {
			*gpa = emul_leaf_gpa(pg, pte, shift, la);
			return 0;
		}
		table = pte & EMUL_PTE_ADDR;
	}
	return -ENOENT;	/* not reached: level 1 is always a leaf */
}

/* Read @len bytes at linear @la, all within one page. */
static int emul_read_linear(const struct vmmu_emul_ctxt *ctxt, u64 la,
			    u8 *buf, unsigned int len)
{
	u64 gpa;
	int r;

	r = emul_translate(ctxt, la, &gpa);
	if (r)
		return r;
	return vmmu_emul_read_gpa(ctxt->vm, gpa, buf, len);
}

/**
 * vmmu_emul_fetch() - read the instruction bytes at CS:RIP
 * @ctxt: the guest state
 * @buf: VMMU_EMUL_MAX_INSN bytes, filled in
 * @len: out: how many bytes were read
 *
 * Reads VMMU_EMUL_MAX_INSN bytes, in two parts when they cross a page.
 * Failing to read the second page is not an error: the instruction may
 * end before it (the decoder says if it does not).
 *
 * Return: 0 with at least one byte read, or -ENOENT / -EFAULT if the first
 * byte cannot be read.
 */
int vmmu_emul_fetch(const struct vmmu_emul_ctxt *ctxt, u8 *buf,
		    unsigned int *len)
{
	bool code64 = vmmu_emul_mode(ctxt) == VMMU_EMUL_MODE64;
	u64 la = code64 ? ctxt->rip : (u32)(ctxt->cs_base + ctxt->rip);
	unsigned int first;
	int r;

	first = min_t(unsigned int, VMMU_EMUL_MAX_INSN,
		      PAGE_SIZE - offset_in_page(la));
	r = emul_read_linear(ctxt, la, buf, first);
	if (r)
		return r;
	*len = first;
	if (first == VMMU_EMUL_MAX_INSN)
		return 0;
	la += first;
	if (!code64)
		la = (u32)la;
	if (!emul_read_linear(ctxt, la, buf + first,
			      VMMU_EMUL_MAX_INSN - first))
		*len = VMMU_EMUL_MAX_INSN;
	return 0;
}
