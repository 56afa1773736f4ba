// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide object counters, shown in <debugfs>/vmmu/objects, and the
 * readers of the statistics descriptor tables (include/vmmu/stats.h): the
 * fill of an ioctl struct and the debugfs text.
 */
#include <linux/debugfs.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include <vmmu/stats.h>

atomic_long_t vmmu_objects[VMMU_NR_OBJECTS];

static const char * const vmmu_object_names[VMMU_NR_OBJECTS] = {
	[VMMU_OBJ_VM] = "vms",
	[VMMU_OBJ_MEMSLOT_SET] = "memslot_sets",
	[VMMU_OBJ_MEMSLOT] = "memslots",
	[VMMU_OBJ_VCPU] = "vcpus",
	[VMMU_OBJ_ROOT] = "roots",
	[VMMU_OBJ_PT_PAGE] = "pt_pages",
	[VMMU_OBJ_DIRTY_BITMAP] = "dirty_bitmaps",
};

static struct dentry *vmmu_debugfs_dir;

static int vmmu_objects_show(struct seq_file *m, void *unused)
{
	int i;

	/* Count what RCU callbacks are about to free as freed. */
	rcu_barrier();
	for (i = 0; i < VMMU_NR_OBJECTS; i++)
		seq_printf(m, "%s %ld\n", vmmu_object_names[i],
			   atomic_long_read(&vmmu_objects[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_objects);

/**
 * vmmu_debugfs_root() - <debugfs>/vmmu, where per-VM directories go
 *
 * Return: the directory (an error pointer if debugfs is not available,
 * which debugfs_create_*() accept).
 */
struct dentry *vmmu_debugfs_root(void)
{
	return vmmu_debugfs_dir;
}

/**
 * vmmu_stats_init() - create the debugfs files
 *
 * debugfs failures are not fatal: the counters still work without their file.
 */
void vmmu_stats_init(void)
{
	vmmu_debugfs_dir = debugfs_create_dir("vmmu", NULL);
	debugfs_create_file("objects", 0444, vmmu_debugfs_dir, NULL,
			    &vmmu_objects_fops);
}

/**
 * vmmu_stats_exit() - remove the debugfs files and report leaked objects
 *
 * Called after every VM is gone and every deferred free has run, so any
 * counter that is not zero is a leak in vmmu.
 */
void vmmu_stats_exit(void)
{
	int i;

	debugfs_remove_recursive(vmmu_debugfs_dir);
	for (i = 0; i < VMMU_NR_OBJECTS; i++)
		WARN(atomic_long_read(&vmmu_objects[i]),
		     "vmmu: %ld %s leaked\n",
		     atomic_long_read(&vmmu_objects[i]), vmmu_object_names[i]);
}

/**
 * vmmu_stat_read() - the value of one statistic now
 * @scope: the table @desc belongs to
 * @desc: the statistic
 * @owner: the VM or vCPU whose value is read
 *
 * Counters are read one by one, not as one atomic snapshot.
 *
 * Return: the value.
 */
u64 vmmu_stat_read(const struct vmmu_stats_scope *scope,
		   const struct vmmu_stat_desc *desc, const void *owner)
{
	const void *stats = owner + scope->stats_offset;

	if (desc->read)
		return desc->read(owner);
	return atomic64_read(stats + desc->offset);
}

/**
 * vmmu_stats_fill() - fill an ioctl's stats struct from a table
 * @scope: the table
 * @owner: the VM or vCPU
 * @uapi: the struct, an array of u64; what no statistic fills (reserved
 *	space) is zeroed
 * @uapi_size: its size in bytes
 */
void vmmu_stats_fill(const struct vmmu_stats_scope *scope, const void *owner,
		     void *uapi, size_t uapi_size)
{
	const struct vmmu_stat_desc *desc;
	u64 *values = uapi;

	memset(uapi, 0, uapi_size);
	for (desc = scope->desc; desc < scope->desc + scope->nr; desc++) {
		if (desc->uapi_index < 0 ||
		    desc->uapi_index >= uapi_size / sizeof(*values))
			continue;
		values[desc->uapi_index] = vmmu_stat_read(scope, desc, owner);
	}
}

/**
 * vmmu_stats_show() - every statistic of a table as "name value" lines
 * @m: the debugfs file
 * @scope: the table
 * @owner: the VM or vCPU
 */
void vmmu_stats_show(struct seq_file *m, const struct vmmu_stats_scope *scope,
		     const void *owner)
{
	const struct vmmu_stat_desc *desc;

	for (desc = scope->desc; desc < scope->desc + scope->nr; desc++)
		seq_printf(m, "%s %llu\n", desc->name,
			   vmmu_stat_read(scope, desc, owner));
}
