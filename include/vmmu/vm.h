/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM object.
 *
 * A VM belongs to the mm of the process that created it: vmmu pins the
 * mm_struct (mmgrab(), not mmget(), so the address space itself can still go
 * away) and refuses VM ioctls from any other mm.  The VM lives while any fd
 * refers to it; see Documentation/design.rst for the lifetime rules and
 * Documentation/locking.rst for the locks and their order:
 *
 *   vm->lock -> vcpu->mutex -> vm->slots_lock -> vm->mmu_lock
 *     -> vm->tdp_mmu_pages_lock
 *   vm->slots_lock -> vm->mn_invalidate_lock (a leaf, never nested with
 *     mmu_lock)
 *
 * and, for the gfn->pfn caches (include/vmmu/pfncache.h), which never nest
 * with mmu_lock:
 *
 *   vcpu->mutex -> pfncache refresh_lock -> (vm->srcu, vm->mmu_lock)
 *   vm->pfncache_list_lock -> pfncache lock
 *   pfncache lock -> vm->srcu (read: a writer logs the page it wrote)
 */
#ifndef _VMMU_VM_H
#define _VMMU_VM_H

#include <linux/atomic.h>
#include <linux/kvm_types.h>
#include <linux/lockdep.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rcuwait.h>
#include <linux/rwlock.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/workqueue.h>

#include <vmmu/memcache.h>
#include <vmmu/spte.h>
#include <vmmu/stats.h>
#include <vmmu/x86.h>

struct vmmu_backend_ops;
struct vmmu_memslots;
struct vmmu_pfncache_test;
struct vmmu_vcpu;

#define VMMU_MAX_VCPUS		64
/* KVM_CAP_IRQ_ROUTING: KVM's route limit (KVM_SET_GSI_ROUTING is EINVAL). */
#define VMMU_MAX_IRQ_ROUTES	4096

/**
 * struct vmmu_vm_stats - per-VM MMU counters
 * @mapped: present leaves now, per level (index level - 1)
 * @counters: the VMMU_VM_STAT() lines of include/vmmu/stats_vm.h, which
 *	say what each counts; vmmu_vm_stat(vm, name) is one of them
 */
struct vmmu_vm_stats {
	atomic64_t mapped[VMMU_MAX_LEVEL];
	atomic64_t counters[VMMU_VM_NR_STATS];
};

/**
 * struct vmmu_vm - a virtual machine
 * @mm: the creating process's mm; pinned with mmgrab()
 * @memcg: the memory cgroup of @mm's owner at creation, charged for the
 *	VM's page tables; a reference is held
 * @users: references from the VM fd and the vCPU fds
 * @lock: VM-wide configuration and vCPU creation; outermost lock
 * @slots_lock: serializes memslot updates
 * @srcu: protects readers of @memslots
 * @memslots: the current memslot set; written under @slots_lock, read
 *	under @srcu
 * @memslots_generation: the generation of @memslots, set when a new set is
 *	published; readers that cannot take @srcu (gfn->pfn cache checks)
 *	compare against it with READ_ONCE()
 * @vcpus: the vCPUs, @online_vcpus of them; published in order
 * @online_vcpus: number of entries of @vcpus readers may use
 * @fmt: the page-table format, fixed before the first memslot or vCPU
 * @vcpu_kind: VMMU_VCPU_* of the vCPUs: chosen with VMMU_SET_MMU, else
 *	VMMU_VCPU_SVM where the SVM backend exists, else VMMU_VCPU_SOFTWARE
 * @backend: the hardware backend that runs the vCPUs, NULL for software
 *	vCPUs; set by VMMU_SET_MMU, or by the first KVM_CREATE_VCPU for the
 *	default kind, always before any vCPU exists, and holding the backend
 *	enabled while it is set
 * @irqchip_created: KVM_CREATE_IRQCHIP was called (it changes nothing
 *	else: vmmu has no interrupt controller)
 * @max_vcpu_ids: vCPU ids are below this if non-zero (KVM_ENABLE_CAP of
 *	KVM_CAP_MAX_VCPU_ID); under @lock
 * @manual_dirty_log_protect: KVM_DIRTY_LOG_* flags enabled with
 *	KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: with MANUAL_PROTECT_ENABLE,
 *	KVM_GET_DIRTY_LOG neither clears nor protects and KVM_CLEAR_DIRTY_LOG
 *	does both; with INITIALLY_SET, a slot's log starts all set and
 *	enabling logging protects nothing.  Written with WRITE_ONCE(), read
 *	with READ_ONCE()
 * @dirty_ring_size: bytes of each vCPU's dirty ring, 0 without rings;
 *	set once, before the first vCPU, under @lock (KVM_ENABLE_CAP of
 *	KVM_CAP_DIRTY_LOG_RING or _ACQ_REL)
 * @dirty_ring_with_bitmap: KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: logged
 *	slots keep a bitmap beside the rings, for the writes no vCPU makes;
 *	set before the first memslot, under @slots_lock
 * @n_requested_mmu_pages: the shadow-page limit of KVM_SET_NR_MMU_PAGES, 0
 *	while none was set; written under @slots_lock, read with READ_ONCE()
 * @mmu_lock: protects the TDP tables and the invalidation state; faults take
 *	it for read and change entries with cmpxchg
 * @tdp_mmu_pages_lock: protects changes of the root lists; nests inside
 *	@mmu_lock (either mode)
 * @valid_roots: roots vCPUs may start to use; RCU list
 * @invalid_roots: roots being zapped and waiting for their last user; RCU
 *	list
 * @nx_huge_pages: huge leaves are not executable (the iTLB-multihit
 *	workaround, mmu/nx_huge.c); fixed at creation
 * @nx_tables: tables that exist only because an instruction fetch could
 *	not use a huge leaf, oldest first; under @tdp_mmu_pages_lock
 * @nr_nx_tables: how many; likewise
 * @nx_recovery_work: zaps a share of @nx_tables now and then
 * @split_pt_cache: page-table pages for splitting huge leaves outside a
 *	fault (dirty logging); under @slots_lock
 * @split_header_cache: their struct vmmu_mmu_page headers; likewise
 * @mmu_invalidate_seq: bumped at the end of every invalidation
 * @mmu_invalidate_in_progress: invalidations between start and end
 * @mmu_invalidate_range_start: first hva of the union of the ranges of the
 *	invalidations in progress
 * @mmu_invalidate_range_end: end (exclusive) of that union
 * @mmu_notifier: registered on @mm while the VM lives
 * @mn_unregistered: set when the VM's teardown unregisters @mmu_notifier
 * @mn_invalidate_lock: protects @mn_active_invalidate_count; memslot sets
 *	are published under it (core/memslot.c)
 * @mn_active_invalidate_count: mmu_notifier invalidations between their
 *	start and their end, whether or not a memslot maps their range
 * @mn_memslots_update_rcuwait: where a memslot update waits for
 *	@mn_active_invalidate_count to drop to zero
 * @pfncache_list_lock: protects @pfncaches; nests outside each cache's
 *	lock; never taken in interrupt context
 * @pfncaches: the VM's gfn->pfn caches, which the notifier invalidates
 * @pfncache_tests: the caches of VMMU_TEST_PFNCACHE, created on first use
 * @stats: event counters
 * @debugfs_dentry: <debugfs>/vmmu/<pid>-<id>/
 */
struct vmmu_vm {
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	refcount_t users;
	struct mutex lock;		/* VM-wide configuration */
	struct mutex slots_lock;	/* memslot updates */
	struct srcu_struct srcu;
	struct vmmu_memslots __rcu *memslots;
	u64 memslots_generation;

	struct vmmu_vcpu *vcpus[VMMU_MAX_VCPUS];
	atomic_t online_vcpus;

	struct vmmu_spte_format fmt;
	u32 vcpu_kind;
	const struct vmmu_backend_ops *backend;
	bool irqchip_created;
	u32 max_vcpu_ids;
	u64 manual_dirty_log_protect;
	u32 dirty_ring_size;
	bool dirty_ring_with_bitmap;
	unsigned long n_requested_mmu_pages;
	rwlock_t mmu_lock;
	spinlock_t tdp_mmu_pages_lock;	/* root list changes */
	struct list_head valid_roots;
	struct list_head invalid_roots;
	bool nx_huge_pages;
	struct list_head nx_tables;
	unsigned long nr_nx_tables;
	struct delayed_work nx_recovery_work;
	struct vmmu_memcache split_pt_cache;
	struct vmmu_memcache split_header_cache;

	unsigned long mmu_invalidate_seq;
	long mmu_invalidate_in_progress;
	unsigned long mmu_invalidate_range_start;
	unsigned long mmu_invalidate_range_end;
	struct mmu_notifier mmu_notifier;
	bool mn_unregistered;
	spinlock_t mn_invalidate_lock;	/* @mn_active_invalidate_count */
	unsigned long mn_active_invalidate_count;
	struct rcuwait mn_memslots_update_rcuwait;

	spinlock_t pfncache_list_lock;	/* @pfncaches */
	struct list_head pfncaches;
	struct vmmu_pfncache_test *pfncache_tests[4];

	struct vmmu_vm_stats stats;
	struct dentry *debugfs_dentry;
	struct vmmu_x86_vm x86;
};

struct vmmu_vm *vmmu_vm_alloc(void);
void vmmu_vm_free(struct vmmu_vm *vm);

static inline void vmmu_vm_get(struct vmmu_vm *vm)
{
	refcount_inc(&vm->users);
}

static inline int vmmu_vm_nr_vcpus(struct vmmu_vm *vm)
{
	/* Pairs with atomic_inc_return_release() in vmmu_vm_add_vcpu(). */
	return atomic_read_acquire(&vm->online_vcpus);
}

/* The vCPU at index @i, or NULL past the last published one. */
static inline struct vmmu_vcpu *vmmu_vm_vcpu(struct vmmu_vm *vm, int i)
{
	return i < vmmu_vm_nr_vcpus(vm) ? vm->vcpus[i] : NULL;
}

/**
 * vmmu_mmu_invalidate_retry_hva() - must a fault that took @mmu_seq retry?
 * @vm: the VM
 * @mmu_seq: mmu_invalidate_seq read before the fault looked the pfn up
 * @hva: the host address the fault looked up
 *
 * True if an invalidation of @hva is in progress or one ended since
 * @mmu_seq was read: the pfn may be stale and must not be installed.
 * Called with mmu_lock held, which every writer of the state holds for write.
 */
static inline bool vmmu_mmu_invalidate_retry_hva(struct vmmu_vm *vm,
						 unsigned long mmu_seq,
						 unsigned long hva)
{
	lockdep_assert_held(&vm->mmu_lock);
	if (unlikely(vm->mmu_invalidate_in_progress) &&
	    hva >= vm->mmu_invalidate_range_start &&
	    hva < vm->mmu_invalidate_range_end)
		return true;
	/*
	 * Pairs with the smp_wmb() in vmmu_mmu_invalidate_end(): a seq that
	 * still matches was read after in_progress went up for any
	 * invalidation that has already ended.
	 */
	smp_rmb();
	return vm->mmu_invalidate_seq != mmu_seq;
}

/*
 * Do the VM's logged slots keep a dirty bitmap?  Always without dirty
 * rings; with rings only if KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP asked for it.
 */
static inline bool vmmu_vm_uses_dirty_bitmap(struct vmmu_vm *vm)
{
	return !READ_ONCE(vm->dirty_ring_size) ||
	       READ_ONCE(vm->dirty_ring_with_bitmap);
}

#endif /* _VMMU_VM_H */
