// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs faulting and verifying against a host that keeps invalidating.
 *
 * Three vCPU threads read (whole pages, and ranges straddling two pages)
 * and write (the same data again) a slot backed by a memfd whose every page
 * holds its pattern.  The main thread loops over invalidating operations on
 * the slot's host range, each followed by a wait until every vCPU has
 * finished an access that started after it:
 *
 *   munmap + mmap(MAP_FIXED) of the memfd          (unmapped window)
 *   mprotect(PROT_READ), then back to read-write    (read-only window)
 *   MADV_DONTNEED
 *   mremap away to a reserved range and back        (unmapped window)
 *   fallocate(PUNCH_HOLE) of the whole memfd, then
 *   pwrite() of the data again                      (punched window)
 *
 * The host's operations are numbered in that order, nine per cycle, so a
 * diagnostic names the operations an access overlapped.
 *
 * mprotect and MADV_DONTNEED work on the range piece by piece, one call
 * per piece.  The test counts the calls that always invalidate (munmap,
 * each mprotect and MADV_DONTNEED call, each mremap, the hole punch): at
 * least 10,000 in NPT, and VMMU_GET_STATS.invalidations must have grown by
 * at least as much.  EPT runs as many on Debian's kernels and a fifth of
 * them on the debug kernel, which is ten times slower.
 *
 * Every read that succeeds must return the pattern; inside a punched
 * window a byte may also be zero (the page was freed and is being written
 * again): a vCPU that kept using a freed page would see neither.  An access
 * may fail only with EFAULT, and only if it overlapped an unmapped window
 * or, for a write, a read-only one.  Runs in NPT and in EPT.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		64
#define SIZE		(NPAGES * P)
#define GPA		0x40000000ULL
#define NR_VCPUS	3
#define MIN_INVALS	10000
#define BUDGET		4	/* accesses per vCPU per host operation */
#define MPROTECT_PIECES	4
#define PIECE_M		(SIZE / MPROTECT_PIECES)
#define DONTNEED_PIECES	8
#define PIECE_D		(SIZE / DONTNEED_PIECES)
/* munmap, mprotect twice, MADV_DONTNEED, mremap twice, hole punch */
#define INVALS_PER_CYCLE (1 + 2 * MPROTECT_PIECES + DONTNEED_PIECES + 2 + 1)

#define TESTS_PER_FORMAT 8
#define NR_FORMATS	2
#define NR_TESTS	(TESTS_PER_FORMAT * NR_FORMATS)

struct windows {
	atomic_ulong unmapped;		/* the slot's hva range is not mapped */
	atomic_ulong readonly;		/* mapped read-only */
	atomic_ulong punched;		/* memfd pages freed, being rewritten */
	atomic_ulong phase;		/* host operations started */
};

struct worker {
	pthread_t thread;
	unsigned int id;
	int vcpu_fd;
	u64 seed;
	struct windows *win;
	struct st_pace *pace;
	unsigned long reads, straddles, writes, zero_reads, efault_ok;
	unsigned long bad_data, bad_fail;
	char first_bad[192];
	u64 buf[2 * P / 8];
};

/* Where the host's reads go, so that they are not optimized away. */
static atomic_char st_sink;

static void worker_bad(struct worker *w, unsigned long *counter,
		       const char *what, u64 gpa, int r, long off,
		       unsigned long ph0, unsigned long ph1)
{
	u64 got = 0, want = 0;

	if (off >= 0) {
		got = w->buf[off / 8];
		want = st_pattern(w->seed, (gpa + off) >> 12, (gpa + off) % P);
	}
	if (!w->bad_data && !w->bad_fail)
		snprintf(w->first_bad, sizeof(w->first_bad),
			 "vCPU %u: %s at gpa %#llx: %s, word +%ld is %#llx not %#llx, host ops %lu..%lu",
			 w->id, what, (unsigned long long)gpa,
			 mmu_result_name(r), off, (unsigned long long)got,
			 (unsigned long long)want, ph0, ph1);
	(*counter)++;
}

static void worker_access(struct worker *w, u64 rnd)
{
	unsigned int kind = (rnd >> 40) % 20;
	bool write = kind < 5, straddle = kind >= 17;
	u64 page = rnd % (straddle ? NPAGES - 1 : NPAGES);
	u64 gpa = GPA + page * P + (straddle ? P / 2 : 0);
	unsigned long u0, u1, ro0, ro1, p0, p1, ph0, ph1;
	long off;
	int r;

	if (write)
		st_fill(w->buf, w->seed, gpa >> 12, 0, P);
	ph0 = atomic_load(&w->win->phase);
	u0 = atomic_load(&w->win->unmapped);
	ro0 = atomic_load(&w->win->readonly);
	p0 = atomic_load(&w->win->punched);
	r = st_access(w->vcpu_fd, write ? VMMU_ACCESS_WRITE : VMMU_ACCESS_READ,
		      gpa, w->buf, P);
	u1 = atomic_load(&w->win->unmapped);
	ro1 = atomic_load(&w->win->readonly);
	p1 = atomic_load(&w->win->punched);
	ph1 = atomic_load(&w->win->phase);

	if (write)
		w->writes++;
	else if (straddle)
		w->straddles++;
	else
		w->reads++;

	if (r == VMMU_ACCESS_DONE) {
		bool punched = st_window_hit(p0, p1);

		if (write)
			return;
		off = st_mismatch(w->buf, w->seed, gpa >> 12, gpa % P, P,
				  punched);
		if (off >= 0)
			worker_bad(w, &w->bad_data, "read without the pattern",
				   gpa, r, off, ph0, ph1);
		else if (punched)
			w->zero_reads++;
		return;
	}
	if (r == -EFAULT && (st_window_hit(u0, u1) ||
			     (write && st_window_hit(ro0, ro1)))) {
		w->efault_ok++;
		return;
	}
	worker_bad(w, &w->bad_fail, write ? "write failed" : "read failed",
		   gpa, r, -1, ph0, ph1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	u64 rnd = 0x9e3779b97f4a7c15ULL * (w->id + 1);

	while (st_pace_begin(w->pace, w->id)) {
		worker_access(w, st_rand(&rnd));
		st_pace_end(w->pace, w->id);
	}
	return NULL;
}

/* The host side: one cycle of invalidating operations; returns the count. */
static unsigned int host_cycle(char *hva, char *away, int memfd,
			       struct windows *win, struct st_pace *pace,
			       const char *data)
{
	void *p;
	int i;

	atomic_fetch_add(&win->phase, 1);
	st_window_open(&win->unmapped);
	if (munmap(hva, SIZE))
		bail_out("munmap: %s", strerror(errno));
	st_pace_wait(pace);
	atomic_fetch_add(&win->phase, 1);
	mmu_map_fd(memfd, SIZE, 0, hva);
	st_window_close(&win->unmapped);
	st_pace_wait(pace);

	/*
	 * mprotect() invalidates only where host page tables exist: touch
	 * both ends.  Piece by piece: one invalidation per call.
	 */
	st_sink += atomic_load((atomic_char *)hva);
	st_sink += atomic_load((atomic_char *)(hva + SIZE - 1));
	atomic_fetch_add(&win->phase, 1);
	st_window_open(&win->readonly);
	for (i = 0; i < MPROTECT_PIECES; i++)
		if (mprotect(hva + i * PIECE_M, PIECE_M, PROT_READ))
			bail_out("mprotect: %s", strerror(errno));
	st_pace_wait(pace);
	atomic_fetch_add(&win->phase, 1);
	for (i = 0; i < MPROTECT_PIECES; i++)
		if (mprotect(hva + i * PIECE_M, PIECE_M,
			     PROT_READ | PROT_WRITE))
			bail_out("mprotect: %s", strerror(errno));
	st_window_close(&win->readonly);
	st_pace_wait(pace);

	/* MADV_DONTNEED always invalidates: piece by piece. */
	atomic_fetch_add(&win->phase, 1);
	for (i = 0; i < DONTNEED_PIECES; i++)
		if (madvise(hva + i * PIECE_D, PIECE_D, MADV_DONTNEED))
			bail_out("MADV_DONTNEED: %s", strerror(errno));
	st_pace_wait(pace);

	atomic_fetch_add(&win->phase, 1);
	st_window_open(&win->unmapped);
	p = mremap(hva, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, away);
	if (p != away)
		bail_out("mremap away: %s", strerror(errno));
	st_pace_wait(pace);
	atomic_fetch_add(&win->phase, 1);
	p = mremap(away, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, hva);
	if (p != hva)
		bail_out("mremap back: %s", strerror(errno));
	st_window_close(&win->unmapped);
	st_reserve(SIZE, away);
	st_pace_wait(pace);

	atomic_fetch_add(&win->phase, 1);
	st_window_open(&win->punched);
	if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      SIZE))
		bail_out("fallocate PUNCH_HOLE: %s", strerror(errno));
	st_pace_wait(pace);
	atomic_fetch_add(&win->phase, 1);
	if (pwrite(memfd, data, SIZE, 0) != SIZE)
		bail_out("pwrite memfd: %s", strerror(errno));
	st_window_close(&win->punched);
	st_pace_wait(pace);

	return INVALS_PER_CYCLE;
}

static void run_format(int sys_fd, u32 format, unsigned long min_invals,
		       const struct vmmu_objects *base)
{
	unsigned long cycles = (min_invals + INVALS_PER_CYCLE - 1) /
			       INVALS_PER_CYCLE;
	const char *fn = st_format_name(format);
	struct worker workers[NR_VCPUS];
	unsigned long invals = 0, accesses, min_acc = ~0UL;
	unsigned long bad_data = 0, bad_fail = 0, efault_ok = 0, zero = 0;
	unsigned long reads = 0, straddles = 0, writes = 0;
	struct vmmu_stats st0, st;
	struct windows win = { 0 };
	static u64 data[SIZE / 8];
	struct st_pace pace;
	char *hva, *away;
	int vm_fd, memfd, i;
	u64 seed = 0x1a7e + format;
	static u64 page[P / 8];
	unsigned int good;

	vm_fd = st_vm_create(sys_fd, format, 0, NULL);
	memfd = mmu_memfd("vmmu-stress", SIZE);
	st_fill(data, seed, GPA >> 12, 0, SIZE);
	if (pwrite(memfd, data, SIZE, 0) != SIZE)
		bail_out("pwrite memfd: %s", strerror(errno));
	hva = mmu_map_fd(memfd, SIZE, 0, NULL);
	away = st_reserve(SIZE, NULL);
	mmu_set_region_or_die(vm_fd, 0, 0, GPA, SIZE, hva);

	st_pace_init(&pace, NR_VCPUS, BUDGET);
	memset(workers, 0, sizeof(workers));
	for (i = 0; i < NR_VCPUS; i++) {
		workers[i].id = i;
		workers[i].vcpu_fd = mmu_create_vcpu_or_die(vm_fd, i);
		workers[i].seed = seed;
		workers[i].win = &win;
		workers[i].pace = &pace;
	}
	st_stats_or_die(vm_fd, &st0);
	for (i = 0; i < NR_VCPUS; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]))
			bail_out("pthread_create failed");
	for (i = 0; i < (int)cycles; i++)
		invals += host_cycle(hva, away, memfd, &win, &pace,
				     (const char *)data);
	st_pace_stop(&pace);
	for (i = 0; i < NR_VCPUS; i++) {
		struct worker *w = &workers[i];

		pthread_join(w->thread, NULL);
		accesses = w->reads + w->straddles + w->writes;
		if (accesses < min_acc)
			min_acc = accesses;
		reads += w->reads;
		straddles += w->straddles;
		writes += w->writes;
		zero += w->zero_reads;
		efault_ok += w->efault_ok;
		bad_data += w->bad_data;
		bad_fail += w->bad_fail;
		if (w->bad_data || w->bad_fail)
			diag("%s: %s", fn, w->first_bad);
	}
	st_stats_or_die(vm_fd, &st);

	diag("%s: %lu cycles, %lu invalidating operations, %llu invalidations counted by vmmu",
	     fn, cycles, invals,
	     (unsigned long long)(st.invalidations - st0.invalidations));
	diag("%s: %d vCPUs: %lu reads, %lu straddling reads, %lu writes", fn,
	     NR_VCPUS, reads, straddles, writes);
	diag("%s: %lu reads overlapped a punched window, %lu EFAULTs in windows",
	     fn, zero, efault_ok);
	st_stats_diag(fn, &st);

	ok(invals >= min_invals,
	   "%s: %lu invalidating host operations (>= %lu)", fn, invals,
	   min_invals);
	ok(st.invalidations - st0.invalidations >= invals,
	   "%s: VMMU_GET_STATS.invalidations grew by %llu >= %lu", fn,
	   (unsigned long long)(st.invalidations - st0.invalidations), invals);
	is_int(bad_data, 0, "%s: every successful read saw the pattern", fn);
	is_int(bad_fail, 0,
	       "%s: accesses failed only with EFAULT inside an unmapped or read-only window",
	       fn);
	ok(min_acc >= 2UL * cycles * 9,
	   "%s: every vCPU ran alongside every host operation (fewest accesses %lu)",
	   fn, min_acc);
	is_int(st.invalidate_in_progress, 0, "%s: no invalidation in progress",
	       fn);
	good = 0;
	for (i = 0; i < NPAGES; i++) {
		u64 gpa = GPA + i * P;

		if (st_access(workers[0].vcpu_fd, VMMU_ACCESS_READ, gpa, page,
			      P) == VMMU_ACCESS_DONE &&
		    st_mismatch(page, seed, gpa >> 12, 0, P, false) < 0)
			good++;
	}
	is_int(good, NPAGES, "%s: afterwards every page reads back its pattern",
	       fn);

	for (i = 0; i < NR_VCPUS; i++)
		close(workers[i].vcpu_fd);
	close(vm_fd);
	munmap(hva, SIZE);
	munmap(away, SIZE);
	close(memfd);
	ok_objects(base, "%s: objects back at baseline after closing", fn);
}

int main(void)
{
	struct vmmu_objects base;
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	run_format(sys_fd, VMMU_MMU_FORMAT_NPT, MIN_INVALS, &base);
	run_format(sys_fd, VMMU_MMU_FORMAT_EPT, st_scale(MIN_INVALS, 5, 1),
		   &base);
	close(sys_fd);
	return tap_finish();
}
