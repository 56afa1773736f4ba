// SPDX-License-Identifier: GPL-2.0
/*
 * Faults racing with invalidations, in every MMU configuration.
 *
 * Two vCPU threads (one vCPU each) read and write pages of a slot whose
 * contents never change: every page holds its pattern, and every write
 * stores the same pattern again.  So every access that succeeds must see the
 * pattern, whatever the host does meanwhile:
 *
 *  (a) a third thread loops munmap + mmap(MAP_FIXED) of the same memfd,
 *      mprotect(PROT_READ) and back, and MADV_DONTNEED (the memfd keeps its
 *      contents) over the slot;
 *  (b) a third thread loops VMMU_ZAP_ALL;
 *  (c) a third thread deletes and re-creates a second slot, which the vCPUs
 *      also access now and then.
 *
 * Failures are allowed only while the host made them legitimate: EFAULT
 * while the range was unmapped (or, for writes, read-only), MMIO while the
 * second slot was deleted.  The host thread publishes those windows in
 * sequence counters that are odd while a window is open; a vCPU thread
 * reads the counter before and after each access.  After each host
 * operation the host thread waits until both vCPUs have finished an access,
 * and a vCPU makes at most MAX_PER_OP accesses per host operation, so the
 * loops are bounded by operation counts only and neither side starves.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"

#define P		PAGE_SIZE
#define NPAGES		256
#define SIZE		(NPAGES * P)
#define SLOT0		0
#define GPA0		0x40000000ULL
#define SLOT1		1
#define NPAGES1		64
#define SIZE1		(NPAGES1 * P)
#define GPA1		0x80000000ULL
#define NR_WORKERS	2
#define MAX_PER_OP	8	/* accesses per vCPU per host operation */

#define HOST_ITERS_A	512	/* 4 invalidating operations each */
#define MIN_INVAL_A	2000
#define ZAPS_B		1000
#define SLOT_CYCLES_C	300

#define TESTS_PER_CFG	9
#define NR_TESTS	(TESTS_PER_CFG * MMU_NR_CFGS)

enum race_case { CASE_A, CASE_B, CASE_C };

/* Windows in which failures are legitimate; odd while open. */
struct windows {
	atomic_ulong unmapped;		/* slot 0 not mapped in the host */
	atomic_ulong no_write;		/* slot 0 unmapped or read-only */
	atomic_ulong slot1_gone;	/* slot 1 deleted */
};

/* The handshake between the host thread and the vCPU threads. */
struct pace {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

struct worker {
	pthread_t thread;
	enum race_case kase;
	int vcpu_fd;
	unsigned int id;
	u64 seed;
	struct windows *win;
	struct pace *pace;
	unsigned long done;	/* accesses finished; under pace->lock */
	unsigned int budget;	/* accesses left until the next host op */
	unsigned long reads, reads_ok, writes, slot1, efault_ok, mmio_ok, bad;
	u8 *buf;		/* one page */
	char first_bad[192];
};

static struct vmmu_objects baseline;

static u64 pattern_seed(unsigned int cfg, unsigned int slot)
{
	return 0xc0c0000 + cfg * 16 + slot;
}

static bool window_hit(unsigned long before, unsigned long after)
{
	return (before & 1) || before != after;
}

static void worker_bad(struct worker *w, const char *what, u64 gpa,
		       int r)
{
	if (!w->bad++)
		snprintf(w->first_bad, sizeof(w->first_bad),
			 "vCPU %u: %s at gpa %#llx: %s", w->id, what,
			 (unsigned long long)gpa, mmu_result_name(r));
}

/* One access, judged against the windows it overlapped. */
static void worker_access(struct worker *w, unsigned long n, u64 rnd)
{
	bool to_slot1 = w->kase == CASE_C && n % 4 == 1;
	bool write = n % 4 == 3;
	unsigned int npages = to_slot1 ? NPAGES1 : NPAGES;
	u64 base = to_slot1 ? GPA1 : GPA0;
	u64 gpa = base + (rnd % npages) * P;
	u64 seed = w->seed + (to_slot1 ? 1 : 0);
	atomic_ulong *win = to_slot1 ? &w->win->slot1_gone :
			    write ? &w->win->no_write : &w->win->unmapped;
	unsigned long before, after;
	int r;

	if (write)
		mmu_pattern_fill(w->buf, gpa, P, seed);
	else
		memset(w->buf, 0, P);
	before = atomic_load(win);
	if (write)
		r = mmu_write(w->vcpu_fd, gpa, w->buf, P);
	else
		r = mmu_read(w->vcpu_fd, gpa, w->buf, P);
	after = atomic_load(win);

	if (write)
		w->writes++;
	else
		w->reads++;
	if (to_slot1)
		w->slot1++;

	if (r == VMMU_ACCESS_DONE) {
		if (write)
			return;
		if (mmu_pattern_mismatch(w->buf, gpa, P, seed) >= 0)
			worker_bad(w, "read without the pattern", gpa, r);
		else
			w->reads_ok++;
		return;
	}
	if (r == -EFAULT && w->kase == CASE_A && !to_slot1 &&
	    window_hit(before, after)) {
		w->efault_ok++;
		return;
	}
	if (r == VMMU_ACCESS_MMIO && to_slot1 && window_hit(before, after)) {
		w->mmio_ok++;
		return;
	}
	worker_bad(w, write ? "write failed" : "read failed", gpa, r);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pace *pc = w->pace;
	u64 x = 0x9e3779b97f4a7c15ULL * (w->id + 1);
	unsigned long n;

	for (n = 0;; n++) {
		pthread_mutex_lock(&pc->lock);
		while (!pc->stop && !w->budget)
			pthread_cond_wait(&pc->cond, &pc->lock);
		if (pc->stop) {
			pthread_mutex_unlock(&pc->lock);
			break;
		}
		w->budget--;
		pthread_mutex_unlock(&pc->lock);

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		worker_access(w, n, x >> 33);

		pthread_mutex_lock(&pc->lock);
		w->done++;
		pthread_cond_broadcast(&pc->cond);
		pthread_mutex_unlock(&pc->lock);
	}
	return NULL;
}

/*
 * After a host operation: give every worker a new budget and wait until
 * each has finished an access.
 */
static void wait_progress(struct worker *ws)
{
	struct pace *pc = ws[0].pace;
	unsigned long snap[NR_WORKERS];
	unsigned int i;

	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < NR_WORKERS; i++) {
		snap[i] = ws[i].done;
		ws[i].budget = MAX_PER_OP;
	}
	pthread_cond_broadcast(&pc->cond);
	for (i = 0; i < NR_WORKERS; i++)
		while (ws[i].done == snap[i])
			pthread_cond_wait(&pc->cond, &pc->lock);
	pthread_mutex_unlock(&pc->lock);
}

static void open_window(atomic_ulong *w)
{
	atomic_fetch_add(w, 1);
}

static void close_window(atomic_ulong *w)
{
	atomic_fetch_add(w, 1);
}

struct race {
	struct mmu_vm vm;
	unsigned int cfg;
	enum race_case kase;
	int vcpu_fds[NR_WORKERS];
	struct worker ws[NR_WORKERS];
	struct windows win;
	struct pace pace;
	int memfd;
	u8 *mem0, *mem1;
	unsigned long host_ops;
};

static void race_start(struct race *rc, int sys_fd, unsigned int c,
		       enum race_case kase)
{
	unsigned int i;

	memset(rc, 0, sizeof(*rc));
	pthread_mutex_init(&rc->pace.lock, NULL);
	pthread_cond_init(&rc->pace.cond, NULL);
	rc->cfg = c;
	rc->kase = kase;
	mmu_vm_create(sys_fd, &mmu_cfgs[c], &rc->vm);

	if (kase == CASE_A) {
		rc->memfd = mmu_memfd("vmmu-race", SIZE);
		rc->mem0 = mmu_map_fd(rc->memfd, SIZE, 0, NULL);
	} else {
		rc->memfd = -1;
		rc->mem0 = mmu_map_anon(SIZE, NULL);
	}
	mmu_pattern_fill(rc->mem0, GPA0, SIZE, pattern_seed(c, 0));
	mmu_set_region_or_die(rc->vm.vm_fd, SLOT0, 0, GPA0, SIZE, rc->mem0);
	if (kase == CASE_C) {
		rc->mem1 = mmu_map_anon(SIZE1, NULL);
		mmu_pattern_fill(rc->mem1, GPA1, SIZE1, pattern_seed(c, 1));
		mmu_set_region_or_die(rc->vm.vm_fd, SLOT1, 0, GPA1, SIZE1,
				      rc->mem1);
	}

	/* Everything the workers use exists before they start. */
	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &rc->ws[i];

		rc->vcpu_fds[i] = mmu_create_vcpu_or_die(rc->vm.vm_fd, i);
		w->kase = kase;
		w->vcpu_fd = rc->vcpu_fds[i];
		w->id = i;
		w->seed = pattern_seed(c, 0);
		w->win = &rc->win;
		w->pace = &rc->pace;
		w->buf = mmu_map_anon(P, NULL);
		memset(w->buf, 0, P);
	}
	for (i = 0; i < NR_WORKERS; i++)
		if (pthread_create(&rc->ws[i].thread, NULL, worker_main,
				   &rc->ws[i]))
			bail_out("pthread_create failed");
	wait_progress(rc->ws);
}

/* Stop the workers, report, free everything, check the counters. */
static void race_finish(struct race *rc, const char *what)
{
	unsigned long bad = 0;
	unsigned int i;
	bool each_read = true;

	pthread_mutex_lock(&rc->pace.lock);
	rc->pace.stop = true;
	pthread_cond_broadcast(&rc->pace.cond);
	pthread_mutex_unlock(&rc->pace.lock);
	for (i = 0; i < NR_WORKERS; i++)
		pthread_join(rc->ws[i].thread, NULL);
	pthread_cond_destroy(&rc->pace.cond);
	pthread_mutex_destroy(&rc->pace.lock);
	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &rc->ws[i];

		diag("%s: %s: vCPU %u: %lu reads (%lu with the pattern), %lu writes",
		     rc->vm.name, what, i, w->reads, w->reads_ok, w->writes);
		diag("%s: %s: vCPU %u: %lu to slot 1, allowed failures: %lu EFAULT, %lu MMIO",
		     rc->vm.name, what, i, w->slot1, w->efault_ok, w->mmio_ok);
		diag("%s: %s: vCPU %u: %lu unexpected results", rc->vm.name,
		     what, i, w->bad);
		if (w->bad)
			diag("  first: %s", w->first_bad);
		bad += w->bad;
		if (!w->reads_ok)
			each_read = false;
	}
	ok(!bad && each_read,
	   "%s: %s: every vCPU access saw the pattern or failed when allowed",
	   rc->vm.name, what);

	for (i = 0; i < NR_WORKERS; i++) {
		close(rc->vcpu_fds[i]);
		munmap(rc->ws[i].buf, P);
	}
	mmu_vm_close(&rc->vm);
	munmap(rc->mem0, SIZE);
	if (rc->mem1)
		munmap(rc->mem1, SIZE1);
	if (rc->memfd >= 0)
		close(rc->memfd);
	ok_objects(&baseline, "%s: %s: objects back at baseline",
		   rc->vm.name, what);
}

/* (a) munmap + mmap, mprotect, MADV_DONTNEED while the vCPUs fault. */
static void race_host_mm(int sys_fd, unsigned int c)
{
	struct race rc;
	unsigned long it;

	race_start(&rc, sys_fd, c, CASE_A);
	for (it = 0; it < HOST_ITERS_A; it++) {
		/* Whole slot on even iterations, a quarter on odd ones. */
		size_t len = it & 1 ? SIZE / 4 : SIZE;
		size_t off = it & 1 ? ((it / 2) % 4) * (SIZE / 4) : 0;
		u8 *addr = rc.mem0 + off;

		open_window(&rc.win.no_write);
		open_window(&rc.win.unmapped);
		if (munmap(addr, len))
			bail_out("munmap: %s", strerror(errno));
		rc.host_ops++;
		wait_progress(rc.ws);
		mmu_map_fd(rc.memfd, len, off, addr);
		close_window(&rc.win.unmapped);
		close_window(&rc.win.no_write);
		wait_progress(rc.ws);

		open_window(&rc.win.no_write);
		if (mprotect(addr, len, PROT_READ))
			bail_out("mprotect: %s", strerror(errno));
		rc.host_ops++;
		wait_progress(rc.ws);
		if (mprotect(addr, len, PROT_READ | PROT_WRITE))
			bail_out("mprotect: %s", strerror(errno));
		rc.host_ops++;
		close_window(&rc.win.no_write);
		wait_progress(rc.ws);

		if (madvise(addr, len, MADV_DONTNEED))
			bail_out("madvise: %s", strerror(errno));
		rc.host_ops++;
		wait_progress(rc.ws);
	}
	diag("%s: (a) %lu invalidating host operations (munmap, mprotect x2, MADV_DONTNEED)",
	     rc.vm.name, rc.host_ops);
	ok(rc.host_ops >= MIN_INVAL_A,
	   "%s: (a) %lu invalidations of the slot's memory while 2 vCPUs fault",
	   rc.vm.name, rc.host_ops);
	race_finish(&rc, "(a) munmap/mmap, mprotect, MADV_DONTNEED");
}

/* (b) VMMU_ZAP_ALL while the vCPUs fault. */
static void race_zap_all(int sys_fd, unsigned int c)
{
	unsigned long failed = 0;
	struct race rc;
	unsigned int i;

	race_start(&rc, sys_fd, c, CASE_B);
	for (i = 0; i < ZAPS_B; i++) {
		if (vmmu_ioctl(rc.vm.vm_fd, VMMU_ZAP_ALL, 0))
			failed++;
		rc.host_ops++;
		wait_progress(rc.ws);
	}
	diag("%s: (b) %lu VMMU_ZAP_ALL, %lu failed", rc.vm.name, rc.host_ops,
	     failed);
	ok(!failed, "%s: (b) %lu VMMU_ZAP_ALL while 2 vCPUs fault",
	   rc.vm.name, rc.host_ops);
	race_finish(&rc, "(b) VMMU_ZAP_ALL");
}

/* (c) a second slot deleted and created again while the vCPUs fault. */
static void race_memslots(int sys_fd, unsigned int c)
{
	unsigned long failed = 0;
	struct race rc;
	unsigned int i;

	race_start(&rc, sys_fd, c, CASE_C);
	for (i = 0; i < SLOT_CYCLES_C; i++) {
		open_window(&rc.win.slot1_gone);
		if (vmmu_delete_region(rc.vm.vm_fd, SLOT1))
			failed++;
		wait_progress(rc.ws);
		if (vmmu_set_region(rc.vm.vm_fd, SLOT1, 0, GPA1, SIZE1,
				    (unsigned long)rc.mem1))
			failed++;
		close_window(&rc.win.slot1_gone);
		rc.host_ops += 2;
		wait_progress(rc.ws);
	}
	diag("%s: (c) %lu memslot updates, %lu failed", rc.vm.name,
	     rc.host_ops, failed);
	ok(!failed,
	   "%s: (c) %lu deletes and creates of a second slot while 2 vCPUs fault",
	   rc.vm.name, rc.host_ops);
	race_finish(&rc, "(c) memslot delete/create");
}

int main(void)
{
	unsigned int c;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&baseline);
	for (c = 0; c < MMU_NR_CFGS; c++) {
		u64 t0 = vmmu_now_ns();

		race_host_mm(sys_fd, c);
		race_zap_all(sys_fd, c);
		race_memslots(sys_fd, c);
		diag("configuration %u took %.1f s", c,
		     (vmmu_now_ns() - t0) / 1e9);
	}
	close(sys_fd);
	return tap_finish();
}
