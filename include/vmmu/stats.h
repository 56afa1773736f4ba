/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module-wide object counters.
 *
 * Every object that vmmu allocates on behalf of userspace is counted while it
 * lives, so that tests can prove that nothing leaks: after a test program has
 * closed its fds, every counter must be back where it started.  The counters
 * are shown in debugfs as <debugfs>/vmmu/objects.
 */
#ifndef _VMMU_STATS_H
#define _VMMU_STATS_H

#include <linux/atomic.h>

enum vmmu_object {
	VMMU_OBJ_VM,
	VMMU_OBJ_MEMSLOT_SET,
	VMMU_OBJ_MEMSLOT,
	VMMU_OBJ_VCPU,
	VMMU_OBJ_ROOT,
	VMMU_OBJ_PT_PAGE,
	VMMU_NR_OBJECTS,
};

extern atomic_long_t vmmu_objects[VMMU_NR_OBJECTS];

static inline void vmmu_object_inc(enum vmmu_object obj)
{
	atomic_long_inc(&vmmu_objects[obj]);
}

static inline void vmmu_object_dec(enum vmmu_object obj)
{
	atomic_long_dec(&vmmu_objects[obj]);
}

struct dentry;

void vmmu_stats_init(void);
struct dentry *vmmu_debugfs_root(void);
void vmmu_stats_exit(void);

#endif /* _VMMU_STATS_H */
