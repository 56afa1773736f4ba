// SPDX-License-Identifier: GPL-2.0
/*
 * The invalidation sequence count across its wrap-around.
 *
 * vmmu's invalidate_seq_start module parameter sets mmu_invalidate_seq of
 * VMs created afterwards.  For starts 50 below 2^31, 2^32 and 2^64 (where an
 * unsigned long wraps to 0):
 *
 *  (a) a vCPU thread reads and writes the pages of an anonymous slot while
 *      the main thread zaps them (MADV_DONTNEED) and writes them again, for
 *      more invalidations than it takes to cross the wrap.  Every read must
 *      return the pattern, or, while a page is being replaced, zeros or the
 *      pattern word by word: a stale mapping would show the old page, which
 *      was freed.  Afterwards the sequence must equal start + invalidations
 *      modulo 2^64 and lie just past the wrap;
 *  (b) a vCPU read blocks in GUP on a userfaultfd page after the fault took
 *      its sequence snapshot; the main thread makes the sequence cross the
 *      wrap and then serves the page: the fault must see that the sequence
 *      moved and retry, and the read must return the served data.
 *
 * The parameter is restored to 0 at exit, also when a timeout kills the
 * program with SIGTERM.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		32
#define GPA		0x40000000ULL
#define GPA_SCRATCH	0x50000000ULL
#define SEED		0x5e9
#define BELOW		50		/* start = wrap point - BELOW */
#define ITERS		150		/* each zaps once at least */
#define UFFD_INVALS	(2 * BELOW)	/* (b): enough to cross */
#define NEAR		100000ULL	/* "just past the wrap" */

#define PARAM		"invalidate_seq_start"

#define TESTS_PER_WRAP	15
#define NR_WRAPS	3
#define NR_TESTS	(TESTS_PER_WRAP * NR_WRAPS + 2)

struct worker {
	pthread_t thread;
	int vcpu_fd;
	struct st_pace *pace;
	atomic_ulong *replacing;	/* window: pages being replaced */
	unsigned long reads, writes, zero_words_ok, bad;
	char first_bad[160];
};

static void restore_param(void)
{
	st_param_write(PARAM, 0);
}

/* Killed by the harness's timeout: restore with async-signal-safe calls. */
static void restore_param_and_die(int sig)
{
	int fd = open(ST_PARAM_DIR "/" PARAM, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "0\n", 2) < 0)
			sig = 0;
		close(fd);
	}
	_exit(128 + sig);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	static u64 buf[P / 8];
	u64 rnd = 0x2545f4914f6cdd1dULL;

	while (st_pace_begin(w->pace, 0)) {
		u64 x = st_rand(&rnd);
		u64 gpa = GPA + (x % NPAGES) * P;
		unsigned long before, after;
		bool write = (x >> 32) % 4 == 0;
		long off;
		int r;

		if (write)
			st_fill(buf, SEED, gpa >> 12, 0, P);
		else
			memset(buf, 0, P);
		before = atomic_load(w->replacing);
		r = st_access(w->vcpu_fd, write ? VMMU_ACCESS_WRITE :
			      VMMU_ACCESS_READ, gpa, buf, P);
		after = atomic_load(w->replacing);
		if (write)
			w->writes++;
		else
			w->reads++;
		if (r != VMMU_ACCESS_DONE) {
			if (!w->bad++)
				snprintf(w->first_bad, sizeof(w->first_bad),
					 "%s at %#llx: %s",
					 write ? "write" : "read",
					 (unsigned long long)gpa,
					 mmu_result_name(r));
		} else if (!write) {
			bool window = st_window_hit(before, after);

			off = st_mismatch(buf, SEED, gpa >> 12, 0, P, window);
			if (off >= 0 && !w->bad++)
				snprintf(w->first_bad, sizeof(w->first_bad),
					 "read at %#llx: word at +%ld is %#llx (window %s)",
					 (unsigned long long)gpa, off,
					 (unsigned long long)buf[off / 8],
					 window ? "open" : "closed");
			else if (off < 0 && window)
				w->zero_words_ok++;
		}
		st_pace_end(w->pace, 0);
	}
	return NULL;
}

static unsigned int guest_check_all(int vcpu_fd)
{
	static u64 buf[P / 8];
	unsigned int i, good = 0;

	for (i = 0; i < NPAGES; i++) {
		u64 gpa = GPA + i * P;

		if (st_access(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P) ==
		    VMMU_ACCESS_DONE &&
		    st_mismatch(buf, SEED, gpa >> 12, 0, P, false) < 0)
			good++;
	}
	return good;
}

/* (a) the fault/verify workload across the wrap. */
static void run_workload(int sys_fd, const char *name, u64 start, u64 wrap)
{
	atomic_ulong replacing = 0;
	struct vmmu_stats st0, st;
	struct st_pace pace;
	struct worker w;
	int vm_fd, vcpu0, i;
	char *mem;
	u64 seq_past;

	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	st_stats_or_die(vm_fd, &st0);
	ok(st0.invalidate_seq == start,
	   "%s: a new VM starts at invalidate_seq %#llx (got %#llx)", name,
	   (unsigned long long)start, (unsigned long long)st0.invalidate_seq);
	mem = mmu_map_anon(NPAGES * P, NULL);
	madvise(mem, NPAGES * P, MADV_NOHUGEPAGE);
	st_fill(mem, SEED, GPA >> 12, 0, NPAGES * P);
	mmu_set_region_or_die(vm_fd, 0, 0, GPA, NPAGES * P, mem);
	vcpu0 = mmu_create_vcpu_or_die(vm_fd, 0);

	memset(&w, 0, sizeof(w));
	st_pace_init(&pace, 1, 4);
	w.vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 1);
	w.pace = &pace;
	w.replacing = &replacing;
	st_stats_or_die(vm_fd, &st0);
	if (pthread_create(&w.thread, NULL, worker_main, &w))
		bail_out("pthread_create failed");
	for (i = 0; i < ITERS; i++) {
		st_window_open(&replacing);
		if (madvise(mem, NPAGES * P, MADV_DONTNEED))
			bail_out("MADV_DONTNEED: %s", strerror(errno));
		st_pace_wait(&pace);
		st_fill(mem, SEED, GPA >> 12, 0, NPAGES * P);
		st_window_close(&replacing);
		st_pace_wait(&pace);
	}
	st_pace_stop(&pace);
	pthread_join(w.thread, NULL);
	st_stats_or_die(vm_fd, &st);

	diag("%s: %d host iterations, %llu invalidations, %llu fault retries",
	     name, ITERS,
	     (unsigned long long)(st.invalidations - st0.invalidations),
	     (unsigned long long)st.fault_retries);
	diag("%s: vCPU %lu reads (%lu in a replace window), %lu writes", name,
	     w.reads, w.zero_words_ok, w.writes);
	if (w.bad)
		diag("%s: first bad access: %s", name, w.first_bad);
	is_int(w.bad, 0, "%s: every access succeeded and every read saw the data",
	       name);
	ok(w.reads + w.writes >= 2 * ITERS,
	   "%s: the vCPU ran alongside every host operation (%lu accesses)",
	   name, w.reads + w.writes);
	is_int(st.invalidate_in_progress, 0, "%s: no invalidation in progress",
	       name);
	ok(st.invalidations - st0.invalidations >= ITERS,
	   "%s: at least %d invalidations (%llu)", name, ITERS,
	   (unsigned long long)(st.invalidations - st0.invalidations));
	ok(st.invalidate_seq - start == st.invalidations,
	   "%s: invalidate_seq %#llx = start + %llu invalidations (mod 2^64)",
	   name, (unsigned long long)st.invalidate_seq,
	   (unsigned long long)st.invalidations);
	seq_past = st.invalidate_seq - wrap;
	ok(seq_past > 0 && seq_past < NEAR,
	   "%s: invalidate_seq moved past the wrap by %llu (%#llx)", name,
	   (unsigned long long)seq_past,
	   (unsigned long long)st.invalidate_seq);
	is_int(guest_check_all(vcpu0), NPAGES,
	       "%s: afterwards every page reads back its data", name);

	close(w.vcpu_fd);
	close(vcpu0);
	close(vm_fd);
	munmap(mem, NPAGES * P);
}

struct blocked_read {
	pthread_t thread;
	int vcpu_fd;
	u64 buf[P / 8];
	int r;
};

static void *blocked_read_main(void *arg)
{
	struct blocked_read *b = arg;

	b->r = st_access(b->vcpu_fd, VMMU_ACCESS_READ, GPA, b->buf, P);
	return NULL;
}

/* (b) a fault whose snapshot is from before the wrap. */
static void run_uffd(int sys_fd, const char *name, u64 start, u64 wrap)
{
	static struct blocked_read b;
	static u64 page[P / 8];
	struct vmmu_stats st0, st;
	struct uffd_msg msg;
	int vm_fd, uffd, i;
	char *mem, *scratch;
	u64 seq_past;

	uffd = st_uffd_open(0);
	if (uffd < 0) {
		skip(5, "%s: userfaultfd: %s", name, errno_name(-uffd));
		return;
	}
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	st_stats_or_die(vm_fd, &st0);
	ok(st0.invalidate_seq == start,
	   "%s uffd: a second VM starts at invalidate_seq %#llx too", name,
	   (unsigned long long)start);
	mem = mmu_map_anon(P, NULL);
	scratch = mmu_map_anon(P, NULL);
	if (st_uffd_register(uffd, mem, P, UFFDIO_REGISTER_MODE_MISSING))
		bail_out("UFFDIO_REGISTER: %s", strerror(errno));
	mmu_set_region_or_die(vm_fd, 0, 0, GPA, P, mem);
	/* Invalidations of memory no memslot maps leave the sequence alone. */
	mmu_set_region_or_die(vm_fd, 1, 0, GPA_SCRATCH, P, scratch);
	memset(&b, 0, sizeof(b));
	b.vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	if (pthread_create(&b.thread, NULL, blocked_read_main, &b))
		bail_out("pthread_create failed");

	is_errno(st_uffd_read(uffd, &msg), 0,
		 "%s uffd: the vCPU read blocks on the missing page", name);
	for (i = 0; i < UFFD_INVALS; i++) {
		scratch[0] = 1;
		if (madvise(scratch, P, MADV_DONTNEED))
			bail_out("MADV_DONTNEED: %s", strerror(errno));
	}
	st_stats_or_die(vm_fd, &st);
	seq_past = st.invalidate_seq - wrap;
	ok(seq_past > 0 && seq_past < NEAR,
	   "%s uffd: while it waits the sequence crosses the wrap (%#llx)",
	   name, (unsigned long long)st.invalidate_seq);
	st_fill(page, SEED, GPA >> 12, 0, P);
	if (st_uffd_copy(uffd, mem, page, P))
		bail_out("UFFDIO_COPY: %s", strerror(errno));
	pthread_join(b.thread, NULL);
	st_stats_or_die(vm_fd, &st);
	ok(b.r == VMMU_ACCESS_DONE && !memcmp(b.buf, page, P),
	   "%s uffd: the read returns the served data (%s)", name,
	   mmu_result_name(b.r));
	ok(st.fault_retries > st0.fault_retries,
	   "%s uffd: the fault saw the sequence move across the wrap and retried (%llu retries)",
	   name, (unsigned long long)(st.fault_retries - st0.fault_retries));

	close(b.vcpu_fd);
	close(vm_fd);
	close(uffd);
	munmap(mem, P);
	munmap(scratch, P);
}

int main(void)
{
	static const struct {
		u64 wrap;
		const char *name;
	} wraps[NR_WRAPS] = {
		{ 1ULL << 31, "2^31" },
		{ 1ULL << 32, "2^32" },
		{ 0, "2^64" },		/* ULONG_MAX + 1 */
	};
	struct vmmu_objects base;
	unsigned long val;
	unsigned int i;
	int sys_fd, r;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	r = st_param_read(PARAM, &val);
	if (r)
		bail_out("%s/%s: %s", ST_PARAM_DIR, PARAM, errno_name(-r));
	atexit(restore_param);
	signal(SIGTERM, restore_param_and_die);
	signal(SIGINT, restore_param_and_die);
	sys_fd = vmmu_open();

	for (i = 0; i < NR_WRAPS; i++) {
		u64 start = wraps[i].wrap - BELOW;
		char name[32];

		snprintf(name, sizeof(name), "start %s-%d", wraps[i].name,
			 BELOW);
		r = st_param_write(PARAM, start);
		is_errno(r, 0, "%s: write %s = %llu", name, PARAM,
			 (unsigned long long)start);
		r = st_param_read(PARAM, &val);
		ok(!r && val == start, "%s: %s reads back %lu", name, PARAM,
		   val);
		run_workload(sys_fd, name, start, wraps[i].wrap);
		run_uffd(sys_fd, name, start, wraps[i].wrap);
	}

	r = st_param_write(PARAM, 0);
	ok(!r && !st_param_read(PARAM, &val) && val == 0,
	   "%s restored to 0", PARAM);
	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
