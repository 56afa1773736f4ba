// SPDX-License-Identifier: GPL-2.0
/*
 * tdp_iter: a pre-order walk over the entries of a TDP root.
 */
#include <linux/rcupdate.h>

#include <vmmu/tdp_iter.h>
#include <vmmu/tdp_mmu.h>

static gfn_t tdp_round_gfn(gfn_t gfn, int level)
{
	return gfn & ~(vmmu_level_pages(level) - 1);
}

/* Point at @iter->gfn's entry in the table at @iter->level and read it. */
static void tdp_iter_refresh_sptep(struct tdp_iter *iter)
{
	iter->sptep = iter->pt_path[iter->level - 1] +
		      vmmu_level_index(iter->gfn, iter->level);
	iter->old_spte = READ_ONCE(*iter->sptep);
}

/**
 * tdp_iter_restart() - start the walk again from the root at @next_gfn
 * @iter: the walk
 *
 * Used after the walk yielded: every table below the root may have been
 * freed meanwhile, so nothing on the old path is trusted.
 */
void tdp_iter_restart(struct tdp_iter *iter)
{
	iter->yielded = false;
	iter->yielded_gfn = iter->next_gfn;
	iter->level = iter->root_level;
	iter->gfn = tdp_round_gfn(iter->next_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	iter->valid = true;
}

/**
 * tdp_iter_start() - begin a walk
 * @iter: the walk
 * @fmt: the VM's entry format
 * @root: the root, which the caller holds a reference on
 * @min_level: lowest level to visit
 * @start: first gfn of the range
 *
 * The caller holds rcu_read_lock() until the walk is over.
 *
 * Return: @iter.
 */
struct tdp_iter *tdp_iter_start(struct tdp_iter *iter,
				const struct vmmu_spte_format *fmt,
				struct vmmu_mmu_page *root, int min_level,
				gfn_t start)
{
	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "tdp_iter outside RCU");
	iter->fmt = fmt;
	iter->root_level = root->level;
	iter->min_level = min_level;
	iter->pt_path[root->level - 1] = root->spt;
	iter->next_gfn = start;
	tdp_iter_restart(iter);
	return iter;
}

static bool tdp_iter_step_down(struct tdp_iter *iter)
{
	u64 *child;

	if (iter->level == iter->min_level)
		return false;
	/* Re-read: the entry may have changed since it was visited. */
	iter->old_spte = READ_ONCE(*iter->sptep);
	if (!spte_present(iter->fmt, iter->old_spte) ||
	    spte_leaf(iter->fmt, iter->old_spte, iter->level))
		return false;

	child = spte_child_table(iter->old_spte);
	iter->level--;
	iter->pt_path[iter->level - 1] = child;
	iter->gfn = tdp_round_gfn(iter->next_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

static bool tdp_iter_step_side(struct tdp_iter *iter)
{
	if (vmmu_level_index(iter->gfn, iter->level) == VMMU_PT_ENTRIES - 1)
		return false;
	iter->gfn += vmmu_level_pages(iter->level);
	iter->next_gfn = iter->gfn;
	iter->sptep++;
	iter->old_spte = READ_ONCE(*iter->sptep);
	return true;
}

static bool tdp_iter_step_up(struct tdp_iter *iter)
{
	if (iter->level == iter->root_level)
		return false;
	iter->level++;
	iter->gfn = tdp_round_gfn(iter->gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

/**
 * tdp_iter_next() - advance to the next entry in pre-order
 * @iter: the walk
 *
 * Goes down into the current entry's table if it has one (and the minimum
 * level allows), else to the next entry, climbing up as tables end.
 * Clears @iter->valid when the root's last entry has been visited.
 */
void tdp_iter_next(struct tdp_iter *iter)
{
	if (iter->yielded) {
		tdp_iter_restart(iter);
		return;
	}
	if (tdp_iter_step_down(iter))
		return;
	do {
		if (tdp_iter_step_side(iter))
			return;
	} while (tdp_iter_step_up(iter));
	iter->valid = false;
}
