/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests of memory cgroup charging: the cgroup2 directory of the
 * test, child cgroups under it, moving a process, and the counters of
 * memory.stat, memory.events and memory.current.
 *
 * Functions return 0 or -errno; readers of a counter return its value, or
 * -1 if it cannot be read.
 */
#ifndef VMMU_SELFTESTS_CG_UTIL_H
#define VMMU_SELFTESTS_CG_UTIL_H

/* Longest path of a cgroup directory these helpers handle. */
#define CG_PATH_MAX	320

/*
 * The cgroup2 directory of the calling process into @base (CG_PATH_MAX
 * bytes), from /proc/self/cgroup; -ENOENT without a cgroup2 hierarchy.
 */
int cg_find_base(char *base);
/* Write @val to the file @file of @cg. */
int cg_write(const char *cg, const char *file, const char *val);
/* Move the calling process into @cg. */
int cg_enter(const char *cg);
/* The value of @key in a "key value" file of @cg (memory.stat ...). */
long cg_read_key(const char *cg, const char *file, const char *key);
/* A file of @cg holding one number (memory.current ...). */
long cg_read_long(const char *cg, const char *file);
/*
 * Poll @key of memory.stat until it is @want, up to a bound that covers
 * the kernel's lazy statistics flush; returns the last value read.
 */
long cg_wait_stat(const char *cg, const char *key, long want);

#endif /* VMMU_SELFTESTS_CG_UTIL_H */
