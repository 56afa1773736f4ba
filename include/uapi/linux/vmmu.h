/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmmu-only ioctls.
 *
 * vmmu speaks a subset of KVM's x86 uAPI (<linux/kvm.h>) on /dev/vmmu.  The
 * ioctls here are vmmu's own: they use their own ioctl type so that they can
 * never collide with a KVM ioctl, and they are accepted only on vmmu's fds.
 */
#ifndef _UAPI_LINUX_VMMU_H
#define _UAPI_LINUX_VMMU_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/kvm.h>

/*
 * KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP is KVM's (6.3 and later); defined here
 * for programs built against older <linux/kvm.h>.
 */
#ifndef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
#define KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP	225
#endif

/*
 * KVM_PRE_FAULT_MEMORY is KVM's (6.10 and later: same struct, number and
 * semantics); defined here for programs built against older <linux/kvm.h>.
 */
#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY	236

struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};

#define KVM_PRE_FAULT_MEMORY	_IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

#define VMMU_DEVICE_PATH	"/dev/vmmu"

/* vmmu's ioctl type; KVM's is 0xAE. */
#define VMMUIO			0xB2

/**
 * struct vmmu_memslot_info - one memslot as the VM sees it
 * @slot: address space id << 16 | slot id, as in kvm_userspace_memory_region
 * @flags: KVM_MEM_* flags
 * @guest_phys_addr: first guest-physical address of the slot
 * @memory_size: size in bytes
 * @userspace_addr: host virtual address backing the first byte
 */
struct vmmu_memslot_info {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
};

/**
 * struct vmmu_memslot_list - argument of VMMU_GET_MEMSLOTS
 * @nr: in: capacity of @entries; out: number of memslots in the VM
 * @pad: must be zero
 * @generation: out: generation of the memslot set that was read
 * @entries: out: the memslots, in ascending guest-physical address order
 *
 * If @nr is smaller than the number of memslots, the ioctl fails with E2BIG
 * and writes the number needed to @nr.
 */
struct vmmu_memslot_list {
	__u32 nr;
	__u32 pad;
	__u64 generation;
	struct vmmu_memslot_info entries[];
};

/* VM fd: read the current memslot set. */
#define VMMU_GET_MEMSLOTS	_IOWR(VMMUIO, 0x00, struct vmmu_memslot_list)

/* Page-table formats for VMMU_SET_MMU. */
#define VMMU_MMU_FORMAT_EPT	1	/* Intel EPT */
#define VMMU_MMU_FORMAT_NPT	2	/* AMD NPT (x86-64 page tables, U=1) */

/* vCPU kinds for VMMU_SET_MMU. */
#define VMMU_VCPU_SOFTWARE	1	/* walks the tables in software */
#define VMMU_VCPU_SVM		2	/* runs guest code with AMD SVM + NPT */
#define VMMU_VCPU_VMX		3	/* runs guest code with Intel VMX + EPT */

/**
 * struct vmmu_mmu_config - argument of VMMU_SET_MMU and VMMU_GET_MMU
 * @format: VMMU_MMU_FORMAT_*
 * @levels: paging levels of the root, 4 or 5; 0 picks the default (NPT:
 *	the host's paging depth, which NPT must match; EPT: 4)
 * @vcpu_kind: VMMU_VCPU_*
 * @pad: must be zero
 * @gpa_bits: out: guest-physical address bits the VM may use: what the
 *	root maps (48 with 4 levels, 52 with 5), at most the host's
 *	MAXPHYADDR; memslots end at or below 2^gpa_bits
 *
 * A VM starts with VMX vCPUs and 4-level EPT where vmmu can use VMX, with
 * SVM vCPUs and NPT (default levels) where it can use SVM, and with NPT and
 * software vCPUs elsewhere; VMMU_GET_MMU reports the configuration in
 * effect.
 * VMMU_SET_MMU is accepted only before the first memslot or vCPU is created
 * (EBUSY after).
 *
 * VMMU_VCPU_SVM needs format NPT (EINVAL otherwise) and a CPU with SVM and
 * NPT that vmmu can use (ENODEV otherwise); choosing it enables SVM on every
 * CPU until the VM is destroyed, and fails with EBUSY if another hypervisor
 * (e.g. kvm_amd) already has SVM turned on.  A VM that keeps the default
 * enables SVM only with its first KVM_CREATE_VCPU, which fails with EBUSY
 * in that case; choose VMMU_VCPU_SOFTWARE for a VM that must work while
 * another hypervisor owns SVM.  SVM vCPUs run guest code with KVM_RUN;
 * VMMU_VCPU_ACCESS is for software vCPUs only.
 *
 * VMMU_VCPU_VMX needs format EPT (EINVAL otherwise; also for 5 levels on a
 * CPU whose EPT has 4) and a CPU with VMX, EPT and unrestricted guest that
 * vmmu can use (ENODEV otherwise); choosing it enters VMX operation on
 * every CPU until the VM is destroyed, and fails with EBUSY if another
 * hypervisor (e.g. kvm_intel) already has VMX on or the firmware locked it
 * off.  A VM that keeps the default VMX kind enables it with its first
 * KVM_CREATE_VCPU instead.
 */
struct vmmu_mmu_config {
	__u32 format;
	__u32 levels;
	__u32 vcpu_kind;
	__u32 pad;
	__u32 gpa_bits;
	__u32 pad2;
};

/* VM fd: choose the page-table format and the vCPU kind. */
#define VMMU_SET_MMU		_IOWR(VMMUIO, 0x01, struct vmmu_mmu_config)
/* VM fd: read the configuration back. */
#define VMMU_GET_MMU		_IOR(VMMUIO, 0x02, struct vmmu_mmu_config)
/*
 * VM fd: invalidate every root (what a memslot delete or move does): vCPUs
 * load a new root before their next access, the old roots are zapped and
 * freed when their last user drops them.  A test hook: CAP_SYS_ADMIN only
 * (EPERM otherwise).
 */
#define VMMU_ZAP_ALL		_IO(VMMUIO, 0x03)

/* Access kinds for struct vmmu_access. */
#define VMMU_ACCESS_READ	0
#define VMMU_ACCESS_WRITE	1
#define VMMU_ACCESS_FETCH	2

/* Results in struct vmmu_access. */
#define VMMU_ACCESS_DONE	0	/* all @len bytes were accessed */
#define VMMU_ACCESS_MMIO	1	/* stopped at @mmio_gpa: no memory there */
#define VMMU_ACCESS_INTR	2	/* a signal stopped it after @done bytes */
/* A write stopped after @done bytes: the vCPU's dirty ring is soft-full. */
#define VMMU_ACCESS_DIRTY_RING_FULL	3

/**
 * struct vmmu_access - argument of VMMU_VCPU_ACCESS
 * @gpa: first guest-physical address
 * @buf: user buffer: source of a write, destination of a read or fetch
 * @len: bytes to access
 * @kind: VMMU_ACCESS_READ, _WRITE or _FETCH
 * @flags: must be zero
 * @result: out: VMMU_ACCESS_DONE, VMMU_ACCESS_MMIO, VMMU_ACCESS_INTR or
 *	VMMU_ACCESS_DIRTY_RING_FULL
 * @pad: must be zero
 * @done: out: bytes accessed before the access stopped
 * @mmio_gpa: out: with VMMU_ACCESS_MMIO, the address that has no memory
 *	(outside every memslot, or a write to a read-only slot)
 *
 * The software vCPU accesses guest memory as a CPU would through the VM's
 * page tables: it walks the vCPU's root in the VM's hardware format, sets
 * accessed and dirty bits, calls the MMU's page-fault handler on a miss and
 * caches translations in a modelled TLB that only MMU flushes clear.
 */
struct vmmu_access {
	__u64 gpa;
	__u64 buf;
	__u32 len;
	__u32 kind;
	__u32 flags;
	__u32 result;
	__u32 pad;
	__u32 done;
	__u64 mmio_gpa;
};

/**
 * struct vmmu_stats - argument of VMMU_GET_STATS: the VM's MMU counters
 * @faults: page faults handled
 * @fault_retries: faults retried (raced with an invalidation or another
 *	fault, or found their root invalid)
 * @pages_mapped: leaves installed since the VM was created
 * @mapped: present leaves now, per level: [0] 4 KiB, [1] 2 MiB, [2] 1 GiB
 * @leaves_zapped: present leaves removed
 * @tables: page-table pages now in use, roots included
 * @tables_freed: page-table pages freed
 * @invalidations: mmu_notifier invalidations of host ranges a memslot maps
 * @roots_valid: roots vCPUs may start to use now
 * @roots_invalid: invalidated roots still used by a vCPU now
 * @roots_invalidated: roots invalidated since the VM was created
 * @tlb_flushes: remote TLB flushes
 * @young_cleared: accessed bits cleared for the host's page aging
 * @invalidate_seq: the invalidation sequence count
 * @invalidate_in_progress: invalidations between start and end now
 * @leaves_wrprot: leaves write-protected for dirty logging
 * @pf_fast: write faults fixed by the lockless fast path
 * @huge_splits: huge leaves split in place into tables of smaller ones
 * @huge_recovered: tables zapped so that huge leaves map their range again
 *	(dirty logging turned off)
 * @prefetched: leaves installed by fault-around for neighbours of a
 *	faulting page
 * @reserved: zero
 */
struct vmmu_stats {
	__u64 faults;
	__u64 fault_retries;
	__u64 pages_mapped;
	__u64 mapped[5];
	__u64 leaves_zapped;
	__u64 tables;
	__u64 tables_freed;
	__u64 invalidations;
	__u64 roots_valid;
	__u64 roots_invalid;
	__u64 roots_invalidated;
	__u64 tlb_flushes;
	__u64 young_cleared;
	__u64 invalidate_seq;
	__u64 invalidate_in_progress;
	__u64 leaves_wrprot;
	__u64 pf_fast;
	__u64 huge_splits;
	__u64 huge_recovered;
	__u64 prefetched;
	__u64 reserved[3];
};

/* VM fd: read the MMU counters. */
#define VMMU_GET_STATS		_IOR(VMMUIO, 0x04, struct vmmu_stats)

/* vCPU fd: access guest memory through the software vCPU. */
#define VMMU_VCPU_ACCESS	_IOWR(VMMUIO, 0x20, struct vmmu_access)

/* Flags in struct vmmu_translation. */
#define VMMU_TR_PRESENT		(1 << 0)
#define VMMU_TR_WRITABLE	(1 << 1)
#define VMMU_TR_EXECUTABLE	(1 << 2)
#define VMMU_TR_ACCESSED	(1 << 3)
#define VMMU_TR_DIRTY		(1 << 4)
#define VMMU_TR_PFN_VALID	(1 << 5)	/* @pfn is filled in */
#define VMMU_TR_ROOT_INVALID	(1 << 6)	/* the vCPU's root is invalid */
#define VMMU_TR_NO_ROOT		(1 << 7)	/* the vCPU has no root yet */

/**
 * struct vmmu_translation - argument of VMMU_VCPU_TRANSLATE
 * @gpa: in: the guest-physical address to look up
 * @flags: out: VMMU_TR_*
 * @level: out: level of the entry the walk ended at (1 = 4 KiB)
 * @spte: out: raw value of that entry; for a caller without CAP_SYS_ADMIN
 *	its address bits (51:12, a host pfn) read as 0, its permission,
 *	attribute and software bits stay
 * @pfn: out: host page frame number; only for CAP_SYS_ADMIN (as in
 *	/proc/pid/pagemap), else 0
 *
 * Inspects the vCPU's current root without changing anything.
 */
struct vmmu_translation {
	__u64 gpa;
	__u32 flags;
	__u32 level;
	__u64 spte;
	__u64 pfn;
};

/* vCPU fd: look a guest-physical address up in the vCPU's root. */
#define VMMU_VCPU_TRANSLATE	_IOWR(VMMUIO, 0x21, struct vmmu_translation)

/*
 * The run-state page: what vmmu writes about a vCPU's time in the guest, at
 * a guest-physical address the VMM chooses with VMMU_VCPU_SET_RUNSTATE.
 */

/**
 * struct vmmu_runstate - the layout vmmu writes at the run-state address
 * @seq: odd while vmmu updates the record; bumped before and after
 * @flags: VMMU_RUNSTATE_IN_GUEST while the vCPU is in the guest
 * @entries: guest entries since the address was set
 * @exits: guest exits since then
 * @ns_in_guest: nanoseconds spent in the guest since then
 * @ns_out_guest: nanoseconds spent out of it (in vmmu and the VMM) since then
 *
 * vmmu writes the whole record with interrupts disabled just before every
 * guest entry and just after every exit; a reader takes @seq, the fields,
 * then @seq again, and retries if the two differ or are odd.  Guest code of
 * a running vCPU always finds @entries == @exits + 1 in its own record.
 * While the page cannot be mapped (the VMM unmapped it, a memslot update is
 * under way) updates are skipped and the record catches up with the next one.
 */
struct vmmu_runstate {
	__u32 seq;
	__u32 flags;
	__u64 entries;
	__u64 exits;
	__u64 ns_in_guest;
	__u64 ns_out_guest;
};

#define VMMU_RUNSTATE_IN_GUEST	(1 << 0)

/* Flags of struct vmmu_runstate_config. */
#define VMMU_RUNSTATE_ENABLE	(1 << 0)

/**
 * struct vmmu_runstate_config - argument of VMMU_VCPU_SET_RUNSTATE
 * @gpa: where struct vmmu_runstate goes: 8-byte aligned, within one page
 *	of a writable memslot; ignored without VMMU_RUNSTATE_ENABLE
 * @flags: VMMU_RUNSTATE_ENABLE to set @gpa (the counters restart at 0),
 *	0 to stop updates
 * @pad: must be zero
 */
struct vmmu_runstate_config {
	__u64 gpa;
	__u32 flags;
	__u32 pad;
};

/* vCPU fd (hardware vCPUs): set or clear the run-state page. */
#define VMMU_VCPU_SET_RUNSTATE	_IOW(VMMUIO, 0x28, struct vmmu_runstate_config)

/*
 * VMMU_TEST_PFNCACHE: for tests only.  Drives one of a VM's test caches
 * (VMMU_TEST_PFNCACHES of them, by @id) from userspace threads.
 * CAP_SYS_ADMIN only: EPERM otherwise, before the argument is read.
 */
#define VMMU_TEST_PFNCACHES		4

#define VMMU_TEST_PFNCACHE_ACTIVATE	1	/* @gpa, @len */
#define VMMU_TEST_PFNCACHE_DEACTIVATE	2
#define VMMU_TEST_PFNCACHE_REFRESH	3	/* @len */
#define VMMU_TEST_PFNCACHE_READ		4	/* @len bytes at @offset to @buf */
#define VMMU_TEST_PFNCACHE_WRITE	5	/* @len bytes from @buf to @offset */
#define VMMU_TEST_PFNCACHE_TIMER_START	6	/* every @period_ns */
#define VMMU_TEST_PFNCACHE_TIMER_STOP	7
#define VMMU_TEST_PFNCACHE_STATS	8

/**
 * struct vmmu_test_pfncache - argument of VMMU_TEST_PFNCACHE
 * @op: VMMU_TEST_PFNCACHE_*
 * @id: the test cache, below VMMU_TEST_PFNCACHES
 * @gpa: ACTIVATE: first guest-physical address
 * @len: ACTIVATE, REFRESH: bytes of the cache; READ, WRITE: bytes to copy
 * @offset: READ, WRITE: offset from the cache's first byte
 * @buf: READ, WRITE: user buffer
 * @period_ns: TIMER_START: the timer's period (at least 10000)
 * @refreshes: out: refreshes that published a mapping
 * @retries: out: refreshes that had to look up again
 * @timer_writes: out: timer callbacks that wrote through the cache
 * @timer_skips: out: timer callbacks that found the cache invalid
 * @reserved: must be zero
 *
 * READ and WRITE copy whole 8-byte words when @offset, @len and the cache's
 * gpa are multiples of 8.  The timer is a soft hrtimer: each callback writes the pair (n, ~n), with
 * n its count of writes, to the first 16 bytes of the cache when the cache
 * is valid and has at least 16 bytes, else it skips and leaves the refresh
 * to a work item.  Every op fills the out fields.
 */
struct vmmu_test_pfncache {
	__u32 op;
	__u32 id;
	__u64 gpa;
	__u32 len;
	__u32 offset;
	__u64 buf;
	__u64 period_ns;
	__u64 refreshes;
	__u64 retries;
	__u64 timer_writes;
	__u64 timer_skips;
	__u64 reserved[4];
};

/* VM fd: drive a test cache (tests only). */
#define VMMU_TEST_PFNCACHE	_IOWR(VMMUIO, 0x10, struct vmmu_test_pfncache)

#endif /* _UAPI_LINUX_VMMU_H */
