// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM and per-vCPU statistics: the descriptor tables of include/vmmu/
 * stats.h, VMMU_GET_STATS and <debugfs>/vmmu/<pid>-<id>/{stats,vcpu<n>/stats}.
 */
#include <linux/debugfs.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/vmmu.h>

#include <vmmu/stats.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#include "dev.h"

static u64 vmmu_count_roots(const struct list_head *head, bool valid)
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

/* The VMMU_VM_VALUE() lines of include/vmmu/stats_vm.h. */
static u64 vmmu_vm_read_roots_valid(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return vmmu_count_roots(&vm->valid_roots, true);
}

static u64 vmmu_vm_read_roots_invalid(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return vmmu_count_roots(&vm->invalid_roots, false);
}

static u64 vmmu_vm_read_invalidate_seq(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return READ_ONCE(vm->mmu_invalidate_seq);
}

static u64 vmmu_vm_read_invalidate_in_progress(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return READ_ONCE(vm->mmu_invalidate_in_progress);
}

static u64 vmmu_vm_read_nx_lpage_splits(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return READ_ONCE(vm->nr_nx_tables);
}

/* VM lines with a place in struct vmmu_stats: the index of its __u64. */
#define VMMU_UAPI(member)						\
	((int)(offsetof(struct vmmu_stats, member) / sizeof(__u64)))

/* The VM's descriptors: one per line of the table. */
#define VMMU_VM_STAT(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.offset = offsetof(struct vmmu_vm_stats,			\
			   counters[VMMU_VM_STAT_##id]),		\
	.uapi_index = (uapi) },
#define VMMU_VM_LEVEL(level, id, kind, uapi) {			\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.offset = offsetof(struct vmmu_vm_stats, mapped[(level) - 1]),	\
	.uapi_index = (uapi) },
#define VMMU_VM_VALUE(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.read = vmmu_vm_read_##id, .uapi_index = (uapi) },

static const struct vmmu_stat_desc vmmu_vm_stats_desc[] = {
#include <vmmu/stats_vm.h>
};

const struct vmmu_stats_scope vmmu_vm_stats_scope = {
	.desc = vmmu_vm_stats_desc,
	.nr = ARRAY_SIZE(vmmu_vm_stats_desc),
	.stats_offset = offsetof(struct vmmu_vm, stats),
};

/*
 * The VM table and struct vmmu_stats agree: the lines with a uAPI place
 * are as many as the struct's __u64s before @reserved, and the sum of
 * BIT(index) over them has every one of those bits set, which n powers of
 * two below 2^n give only when no two are the same.  Likewise every level
 * has exactly one LEVEL line, so debugfs shows them all.
 */
#define VMMU_UAPI_NR	(offsetof(struct vmmu_stats, reserved) / sizeof(__u64))
/* An int, for enum constants; 0 for VMMU_NO_UAPI. */
#define VMMU_UAPI_BIT(index)	((1 << ((index) + 1)) >> 1)

enum {
	VMMU_VM_UAPI_LINES = 0
#define VMMU_VM_STAT(name, kind, uapi)		-((uapi) >= 0)
#define VMMU_VM_LEVEL(level, name, kind, uapi)	-((uapi) >= 0)
#define VMMU_VM_VALUE(name, kind, uapi)		-((uapi) >= 0)
#include <vmmu/stats_vm.h>
	,
	VMMU_VM_UAPI_BITS = 0
#define VMMU_VM_STAT(name, kind, uapi)		-VMMU_UAPI_BIT(uapi)
#define VMMU_VM_LEVEL(level, name, kind, uapi)	-VMMU_UAPI_BIT(uapi)
#define VMMU_VM_VALUE(name, kind, uapi)		-VMMU_UAPI_BIT(uapi)
#include <vmmu/stats_vm.h>
	,
	VMMU_VM_LEVEL_BITS = 0
#define VMMU_VM_LEVEL(level, name, kind, uapi)	-(1 << ((level) - 1))
#include <vmmu/stats_vm.h>
	,
};

static_assert(VMMU_UAPI_NR < 31);
static_assert(offsetof(struct vmmu_stats, reserved) % sizeof(__u64) == 0);
static_assert(-VMMU_VM_UAPI_LINES == VMMU_UAPI_NR);
static_assert(-VMMU_VM_UAPI_BITS == BIT(VMMU_UAPI_NR) - 1);
static_assert(-VMMU_VM_LEVEL_BITS == BIT(VMMU_MAX_LEVEL) - 1);

#undef VMMU_UAPI
/* The vCPU table has no ioctl struct: a VMMU_UAPI() there does not build. */
#define VMMU_UAPI(member)	BUILD_BUG_ON_ZERO(1)

#define VMMU_VCPU_STAT(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.offset = offsetof(struct vmmu_vcpu_stats,			\
			   counters[VMMU_VCPU_STAT_##id]),		\
	.uapi_index = (uapi) },
#define VMMU_VCPU_VALUE(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.read = vmmu_vcpu_read_##id, .uapi_index = (uapi) },

static const struct vmmu_stat_desc vmmu_vcpu_stats_desc[] = {
#include <vmmu/stats_vcpu.h>
};

const struct vmmu_stats_scope vmmu_vcpu_stats_scope = {
	.desc = vmmu_vcpu_stats_desc,
	.nr = ARRAY_SIZE(vmmu_vcpu_stats_desc),
	.stats_offset = offsetof(struct vmmu_vcpu, stats),
};

/**
 * vmmu_vm_fill_stats() - VMMU_GET_STATS: a VM's values, from its table
 * @vm: the VM
 * @st: filled in; counters are read one by one, not as one atomic snapshot
 */
void vmmu_vm_fill_stats(struct vmmu_vm *vm, struct vmmu_stats *st)
{
	vmmu_stats_fill(&vmmu_vm_stats_scope, vm, st, sizeof(*st));
}

static int vmmu_vm_stats_show(struct seq_file *m, void *unused)
{
	vmmu_stats_show(m, &vmmu_vm_stats_scope, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_vm_stats);

static int vmmu_vcpu_stats_show(struct seq_file *m, void *unused)
{
	vmmu_stats_show(m, &vmmu_vcpu_stats_scope, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_vcpu_stats);

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
 * vmmu_vcpu_debugfs_create() - <debugfs>/vmmu/<pid>-<id>/vcpu<n>/stats
 * @vcpu: a vCPU just published; it lives as long as its VM, whose
 *	vmmu_vm_debugfs_remove() removes the file before the vCPU is freed
 *
 * Failures are ignored, as for the VM's files.
 */
void vmmu_vcpu_debugfs_create(struct vmmu_vcpu *vcpu)
{
	struct dentry *dir;
	char name[24];

	snprintf(name, sizeof(name), "vcpu%d", vcpu->vcpu_id);
	dir = debugfs_create_dir(name, vcpu->vm->debugfs_dentry);
	debugfs_create_file("stats", 0444, dir, vcpu, &vmmu_vcpu_stats_fops);
}

/**
 * vmmu_vm_debugfs_remove() - remove a VM's debugfs files
 * @vm: the VM; returns after every reader of the files is done with it
 */
void vmmu_vm_debugfs_remove(struct vmmu_vm *vm)
{
	debugfs_remove_recursive(vm->debugfs_dentry);
}
