/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for vmmu's stress, aging, pre-fault and userfaultfd selftests:
 * VMs in a chosen format, software-vCPU accesses, per-page data patterns,
 * the module's full object counters, the VM's MMU counters, windows in
 * which a failure is legitimate, pacing of worker threads against a host
 * thread, userfaultfd and module parameters.
 *
 * Wrappers of a system call return its result or -errno; helpers whose
 * failure makes the rest of a test meaningless bail out.
 */
#ifndef VMMU_SELFTESTS_STRESS_UTIL_H
#define VMMU_SELFTESTS_STRESS_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <linux/vmmu.h>

#include "tap.h"
#include "vmmu_util.h"

/* Present on the debug kernel (kmemleak), absent on Debian's. */
#define ST_KMEMLEAK_PATH	"/sys/kernel/debug/kmemleak"
#define ST_PARAM_DIR		"/sys/module/vmmu/parameters"

/* True on the debug kernel, where everything is about ten times slower. */
bool st_debug_kernel(void);
/* @n, or @n / @div on the debug kernel; never less than @min. */
unsigned long st_scale(unsigned long n, unsigned long div, unsigned long min);

/* "npt" or "ept". */
const char *st_format_name(u32 format);
/*
 * A new VM with page-table format @format (VMMU_MMU_FORMAT_*) and @levels
 * (0: the default); @cfg receives the configuration if not NULL.  Bails out.
 */
int st_vm_create(int sys_fd, u32 format, u32 levels,
		 struct vmmu_mmu_config *cfg);

/*
 * VMMU_VCPU_ACCESS: the result (VMMU_ACCESS_DONE, _MMIO, _INTR) or -errno;
 * a DONE that did not access all @len bytes is reported as -EIO.
 */
int st_access(int vcpu_fd, u32 kind, u64 gpa, void *buf, u32 len);
/* VMMU_GET_STATS: 0 or -errno; the _or_die variant bails out. */
int st_stats(int vm_fd, struct vmmu_stats *st);
void st_stats_or_die(int vm_fd, struct vmmu_stats *st);
/* Print the interesting counters of @st as a "# " line. */
void st_stats_diag(const char *label, const struct vmmu_stats *st);

/*
 * Data patterns.  st_pattern() is the 8-byte word at byte @off (a multiple
 * of 8) of page @page in pattern @seed: never zero, different for every
 * word, page and seed.  Callers key pages by gfn, or by the page index in
 * a memslot when the slot moves.
 */
u64 st_pattern(u64 seed, u64 page, u64 off);
/* Fill @len bytes (a multiple of 8) starting at byte @off of page @page. */
void st_fill(void *buf, u64 seed, u64 page, u64 off, size_t len);
/*
 * Byte offset of the first word of @buf that is not the pattern; -1 if
 * there is none.  With @zero_ok a word may also have zero bytes where the
 * pattern has others (a page being written while it is read).
 */
long st_mismatch(const void *buf, u64 seed, u64 page, u64 off, size_t len,
		 bool zero_ok);

/* Address space nobody else can take: PROT_NONE, at @addr if not NULL. */
void *st_reserve(size_t size, void *addr);

/* A small fast pseudo-random generator (state must not be 0). */
u64 st_rand(u64 *state);

/*
 * A window: a counter that is odd while something that makes failures
 * legitimate is going on.  A worker reads it before and after an operation;
 * the operation overlapped the window if the first value was odd or the
 * two differ.
 */
static inline void st_window_open(atomic_ulong *w)
{
	atomic_fetch_add(w, 1);
}

static inline void st_window_close(atomic_ulong *w)
{
	atomic_fetch_add(w, 1);
}

static inline bool st_window_hit(unsigned long before, unsigned long after)
{
	return (before & 1) || before != after;
}

/*
 * Pacing of worker threads against a host thread.  A worker calls
 * st_pace_begin() before each operation (it blocks while the worker has no
 * budget left, and returns false once stopped) and st_pace_end() after it.
 * The host calls st_pace_wait() after each of its operations: it gives
 * every worker a budget of @budget operations and returns once every
 * worker has finished two operations since, the second of which started
 * after the call.  Workers spend the rest of their budget while the host's
 * next operation runs, so host and worker operations overlap, neither side
 * starves, and the work per host operation is bounded.
 */
#define ST_MAX_WORKERS	8

struct st_pace {
	pthread_mutex_t lock;
	pthread_cond_t host_cond;
	pthread_cond_t worker_cond;
	int stop;
	unsigned int nr;
	unsigned int budget_per_op;
	unsigned int budget[ST_MAX_WORKERS];
	unsigned long done[ST_MAX_WORKERS];
};

void st_pace_init(struct st_pace *p, unsigned int nr_workers,
		  unsigned int budget);
bool st_pace_begin(struct st_pace *p, unsigned int worker);
void st_pace_end(struct st_pace *p, unsigned int worker);
void st_pace_wait(struct st_pace *p);
/* Stop the workers: st_pace_begin() returns false from now on. */
void st_pace_stop(struct st_pace *p);

/*
 * userfaultfd.  st_uffd_open() creates one that handles kernel faults too
 * (GUP from an ioctl), with @features; -EINVAL if the kernel lacks one of
 * them, -errno otherwise.
 */
int st_uffd_open(u64 features);
/* UFFDIO_REGISTER of [addr, addr + len) with @mode: 0 or -errno. */
int st_uffd_register(int uffd, void *addr, size_t len, u64 mode);
/* Wait for the next message (blocking): 0 or -errno. */
int st_uffd_read(int uffd, struct uffd_msg *msg);
/* UFFDIO_COPY of @len bytes from @src to @dst: 0 or -errno. */
int st_uffd_copy(int uffd, void *dst, const void *src, size_t len);
/* UFFDIO_CONTINUE of [addr, addr + len): 0 or -errno. */
int st_uffd_continue(int uffd, void *addr, size_t len);

/* Module parameter @name of vmmu: 0 or -errno. */
int st_param_read(const char *name, unsigned long *val);
int st_param_write(const char *name, unsigned long val);
/* The same with a string value ("auto", "on"). */
int st_param_set(const char *name, const char *val);
/* Write @val to the sysfs or procfs file @path: 0 or -errno. */
int st_write_file(const char *path, const char *val);

/* Pin the calling thread to CPU @cpu: 0 or -errno. */
int st_pin_cpu(int cpu);

#endif /* VMMU_SELFTESTS_STRESS_UTIL_H */
