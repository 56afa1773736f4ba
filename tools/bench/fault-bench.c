// SPDX-License-Identifier: GPL-2.0
/*
 * fault-bench: how fast does vmmu resolve page faults?
 *
 * A VM with software vCPUs (VMMU_SET_MMU: NPT tables, VMMU_VCPU_SOFTWARE)
 * and one memslot; each vCPU is a thread that writes 8 bytes to every
 * 4 KiB page of its own range with VMMU_VCPU_ACCESS, one ioctl per page.
 * Nine variants:
 *
 *   fresh    the host pages do not exist yet: every access is a vmmu fault
 *            that also allocates and zeroes a host page (GUP faults it in)
 *   present  the VMM wrote every page before: the host page is there
 *            already (vmmu's own fault path), and fault-around maps the
 *            neighbours of each faulting page (fault_around pages at once)
 *   present-nofa  the same with fault_around=0: every access is a fault
 *   thp      as present, on transparent huge pages (2 MiB aligned,
 *            MADV_HUGEPAGE): one fault maps 2 MiB
 *   hugetlb  as present, on hugetlbfs 2 MiB pages (MAP_HUGETLB; skipped
 *            when /proc/sys/vm/nr_hugepages has too few free)
 *   mapped   the pages are mapped already (a first pass faulted them in):
 *            no fault, only the ioctl and the table walk - the cost the two
 *            others include besides the fault itself
 *   churn    as present, while another thread of the process keeps
 *            invalidating memory that no memslot maps (MADV_DONTNEED and
 *            two mprotect calls on 2 MiB, over and over): what unrelated
 *            host activity costs the fault path (the retries column shows
 *            faults that had to start over)
 *   wp-fast  the slot logs dirty pages; a first pass wrote every page and
 *            KVM_GET_DIRTY_LOG write-protected them all: every access is
 *            a write fault that the lockless fast path fixes
 *   wp-lock  the slot logs dirty pages; a first pass only read every page,
 *            which maps it read-only: every access is a write fault that
 *            takes the locked path (GUP, mmu_lock, cmpxchg)
 *
 * each with 1 and 2 vCPUs (of one VM, disjoint ranges), several runs; a new
 * VM and new memory for each run.  It prints per variant and vCPU count
 * the median faults (or accesses) per second over all vCPUs, the median
 * nanoseconds per access of one vCPU, and the faults VMMU_GET_STATS
 * counted in the timed pass, and the page-table pages per GiB of guest
 * memory after it.  Host memory other than thp's and hugetlb's is
 * madvise(MADV_NOHUGEPAGE), so the host allocates 4 KiB pages one by one
 * as the guest's do.
 *
 * Timings are reported, never judged: the program fails only if an access
 * or the setup fails.
 *
 * Usage: fault-bench [-b SIZE] [-r RUNS] [-v "1 2"] [DEVICE]
 *   -b  bytes per vCPU (K, M, G suffixes; default 64M)
 *   -r  runs per variant and vCPU count (default 5)
 *   -v  vCPU counts (default "1 2")
 *   DEVICE defaults to /dev/vmmu
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/vmmu.h>

typedef __u64 u64;
typedef __u8 u8;

#define PAGE_SIZE	4096ULL
#define MAX_VCPUS	8
#define MAX_RUNS	99
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum variant { FRESH, PRESENT, PRESENT_NOFA, THP, HUGETLB, MAPPED, CHURN,
	       WP_FAST, WP_LOCK, NR_VARIANTS };

static const char *const variant_names[NR_VARIANTS] = {
	[FRESH] = "fresh", [PRESENT] = "present",
	[PRESENT_NOFA] = "present-nofa", [THP] = "thp", [HUGETLB] = "hugetlb",
	[MAPPED] = "mapped",
	[CHURN] = "churn", [WP_FAST] = "wp-fast", [WP_LOCK] = "wp-lock",
};

#define HUGE_BYTES	(2ULL << 20)
#define FAULT_AROUND	"/sys/module/vmmu/parameters/fault_around"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define CHURN_BYTES	(2ULL << 20)

struct config {
	const char *dev;
	u64 size;			/* per vCPU */
	unsigned int runs;
	unsigned int vcpu_counts[MAX_VCPUS];
	unsigned int nr_counts;
};

/* One vCPU thread of a run. */
struct worker {
	pthread_t thread;
	pthread_barrier_t *start;
	int vcpu_fd;
	u64 gpa;		/* first byte of its range */
	u64 pages;
	unsigned int kind;	/* VMMU_ACCESS_WRITE, or _READ */
	u64 ns;			/* out: time of its pass */
	long err;		/* out: 0, or -errno of the failed access */
	u64 err_gpa;
	unsigned int err_result;
};

/* The result of one timed pass. */
struct sample {
	double per_sec;		/* accesses per second, all vCPUs */
	double ns_per_access;	/* mean over the vCPUs */
	u64 faults;		/* VMMU_GET_STATS faults during the pass */
	u64 retries;		/* and fault_retries */
	u64 tables;		/* page-table pages after it */
};

/* The churn variant's invalidating thread. */
struct churner {
	pthread_t thread;
	atomic_bool stop;
	u64 rounds;
};

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long do_ioctl(int fd, unsigned long request, unsigned long arg)
{
	long r = ioctl(fd, request, arg);

	return r < 0 ? -errno : r;
}

/*
 * Write (or read) 8 bytes of every page of the worker's range; stop at a
 * failure.
 */
static void *worker_pass(void *arg)
{
	struct worker *w = arg;
	u64 value = 0x5a5a5a5a5a5a5a5aULL, t0, i;
	struct vmmu_access acc;

	pthread_barrier_wait(w->start);
	t0 = now_ns();
	for (i = 0; i < w->pages; i++) {
		acc = (struct vmmu_access) {
			.gpa = w->gpa + i * PAGE_SIZE,
			.buf = (unsigned long)&value,
			.len = sizeof(value),
			.kind = w->kind,
		};
		w->err = do_ioctl(w->vcpu_fd, VMMU_VCPU_ACCESS,
				  (unsigned long)&acc);
		if (w->err || acc.result != VMMU_ACCESS_DONE) {
			w->err_gpa = acc.gpa;
			w->err_result = acc.result;
			if (!w->err)
				w->err = -EIO;
			break;
		}
	}
	w->ns = now_ns() - t0;
	return NULL;
}

static void vm_stats(int vm_fd, struct vmmu_stats *st)
{
	if (do_ioctl(vm_fd, VMMU_GET_STATS, (unsigned long)st)) {
		perror("fault-bench: VMMU_GET_STATS");
		exit(1);
	}
}

/* Invalidate memory no memslot maps until told to stop. */
static void *churn_main(void *arg)
{
	struct churner *c = arg;
	char *mem = mmap(NULL, CHURN_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		perror("fault-bench: mmap");
		exit(1);
	}
	while (!atomic_load(&c->stop)) {
		memset(mem, 1, CHURN_BYTES);
		madvise(mem, CHURN_BYTES, MADV_DONTNEED);
		mprotect(mem, CHURN_BYTES, PROT_READ);
		mprotect(mem, CHURN_BYTES, PROT_READ | PROT_WRITE);
		c->rounds++;
	}
	munmap(mem, CHURN_BYTES);
	return NULL;
}

/* Every worker does one pass at the same time; false if an access failed. */
static bool timed_pass(int vm_fd, struct worker *w, unsigned int n,
		       struct sample *s)
{
	pthread_barrier_t start;
	u64 t0, wall, sum_ns = 0, pages = 0;
	struct vmmu_stats before, after;
	unsigned int i;
	bool good = true;

	pthread_barrier_init(&start, NULL, n + 1);
	vm_stats(vm_fd, &before);
	for (i = 0; i < n; i++) {
		w[i].start = &start;
		if (pthread_create(&w[i].thread, NULL, worker_pass, &w[i])) {
			fprintf(stderr, "fault-bench: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	wall = now_ns() - t0;
	pthread_barrier_destroy(&start);

	for (i = 0; i < n; i++) {
		if (w[i].err) {
			fprintf(stderr, "fault-bench: vCPU %u: gpa %#llx: %s (result %u)\n",
				i, (unsigned long long)w[i].err_gpa,
				strerror((int)-w[i].err), w[i].err_result);
			good = false;
		}
		sum_ns += w[i].ns;
		pages += w[i].pages;
	}
	s->per_sec = pages * 1e9 / wall;
	s->ns_per_access = (double)sum_ns / pages;
	vm_stats(vm_fd, &after);
	s->faults = after.faults - before.faults;
	s->retries = after.fault_retries - before.fault_retries;
	s->tables = after.tables;
	return good;
}

static int create_vm(int sys_fd)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	int vm_fd = do_ioctl(sys_fd, KVM_CREATE_VM, 0);
	long r;

	if (vm_fd < 0) {
		fprintf(stderr, "fault-bench: KVM_CREATE_VM: %s\n",
			strerror(-vm_fd));
		exit(1);
	}
	r = do_ioctl(vm_fd, VMMU_SET_MMU, (unsigned long)&cfg);
	if (r) {
		fprintf(stderr, "fault-bench: VMMU_SET_MMU: %s\n",
			strerror((int)-r));
		exit(1);
	}
	return vm_fd;
}

/* The length of the mapping that holds @bytes of guest memory. */
static u64 map_bytes(u64 bytes, enum variant v)
{
	/* thp aligns the guest's range inside it; hugetlb needs whole pages. */
	if (v == HUGETLB)
		return (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
	return bytes + HUGE_BYTES;
}

static void *map_memory(u64 bytes, enum variant v)
{
	return mmap(NULL, map_bytes(bytes, v), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS |
		    (v == HUGETLB ? MAP_HUGETLB : MAP_NORESERVE), -1, 0);
}

/*
 * Guest memory for @n vCPUs, in slot 0 at gpa 0; host pages per @v, in a
 * mapping of map_bytes().
 */
static void *add_memory(int vm_fd, u64 bytes, enum variant v)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.memory_size = bytes,
	};
	void *mem;
	u8 *guest;
	u64 off;
	long r;

	mem = map_memory(bytes, v);
	if (mem == MAP_FAILED) {
		perror("fault-bench: mmap");
		exit(1);
	}
	guest = mem;
	if (v == THP) {
		guest = (u8 *)(((unsigned long)mem + HUGE_BYTES - 1) &
			       ~(HUGE_BYTES - 1));
		madvise(guest, bytes, MADV_HUGEPAGE);
	} else if (v != HUGETLB) {
		/* Not fatal: a kernel without THP has nothing to turn off. */
		madvise(mem, bytes + HUGE_BYTES, MADV_NOHUGEPAGE);
	}
	if (v != FRESH)
		memset(guest, 1, bytes);
	/* Where the first touch gave no huge page; best effort. */
	for (off = 0; v == THP && off < bytes; off += HUGE_BYTES)
		madvise(guest + off, HUGE_BYTES, MADV_COLLAPSE);
	region.userspace_addr = (unsigned long)guest;
	if (v == WP_FAST || v == WP_LOCK)
		region.flags = KVM_MEM_LOG_DIRTY_PAGES;
	r = do_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION,
		     (unsigned long)&region);
	if (r) {
		fprintf(stderr, "fault-bench: KVM_SET_USER_MEMORY_REGION: %s\n",
			strerror((int)-r));
		exit(1);
	}
	return mem;
}

/* KVM_GET_DIRTY_LOG of slot 0: every page written is write-protected. */
static bool protect_all(int vm_fd, u64 bytes)
{
	u64 *bitmap = calloc(bytes / PAGE_SIZE / 64 + 1, sizeof(u64));
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bitmap };
	long r;

	if (!bitmap)
		return false;
	r = do_ioctl(vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&log);
	if (r)
		fprintf(stderr, "fault-bench: KVM_GET_DIRTY_LOG: %s\n",
			strerror((int)-r));
	free(bitmap);
	return !r;
}

/* Write @val to the fault_around parameter; its old value, or -1. */
static long set_fault_around(long val)
{
	char buf[32] = "";
	long old = -1;
	FILE *f = fopen(FAULT_AROUND, "r+");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		old = strtol(buf, NULL, 10);
	rewind(f);
	fprintf(f, "%ld\n", val);
	if (fclose(f))
		return -1;
	return old;
}

/* One run: a new VM, @n vCPUs, one timed pass of variant @v. */
static bool one_run(const struct config *cfg, int sys_fd, enum variant v,
		    unsigned int n, struct sample *s)
{
	struct churner churn = { .rounds = 0 };
	struct worker w[MAX_VCPUS];
	struct sample untimed;
	int vm_fd = create_vm(sys_fd);
	void *mem = add_memory(vm_fd, n * cfg->size, v);
	long fa = v == PRESENT_NOFA ? set_fault_around(0) : -1;
	unsigned int i;
	bool good;

	memset(w, 0, sizeof(w));
	for (i = 0; i < n; i++) {
		w[i].vcpu_fd = do_ioctl(vm_fd, KVM_CREATE_VCPU, i);
		if (w[i].vcpu_fd < 0) {
			fprintf(stderr, "fault-bench: KVM_CREATE_VCPU: %s\n",
				strerror(-w[i].vcpu_fd));
			exit(1);
		}
		w[i].gpa = i * cfg->size;
		w[i].pages = cfg->size / PAGE_SIZE;
		w[i].kind = v == WP_LOCK ? VMMU_ACCESS_READ : VMMU_ACCESS_WRITE;
	}
	good = (v != MAPPED && v != WP_FAST && v != WP_LOCK) ||
	       timed_pass(vm_fd, w, n, &untimed);
	if (good && v == WP_FAST)
		good = protect_all(vm_fd, n * cfg->size);
	for (i = 0; i < n; i++)
		w[i].kind = VMMU_ACCESS_WRITE;
	if (v == CHURN &&
	    pthread_create(&churn.thread, NULL, churn_main, &churn)) {
		fprintf(stderr, "fault-bench: pthread_create failed\n");
		exit(1);
	}
	good = good && timed_pass(vm_fd, w, n, s);
	if (v == CHURN) {
		atomic_store(&churn.stop, true);
		pthread_join(churn.thread, NULL);
	}
	if (fa >= 0)
		set_fault_around(fa);
	s->tables = s->tables * (1ULL << 30) / (n * cfg->size);
	for (i = 0; i < n; i++)
		close(w[i].vcpu_fd);
	close(vm_fd);
	munmap(mem, map_bytes(n * cfg->size, v));
	return good;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs of one variant and vCPU count, and their line of the table. */
static bool measure(const struct config *cfg, int sys_fd, enum variant v,
		    unsigned int n)
{
	double rate[MAX_RUNS], ns[MAX_RUNS], tables[MAX_RUNS];
	char range[48], faults[48];
	u64 faults_min = ~0ULL, faults_max = 0, retries = 0;
	struct sample s;
	unsigned int r;
	void *probe;

	if (v == HUGETLB) {
		/* Enough free hugetlbfs pages?  The mapping reserves them. */
		probe = map_memory(n * cfg->size, v);
		if (probe == MAP_FAILED) {
			printf("%-12s %5u skipped: mmap(MAP_HUGETLB) of %llu MiB: %s\n",
			       variant_names[v], n,
			       (unsigned long long)(map_bytes(n * cfg->size, v) >> 20),
			       strerror(errno));
			return true;
		}
		munmap(probe, map_bytes(n * cfg->size, v));
	}
	for (r = 0; r < cfg->runs; r++) {
		if (!one_run(cfg, sys_fd, v, n, &s))
			return false;
		rate[r] = s.per_sec;
		ns[r] = s.ns_per_access;
		tables[r] = s.tables;
		if (s.faults < faults_min)
			faults_min = s.faults;
		if (s.faults > faults_max)
			faults_max = s.faults;
		retries += s.retries;
	}
	qsort(rate, cfg->runs, sizeof(rate[0]), cmp_double);
	snprintf(range, sizeof(range), "%.0f..%.0f", rate[0],
		 rate[cfg->runs - 1]);
	snprintf(faults, sizeof(faults), "%llu..%llu",
		 (unsigned long long)faults_min,
		 (unsigned long long)faults_max);
	printf("%-12s %5u %10.0f %-19s %8.0f  %-25s %-8llu %.0f\n",
	       variant_names[v], n, median(rate, cfg->runs), range,
	       median(ns, cfg->runs), faults, (unsigned long long)retries,
	       median(tables, cfg->runs));
	return true;
}

/* "64M" -> 64 << 20; 0 if malformed. */
static u64 parse_size(const char *s)
{
	static const char units[] = "KMG";
	const char *unit;
	char *end;
	u64 v = strtoull(s, &end, 0);

	if (!*end)
		return v;
	unit = strchr(units, *end & ~0x20);
	if (!unit || !*unit || end[1])
		return 0;
	return v << (10 * (unit - units + 1));
}

static void bad_args(void)
{
	fprintf(stderr, "usage: fault-bench [-b SIZE] [-r RUNS] [-v \"1 2\"] [DEVICE]\n");
	exit(2);
}

static void parse_counts(struct config *cfg, const char *s)
{
	char *end;
	unsigned long n;

	cfg->nr_counts = 0;
	while (*s) {
		n = strtoul(s, &end, 10);
		if (end == s || !n || n > MAX_VCPUS ||
		    cfg->nr_counts == MAX_VCPUS)
			bad_args();
		cfg->vcpu_counts[cfg->nr_counts++] = n;
		s = end + strspn(end, " ,");
	}
	if (!cfg->nr_counts)
		bad_args();
}

static void parse_args(struct config *cfg, int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "b:r:v:")) != -1) {
		switch (opt) {
		case 'b':
			cfg->size = parse_size(optarg) & ~(PAGE_SIZE - 1);
			if (!cfg->size)
				bad_args();
			break;
		case 'r':
			cfg->runs = strtoul(optarg, NULL, 10);
			if (!cfg->runs || cfg->runs > MAX_RUNS)
				bad_args();
			break;
		case 'v':
			parse_counts(cfg, optarg);
			break;
		default:
			bad_args();
		}
	}
	if (optind < argc)
		cfg->dev = argv[optind++];
	if (optind < argc)
		bad_args();
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.dev = VMMU_DEVICE_PATH,
		.size = 64ULL << 20,
		.runs = 5,
		.vcpu_counts = { 1, 2 },
		.nr_counts = 2,
	};
	unsigned int i;
	enum variant v;
	int sys_fd;

	parse_args(&cfg, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sys_fd = open(cfg.dev, O_RDWR | O_CLOEXEC);
	if (sys_fd < 0) {
		fprintf(stderr, "fault-bench: %s: %s\n", cfg.dev,
			strerror(errno));
		return 1;
	}
	printf("fault-bench: %s, software vCPUs, %llu MiB (%llu pages) per vCPU, %u runs\n",
	       cfg.dev, (unsigned long long)(cfg.size >> 20),
	       (unsigned long long)(cfg.size / PAGE_SIZE), cfg.runs);
	printf("%-12s %5s %10s %-19s %8s  %-25s %-8s %s\n", "variant", "vCPUs",
	       "faults/s", "(min..max)", "ns/fault",
	       "faults counted (min..max)", "retries", "pt pages/GiB");
	for (v = 0; v < NR_VARIANTS; v++)
		for (i = 0; i < cfg.nr_counts; i++)
			if (!measure(&cfg, sys_fd, v, cfg.vcpu_counts[i]))
				return 1;
	printf("(mapped: no fault, so accesses/s and ns/access: the ioctl and walk alone;\n"
	       " faults/s counts accesses: with fault-around or huge leaves one fault serves many;\n"
	       " pt pages/GiB: the fewest possible for 1 GiB are 512 tables of 4 KiB leaves\n"
	       " plus the tables above them (4-level: 3), or those 3 alone with 2 MiB leaves)\n");
	close(sys_fd);
	return 0;
}
