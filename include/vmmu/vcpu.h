/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vCPUs, requests and kicks.
 *
 * Anything that needs a vCPU to do something before it next uses a
 * translation (flush its TLB, load a new root) sets a request bit and kicks
 * the vCPU.  A vCPU is "in guest mode" while it may use translations: from
 * vmmu_vcpu_enter_guest_mode() to vmmu_vcpu_exit_guest_mode(), a section
 * that never sleeps.  vmmu_flush_remote_tlbs() waits for every vCPU that was
 * in guest mode when the request was made to leave that section, so after it
 * returns no vCPU uses a translation from before the flush.
 */
#ifndef _VMMU_VCPU_H
#define _VMMU_VCPU_H

#include <linux/bitops.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/signal_types.h>
#include <linux/types.h>

#include <vmmu/dirty_ring.h>
#include <vmmu/memcache.h>
#include <vmmu/pfncache.h>
#include <vmmu/stats.h>
#include <vmmu/sw_tlb.h>
#include <vmmu/x86.h>

struct kvm_run;
struct vmmu_cpuid;
struct vmmu_vm;
struct vmmu_mmu_page;

/* vCPU requests, bit numbers in vmmu_vcpu.requests. */
#define VMMU_REQ_TLB_FLUSH	0	/* drop every cached translation */
#define VMMU_REQ_RELOAD_ROOT	1	/* the root was invalidated */
#define VMMU_REQ_RUNSTATE	2	/* refresh the run-state page's cache */

/**
 * struct vmmu_vcpu_stats - per-vCPU counters
 * @counters: the VMMU_VCPU_STAT() lines of include/vmmu/stats_vcpu.h, which
 *	say what each counts; vmmu_vcpu_stat(vcpu, name) is one of them.
 *	Only the vCPU's own thread changes them.
 */
struct vmmu_vcpu_stats {
	atomic64_t counters[VMMU_VCPU_NR_STATS];
};

/**
 * struct vmmu_vcpu - a vCPU
 * @vm: the VM; the vCPU fd holds a reference
 * @vcpu_id: id given to KVM_CREATE_VCPU
 * @vcpu_idx: index in vm->vcpus
 * @mutex: serializes the vCPU's ioctls
 * @requests: VMMU_REQ_* bits
 * @mode_seq: odd while the vCPU is in guest mode; bumped on every entry and
 *	exit, written only by the vCPU's own thread
 * @root: the root the vCPU uses, with a reference; NULL before the first
 *	access
 * @pt_cache: page-table pages for faults
 * @header_cache: vmmu_mmu_page structs for faults
 * @tlb: the software vCPU's modelled TLB
 * @bounce: one page between guest memory and userspace
 * @run: hardware vCPUs: the struct kvm_run page userspace maps
 * @pio_data: hardware vCPUs: the port I/O data page, mapped after @run
 * @arch: hardware vCPUs: the backend's state
 * @x86: hardware vCPUs: the state the x86 layer keeps whatever the vendor
 * @cpuid: hardware vCPUs: the table set with KVM_SET_CPUID2, NULL until
 *	then (the supported table answers); replaced under @mutex
 * @cpu: hardware vCPUs: the CPU the vCPU is loaded on, -1 if none; read by
 *	kicks without a lock
 * @preempt_notifier: hardware vCPUs: reloads per-CPU state when the vCPU's
 *	thread is rescheduled during KVM_RUN
 * @runstate: hardware vCPUs: the run-state page (VMMU_VCPU_SET_RUNSTATE)
 * @dirty_ring: the pages this vCPU wrote in logged slots, while the VM
 *	uses dirty rings (include/vmmu/dirty_ring.h)
 * @sigset_active: KVM_SET_SIGNAL_MASK gave @sigset; under @mutex
 * @sigset: the signal mask of the thread while it is in KVM_RUN
 * @stats: event counters
 */
struct vmmu_vcpu {
	struct vmmu_vm *vm;
	int vcpu_id;
	int vcpu_idx;
	struct mutex mutex;		/* vCPU ioctls */
	unsigned long requests;
	unsigned long mode_seq;
	struct vmmu_mmu_page *root;
	struct vmmu_memcache pt_cache;
	struct vmmu_memcache header_cache;
	struct vmmu_sw_tlb tlb;
	void *bounce;
	struct kvm_run *run;
	void *pio_data;
	void *arch;
	struct vmmu_x86_vcpu x86;
	struct vmmu_cpuid *cpuid;
	int cpu;
#ifdef CONFIG_PREEMPT_NOTIFIERS
	struct preempt_notifier preempt_notifier;
#endif
	struct vmmu_vcpu_runstate runstate;
	struct vmmu_dirty_ring dirty_ring;
	bool sigset_active;
	sigset_t sigset;
	struct vmmu_vcpu_stats stats;
};

struct vmmu_vcpu *vmmu_vcpu_alloc(struct vmmu_vm *vm, int id);
void vmmu_vcpu_free(struct vmmu_vcpu *vcpu);
void vmmu_vm_add_vcpu(struct vmmu_vm *vm, struct vmmu_vcpu *vcpu);

static inline void vmmu_make_request(struct vmmu_vcpu *vcpu, int req)
{
	set_bit(req, &vcpu->requests);
}

static inline bool vmmu_check_request(struct vmmu_vcpu *vcpu, int req)
{
	return test_and_clear_bit(req, &vcpu->requests);
}

static inline bool vmmu_vcpu_in_guest_mode(struct vmmu_vcpu *vcpu)
{
	return READ_ONCE(vcpu->mode_seq) & 1;
}

bool vmmu_vcpu_enter_guest_mode(struct vmmu_vcpu *vcpu);
void vmmu_vcpu_exit_guest_mode(struct vmmu_vcpu *vcpu);
void vmmu_make_all_vcpus_request(struct vmmu_vm *vm, int req, bool wait);
void vmmu_flush_remote_tlbs(struct vmmu_vm *vm);

#endif /* _VMMU_VCPU_H */
