/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation-failure injection for the selftests, on kernels built with
 * CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC (the
 * debug lane's kernel).
 *
 * The unit is one system call in one thread: fail_arm(n) writes n to
 * /proc/thread-self/fail-nth, so that the n-th allocation this thread makes
 * from then on fails (slab and page allocator together), and fail_disarm()
 * tells whether that happened.  Nothing else in the machine is affected.
 * A child made by fork() arms its own thread, not its parent's.
 *
 * fail_setup() configures failslab and fail_page_alloc so that fail-nth
 * really fires: sleeping allocations are not exempt (ignore-gfp-wait=N),
 * nor are order-0 pages (min-order=0) or highmem ones, and nothing is
 * printed per failure (verbose=0).  Their probability stays 0, so no other
 * task ever sees an injected failure.  fail_restore() puts back what was
 * there before.
 */
#ifndef VMMU_SELFTESTS_FAIL_UTIL_H
#define VMMU_SELFTESTS_FAIL_UTIL_H

#include <stdbool.h>

/* Whether this kernel can inject allocation failures (fail-nth exists). */
bool fail_available(void);

/* Configure failslab and fail_page_alloc; 0, or -errno (skip the test). */
int fail_setup(void);
/* Put back the values fail_setup() found. */
void fail_restore(void);

/*
 * Make the @nth allocation of the calling thread fail, counting from now.
 * Bails out if the file cannot be written.
 */
void fail_arm(unsigned int nth);
/*
 * Stop counting: true if the armed failure was injected, false if fewer
 * than nth allocations happened since fail_arm().
 */
bool fail_disarm(void);

#endif /* VMMU_SELFTESTS_FAIL_UTIL_H */
