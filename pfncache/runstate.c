// SPDX-License-Identifier: GPL-2.0
/*
 * The run-state page: a vCPU's entry and exit counts and its time in and
 * out of the guest, written into guest memory at every guest entry and exit
 * through a gfn->pfn cache (struct vmmu_runstate in <linux/vmmu.h>).
 *
 * The backend calls vmmu_runstate_enter() just before it enters the guest
 * and vmmu_runstate_exit() just after the exit, with interrupts disabled.
 * There the cache can only be checked: when it is invalid the update is
 * skipped (the counters live in the vCPU, so the next update catches up)
 * and VMMU_REQ_RUNSTATE asks the KVM_RUN loop to refresh the cache where it
 * can sleep, before the next entry.
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/vmmu.h>

#include <vmmu/pfncache.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

/**
 * vmmu_runstate_init() - set up a new vCPU's run-state cache
 * @vcpu: the vCPU, not yet visible
 */
void vmmu_runstate_init(struct vmmu_vcpu *vcpu)
{
	vmmu_pfncache_init(&vcpu->runstate.cache, vcpu->vm);
}

/**
 * vmmu_runstate_destroy() - undo vmmu_runstate_init()
 * @vcpu: the vCPU, which never runs again
 */
void vmmu_runstate_destroy(struct vmmu_vcpu *vcpu)
{
	vmmu_pfncache_destroy(&vcpu->runstate.cache);
}

/* Write the record; the cache's lock is held and its check passed. */
static void vmmu_runstate_write(struct vmmu_vcpu_runstate *rs)
{
	struct vmmu_runstate *p = rs->cache.khva;

	/* Odd while the fields change; readers retry on an odd or new seq. */
	WRITE_ONCE(p->seq, ++rs->seq);
	/* Pairs with the reader's barrier between its fields and its seq. */
	smp_wmb();
	WRITE_ONCE(p->flags, rs->in_guest ? VMMU_RUNSTATE_IN_GUEST : 0);
	WRITE_ONCE(p->entries, rs->entries);
	WRITE_ONCE(p->exits, rs->exits);
	WRITE_ONCE(p->ns_in_guest, rs->ns_in_guest);
	WRITE_ONCE(p->ns_out_guest, rs->ns_out_guest);
	/* Pairs with the reader's barrier between its first seq and fields. */
	smp_wmb();
	WRITE_ONCE(p->seq, ++rs->seq);
	/* Written on the vCPU's thread, for it: its dirty ring logs it. */
	vmmu_pfncache_mark_dirty(&rs->cache,
				 container_of(rs, struct vmmu_vcpu, runstate));
}

/*
 * Write the record if the cache allows; else ask for a refresh.  Never
 * sleeps and never waits for the cache: callable with interrupts off.
 */
static void vmmu_runstate_update(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vcpu_runstate *rs = &vcpu->runstate;
	unsigned long flags;

	read_lock_irqsave(&rs->cache.lock, flags);
	if (vmmu_pfncache_check(&rs->cache, sizeof(struct vmmu_runstate))) {
		vmmu_runstate_write(rs);
	} else {
		rs->skipped++;
		if (!rs->stalled)
			vmmu_make_request(vcpu, VMMU_REQ_RUNSTATE);
	}
	read_unlock_irqrestore(&rs->cache.lock, flags);
}

/**
 * vmmu_runstate_enter() - the vCPU enters the guest now
 * @vcpu: the vCPU, on its own thread, with interrupts disabled
 */
void vmmu_runstate_enter(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vcpu_runstate *rs = &vcpu->runstate;
	u64 now;

	if (!rs->enabled)
		return;
	now = ktime_get_ns();
	rs->ns_out_guest += now - rs->last_ns;
	rs->last_ns = now;
	rs->entries++;
	rs->in_guest = true;
	vmmu_runstate_update(vcpu);
}

/**
 * vmmu_runstate_exit() - the vCPU left the guest
 * @vcpu: the vCPU, on its own thread, with interrupts disabled
 */
void vmmu_runstate_exit(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vcpu_runstate *rs = &vcpu->runstate;
	u64 now;

	if (!rs->enabled)
		return;
	now = ktime_get_ns();
	rs->ns_in_guest += now - rs->last_ns;
	rs->last_ns = now;
	rs->exits++;
	rs->in_guest = false;
	vmmu_runstate_update(vcpu);
}

/**
 * vmmu_runstate_request() - VMMU_REQ_RUNSTATE: refresh the cache and catch up
 * @vcpu: the vCPU, in KVM_RUN, where it may sleep
 *
 * A refresh that fails (the page is unmapped, the memslot is gone) stops
 * the requests until the next KVM_RUN or VMMU_VCPU_SET_RUNSTATE, so that
 * the vCPU still runs; updates resume when the cache is valid again.
 */
void vmmu_runstate_request(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vcpu_runstate *rs = &vcpu->runstate;

	if (!rs->enabled)
		return;
	if (vmmu_pfncache_refresh(&rs->cache, sizeof(struct vmmu_runstate))) {
		rs->stalled = true;
		return;
	}
	vmmu_runstate_update(vcpu);
}

/**
 * vmmu_runstate_run_start() - KVM_RUN begins: a stalled page is tried again
 * @vcpu: the vCPU, whose mutex is held
 */
void vmmu_runstate_run_start(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vcpu_runstate *rs = &vcpu->runstate;

	if (rs->enabled && rs->stalled) {
		rs->stalled = false;
		vmmu_make_request(vcpu, VMMU_REQ_RUNSTATE);
	}
}

/**
 * vmmu_runstate_set() - VMMU_VCPU_SET_RUNSTATE
 * @vcpu: the vCPU, whose mutex is held; a hardware vCPU
 * @gpa: where the record goes
 * @flags: VMMU_RUNSTATE_ENABLE, or 0 to stop
 *
 * With VMMU_RUNSTATE_ENABLE the counters restart and the first record is
 * written before the call returns.  On failure the address set before
 * stays in effect (unless its page cannot be mapped either: then updates
 * stop).
 *
 * Return: 0, -EINVAL (bad flags, unaligned or crossing a page), -ENOENT
 * (no memslot at @gpa), -EPERM (read-only memslot), -EFAULT (host memory
 * that cannot be mapped), -EBUSY (enabling while the vCPU's dirty ring is
 * at its soft limit: the first record could not be logged), -EINTR,
 * -ENOMEM.
 */
int vmmu_runstate_set(struct vmmu_vcpu *vcpu, u64 gpa, u32 flags)
{
	struct vmmu_vcpu_runstate *rs = &vcpu->runstate;
	gpa_t old_gpa = rs->cache.gpa;
	int r;

	lockdep_assert_held(&vcpu->mutex);
	if (flags & ~VMMU_RUNSTATE_ENABLE)
		return -EINVAL;
	if (!(flags & VMMU_RUNSTATE_ENABLE)) {
		rs->enabled = false;
		vmmu_pfncache_deactivate(&rs->cache);
		return 0;
	}
	if (!IS_ALIGNED(gpa, 8) ||
	    offset_in_page(gpa) + sizeof(struct vmmu_runstate) > PAGE_SIZE)
		return -EINVAL;
	/* Outside KVM_RUN nothing else stops the vCPU at the soft limit. */
	if (vmmu_dirty_ring_soft_full(&vcpu->dirty_ring))
		return -EBUSY;
	/* A failed activation leaves the cache inactive: restore the old. */
	r = vmmu_pfncache_activate(&rs->cache, gpa,
				   sizeof(struct vmmu_runstate));
	if (r) {
		/* The old page is mapped again at the next entry if need be. */
		if (rs->enabled &&
		    vmmu_pfncache_activate(&rs->cache, old_gpa,
					   sizeof(struct vmmu_runstate)))
			rs->enabled = false;
		return r;
	}
	rs->enabled = true;
	rs->stalled = false;
	rs->in_guest = false;
	rs->seq = 0;
	rs->entries = 0;
	rs->exits = 0;
	rs->ns_in_guest = 0;
	rs->ns_out_guest = 0;
	rs->skipped = 0;
	rs->last_ns = ktime_get_ns();
	vmmu_runstate_update(vcpu);
	return 0;
}
