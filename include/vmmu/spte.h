/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SPTE encoding: the format of the TDP page tables as data.
 *
 * A VM's tables are either Intel EPT or AMD NPT (x86-64 page tables used as
 * nested tables), 4 or 5 levels deep.  Which one is a per-VM
 * struct vmmu_spte_format; everything that builds or reads an entry goes
 * through the inline helpers here, so no walker ever asks "EPT or NPT?".
 */
#ifndef _VMMU_SPTE_H
#define _VMMU_SPTE_H

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/kvm_types.h>
#include <linux/types.h>
#include <asm/page.h>

#define VMMU_PT_ENTRIES		512
#define VMMU_LEVEL_BITS		9
#define VMMU_MAX_LEVEL		5
#define VMMU_PG_LEVEL_4K	1
#define VMMU_PG_LEVEL_2M	2
#define VMMU_PG_LEVEL_1G	3

/* EPT entry bits (Intel SDM vol. 3, "EPT Paging-Structure Entries"). */
#define EPT_READABLE		BIT_ULL(0)
#define EPT_WRITABLE		BIT_ULL(1)
#define EPT_EXECUTABLE		BIT_ULL(2)
#define EPT_MT_WB		(6ULL << 3)
#define EPT_IGNORE_PAT		BIT_ULL(6)
#define EPT_LARGE		BIT_ULL(7)
#define EPT_ACCESSED		BIT_ULL(8)
#define EPT_DIRTY		BIT_ULL(9)
#define EPT_SUPPRESS_VE		BIT_ULL(63)

/* x86-64 page-table bits, as NPT uses them. */
#define NPT_PRESENT		BIT_ULL(0)
#define NPT_WRITABLE		BIT_ULL(1)
#define NPT_USER		BIT_ULL(2)
#define NPT_ACCESSED		BIT_ULL(5)
#define NPT_DIRTY		BIT_ULL(6)
#define NPT_LARGE		BIT_ULL(7)
#define NPT_NX			BIT_ULL(63)

#define VMMU_SPTE_PFN_MASK	GENMASK_ULL(51, 12)

/*
 * Software bits: ignored by the hardware in both formats (bits 52-58 are
 * "ignored" in EPT entries and in 4- and 5-level x86-64 entries).
 */
#define VMMU_SPTE_SW_MASK	GENMASK_ULL(58, 52)

/*
 * A frozen entry: not present in either format, and never a value the MMU
 * installs.  A zap under the read lock freezes a non-leaf entry while it
 * takes the table below apart, so a concurrent cmpxchg on it fails and the
 * racing fault retries.
 */
#define VMMU_SPTE_FROZEN	BIT_ULL(58)

#define EPT_HW_MASK	(EPT_READABLE | EPT_WRITABLE | EPT_EXECUTABLE | \
			 GENMASK_ULL(6, 3) | EPT_LARGE | EPT_ACCESSED | \
			 EPT_DIRTY | BIT_ULL(10) | VMMU_SPTE_PFN_MASK | \
			 EPT_SUPPRESS_VE)
#define NPT_HW_MASK	(GENMASK_ULL(8, 0) | VMMU_SPTE_PFN_MASK | NPT_NX)

/*
 * A leaf that was installed writable: GUP gave the page with write access
 * and the page was marked dirty for the host (set_page_dirty_lock()).  A
 * write fault on it, while it is write-protected for dirty logging, may be
 * fixed without asking the host again: the host cannot take write access
 * back, or clean the page, without an mmu_notifier invalidation, which
 * removes the leaf first.  (A leaf a read fault maps read-only does not
 * have it, even over a host-writable page: its page was never marked
 * dirty for the host, so its first write takes the slow path.)
 */
#define VMMU_SPTE_HOST_WRITABLE	BIT_ULL(57)
/*
 * A leaf the MMU itself allows writes to.  Dirty logging clears only the
 * hardware writable bit and keeps this one, so the lockless fast path may
 * restore the write; whatever must not be written behind the MMU's back
 * (a guest page table under shadow paging) clears this bit too.  Set only
 * together with VMMU_SPTE_HOST_WRITABLE.
 */
#define VMMU_SPTE_MMU_WRITABLE	BIT_ULL(56)

static_assert(!(VMMU_SPTE_SW_MASK & EPT_HW_MASK));
static_assert(!(VMMU_SPTE_SW_MASK & NPT_HW_MASK));
static_assert(VMMU_SPTE_FROZEN & VMMU_SPTE_SW_MASK);
static_assert((VMMU_SPTE_HOST_WRITABLE | VMMU_SPTE_MMU_WRITABLE) &
	      VMMU_SPTE_SW_MASK);

enum vmmu_spte_kind {
	VMMU_SPTE_EPT = 1,
	VMMU_SPTE_NPT = 2,
};

/**
 * struct vmmu_spte_format - how one VM's tables encode entries
 * @kind: VMMU_SPTE_EPT or VMMU_SPTE_NPT
 * @root_level: 4 or 5
 * @gpa_bits: guest-physical address bits the VM may use: what a root of
 *	@root_level maps, but no more than the host's MAXPHYADDR
 * @max_leaf_level: the largest leaf the vCPUs' walker takes: 1G
 *	(VMMU_PG_LEVEL_1G) for the software vCPU, what the CPU supports for a
 *	hardware one (vmmu_spte_format_limit_leaf())
 * @present: an entry is present when any of these bits is set
 * @writable: allows writes
 * @exec: allows fetches (EPT); 0 if the format has an NX bit instead
 * @nx: forbids fetches (NPT); 0 if the format has an exec bit instead
 * @accessed: set by the walker on use
 * @dirty: set by the walker on a write through a leaf
 * @large: marks a leaf above level 1
 * @leaf_base: bits every leaf has (EPT: R, WB, ignore PAT; NPT: P, U)
 * @table_base: bits every non-leaf entry has
 */
struct vmmu_spte_format {
	enum vmmu_spte_kind kind;
	int root_level;
	int gpa_bits;
	int max_leaf_level;
	u64 present;
	u64 writable;
	u64 exec;
	u64 nx;
	u64 accessed;
	u64 dirty;
	u64 large;
	u64 leaf_base;
	u64 table_base;
};

void vmmu_spte_format_init(struct vmmu_spte_format *fmt,
			   enum vmmu_spte_kind kind, int root_level);
void vmmu_spte_format_limit_leaf(struct vmmu_spte_format *fmt,
				 int max_leaf_level);
int vmmu_host_phys_bits(void);

/* Guest frames mapped by one entry at @level. */
static inline u64 vmmu_level_pages(int level)
{
	return 1ULL << ((level - 1) * VMMU_LEVEL_BITS);
}

/* Index of @gfn's entry in a table at @level. */
static inline int vmmu_level_index(gfn_t gfn, int level)
{
	return (gfn >> ((level - 1) * VMMU_LEVEL_BITS)) & (VMMU_PT_ENTRIES - 1);
}

/* Guest-physical address bits a root of @root_level maps (at most 52). */
static inline int vmmu_gpa_bits(int root_level)
{
	int bits = PAGE_SHIFT + root_level * VMMU_LEVEL_BITS;

	return bits > 52 ? 52 : bits;
}

/**
 * vmmu_gpa_range_in_reach() - may a VM's tables map [@gpa, @gpa + @len)?
 * @fmt: the VM's format
 * @gpa: first guest-physical address
 * @len: bytes; 0 checks @gpa alone
 *
 * The one check every guest-physical address passes before it can reach
 * a table walk: beyond @fmt->gpa_bits vmmu_level_index() would drop the
 * high bits and the address would alias a low gfn.  No memslot ends beyond
 * it, so whatever fails it is MMIO to the guest (design.rst).
 */
static inline bool vmmu_gpa_range_in_reach(const struct vmmu_spte_format *fmt,
					   u64 gpa, u64 len)
{
	u64 limit = 1ULL << fmt->gpa_bits;

	return gpa < limit && len <= limit - gpa;
}

static inline bool spte_present(const struct vmmu_spte_format *fmt, u64 spte)
{
	return spte & fmt->present;
}

static inline bool spte_frozen(u64 spte)
{
	return spte == VMMU_SPTE_FROZEN;
}

static inline bool spte_leaf(const struct vmmu_spte_format *fmt, u64 spte,
			     int level)
{
	return level == VMMU_PG_LEVEL_4K || (spte & fmt->large);
}

static inline bool spte_writable(const struct vmmu_spte_format *fmt, u64 spte)
{
	return spte & fmt->writable;
}

static inline bool spte_executable(const struct vmmu_spte_format *fmt,
				   u64 spte)
{
	return fmt->exec ? spte & fmt->exec : !(spte & fmt->nx);
}

static inline bool spte_accessed(const struct vmmu_spte_format *fmt, u64 spte)
{
	return spte & fmt->accessed;
}

static inline bool spte_dirty(const struct vmmu_spte_format *fmt, u64 spte)
{
	return spte & fmt->dirty;
}

static inline kvm_pfn_t spte_pfn(u64 spte)
{
	return (spte & VMMU_SPTE_PFN_MASK) >> PAGE_SHIFT;
}

/* The table a present non-leaf entry points to. */
static inline u64 *spte_child_table(u64 spte)
{
	return __va(spte & VMMU_SPTE_PFN_MASK);
}

static inline u64 spte_make_table(const struct vmmu_spte_format *fmt,
				  u64 *table)
{
	return fmt->table_base | __pa(table);
}

/*
 * May a write fault on @spte be fixed by setting the writable bit alone?
 * True for a present leaf that was writable and that dirty logging
 * write-protected.
 */
static inline bool spte_can_fast_unprotect(const struct vmmu_spte_format *fmt,
					   u64 spte)
{
	u64 both = VMMU_SPTE_HOST_WRITABLE | VMMU_SPTE_MMU_WRITABLE;

	return spte_present(fmt, spte) && !spte_writable(fmt, spte) &&
	       (spte & both) == both;
}

/**
 * spte_make_leaf() - a leaf entry mapping @pfn
 * @fmt: the VM's format
 * @pfn: host page frame
 * @level: level of the entry (1 = 4 KiB)
 * @writable: allow writes; sets VMMU_SPTE_HOST_WRITABLE and
 *	VMMU_SPTE_MMU_WRITABLE too
 * @exec: allow fetches
 */
static inline u64 spte_make_leaf(const struct vmmu_spte_format *fmt,
				 kvm_pfn_t pfn, int level, bool writable,
				 bool exec)
{
	u64 spte = fmt->leaf_base | ((u64)pfn << PAGE_SHIFT);

	if (writable)
		spte |= fmt->writable | VMMU_SPTE_HOST_WRITABLE |
			VMMU_SPTE_MMU_WRITABLE;
	spte |= exec ? fmt->exec : fmt->nx;
	if (level > VMMU_PG_LEVEL_4K)
		spte |= fmt->large;
	return spte;
}

#endif /* _VMMU_SPTE_H */
