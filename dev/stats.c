// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM MMU statistics: VMMU_GET_STATS and <debugfs>/vmmu/<pid>-<id>/stats.
 */
#include <linux/debugfs.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/vmmu.h>

#include <vmmu/stats.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vm.h>

#include "dev.h"

static u64 vmmu_count_roots(struct list_head *head, bool valid)
{
	struct vmmu_mmu_page *root;
	u64 n = 0;

	rcu_read_lock();
	if (valid)
		list_for_each_entry_rcu(root, head, valid_link)
			n++;
	else
		list_for_each_entry_rcu(root, head, invalid_link)
			n++;
	rcu_read_unlock();
	return n;
}

/**
 * vmmu_vm_fill_stats() - snapshot a VM's counters
 * @vm: the VM
 * @st: filled in; counters are read one by one, not as one atomic snapshot
 */
void vmmu_vm_fill_stats(struct vmmu_vm *vm, struct vmmu_stats *st)
{
	const struct vmmu_vm_stats *s = &vm->stats;
	int i;

	memset(st, 0, sizeof(*st));
	st->faults = atomic64_read(&s->faults);
	st->fault_retries = atomic64_read(&s->fault_retries);
	st->pages_mapped = atomic64_read(&s->pages_mapped);
	for (i = 0; i < ARRAY_SIZE(st->mapped); i++)
		st->mapped[i] = atomic64_read(&s->mapped[i]);
	st->leaves_zapped = atomic64_read(&s->leaves_zapped);
	st->tables = atomic64_read(&s->tables);
	st->tables_freed = atomic64_read(&s->tables_freed);
	st->invalidations = atomic64_read(&s->invalidations);
	st->roots_valid = vmmu_count_roots(&vm->valid_roots, true);
	st->roots_invalid = vmmu_count_roots(&vm->invalid_roots, false);
	st->roots_invalidated = atomic64_read(&s->roots_invalidated);
	st->tlb_flushes = atomic64_read(&s->tlb_flushes);
	st->young_cleared = atomic64_read(&s->young_cleared);
	st->invalidate_seq = READ_ONCE(vm->mmu_invalidate_seq);
	st->invalidate_in_progress = READ_ONCE(vm->mmu_invalidate_in_progress);
}

static int vmmu_vm_stats_show(struct seq_file *m, void *unused)
{
	struct vmmu_stats st;

	vmmu_vm_fill_stats(m->private, &st);
	seq_printf(m, "faults %llu\n", st.faults);
	seq_printf(m, "fault_retries %llu\n", st.fault_retries);
	seq_printf(m, "pages_mapped %llu\n", st.pages_mapped);
	seq_printf(m, "mapped_4k %llu\n", st.mapped[0]);
	seq_printf(m, "mapped_2m %llu\n", st.mapped[1]);
	seq_printf(m, "mapped_1g %llu\n", st.mapped[2]);
	seq_printf(m, "leaves_zapped %llu\n", st.leaves_zapped);
	seq_printf(m, "tables %llu\n", st.tables);
	seq_printf(m, "tables_freed %llu\n", st.tables_freed);
	seq_printf(m, "invalidations %llu\n", st.invalidations);
	seq_printf(m, "roots_valid %llu\n", st.roots_valid);
	seq_printf(m, "roots_invalid %llu\n", st.roots_invalid);
	seq_printf(m, "roots_invalidated %llu\n", st.roots_invalidated);
	seq_printf(m, "tlb_flushes %llu\n", st.tlb_flushes);
	seq_printf(m, "young_cleared %llu\n", st.young_cleared);
	seq_printf(m, "invalidate_seq %llu\n", st.invalidate_seq);
	seq_printf(m, "invalidate_in_progress %llu\n", st.invalidate_in_progress);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_vm_stats);

/**
 * vmmu_vm_debugfs_create() - <debugfs>/vmmu/<pid>-<id>/stats for a new VM
 * @vm: the VM
 *
 * Failures are ignored: the VM works without its debugfs files.
 */
void vmmu_vm_debugfs_create(struct vmmu_vm *vm)
{
	static atomic_t vmmu_vm_ids = ATOMIC_INIT(0);
	char name[32];

	snprintf(name, sizeof(name), "%d-%d", task_tgid_nr(current),
		 atomic_inc_return(&vmmu_vm_ids));
	vm->debugfs_dentry = debugfs_create_dir(name, vmmu_debugfs_root());
	debugfs_create_file("stats", 0444, vm->debugfs_dentry, vm,
			    &vmmu_vm_stats_fops);
}

/**
 * vmmu_vm_debugfs_remove() - remove a VM's debugfs files
 * @vm: the VM; returns after every reader of the files is done with it
 */
void vmmu_vm_debugfs_remove(struct vmmu_vm *vm)
{
	debugfs_remove_recursive(vm->debugfs_dentry);
}
