/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tdp_iter: the one walker of TDP tables.
 *
 * A pre-order iterator over the entries of a root that map a gfn range,
 * down to a minimum level.  Every walk in vmmu (map, zap, translate) uses it.
 * Tables are freed only after an RCU grace period, so the walk holds
 * rcu_read_lock() and may run in parallel with changes: it reads each entry
 * once into @old_spte and never follows a pointer it has not read.
 *
 * A walk that yields (drops mmu_lock and RCU) restarts from the root at
 * @next_gfn, the first gfn it has not finished; it yields again only after
 * making progress, so it always terminates.
 */
#ifndef _VMMU_TDP_ITER_H
#define _VMMU_TDP_ITER_H

#include <linux/kvm_types.h>
#include <linux/rcupdate.h>

#include <vmmu/spte.h>

/**
 * struct tdp_iter - state of a walk
 * @fmt: the VM's entry format
 * @pt_path: the table at each level on the path to the current entry;
 *	index level - 1
 * @sptep: the current entry
 * @old_spte: the value of *@sptep when it was read
 * @gfn: first gfn mapped by the current entry
 * @next_gfn: the lowest gfn not yet finished; where a restart resumes
 * @yielded_gfn: @next_gfn at the last restart; yielding needs progress
 * @root_level: level of the root table
 * @min_level: the walk does not go below this level
 * @level: level of the current entry
 * @valid: false once the walk is over
 * @yielded: the walk dropped its locks; the next step restarts it
 */
struct tdp_iter {
	const struct vmmu_spte_format *fmt;
	u64 *pt_path[VMMU_MAX_LEVEL];
	u64 *sptep;
	u64 old_spte;
	gfn_t gfn;
	gfn_t next_gfn;
	gfn_t yielded_gfn;
	int root_level;
	int min_level;
	int level;
	bool valid;
	bool yielded;
};

struct vmmu_mmu_page;

struct tdp_iter *tdp_iter_start(struct tdp_iter *iter,
				const struct vmmu_spte_format *fmt,
				struct vmmu_mmu_page *root, int min_level,
				gfn_t start);
void tdp_iter_next(struct tdp_iter *iter);

/* Is the walk still on an entry that starts below @end? */
static inline bool tdp_iter_before(const struct tdp_iter *iter, gfn_t end)
{
	return iter->valid && iter->gfn < end;
}

void tdp_iter_restart(struct tdp_iter *iter);

/**
 * for_each_tdp_pte_min_level() - visit entries mapping [@start, @end)
 * @iter: struct tdp_iter
 * @root: struct vmmu_mmu_page of the root
 * @fmt: the VM's format
 * @min_level: lowest level visited
 * @start: first gfn
 * @end: end gfn (exclusive)
 *
 * The caller holds rcu_read_lock().
 */
#define for_each_tdp_pte_min_level(iter, root, fmt, min_level, start, end) \
	for (struct tdp_iter *_it = tdp_iter_start(&(iter), fmt, root,	  \
						   min_level, start);	  \
	     tdp_iter_before(_it, end); tdp_iter_next(_it))

#define for_each_tdp_pte(iter, root, fmt, start, end)			\
	for_each_tdp_pte_min_level(iter, root, fmt, VMMU_PG_LEVEL_4K,	\
				   start, end)

#endif /* _VMMU_TDP_ITER_H */
