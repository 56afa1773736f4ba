// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for the gfn->pfn cache selftests; see pfncache_util.h.
 */
#include <string.h>

#include "pfncache_util.h"

int pc_ioctl(int vm_fd, struct vmmu_test_pfncache *arg)
{
	return vmmu_ioctl(vm_fd, VMMU_TEST_PFNCACHE, (unsigned long)arg);
}

static int pc_op(int vm_fd, u32 op, u32 id, u64 gpa, u32 len, u32 offset,
		 const void *buf, u64 period_ns)
{
	struct vmmu_test_pfncache arg;

	memset(&arg, 0, sizeof(arg));
	arg.op = op;
	arg.id = id;
	arg.gpa = gpa;
	arg.len = len;
	arg.offset = offset;
	arg.buf = (unsigned long)buf;
	arg.period_ns = period_ns;
	return pc_ioctl(vm_fd, &arg);
}

int pc_activate(int vm_fd, u32 id, u64 gpa, u32 len)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_ACTIVATE, id, gpa, len, 0,
		     NULL, 0);
}

int pc_deactivate(int vm_fd, u32 id)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_DEACTIVATE, id, 0, 0, 0, NULL,
		     0);
}

int pc_refresh(int vm_fd, u32 id, u32 len)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_REFRESH, id, 0, len, 0, NULL,
		     0);
}

int pc_read(int vm_fd, u32 id, u32 offset, void *buf, u32 len)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_READ, id, 0, len, offset, buf,
		     0);
}

int pc_write(int vm_fd, u32 id, u32 offset, const void *buf, u32 len)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_WRITE, id, 0, len, offset, buf,
		     0);
}

int pc_timer_start(int vm_fd, u32 id, u64 period_ns)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_TIMER_START, id, 0, 0, 0, NULL,
		     period_ns);
}

int pc_timer_stop(int vm_fd, u32 id)
{
	return pc_op(vm_fd, VMMU_TEST_PFNCACHE_TIMER_STOP, id, 0, 0, 0, NULL,
		     0);
}

int pc_stats(int vm_fd, u32 id, struct vmmu_test_pfncache *st)
{
	memset(st, 0, sizeof(*st));
	st->op = VMMU_TEST_PFNCACHE_STATS;
	st->id = id;
	return pc_ioctl(vm_fd, st);
}

int pc_set_runstate(int vcpu_fd, u64 gpa, u32 flags)
{
	struct vmmu_runstate_config cfg = { .gpa = gpa, .flags = flags };

	return vmmu_ioctl(vcpu_fd, VMMU_VCPU_SET_RUNSTATE, (unsigned long)&cfg);
}
