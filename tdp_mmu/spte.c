// SPDX-License-Identifier: GPL-2.0
/*
 * SPTE formats: the two encodings vmmu builds tables in.
 */
#include <vmmu/spte.h>

/**
 * vmmu_spte_format_init() - describe EPT or NPT entries
 * @fmt: filled in
 * @kind: VMMU_SPTE_EPT or VMMU_SPTE_NPT
 * @root_level: 4 or 5
 *
 * Accessed and dirty bits are always in use: the software vCPU sets them,
 * and hardware does when the backend enables them.
 */
void vmmu_spte_format_init(struct vmmu_spte_format *fmt,
			   enum vmmu_spte_kind kind, int root_level)
{
	fmt->kind = kind;
	fmt->root_level = root_level;
	if (kind == VMMU_SPTE_EPT) {
		fmt->present = EPT_READABLE | EPT_WRITABLE | EPT_EXECUTABLE;
		fmt->writable = EPT_WRITABLE;
		fmt->exec = EPT_EXECUTABLE;
		fmt->nx = 0;
		fmt->accessed = EPT_ACCESSED;
		fmt->dirty = EPT_DIRTY;
		fmt->large = EPT_LARGE;
		fmt->leaf_base = EPT_READABLE | EPT_MT_WB | EPT_IGNORE_PAT;
		fmt->table_base = EPT_READABLE | EPT_WRITABLE | EPT_EXECUTABLE;
	} else {
		fmt->present = NPT_PRESENT;
		fmt->writable = NPT_WRITABLE;
		fmt->exec = 0;
		fmt->nx = NPT_NX;
		fmt->accessed = NPT_ACCESSED;
		fmt->dirty = NPT_DIRTY;
		fmt->large = NPT_LARGE;
		/* Nested walks are user accesses: U on every level. */
		fmt->leaf_base = NPT_PRESENT | NPT_USER;
		fmt->table_base = NPT_PRESENT | NPT_WRITABLE | NPT_USER;
	}
}
