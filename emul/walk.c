// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory for the emulator: from a linear address through the guest's
 * own page tables to guest-physical memory, read and written through the
 * memslots.
 *
 * The guest's paging mode is data: a struct emul_paging per mode (levels,
 * entry size, index bits, the highest level that may map a large page,
 * the highest level whose entries hold R/W and U/S), and one loop walks
 * any of them.  The fetch of CS:RIP checks presence only: the CPU already
 * fetched the instruction, so its permissions allowed it.  A data access
 * (string I/O) checks the rights too: a write needs R/W at every level
 * unless CR0.WP is clear and the access is a supervisor one, a user access
 * (CPL 3) needs U/S at every level; a failure is a guest #PF (struct
 * vmmu_emul_pf) for the caller to inject.  No accessed or dirty bit is
 * set, and reserved bits are not checked.
 *
 * A table or data byte in guest-physical memory without a memslot (MMIO),
 * a write to a read-only memslot, or a host mapping that cannot be read or
 * written makes the access fail without a #PF.  Writes mark the page dirty
 * (dirty bitmap or ring) as the MMU's other kernel writes do.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include <vmmu/emul.h>
#include <vmmu/memslot.h>
#include <vmmu/mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#define EMUL_PTE_PRESENT	BIT_ULL(0)
#define EMUL_PTE_WRITE		BIT_ULL(1)
#define EMUL_PTE_USER		BIT_ULL(2)
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
 * @rights_level: highest level whose entries hold R/W and U/S (PAE's
 *	PDPTEs have neither)
 * @cr3_mask: the bits of CR3 that hold the top table
 */
struct emul_paging {
	u8 levels;
	u8 pte_size;
	u8 index_bits;
	u8 large_level;
	u8 rights_level;
	u64 cr3_mask;
};

static const struct emul_paging emul_paging_32 = {
	.levels = 2, .pte_size = 4, .index_bits = 10, .large_level = 0,
	.rights_level = 2, .cr3_mask = GENMASK_ULL(31, 12),
};

static const struct emul_paging emul_paging_32_pse = {
	.levels = 2, .pte_size = 4, .index_bits = 10, .large_level = 2,
	.rights_level = 2, .cr3_mask = GENMASK_ULL(31, 12),
};

static const struct emul_paging emul_paging_pae = {
	.levels = 3, .pte_size = 8, .index_bits = 9, .large_level = 2,
	.rights_level = 2, .cr3_mask = EMUL_PAE_CR3_ADDR,
};

static const struct emul_paging emul_paging_4level = {
	.levels = 4, .pte_size = 8, .index_bits = 9, .large_level = 3,
	.rights_level = 4, .cr3_mask = EMUL_PTE_ADDR,
};

static const struct emul_paging emul_paging_5level = {
	.levels = 5, .pte_size = 8, .index_bits = 9, .large_level = 3,
	.rights_level = 5, .cr3_mask = EMUL_PTE_ADDR,
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

/* The host address of @gpa in @slot, which maps it. */
static unsigned long emul_gpa_hva(const struct vmmu_memslot *slot, u64 gpa)
{
	return slot->userspace_addr +
	       (((gpa >> PAGE_SHIFT) - slot->base_gfn) << PAGE_SHIFT) +
	       offset_in_page(gpa);
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
		hva = emul_gpa_hva(slot, gpa);
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

/* Do the rights the walk collected allow the access? */
static bool emul_rights_ok(const struct vmmu_emul_ctxt *ctxt, u32 access,
			   u64 rights)
{
	if ((access & VMMU_PFERR_USER) && !(rights & EMUL_PTE_USER))
		return false;
	/* A supervisor write ignores R/W while CR0.WP is clear. */
	if ((access & VMMU_PFERR_WRITE) && !(rights & EMUL_PTE_WRITE))
		return !(access & VMMU_PFERR_USER) && !(ctxt->cr0 & X86_CR0_WP);
	return true;
}

/*
 * Translate the linear address @la through the guest's tables for an
 * access of kind @access (VMMU_PFERR_WRITE, _USER; 0 checks presence only).
 * Return: 0, -EACCES (a guest #PF, described in @pf), -ENOENT (a table
 * without memory), -EFAULT.
 */
static int emul_walk(const struct vmmu_emul_ctxt *ctxt, u64 la, u32 access,
		     u64 *gpa, struct vmmu_emul_pf *pf)
{
	const struct emul_paging *pg = emul_paging(ctxt);
	u64 rights = EMUL_PTE_WRITE | EMUL_PTE_USER;
	u64 table, pte, index;
	unsigned int level, shift;
	int r;

	if (!pg) {
		*gpa = la;
		return 0;
	}
	pf->addr = la;
	pf->error_code = access;
	table = ctxt->cr3 & pg->cr3_mask;
	for (level = pg->levels; level; level--) {
		shift = PAGE_SHIFT + (level - 1) * pg->index_bits;
		index = (la >> shift) & (BIT_ULL(pg->index_bits) - 1);
		r = emul_read_pte(ctxt->vm, pg, table, index, &pte);
		if (r)
			return r;
		if (!(pte & EMUL_PTE_PRESENT))
			return -EACCES;
		if (level <= pg->rights_level)
			rights &= pte;
		if (level == 1 ||
		    (level <= pg->large_level && (pte & EMUL_PTE_LARGE)))
			break;
		table = pte & EMUL_PTE_ADDR;
	}
	if (!emul_rights_ok(ctxt, access, rights)) {
		pf->error_code |= VMMU_PFERR_PRESENT;
		return -EACCES;
	}
	*gpa = emul_leaf_gpa(pg, pte, shift, la);
	return 0;
}

/**
 * vmmu_emul_translate() - the guest-physical address of a data access
 * @ctxt: the guest state (paging mode, CR3, CR0.WP, CPL)
 * @la: the linear address
 * @write: a write (else a read)
 * @gpa: out: the guest-physical address
 * @pf: out, on -EACCES: the #PF the access raises (CR2 and error code)
 *
 * The access is a user one at CPL 3.  Without paging @la is the gpa.
 *
 * Return: 0, -EACCES (a guest #PF), -ENOENT (a guest table without
 * memory), -EFAULT (a host mapping that cannot be read).
 */
int vmmu_emul_translate(const struct vmmu_emul_ctxt *ctxt, u64 la,
			bool write, u64 *gpa, struct vmmu_emul_pf *pf)
{
	u32 access = write ? VMMU_PFERR_WRITE : 0;

	if (ctxt->cpl == 3)
		access |= VMMU_PFERR_USER;
	return emul_walk(ctxt, la, access, gpa, pf);
}

/* Read @len bytes at linear @la, all within one page (a fetch). */
static int emul_read_linear(const struct vmmu_emul_ctxt *ctxt, u64 la,
			    u8 *buf, unsigned int len)
{
	struct vmmu_emul_pf pf;
	u64 gpa;
	int r;

	r = emul_walk(ctxt, la, 0, &gpa, &pf);
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
 * Return: 0 with at least one byte read, or -EACCES (not mapped) / -ENOENT
 * / -EFAULT if the first byte cannot be read.
 */
int vmmu_emul_fetch(const struct vmmu_emul_ctxt *ctxt, u8 *buf,
		    unsigned int *len)
{
	bool code64 = vmmu_emul_mode(ctxt) == VMMU_EMUL_MODE64;
	u64 la = code64 ? ctxt->rip :
			  (u32)(ctxt->seg_base[VMMU_EMUL_CS] + ctxt->rip);
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

/*
 * A linear range of at most a page, in one or two pages: the gpa of each
 * part.  In 32-bit and 16-bit modes linear addresses wrap at 4 GiB.
 */
struct emul_span {
	unsigned int nr;
	u64 gpa[2];
	unsigned int len[2];
};

static int emul_span_translate(const struct vmmu_emul_ctxt *ctxt, u64 la,
			       unsigned int len, bool write,
			       struct emul_span *span, struct vmmu_emul_pf *pf)
{
	unsigned int i;
	int r;

	if (WARN_ON_ONCE(!len || len > PAGE_SIZE))
		return -EINVAL;
	span->len[0] = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(la));
	span->len[1] = len - span->len[0];
	span->nr = span->len[1] ? 2 : 1;
	for (i = 0; i < span->nr; i++) {
		r = vmmu_emul_translate(ctxt, la, write, &span->gpa[i], pf);
		if (r)
			return r;
		la += span->len[i];
		if (vmmu_emul_mode(ctxt) != VMMU_EMUL_MODE64)
			la = (u32)la;
	}
	return 0;
}

/*
 * The slot of each part of @span in @set (read-only slots only for a
 * read), or -ENOENT: MMIO.
 */
static int emul_span_slots(struct vmmu_memslots *set,
			   const struct emul_span *span, bool write,
			   struct vmmu_memslot **slots)
{
	unsigned int i;

	for (i = 0; i < span->nr; i++) {
		slots[i] = vmmu_memslots_find_valid(set,
						    span->gpa[i] >> PAGE_SHIFT);
		if (!slots[i] ||
		    (write && (slots[i]->flags & KVM_MEM_READONLY)))
			return -ENOENT;
	}
	return 0;
}

/**
 * vmmu_emul_probe_linear() - could a data access be made now?
 * @ctxt: the guest state
 * @la: the linear address
 * @len: bytes, at most a page (two pages at most are touched)
 * @write: a write (else a read)
 * @pf: out, on -EACCES: the #PF the access raises
 *
 * Translates every part and finds its memslot, touching no data: an INS
 * checks its destination before userspace reads the port.  The answer may
 * be stale as soon as it is given; vmmu_emul_write_linear() looks again.
 *
 * Return: 0, -EACCES (a guest #PF), -ENOENT (MMIO: a table or the data
 * without a memslot, or a write to a read-only one), -EFAULT.
 */
int vmmu_emul_probe_linear(const struct vmmu_emul_ctxt *ctxt, u64 la,
			   unsigned int len, bool write,
			   struct vmmu_emul_pf *pf)
{
	struct vmmu_memslot *slots[2];
	struct emul_span span;
	int idx, r;

	r = emul_span_translate(ctxt, la, len, write, &span, pf);
	if (r)
		return r;
	idx = srcu_read_lock(&ctxt->vm->srcu);
	r = emul_span_slots(vmmu_memslots(ctxt->vm), &span, write, slots);
	srcu_read_unlock(&ctxt->vm->srcu, idx);
	return r;
}

/**
 * vmmu_emul_read_linear() - read guest memory at a linear address
 * @ctxt: the guest state
 * @la: the linear address
 * @buf: filled in
 * @len: bytes, at most a page
 * @pf: out, on -EACCES: the #PF the access raises
 *
 * Every part is translated before anything is read.  May sleep.
 *
 * Return: as vmmu_emul_probe_linear(); -EFAULT also when the host mapping
 * cannot be read.
 */
int vmmu_emul_read_linear(const struct vmmu_emul_ctxt *ctxt, u64 la,
			  void *buf, unsigned int len, struct vmmu_emul_pf *pf)
{
	struct emul_span span;
	unsigned int i;
	int r;

	r = emul_span_translate(ctxt, la, len, false, &span, pf);
	for (i = 0; !r && i < span.nr; i++) {
		r = vmmu_emul_read_gpa(ctxt->vm, span.gpa[i], buf, span.len[i]);
		buf += span.len[i];
	}
	return r;
}

/**
 * vmmu_emul_write_linear() - write guest memory at a linear address
 * @vcpu: the vCPU on whose behalf (and thread) the write is made
 * @ctxt: the guest state
 * @la: the linear address
 * @buf: the data
 * @len: bytes, at most a page
 * @pf: out, on -EACCES: the #PF the access raises
 *
 * Every part is translated, and its memslot looked up now, in one memslot
 * set, before anything is written: a part without a writable slot means
 * nothing is written at all.  The data goes through the slots' hvas with
 * copy_to_user() (never a cached kernel mapping), so memory unmapped
 * meanwhile is never touched; each page is marked dirty in its slot's
 * bitmap or the vCPU's ring (vmmu_mark_page_dirty_in_slot()), also after
 * a partial copy.  May sleep (a host page fault, userfaultfd: only a fatal
 * signal ends that wait); memslot updates wait for it (SRCU).
 *
 * Return: as vmmu_emul_probe_linear(); -EFAULT also when the host mapping
 * cannot be written (a part may have been).
 */
int vmmu_emul_write_linear(struct vmmu_vcpu *vcpu,
			   const struct vmmu_emul_ctxt *ctxt, u64 la,
			   const void *buf, unsigned int len,
			   struct vmmu_emul_pf *pf)
{
	struct vmmu_vm *vm = ctxt->vm;
	struct vmmu_memslot *slots[2];
	struct emul_span span;
	unsigned long hva;
	unsigned int i;
	int idx, r;

	r = emul_span_translate(ctxt, la, len, true, &span, pf);
	if (r)
		return r;
	idx = srcu_read_lock(&vm->srcu);
	r = emul_span_slots(vmmu_memslots(vm), &span, true, slots);
	for (i = 0; !r && i < span.nr; i++) {
		hva = emul_gpa_hva(slots[i], span.gpa[i]);
		if (copy_to_user((void __user *)hva, buf, span.len[i]))
			r = -EFAULT;
		vmmu_mark_page_dirty_in_slot(vcpu, slots[i],
					     span.gpa[i] >> PAGE_SHIFT);
		buf += span.len[i];
	}
	srcu_read_unlock(&vm->srcu, idx);
	return r;
}
