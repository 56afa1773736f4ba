// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure injection: see fail_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fail_util.h"
#include "tap.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FAILSLAB	"/sys/kernel/debug/failslab/"
#define FAIL_PAGE	"/sys/kernel/debug/fail_page_alloc/"

/* The knobs fail_setup() sets, and what they held before. */
static struct fail_knob {
	const char *path;
	const char *value;
	char saved[32];
	bool changed;
} knobs[] = {
	{ .path = FAILSLAB "ignore-gfp-wait", .value = "N" },
	{ .path = FAILSLAB "verbose", .value = "0" },
	{ .path = FAIL_PAGE "ignore-gfp-wait", .value = "N" },
	{ .path = FAIL_PAGE "ignore-gfp-highmem", .value = "N" },
	{ .path = FAIL_PAGE "min-order", .value = "0" },
	{ .path = FAIL_PAGE "verbose", .value = "0" },
};

/*
 * The calling thread's fail-nth file, opened once per thread.  A child
 * made by fork() inherits the parent thread's fd and must open its own:
 * nth_tid says whose file nth_fd is.
 */
static __thread int nth_fd = -1;
static __thread pid_t nth_tid;

bool fail_available(void)
{
	return access(FAIL_NTH, W_OK) == 0 &&
	       access(FAILSLAB "ignore-gfp-wait", W_OK) == 0 &&
	       access(FAIL_PAGE "min-order", W_OK) == 0;
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int fail_setup(void)
{
	size_t i;
	int err;

	if (!fail_available())
		return -ENOENT;
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		struct fail_knob *k = &knobs[i];

		err = read_file(k->path, k->saved, sizeof(k->saved));
		if (!err)
			err = write_file(k->path, k->value);
		if (err) {
			fail_restore();
			return err;
		}
		k->changed = true;
	}
	return 0;
}

void fail_restore(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (knobs[i].changed)
			write_file(knobs[i].path, knobs[i].saved);
		knobs[i].changed = false;
	}
}

void fail_arm(unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	if (nth_fd >= 0 && nth_tid != gettid()) {
		close(nth_fd);
		nth_fd = -1;
	}
	if (nth_fd < 0) {
		nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
		nth_tid = gettid();
	}
	if (nth_fd < 0 || pwrite(nth_fd, buf, len, 0) != len)
		bail_out("cannot write %s: %s", FAIL_NTH, strerror(errno));
}

bool fail_disarm(void)
{
	char buf[16] = "";
	ssize_t n;

	if (nth_fd < 0 || nth_tid != gettid())
		return false;
	/* Reading does not allocate: the count is what the call left. */
	n = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		bail_out("cannot read %s: %s", FAIL_NTH, strerror(errno));
	if (atoi(buf) == 0)
		return true;
	if (pwrite(nth_fd, "0", 1, 0) != 1)
		bail_out("cannot write %s: %s", FAIL_NTH, strerror(errno));
	return false;
}
