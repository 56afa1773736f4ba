/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The software vCPU's modelled TLB.
 *
 * A direct-mapped cache of gfn -> pfn translations with their permissions.
 * Like a hardware TLB it holds no reference on the page: it is correct only
 * because the MMU flushes it (VMMU_REQ_TLB_FLUSH) before a page it may map is
 * freed.  That makes a missing flush visible as stale data, or as an oops
 * with DEBUG_PAGEALLOC, instead of a silent bug.
 */
#ifndef _VMMU_SW_TLB_H
#define _VMMU_SW_TLB_H

#include <linux/kvm_types.h>
#include <linux/string.h>
#include <linux/types.h>

#define VMMU_SW_TLB_ENTRIES	64

#define VMMU_SW_TLB_VALID	BIT(0)
#define VMMU_SW_TLB_WRITABLE	BIT(1)	/* writes allowed and D already set */
#define VMMU_SW_TLB_EXEC	BIT(2)

/**
 * struct vmmu_sw_tlb_entry - one cached translation
 * @gfn: guest frame
 * @pfn: host frame
 * @flags: VMMU_SW_TLB_*
 */
struct vmmu_sw_tlb_entry {
	gfn_t gfn;
	kvm_pfn_t pfn;
	u32 flags;
};

/**
 * struct vmmu_sw_tlb - the TLB of one software vCPU
 * @entries: direct-mapped by the low bits of the gfn
 * @flushes: times the TLB was flushed
 */
struct vmmu_sw_tlb {
	struct vmmu_sw_tlb_entry entries[VMMU_SW_TLB_ENTRIES];
	u64 flushes;
};

static inline struct vmmu_sw_tlb_entry *vmmu_sw_tlb_slot(struct vmmu_sw_tlb *tlb,
							 gfn_t gfn)
{
	return &tlb->entries[gfn % VMMU_SW_TLB_ENTRIES];
}

static inline void vmmu_sw_tlb_flush(struct vmmu_sw_tlb *tlb)
{
	memset(tlb->entries, 0, sizeof(tlb->entries));
	tlb->flushes++;
}

#endif /* _VMMU_SW_TLB_H */
