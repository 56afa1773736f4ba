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

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdnoreturn.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Let the compiler check a format string and its arguments as it does for
 * printf(), without calling anything.  Every macro below that takes a format
 * does this first.
 */
#define tap_check_format(...)	((void)(0 && printf(__VA_ARGS__)))

/*
 * Marks the format parameters of a reporting function in its declaration.
 * It expands to nothing: the format is checked by tap_check_format() in the
 * macro that callers use, as ok() and the others below do.
 */
#define __tap_printf(fmt_index, first_arg_index)

void tap_plan(unsigned int nr_tests);
int tap_finish(void);

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...);
bool tap_vok(bool cond, const char *file, int line, const char *fmt,
	     va_list ap);
bool tap_is_int(long long got, long long expected, const char *file,
		int line, const char *fmt, ...);
bool tap_is_hex(unsigned long long got, unsigned long long expected,
		const char *file, int line, const char *fmt, ...);
bool tap_is_errno(long got, int expected, const char *file, int line,
		  const char *fmt, ...);
void tap_skip(unsigned int nr_tests, const char *fmt, ...);
void tap_diag(const char *fmt, ...);
noreturn void tap_bail_out(const char *fmt, ...);

/* ok(cond, fmt, ...): one test that passes when @cond is true. */
#define ok(cond, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__))

/* is_int(got, expected, fmt, ...): signed integers, printed in decimal. */
#define is_int(got, expected, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_is_int((got), (expected), __FILE__, __LINE__, __VA_ARGS__))

/* is_hex(got, expected, fmt, ...): unsigned integers, printed in hex. */
#define is_hex(got, expected, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_is_hex((got), (expected), __FILE__, __LINE__, __VA_ARGS__))

/*
 * is_errno(got, expected, fmt, ...): @got is a result in the kernel's style,
 * >= 0 for success or -errno; @expected is a positive errno, or 0 when any
 * non-negative result is expected.
 */
#define is_errno(got, expected, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_is_errno((got), (expected), __FILE__, __LINE__, __VA_ARGS__))

/* skip(nr_tests, fmt, ...): report @nr_tests planned tests as skipped. */
#define skip(nr_tests, ...) \
	(tap_check_format(__VA_ARGS__), tap_skip((nr_tests), __VA_ARGS__))

/* diag(fmt, ...): a "# " comment line. */
#define diag(...) \
	(tap_check_format(__VA_ARGS__), tap_diag(__VA_ARGS__))

/* bail_out(fmt, ...): stop the program; nothing after it can be trusted. */
#define bail_out(...) \
	(tap_check_format(__VA_ARGS__), tap_bail_out(__VA_ARGS__))

/* "EINVAL" for EINVAL; a number for errnos the table does not know. */
const char *errno_name(int err);

/* Number of failed tests so far. */
unsigned int tap_failures(void);

#endif /* VMMU_SELFTESTS_TAP_H */
