/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module-wide object counters, and the descriptor tables of the per-VM and
 * per-vCPU statistics (below).
 *
 * Every object that vmmu allocates on behalf of userspace is counted while it
 * lives, so that tests can prove that nothing leaks: after a test program has
 * closed its fds, every counter must be back where it started.  The counters
 * are shown in debugfs as <debugfs>/vmmu/objects.
 */
#ifndef _VMMU_STATS_H
#define _VMMU_STATS_H

#include <linux/atomic.h>
#include <linux/kvm.h>
#include <linux/types.h>

enum vmmu_object {
	VMMU_OBJ_VM,
	VMMU_OBJ_MEMSLOT_SET,
	VMMU_OBJ_MEMSLOT,
	VMMU_OBJ_VCPU,
	VMMU_OBJ_ROOT,
	VMMU_OBJ_PT_PAGE,
	VMMU_OBJ_DIRTY_BITMAP,
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
struct seq_file;

void vmmu_stats_init(void);
struct dentry *vmmu_debugfs_root(void);
void vmmu_stats_exit(void);

/*
 * Statistics: one descriptor table per scope.
 *
 * Every value a VM or a vCPU reports is declared once, as one line of its
 * scope's table: include/vmmu/stats_vm.h and include/vmmu/stats_vcpu.h.
 * The tables are included several times, each time with other definitions
 * of their line macros, and generate the counters' storage (an index into
 * vm->stats.counters[] or vcpu->stats.counters[]), the descriptor arrays
 * (struct vmmu_stat_desc, in dev/stats.c) and, through the descriptors,
 * VMMU_GET_STATS and the debugfs files.  The tables' header comment
 * describes their lines; Documentation/design.rst ("Statistics") how to add
 * one.
 */

/* The kinds of value, as KVM's binary statistics describe them. */
#define VMMU_STAT_KIND_COUNTER	/* cumulative count of events */	\
	.flags = KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE |	\
		 KVM_STATS_BASE_POW10,					\
	.exponent = 0
#define VMMU_STAT_KIND_ICOUNTER	/* a level now, up and down */		\
	.flags = KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE |		\
		 KVM_STATS_BASE_POW10,					\
	.exponent = 0
#define VMMU_STAT_KIND_PCOUNTER	/* the peak of a level */		\
	.flags = KVM_STATS_TYPE_PEAK | KVM_STATS_UNIT_NONE |		\
		 KVM_STATS_BASE_POW10,					\
	.exponent = 0
#define VMMU_STAT_KIND_TIME_NS	/* cumulative nanoseconds */		\
	.flags = KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS |	\
		 KVM_STATS_BASE_POW10,					\
	.exponent = -9
#define VMMU_STAT_KIND_IBOOLEAN	/* 0 or 1 now */			\
	.flags = KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN |	\
		 KVM_STATS_BASE_POW10,					\
	.exponent = 0

/* A value that VMMU_GET_STATS has no place for. */
#define VMMU_NO_UAPI	(-1)

/* The stored counters of each scope: the STAT lines, in table order. */
enum vmmu_vm_stat_id {
#define VMMU_VM_STAT(name, kind, uapi)	VMMU_VM_STAT_##name,
#include <vmmu/stats_vm.h>
	VMMU_VM_NR_STATS
};

enum vmmu_vcpu_stat_id {
#define VMMU_VCPU_STAT(name, kind, uapi)	VMMU_VCPU_STAT_##name,
#include <vmmu/stats_vcpu.h>
	VMMU_VCPU_NR_STATS
};

/*
 * The atomic64_t of a STAT line, to count in:
 * atomic64_inc(vmmu_vm_stat(vm, faults)).
 */
#define vmmu_vm_stat(vm, name)	(&(vm)->stats.counters[VMMU_VM_STAT_##name])
#define vmmu_vcpu_stat(vcpu, name)					\
	(&(vcpu)->stats.counters[VMMU_VCPU_STAT_##name])

/**
 * struct vmmu_stat_desc - what one statistic is and where its value is
 * @name: its name in debugfs: KVM's name where the meaning is KVM's
 * @flags: KVM_STATS_TYPE_* | KVM_STATS_UNIT_* | KVM_STATS_BASE_*, as in
 *	KVM's struct kvm_stats_desc
 * @exponent: the value counts units of base ** @exponent (-9: ns)
 * @size: number of u64 values (1: vmmu has no arrays or histograms yet)
 * @offset: STAT and LEVEL lines: offset of the atomic64_t in the scope's
 *	stats struct (struct vmmu_vm_stats, struct vmmu_vcpu_stats)
 * @read: VALUE lines: computes the value from the owner (the struct
 *	vmmu_vm or struct vmmu_vcpu); NULL for the others
 * @uapi_index: index of the value among the __u64s of the scope's ioctl
 *	struct (struct vmmu_stats for a VM), or VMMU_NO_UAPI
 */
struct vmmu_stat_desc {
	const char *name;
	u32 flags;
	s16 exponent;
	u16 size;
	u32 offset;
	u64 (*read)(const void *owner);
	int uapi_index;
};

/**
 * struct vmmu_stats_scope - a descriptor array and where its values live
 * @desc: the descriptors, in table order
 * @nr: how many
 * @stats_offset: offset of the stats struct in the owner
 */
struct vmmu_stats_scope {
	const struct vmmu_stat_desc *desc;
	unsigned int nr;
	size_t stats_offset;
};

extern const struct vmmu_stats_scope vmmu_vm_stats_scope;
extern const struct vmmu_stats_scope vmmu_vcpu_stats_scope;

u64 vmmu_stat_read(const struct vmmu_stats_scope *scope,
		   const struct vmmu_stat_desc *desc, const void *owner);
void vmmu_stats_fill(const struct vmmu_stats_scope *scope, const void *owner,
		     void *uapi, size_t uapi_size);
void vmmu_stats_show(struct seq_file *m, const struct vmmu_stats_scope *scope,
		     const void *owner);

#endif /* _VMMU_STATS_H */
