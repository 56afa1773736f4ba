// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging over transparent huge pages, under load.
 *
 * A slot of 4 MiB of THP-backed memory (2 MiB aligned on both sides, so
 * that vmmu maps it with 2 MiB leaves while it does not log).  Two software
 * vCPUs in two threads write random pages of their own halves, one word a
 * write, a new value each time.  The main thread harvests the log
 * (KVM_GET_DIRTY_LOG) over and over and every tenth harvest turns logging
 * off and on again: off, vmmu zaps the split tables and the writes map
 * 2 MiB leaves again; on, it splits them in place (eager splitting) and
 * write-protects every page.  A third thread makes the host split each huge
 * page (mprotect of its first page, which no vCPU writes, to read-only and
 * back) and collapse it again (MADV_COLLAPSE), over and over: each an
 * invalidation of the whole 2 MiB, under which vmmu's leaves, huge or
 * split, must go and come back mapping the new pages.
 *
 * Before the threads start, with the host's huge pages collapsed and
 * nothing else running, one read of each 2 MiB maps two 2 MiB leaves;
 * logging on must split both in place, logging off must zap the tables for
 * huge leaves again, and the next reads map 2 MiB leaves again.  (Under the
 * threads those transitions depend on timing: a loaded debug kernel once
 * saw its collapses fail and logging find no huge leaf to split.)
 *
 * Invariants: a write made while logging stayed on (the same logging period
 * before and after it) is in one of the harvests that began between its
 * start and the first harvest after it ended, or in that one; at the end
 * every page holds the last value written to it.  It prints how many writes
 * it checked, the harvests, toggles and collapses, and the splits and
 * recoveries vmmu counted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define HUGE		(2UL << 20)
#define MEM_SIZE	(2 * HUGE)
#define NPAGES		(MEM_SIZE / P)
#define GPA		0x40000000ULL
#define SLOT		1
#define THREADS		2
#define MAX_HARVESTS	2048
#define MAX_WRITES	400000
#define LOG_WORDS	(NPAGES / 64)

#define NR_TESTS	8

struct write_rec {
	u32 page;	/* ~0: not judged (logging was off at some point) */
	u32 h0, h1;	/* harvests begun before the write, after it */
};

static struct {
	int vm_fd;
	int vcpu_fd[THREADS];
	u8 *mem;
	atomic_uint harvests;	/* begun */
	atomic_uint period;	/* odd: logging on */
	atomic_bool stop;
	atomic_ulong splits;
	atomic_ulong collapses;
	struct write_rec *w[THREADS];
	unsigned long nr[THREADS];
	u64 last[NPAGES];	/* the last value written to each page */
	long err[THREADS];
	u64 logs[MAX_HARVESTS][LOG_WORDS];
} s;

static void *writer(void *arg)
{
	int t = (int)(long)arg;
	u64 seed = 0x106 + t, v;
	unsigned long i;

	for (i = 0; i < MAX_WRITES && !atomic_load(&s.stop); i++) {
		struct write_rec *w = &s.w[t][i];
		u32 page = (u32)(st_rand(&seed) % (NPAGES / THREADS)) * THREADS + t;
		u32 e0, e1;
		int r;

		/* The first page of each 2 MiB is the collapser's. */
		if (!(page % (HUGE / P)))
			page += THREADS;
		v = (u64)t << 56 | i;
		e0 = atomic_load(&s.period);
		w->h0 = atomic_load(&s.harvests);
		r = st_access(s.vcpu_fd[t], VMMU_ACCESS_WRITE, GPA + (u64)page * P,
			      &v, sizeof(v));
		w->h1 = atomic_load(&s.harvests);
		e1 = atomic_load(&s.period);
		if (r != VMMU_ACCESS_DONE) {
			s.err[t] = r < 0 ? r : -EIO;
			break;
		}
		s.last[page] = v;
		w->page = e0 == e1 && (e0 & 1) ? page : ~0U;
		s.nr[t] = i + 1;
	}
	return NULL;
}

static void *collapser(void *arg)
{
	unsigned int i = 0;

	(void)arg;
	while (!atomic_load(&s.stop)) {
		u8 *huge = s.mem + (i++ % 2) * HUGE;

		if (mprotect(huge, P, PROT_READ) ||
		    mprotect(huge, P, PROT_READ | PROT_WRITE))
			bail_out("mprotect: %s", strerror(errno));
		atomic_fetch_add(&s.splits, 1);
		if (!madvise(huge, HUGE, MADV_COLLAPSE))
			atomic_fetch_add(&s.collapses, 1);
		usleep(5000);
	}
	return NULL;
}

/* Reads a word of each 2 MiB (not logging: 2 MiB leaves), then the stats. */
static void huge_leaves(struct vmmu_stats *st)
{
	u64 v;
	int r;

	for (unsigned int i = 0; i < MEM_SIZE / HUGE; i++) {
		r = st_access(s.vcpu_fd[0], VMMU_ACCESS_READ,
			      GPA + i * HUGE + P, &v, sizeof(v));
		if (r != VMMU_ACCESS_DONE)
			bail_out("read of 2 MiB %u: %d", i, r);
	}
	st_stats_or_die(s.vm_fd, st);
}

static void set_logging(bool on)
{
	mmu_set_region_or_die(s.vm_fd, SLOT, on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			      GPA, MEM_SIZE, s.mem);
}

static bool harvest(void)
{
	unsigned int h = atomic_load(&s.harvests);
	struct kvm_dirty_log dl = { .slot = SLOT };

	if (h >= MAX_HARVESTS)
		return false;
	dl.dirty_bitmap = s.logs[h];
	/* A write that reads h + 1 may come before or after the GET. */
	atomic_store(&s.harvests, h + 1);
	if (vmmu_ioctl(s.vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&dl))
		bail_out("KVM_GET_DIRTY_LOG: %s", strerror(errno));
	return true;
}

/* Is @page in one of the harvests [from, to]? */
static bool logged(u32 page, unsigned int from, unsigned int to)
{
	unsigned int h;

	for (h = from; h <= to && h < atomic_load(&s.harvests); h++)
		if (s.logs[h][page / 64] & BIT_ULL(page % 64))
			return true;
	return false;
}

int main(void)
{
	unsigned int rounds = st_scale(600, 4, 100), i, toggles = 0;
	unsigned long checked = 0, missed = 0, bad_pages = 0, t;
	struct vmmu_stats st0, st1, pre[3];
	struct vmmu_objects base;
	long host_kb;
	pthread_t th[THREADS], col;
	char why[160] = "";
	struct mmu_vm vm;
	void *res;
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	s.vm_fd = vm.vm_fd;
	res = mmu_map_anon(MEM_SIZE + HUGE, NULL);
	s.mem = (u8 *)(((unsigned long)res + HUGE - 1) & ~(HUGE - 1));
	madvise(s.mem, MEM_SIZE, MADV_HUGEPAGE);
	memset(s.mem, 0, MEM_SIZE);
	host_kb = mmu_thp_collapse(s.mem, MEM_SIZE, 5);
	set_logging(false);
	for (t = 0; t < THREADS; t++) {
		s.vcpu_fd[t] = mmu_create_vcpu_or_die(s.vm_fd, t);
		s.w[t] = calloc(MAX_WRITES, sizeof(*s.w[t]));
		if (!s.w[t])
			bail_out("out of memory");
	}
	st_stats_or_die(s.vm_fd, &st0);
	if (host_kb < (long)(MEM_SIZE >> 10)) {
		skip(2, "the host backs %ld of %lu kB with huge pages",
		     host_kb, MEM_SIZE >> 10);
	} else {
		huge_leaves(&pre[0]);
		set_logging(true);
		st_stats_or_die(s.vm_fd, &pre[1]);
		set_logging(false);
		huge_leaves(&pre[2]);
		ok(pre[0].mapped[1] == 2 &&
		   pre[1].huge_splits - pre[0].huge_splits == 2 &&
		   pre[1].mapped[1] == 0,
		   "logging on split both 2 MiB leaves in place (%llu leaves, %llu splits)",
		   (unsigned long long)pre[0].mapped[1],
		   (unsigned long long)(pre[1].huge_splits - pre[0].huge_splits));
		ok(pre[2].huge_recovered - pre[1].huge_recovered == 2 &&
		   pre[2].mapped[1] == 2,
		   "logging off zapped both split tables, reads map 2 MiB leaves again (%llu, %llu)",
		   (unsigned long long)(pre[2].huge_recovered - pre[1].huge_recovered),
		   (unsigned long long)pre[2].mapped[1]);
	}
	set_logging(true);
	atomic_store(&s.period, 1);
	for (t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, writer, (void *)t);
	pthread_create(&col, NULL, collapser, NULL);
	for (i = 0; i < rounds && harvest(); i++) {
		usleep(2000);
		if (i % 10 != 9)
			continue;
		/*
		 * End of a period, then its last harvest: a write judged in
		 * it ended before this harvest began.  Logging off and on;
		 * the next period begins once logging is on.
		 */
		atomic_fetch_add(&s.period, 1);
		harvest();
		set_logging(false);
		usleep(3000);
		set_logging(true);
		atomic_fetch_add(&s.period, 1);
		toggles++;
	}
	harvest();
	atomic_store(&s.stop, true);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_join(col, NULL);
	/* The writes after the last harvest are in this one. */
	harvest();
	st_stats_or_die(s.vm_fd, &st1);

	for (t = 0; t < THREADS; t++) {
		for (i = 0; i < s.nr[t]; i++) {
			struct write_rec *w = &s.w[t][i];

			if (w->page == ~0U)
				continue;
			checked++;
			if (logged(w->page, w->h0 ? w->h0 - 1 : 0, w->h1))
				continue;
			if (!missed++)
				snprintf(why, sizeof(why),
					 "thread %lu write %u: page %u, harvests %u..%u: in none",
					 t, i, w->page, w->h0, w->h1);
		}
	}
	for (i = 0; i < NPAGES; i++)
		if (*(u64 *)(s.mem + (u64)i * P) != s.last[i])
			bad_pages++;

	diag("%lu + %lu writes by %d vCPU threads (%lu judged), %u harvests",
	     s.nr[0], s.nr[1], THREADS, checked, atomic_load(&s.harvests));
	diag("%u logging toggles, %lu host splits, %lu collapses", toggles,
	     atomic_load(&s.splits), atomic_load(&s.collapses));
	st_stats_diag("stats", &st1);
	is_int(s.err[0] | s.err[1], 0, "every write completed");
	ok(checked > 1000, "writes were judged (%lu)", checked);
	if (!is_int(missed, 0, "every judged write is in a harvest around it"))
		diag("  %s", why);
	is_int(bad_pages, 0, "every page holds its last write");
	diag("%llu splits in place, %llu tables zapped for huge leaves",
	     (unsigned long long)(st1.huge_splits - st0.huge_splits),
	     (unsigned long long)(st1.huge_recovered - st0.huge_recovered));
	ok(toggles > 5 && st1.invalidations > st0.invalidations,
	   "logging turned off and on %u times, %llu host invalidations", toggles,
	   (unsigned long long)(st1.invalidations - st0.invalidations));

	for (t = 0; t < THREADS; t++) {
		close(s.vcpu_fd[t]);
		free(s.w[t]);
	}
	mmu_vm_close(&vm);
	munmap(res, MEM_SIZE + HUGE);
	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
