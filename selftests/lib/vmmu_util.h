/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for vmmu's selftests: the device, VMs, memslots, and the numbers
 * the tests compare against a baseline (module object counters, free memory).
 *
 * Functions that wrap an ioctl return its result, or -errno on failure, so
 * that tests can compare them with is_errno().  Functions whose failure
 * makes the rest of a test meaningless bail out instead.
 */
#ifndef VMMU_SELFTESTS_VMMU_UTIL_H
#define VMMU_SELFTESTS_VMMU_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/kvm.h>
#include <linux/vmmu.h>

#include "tap.h"

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define BIT(nr)			(1UL << (nr))
#define BIT_ULL(nr)		(1ULL << (nr))

#ifndef PAGE_SIZE
#define PAGE_SIZE		4096ULL
#endif

/* KVM_MEM_MAX_NR_PAGES in the kernel: the most pages one memslot may have. */
#define VMMU_MEM_MAX_NR_PAGES	(BIT_ULL(31) - 1)

#define VMMU_DEBUGFS_OBJECTS	"/sys/kernel/debug/vmmu/objects"
#define VMMU_MODULE_NAME	"vmmu"

/* Live objects of the module, from VMMU_DEBUGFS_OBJECTS. */
struct vmmu_objects {
	long vms;
	long memslot_sets;
	long memslots;
	long vcpus;
	long roots;
	long pt_pages;
	long dirty_bitmaps;
};

/* An ioctl returning its result, or -errno. */
long vmmu_ioctl(int fd, unsigned long request, unsigned long arg);

/* Open VMMU_DEVICE_PATH; bails out on failure. */
int vmmu_open(void);
/* KVM_CREATE_VM with type 0: the VM fd, or -errno. */
int vmmu_create_vm(int sys_fd);
/* vmmu_create_vm(), bailing out on failure. */
int vmmu_create_vm_or_die(int sys_fd);
/* KVM_CHECK_EXTENSION, on /dev/vmmu or a VM fd. */
long vmmu_check_extension(int fd, long cap);

/* KVM_SET_USER_MEMORY_REGION: 0 or -errno. */
int vmmu_set_region(int vm_fd, u32 slot, u32 flags, u64 gpa,
		    u64 size, u64 hva);
int vmmu_set_region_struct(int vm_fd,
			   const struct kvm_userspace_memory_region *region);
/* Delete @slot: a region of size 0. */
int vmmu_delete_region(int vm_fd, u32 slot);

/* A zeroed memslot list with room for @capacity entries, nr = @capacity. */
struct vmmu_memslot_list *vmmu_memslots_alloc(u32 capacity);
/* VMMU_GET_MEMSLOTS into @list as it is (the caller sets nr and pad). */
int vmmu_get_memslots(int vm_fd, struct vmmu_memslot_list *list);
/*
 * Read the whole memslot set into a new list (free() it), retrying while the
 * set grows.  NULL with errno set on failure.
 */
struct vmmu_memslot_list *vmmu_memslots_read(int vm_fd);
/* Same, but bail out on failure. */
struct vmmu_memslot_list *vmmu_memslots_read_or_die(int vm_fd);
/* Byte-for-byte equality of header and entries. */
bool vmmu_memslots_equal(const struct vmmu_memslot_list *a,
			 const struct vmmu_memslot_list *b);
/* Print @list as "# " diagnostics, each line starting with @label. */
void vmmu_memslots_diag(const char *label,
			const struct vmmu_memslot_list *list);

/*
 * One test: @list holds exactly the @nr entries of @want, in that order.
 * The generation is not compared.  Both lists are printed on failure.
 */
bool tap_memslots(const struct vmmu_memslot_list *list,
		  const struct vmmu_memslot_info *want, unsigned int nr,
		  const char *file, int line, const char *fmt, ...);
#define ok_memslots(list, want, nr, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_memslots((list), (want), (nr), __FILE__, __LINE__, __VA_ARGS__))

/* One test: the memslot set of @vm_fd is byte-for-byte @before. */
bool tap_memslots_unchanged(int vm_fd, const struct vmmu_memslot_list *before,
			    const char *file, int line, const char *fmt, ...);
#define ok_memslots_unchanged(vm_fd, before, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_memslots_unchanged((vm_fd), (before), __FILE__, __LINE__, \
				__VA_ARGS__))

/* Module object counters: 0 or -errno. */
int vmmu_objects_read(struct vmmu_objects *objs);
/* Same, but bail out on failure. */
void vmmu_objects_read_or_die(struct vmmu_objects *objs);
/* Are all counters of @a and @b equal? */
bool vmmu_objects_equal(const struct vmmu_objects *a,
			const struct vmmu_objects *b);
/* Print @o as a "# " line, labelled. */
void vmmu_objects_diag(const char *label, const struct vmmu_objects *o);

/* One test: the counters now equal @want; both are printed on failure. */
bool tap_objects(const struct vmmu_objects *want, const char *file, int line,
		 const char *fmt, ...);
#define ok_objects(want, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_objects((want), __FILE__, __LINE__, __VA_ARGS__))

/* @field ("SecPageTables" ...) of /proc/meminfo in KiB, or -errno. */
long long meminfo_kib(const char *field);
/*
 * The same after writing /proc/sys/vm/stat_refresh, which folds every CPU's
 * pending vmstat deltas into the totals: the number is exact.
 */
long long meminfo_kib_exact(const char *field);
/* MemAvailable from /proc/meminfo in KiB, or -errno. */
long long meminfo_available_kib(void);

/* delete_module(VMMU_MODULE_NAME, O_NONBLOCK): 0 or -errno. */
int vmmu_try_unload(void);

/*
 * The highest user address plus one page as access_ok() sees it, i.e. the
 * kernel's TASK_SIZE_MAX: it depends on 4- or 5-level host paging.
 */
u64 vmmu_task_size_max(void);

/* Anonymous read-write memory, page aligned; bails out on failure. */
void *vmmu_alloc_guest_memory(size_t size);

/* CLOCK_MONOTONIC in nanoseconds. */
u64 vmmu_now_ns(void);

/*
 * Take CAP_SYS_ADMIN out of (@on false) or put it back into (@on true) the
 * calling thread's effective capabilities; it stays permitted, so it can
 * come back.  Only this thread changes (raw capset(), not glibc's).  0 or
 * -errno.
 */
int vmmu_set_sys_admin(bool on);
/* Does the calling thread have CAP_SYS_ADMIN in its effective set? */
bool vmmu_has_sys_admin(void);

#endif /* VMMU_SELFTESTS_VMMU_UTIL_H */
