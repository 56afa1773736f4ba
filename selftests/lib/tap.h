/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small TAP (Test Anything Protocol) producer for vmmu's selftests.
 *
 * A test program declares its plan, then reports one line per test:
 *
 *	tap_plan(3);
 *	ok(fd >= 0, "open %s", path);
 *	is_int(version, 12, "API version");
 *	is_errno(r, EINVAL, "slot id too large");
 *	return tap_finish();
 *
 * Failures print the expected and the actual value as "# " diagnostics.
 * The exit status is non-zero when a test failed, when the number of tests
 * run does not match the plan, or after a bail out.
 *
 * Only the process that called tap_plan() may report: a forked child sends
 * its results to the parent (e.g. through a pipe) and leaves with _exit().
 */
#ifndef VMMU_SELFTESTS_TAP_H
#define VMMU_SELFTESTS_TAP_H

#include <stdbool.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define __tap_printf(f, a)	__attribute__((format(printf, f, a)))

void tap_plan(unsigned int nr_tests);
int tap_finish(void);

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
	__tap_printf(4, 5);
bool tap_is_int(long long got, long long expected, const char *file,
		int line, const char *fmt, ...) __tap_printf(5, 6);
bool tap_is_hex(unsigned long long got, unsigned long long expected,
		const char *file, int line, const char *fmt, ...)
	__tap_printf(5, 6);
bool tap_is_errno(long got, int expected, const char *file, int line,
		  const char *fmt, ...) __tap_printf(5, 6);

/* ok(cond, fmt, ...): one test that passes when @cond is true. */
#define ok(cond, ...) \
	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* is_int(got, expected, fmt, ...): signed integers, printed in decimal. */
#define is_int(got, expected, ...) \
	tap_is_int((got), (expected), __FILE__, __LINE__, __VA_ARGS__)

/* is_hex(got, expected, fmt, ...): unsigned integers, printed in hex. */
#define is_hex(got, expected, ...) \
	tap_is_hex((got), (expected), __FILE__, __LINE__, __VA_ARGS__)

/*
 * is_errno(got, expected, fmt, ...): @got is a result in the kernel's style,
 * >= 0 for success or -errno; @expected is a positive errno, or 0 when any
 * non-negative result is expected.
 */
#define is_errno(got, expected, ...) \
	tap_is_errno((got), (expected), __FILE__, __LINE__, __VA_ARGS__)

void skip(unsigned int nr_tests, const char *fmt, ...) __tap_printf(2, 3);
void diag(const char *fmt, ...) __tap_printf(1, 2);
void bail_out(const char *fmt, ...) __tap_printf(1, 2)
	__attribute__((noreturn));

/* "EINVAL" for EINVAL; a number for errnos the table does not know. */
const char *errno_name(int err);

/* Number of failed tests so far. */
unsigned int tap_failures(void);

#endif /* VMMU_SELFTESTS_TAP_H */
