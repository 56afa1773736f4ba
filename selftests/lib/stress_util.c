// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for vmmu's stress, aging, pre-fault and userfaultfd selftests;
 * see stress_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stress_util.h"

bool st_debug_kernel(void)
{
	static int debug = -1;

	if (debug < 0)
		debug = access(ST_KMEMLEAK_PATH, F_OK) == 0;
	return debug;
}

unsigned long st_scale(unsigned long n, unsigned long div, unsigned long min)
{
	if (st_debug_kernel() && div)
		n /= div;
	return n < min ? min : n;
}

const char *st_format_name(u32 format)
{
	switch (format) {
	case VMMU_MMU_FORMAT_EPT:
		return "ept";
	case VMMU_MMU_FORMAT_NPT:
		return "npt";
	default:
		return "fmt?";
	}
}

int st_vm_create(int sys_fd, u32 format, u32 levels,
		 struct vmmu_mmu_config *cfg)
{
	struct vmmu_mmu_config c = {
		.format = format,
		.levels = levels,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	long r;

	r = vmmu_ioctl(vm_fd, VMMU_SET_MMU, (unsigned long)&c);
	if (r)
		bail_out("VMMU_SET_MMU %s levels %u: %s", st_format_name(format),
			 levels, errno_name(-r));
	if (cfg)
		*cfg = c;
	return vm_fd;
}

int st_access(int vcpu_fd, u32 kind, u64 gpa, void *buf, u32 len)
{
	struct vmmu_access acc = {
		.gpa = gpa,
		.buf = (unsigned long)buf,
		.len = len,
		.kind = kind,
	};
	long r = vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)&acc);

	if (r < 0)
		return r;
	if (acc.result == VMMU_ACCESS_DONE && acc.done != len)
		return -EIO;
	return acc.result;
}

int st_stats(int vm_fd, struct vmmu_stats *st)
{
	memset(st, 0, sizeof(*st));
	return vmmu_ioctl(vm_fd, VMMU_GET_STATS, (unsigned long)st);
}

void st_stats_or_die(int vm_fd, struct vmmu_stats *st)
{
	int r = st_stats(vm_fd, st);

	if (r)
		bail_out("VMMU_GET_STATS: %s", errno_name(-r));
}

void st_stats_diag(const char *label, const struct vmmu_stats *st)
{
	diag("%s: faults %llu retries %llu mapped4k %llu zapped %llu tables %llu",
	     label, (unsigned long long)st->faults,
	     (unsigned long long)st->fault_retries,
	     (unsigned long long)st->mapped[0],
	     (unsigned long long)st->leaves_zapped,
	     (unsigned long long)st->tables);
	diag("%s: invalidations %llu seq %llu roots valid %llu invalid %llu invalidated %llu",
	     label, (unsigned long long)st->invalidations,
	     (unsigned long long)st->invalidate_seq,
	     (unsigned long long)st->roots_valid,
	     (unsigned long long)st->roots_invalid,
	     (unsigned long long)st->roots_invalidated);
	diag("%s: tlb_flushes %llu young_cleared %llu", label,
	     (unsigned long long)st->tlb_flushes,
	     (unsigned long long)st->young_cleared);
}

/* splitmix64's finalizer: a bijection, so distinct inputs stay distinct. */
static u64 st_mix(u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

u64 st_pattern(u64 seed, u64 page, u64 off)
{
	u64 w = st_mix(st_mix(seed * 0x9e3779b97f4a7c15ULL + page) +
		       off / 8);

	return w ? w : 0x5a5a5a5a5a5a5a5aULL;
}

void st_fill(void *buf, u64 seed, u64 page, u64 off, size_t len)
{
	u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		u64 o = off + i * 8;

		p[i] = st_pattern(seed, page + o / PAGE_SIZE, o % PAGE_SIZE);
	}
}

/* Is every byte of @got zero or the same as in @want? */
static bool st_zero_or_same(u64 got, u64 want)
{
	int i;

	for (i = 0; i < 64; i += 8) {
		u64 b = (got >> i) & 0xff;

		if (b && b != ((want >> i) & 0xff))
			return false;
	}
	return true;
}

long st_mismatch(const void *buf, u64 seed, u64 page, u64 off, size_t len,
		 bool zero_ok)
{
	const u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		u64 o = off + i * 8;
		u64 want = st_pattern(seed, page + o / PAGE_SIZE,
				      o % PAGE_SIZE);

		if (p[i] != want && !(zero_ok && st_zero_or_same(p[i], want)))
			return i * 8;
	}
	return -1;
}

void *st_reserve(size_t size, void *addr)
{
	void *p = mmap(addr, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		       (addr ? MAP_FIXED : 0), -1, 0);

	if (p == MAP_FAILED)
		bail_out("mmap PROT_NONE: %s", strerror(errno));
	return p;
}

u64 st_rand(u64 *state)
{
	u64 x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

void st_pace_init(struct st_pace *p, unsigned int nr_workers,
		  unsigned int budget)
{
	if (nr_workers > ST_MAX_WORKERS || budget < 2)
		bail_out("%s: %u workers (at most %u), budget %u (at least 2)",
			 __func__, nr_workers, ST_MAX_WORKERS, budget);
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->host_cond, NULL);
	pthread_cond_init(&p->worker_cond, NULL);
	p->nr = nr_workers;
	p->budget_per_op = budget;
}

bool st_pace_begin(struct st_pace *p, unsigned int worker)
{
	bool go;

	pthread_mutex_lock(&p->lock);
	while (!p->stop && !p->budget[worker])
		pthread_cond_wait(&p->worker_cond, &p->lock);
	go = !p->stop;
	if (go)
		p->budget[worker]--;
	pthread_mutex_unlock(&p->lock);
	return go;
}

void st_pace_end(struct st_pace *p, unsigned int worker)
{
	pthread_mutex_lock(&p->lock);
	p->done[worker]++;
	pthread_cond_signal(&p->host_cond);
	pthread_mutex_unlock(&p->lock);
}

void st_pace_wait(struct st_pace *p)
{
	unsigned long snap[ST_MAX_WORKERS];
	unsigned int i;
	bool all;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->nr; i++) {
		snap[i] = p->done[i];
		p->budget[i] = p->budget_per_op;
	}
	pthread_cond_broadcast(&p->worker_cond);
	for (;;) {
		all = true;
		/* Two: the first may have started before this call. */
		for (i = 0; i < p->nr; i++)
			if (p->done[i] < snap[i] + 2)
				all = false;
		if (all)
			break;
		pthread_cond_wait(&p->host_cond, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
}

void st_pace_stop(struct st_pace *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->worker_cond);
	pthread_mutex_unlock(&p->lock);
}

int st_uffd_open(u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return -err;
	}
	if ((api.features & features) != features) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int st_uffd_register(int uffd, void *addr, size_t len, u64 mode)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

int st_uffd_read(int uffd, struct uffd_msg *msg)
{
	ssize_t n;

	do {
		n = read(uffd, msg, sizeof(*msg));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(*msg) ? 0 : -EIO;
}

int st_uffd_copy(int uffd, void *dst, const void *src, size_t len)
{
	struct uffdio_copy copy = {
		.dst = (unsigned long)dst,
		.src = (unsigned long)src,
		.len = len,
	};

	return ioctl(uffd, UFFDIO_COPY, &copy) ? -errno : 0;
}

int st_uffd_continue(int uffd, void *addr, size_t len)
{
	struct uffdio_continue cont = {
		.range = { .start = (unsigned long)addr, .len = len },
	};

	return ioctl(uffd, UFFDIO_CONTINUE, &cont) ? -errno : 0;
}

int st_param_read(const char *name, unsigned long *val)
{
	char path[128];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%s", ST_PARAM_DIR, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%lu", val);
	fclose(f);
	return n == 1 ? 0 : -EIO;
}

int st_write_file(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

int st_param_set(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", ST_PARAM_DIR, name);
	return st_write_file(path, val);
}

int st_param_write(const char *name, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu\n", val);
	return st_param_set(name, buf);
}

int st_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}
