/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the gfn->pfn cache selftests: VMMU_TEST_PFNCACHE (the test
 * caches a VM offers to userspace threads) and VMMU_VCPU_SET_RUNSTATE.
 *
 * As elsewhere in lib/, wrappers return 0 or -errno.
 */
#ifndef VMMU_SELFTESTS_PFNCACHE_UTIL_H
#define VMMU_SELFTESTS_PFNCACHE_UTIL_H

#include <linux/vmmu.h>

#include "vmmu_util.h"

/*
 * VMMU_TEST_PFNCACHE with @arg as it is (op, id and the op's fields set by
 * the caller); the out fields are filled in.
 */
int pc_ioctl(int vm_fd, struct vmmu_test_pfncache *arg);
/* The ops, one call each. */
int pc_activate(int vm_fd, u32 id, u64 gpa, u32 len);
int pc_deactivate(int vm_fd, u32 id);
int pc_refresh(int vm_fd, u32 id, u32 len);
int pc_read(int vm_fd, u32 id, u32 offset, void *buf, u32 len);
int pc_write(int vm_fd, u32 id, u32 offset, const void *buf, u32 len);
int pc_timer_start(int vm_fd, u32 id, u64 period_ns);
int pc_timer_stop(int vm_fd, u32 id);
/* STATS into @st (its out fields): 0 or -errno. */
int pc_stats(int vm_fd, u32 id, struct vmmu_test_pfncache *st);
/* VMMU_VCPU_SET_RUNSTATE: 0 or -errno. */
int pc_set_runstate(int vcpu_fd, u64 gpa, u32 flags);

#endif /* VMMU_SELFTESTS_PFNCACHE_UTIL_H */
