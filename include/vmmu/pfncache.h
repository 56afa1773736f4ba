/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pfncache/: kernel access to a piece of guest memory from contexts that
 * cannot sleep or fault (the vCPU entry and exit path, timers).
 *
 * A cache maps a guest-physical range of at most one page to a kernel
 * address.  Its state is read under @lock (an rwlock, irq-safe) and written
 * by one writer at a time, under @refresh_lock (a mutex) and then @lock for
 * write.  Readers:
 *
 *	read_lock_irqsave(&gpc->lock, flags);
 *	while (!vmmu_pfncache_check(gpc, len)) {
 *		read_unlock_irqrestore(&gpc->lock, flags);
 *		if (vmmu_pfncache_refresh(gpc, len))	// sleeps
 *			return ...;
 *		read_lock_irqsave(&gpc->lock, flags);
 *	}
 *	... use gpc->khva ...
 *	read_unlock_irqrestore(&gpc->lock, flags);
 *
 * A reader that cannot sleep skips its access when the check fails and
 * asks for a refresh at the next point where it can sleep (a vCPU request,
 * a work item).  See Documentation/design.rst and locking.rst.
 */
#ifndef _VMMU_PFNCACHE_H
#define _VMMU_PFNCACHE_H

#include <linux/kvm_types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct vmmu_vcpu;
struct vmmu_vm;

/**
 * struct vmmu_pfncache - a gfn -> pfn -> kernel address cache
 * @vm: the VM whose memory it maps
 * @link: in vm->pfncaches, under vm->pfncache_list_lock
 * @lock: protects every field below for readers; irq-safe
 * @refresh_lock: serializes the writers: activate, refresh, deactivate
 * @gpa: first guest-physical address; meaningful while @active
 * @len: bytes mapped from @gpa, within @gpa's page
 * @generation: the memslot generation @uhva was looked up in
 * @uhva: host virtual address of @gpa's page, or of the page a refresh is
 *	looking up; the notifier compares it with its ranges
 * @pfn: host frame of @uhva's page while @valid
 * @khva: kernel address of @gpa while @valid
 * @invalidations: bumped by the notifier whenever it invalidates @uhva;
 *	a refresh that saw it change while it slept starts over
 * @active: activated and not deactivated: @gpa and @len are set
 * @valid: @pfn and @khva map @gpa now; implies @active
 * @refreshes: refreshes that published a mapping
 * @retries: lookups that had to start over: an invalidation of the page
 *	was in progress, or one or a memslot update came while GUP ran
 */
struct vmmu_pfncache {
	struct vmmu_vm *vm;
	struct list_head link;
	rwlock_t lock;			/* readers of the state */
	struct mutex refresh_lock;	/* writers of the state */
	gpa_t gpa;
	unsigned long len;
	u64 generation;
	unsigned long uhva;
	kvm_pfn_t pfn;
	void *khva;
	unsigned long invalidations;
	bool active;
	bool valid;
	u64 refreshes;
	u64 retries;
};

void vmmu_pfncache_vm_init(struct vmmu_vm *vm);
void vmmu_pfncache_init(struct vmmu_pfncache *gpc, struct vmmu_vm *vm);
void vmmu_pfncache_destroy(struct vmmu_pfncache *gpc);
int vmmu_pfncache_activate(struct vmmu_pfncache *gpc, gpa_t gpa,
			   unsigned long len);
void vmmu_pfncache_deactivate(struct vmmu_pfncache *gpc);
bool vmmu_pfncache_check(struct vmmu_pfncache *gpc, unsigned long len);
void vmmu_pfncache_mark_dirty(struct vmmu_pfncache *gpc,
			      struct vmmu_vcpu *vcpu);
int vmmu_pfncache_refresh(struct vmmu_pfncache *gpc, unsigned long len);
void vmmu_pfncache_invalidate_start(struct vmmu_vm *vm, unsigned long start,
				    unsigned long end);

/**
 * struct vmmu_vcpu_runstate - the run-state page of a vCPU
 * @cache: maps the page's struct vmmu_runstate
 * @enabled: VMMU_VCPU_SET_RUNSTATE set an address
 * @stalled: a refresh failed: no more refresh requests until the next
 *	KVM_RUN or VMMU_VCPU_SET_RUNSTATE
 * @in_guest: between vmmu_runstate_enter() and vmmu_runstate_exit()
 * @seq: the sequence count last written (even between updates)
 * @entries: guest entries since the page was set
 * @exits: guest exits since then
 * @ns_in_guest: time in the guest since then
 * @ns_out_guest: time out of the guest since then
 * @last_ns: when the vCPU last entered or left the guest (or the page was
 *	set)
 * @skipped: updates that found the cache invalid
 *
 * Only the vCPU's own thread touches it (KVM_RUN and the vCPU's ioctls,
 * under vcpu->mutex), so the counters need no lock; the page is written
 * through @cache.
 */
struct vmmu_vcpu_runstate {
	struct vmmu_pfncache cache;
	bool enabled;
	bool stalled;
	bool in_guest;
	u32 seq;
	u64 entries;
	u64 exits;
	u64 ns_in_guest;
	u64 ns_out_guest;
	u64 last_ns;
	u64 skipped;
};

void vmmu_runstate_init(struct vmmu_vcpu *vcpu);
void vmmu_runstate_destroy(struct vmmu_vcpu *vcpu);
int vmmu_runstate_set(struct vmmu_vcpu *vcpu, u64 gpa, u32 flags);
void vmmu_runstate_run_start(struct vmmu_vcpu *vcpu);
void vmmu_runstate_request(struct vmmu_vcpu *vcpu);
void vmmu_runstate_enter(struct vmmu_vcpu *vcpu);
void vmmu_runstate_exit(struct vmmu_vcpu *vcpu);

/* pfncache/test.c: the VMMU_TEST_PFNCACHE ioctl. */
struct vmmu_test_pfncache;
int vmmu_pfncache_test_ioctl(struct vmmu_vm *vm,
			     struct vmmu_test_pfncache __user *uarg);
void vmmu_pfncache_test_destroy(struct vmmu_vm *vm);

#endif /* _VMMU_PFNCACHE_H */
