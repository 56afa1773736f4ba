/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The iTLB-multihit workaround: non-executable huge leaves (mmu/nx_huge.c).
 */
#ifndef _VMMU_NX_HUGE_H
#define _VMMU_NX_HUGE_H

#include <linux/types.h>

struct vmmu_vm;

bool vmmu_nx_huge_pages_enabled(void);
void vmmu_nx_huge_vm_init(struct vmmu_vm *vm);
void vmmu_nx_huge_vm_destroy(struct vmmu_vm *vm);

#endif /* _VMMU_NX_HUGE_H */
