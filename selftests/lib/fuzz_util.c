// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's random streams and its kernel log scan: see fuzz_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

#define FZ_GOLDEN	0x9e3779b97f4a7c15ULL

static u64 fz_mix(u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void fz_rng_init(struct fz_rng *r, u64 seed, u64 epoch, u64 thread)
{
	r->state = fz_mix(fz_mix(seed + epoch * FZ_GOLDEN) ^ (thread + 1));
}

u64 fz_rand(struct fz_rng *r)
{
	r->state += FZ_GOLDEN;
	return fz_mix(r->state);
}

u64 fz_below(struct fz_rng *r, u64 n)
{
	return n ? fz_rand(r) % n : 0;
}

bool fz_chance(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

int fz_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Does one kernel log record report a kernel problem? */
static bool fz_kmsg_bad(const char *text)
{
	static const char * const bad[] = {
		"WARNING:", "BUG:", "KASAN", "kmemleak", "lockdep",
		"INFO: task", "general protection", "Oops",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (strstr(text, bad[i]))
			return true;
	return false;
}

unsigned int fz_kmsg_scan(int fd)
{
	unsigned int nr_bad = 0;
	char rec[1024], *text;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records were overwritten */
		if (n <= 0)
			break;
		rec[n] = '\0';
		rec[strcspn(rec, "\n")] = '\0';
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		/*
		 * Call-trace lines name functions ("? lockdep_..."), and
		 * kmemleak says once that an injected failure cost it a scan
		 * area: neither reports a problem.
		 */
		if (*text == ' ' || !fz_kmsg_bad(text) ||
		    strstr(text, "kmemleak: Cannot allocate a scan area"))
			continue;
		if (nr_bad++ < 8)
			diag("kernel: %s", text);
	}
	return nr_bad;
}
