// SPDX-License-Identifier: GPL-2.0
/*
 * A small TAP producer; see tap.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static struct {
	unsigned int planned;
	unsigned int run;
	unsigned int failed;
	pid_t owner;		/* the process that called tap_plan() */
	bool finished;
} tap;

static void tap_vprintf(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

static bool tap_summary(void)
{
	bool good = true;

	if (tap.run != tap.planned) {
		diag("planned %u tests but ran %u", tap.planned, tap.run);
		good = false;
	}
	if (tap.failed) {
		diag("failed %u of %u tests", tap.failed, tap.run);
		good = false;
	}
	return good;
}

/* A program that leaves through exit() without tap_finish() still fails. */
static void tap_atexit(void)
{
	if (tap.finished || tap.owner != getpid())
		return;
	tap.finished = true;
	diag("exited before tap_finish()");
	tap_summary();
	fflush(stdout);
	_exit(1);
}

/**
 * tap_plan() - print the plan; must come before any test
 * @nr_tests: the number of tests the program will report
 */
void tap_plan(unsigned int nr_tests)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap.planned = nr_tests;
	tap.owner = getpid();
	atexit(tap_atexit);
	printf("1..%u\n", nr_tests);
	fflush(stdout);
}

/**
 * tap_finish() - check the plan and give the exit status
 *
 * Return: 0 if every planned test ran and passed, else 1.
 */
int tap_finish(void)
{
	tap.finished = true;
	return tap_summary() ? 0 : 1;
}

unsigned int tap_failures(void)
{
	return tap.failed;
}

/* Print the "ok N - ..." line; returns @cond. */
static bool tap_result(bool cond, const char *file, int line,
		       const char *fmt, va_list ap)
{
	char prefix[48];

	if (tap.owner != getpid()) {
		fprintf(stderr, "tap: test reported from pid %d, not %d\n",
			(int)getpid(), (int)tap.owner);
		_exit(2);
	}
	tap.run++;
	if (!cond)
		tap.failed++;
	snprintf(prefix, sizeof(prefix), "%sok %u - ", cond ? "" : "not ",
		 tap.run);
	tap_vprintf(prefix, fmt, ap);
	if (!cond)
		diag("  Failed test at %s:%d", file, line);
	return cond;
}

bool tap_vok(bool cond, const char *file, int line, const char *fmt,
	     va_list ap)
{
	return tap_result(cond, file, line, fmt, ap);
}

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_result(cond, file, line, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_is_int(long long got, long long expected, const char *file,
		int line, const char *fmt, ...)
{
	bool cond = got == expected;
	va_list ap;

	va_start(ap, fmt);
	tap_result(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		diag("  expected: %lld", expected);
		diag("       got: %lld", got);
	}
	return cond;
}

bool tap_is_hex(unsigned long long got, unsigned long long expected,
		const char *file, int line, const char *fmt, ...)
{
	bool cond = got == expected;
	va_list ap;

	va_start(ap, fmt);
	tap_result(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		diag("  expected: %#llx", expected);
		diag("       got: %#llx", got);
	}
	return cond;
}

/* "-EINVAL (-22)", "success (>= 0)" or "3" into @buf. */
static const char *tap_result_str(char *buf, size_t size, long r)
{
	if (r < 0)
		snprintf(buf, size, "-%s (%ld)", errno_name((int)-r), r);
	else
		snprintf(buf, size, "%ld (success)", r);
	return buf;
}

bool tap_is_errno(long got, int expected, const char *file, int line,
		  const char *fmt, ...)
{
	bool cond = expected ? got == -(long)expected : got >= 0;
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	tap_result(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		if (expected)
			diag("  expected: -%s (%d)", errno_name(expected),
			     -expected);
		else
			diag("  expected: success (>= 0)");
		diag("       got: %s", tap_result_str(buf, sizeof(buf), got));
	}
	return cond;
}

/**
 * tap_skip() - report tests that cannot run here as passed, with a reason
 * @nr_tests: how many planned tests are skipped
 * @fmt: the reason
 */
void tap_skip(unsigned int nr_tests, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	while (nr_tests--) {
		tap.run++;
		printf("ok %u # SKIP %s\n", tap.run, reason);
	}
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vprintf("# ", fmt, ap);
	va_end(ap);
}

/**
 * tap_bail_out() - stop the whole program: nothing after this can be trusted
 * @fmt: the reason
 */
noreturn void tap_bail_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vprintf("Bail out! ", fmt, ap);
	va_end(ap);
	tap.finished = true;
	exit(255);
}

const char *errno_name(int err)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
#define ERRNO_NAME(e) { e, #e }
		ERRNO_NAME(EPERM), ERRNO_NAME(ENOENT), ERRNO_NAME(ESRCH),
		ERRNO_NAME(EINTR), ERRNO_NAME(EIO), ERRNO_NAME(ENXIO),
		ERRNO_NAME(E2BIG), ERRNO_NAME(EBADF), ERRNO_NAME(ECHILD),
		ERRNO_NAME(EAGAIN), ERRNO_NAME(ENOMEM), ERRNO_NAME(EACCES),
		ERRNO_NAME(EFAULT), ERRNO_NAME(EBUSY), ERRNO_NAME(EEXIST),
		ERRNO_NAME(ENODEV), ERRNO_NAME(EINVAL), ERRNO_NAME(EMFILE),
		ERRNO_NAME(ENOTTY), ERRNO_NAME(ENOSPC), ERRNO_NAME(ERANGE),
		ERRNO_NAME(EOPNOTSUPP),
		ERRNO_NAME(ETIMEDOUT),
#undef ERRNO_NAME
	};
	static char buf[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}
