// SPDX-License-Identifier: GPL-2.0
/*
 * The memslot-delete window of issue 13, made deterministic.
 *
 * Every round, in a new VM with two software vCPUs:
 *
 *  1. vCPU 1 reads page 1 of slot 0, so its root (and its TLB) maps the
 *     page's frame;
 *  2. vCPU 0 reads (every other round: writes a word of) a
 *     userfaultfd-registered page of slot 1 and blocks in GUP, inside
 *     vmmu's fault handler, i.e. inside vm->srcu; the handler (this
 *     thread) only reads the fault message and serves nothing yet;
 *  3. thread B deletes slot 0; the test waits until B sleeps in the SRCU
 *     grace period (its wchan names srcu; or B is still blocked after a
 *     second), which vCPU 0 keeps open;
 *  4. the old page's data is poisoned (a pattern of its own), the page is
 *     released with MADV_DONTNEED and the process writes new data there
 *     (a new frame);
 *  5. vCPU 1 reads the gpa again: it must wait for the delete (still
 *     blocked after a while) or get VMMU_ACCESS_MMIO, never
 *     VMMU_ACCESS_DONE (whatever it read came from the freed frame: the
 *     poison, the allocator's poison with page_poison=1, or the page of
 *     whoever reused it);
 *  6. the fault is served: vCPU 0's read completes with the served data,
 *     the delete returns, and vCPU 1's read (if it waited) and another one
 *     are VMMU_ACCESS_MMIO.
 *
 * Every other pair of rounds slot 0 is 2 MiB of transparent huge pages at a
 * 2 MiB-aligned gpa, which vCPU 1 maps with one 2 MiB leaf, and step 4
 * releases the whole huge page: a stale huge leaf would read a freed
 * compound page.
 *
 * In the debug lane the stale read of step 5 is a kernel access to a freed
 * page, which DEBUG_PAGEALLOC turns into an oops.
 *
 * Rounds where the delete returns while vCPU 0 is still blocked (the
 * grace period did not wait for it) are counted and printed with the time
 * the delete took and vCPU 0's kernel stack; see Documentation/testing.rst.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define GPA0		0x100000ULL	/* slot 0: 4 pages, page 1 is the victim */
#define SLOT0_PAGES	4
#define VICTIM		1
#define GPA1		0x200000ULL	/* slot 1: 1 page, userfaultfd */
#define HUGE		(2ULL << 20)
#define GPA0_HUGE	0x400000ULL	/* slot 0 of a huge round: 2 MiB */

#define SEED_OLD	0x01d0
#define SEED_POISON	0xdead
#define SEED_NEW	0x9e70
#define SEED_UFFD	0x0ffd

/* Allocator poison of freed pages with page_poison=1 (PAGE_POISON). */
#define FREED_WORD	0xaaaaaaaaaaaaaaaaULL

#define NR_TESTS	10

/* How long to let vCPU 1's read run before calling it "waiting". */
#define WAIT_MS		300
/* Bound on the wait for the userfaultfd message. */
#define GP_WAIT_MS	5000
/* A delete still blocked after this long is waiting for vCPU 0. */
#define BLOCKED_MS	1000

struct job {
	pthread_t thread;
	int fd;
	u64 gpa;
	void *buf;
	u32 kind;
	int r;
	atomic_int tid;
	atomic_int finished;
	u64 t_start, t_end;
};

/* A read of a page, or with j->kind VMMU_ACCESS_WRITE a write of a word. */
static void *vcpu_access_main(void *arg)
{
	struct job *j = arg;
	bool write = j->kind == VMMU_ACCESS_WRITE;

	atomic_store(&j->tid, (int)syscall(SYS_gettid));
	j->r = st_access(j->fd, j->kind, j->gpa, j->buf, write ? 8 : P);
	atomic_store(&j->finished, 1);
	return NULL;
}

static void *delete_main(void *arg)
{
	struct job *j = arg;

	atomic_store(&j->tid, (int)syscall(SYS_gettid));
	j->t_start = vmmu_now_ns();
	j->r = vmmu_delete_region(j->fd, 0);
	j->t_end = vmmu_now_ns();
	atomic_store(&j->finished, 1);
	return NULL;
}

static void job_start(struct job *j, void *(*fn)(void *), int fd, u64 gpa,
		      void *buf, u32 kind)
{
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->fd = fd;
	j->gpa = gpa;
	j->buf = buf;
	j->r = -1;
	if (pthread_create(&j->thread, NULL, fn, j))
		bail_out("pthread_create failed");
	while (!atomic_load(&j->tid))
		usleep(100);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* /proc/self/task/<tid>/<file> into @buf (NUL-terminated, maybe empty). */
static void task_file(int tid, const char *file, char *buf, size_t size)
{
	char path[64];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, file);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
}

/* Print a task's kernel stack (needs root and CONFIG_STACKTRACE). */
static void task_stack_diag(const char *label, int tid)
{
	char buf[2048], *line, *save;

	task_file(tid, "stack", buf, sizeof(buf));
	task_file(tid, "wchan", buf + strlen(buf),
		  sizeof(buf) - strlen(buf));
	diag("%s (tid %d):", label, tid);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		diag("  %s", line);
}

/*
 * Wait until @j sleeps where its wchan names @where (true) or ends (false).
 * A delete that waits elsewhere is as good: after BLOCKED_MS still blocked
 * is true too, and the wchan is printed.
 */
static bool wait_for_wchan(struct job *j, const char *where)
{
	char wchan[128];
	unsigned int ms;

	for (ms = 0; ms < BLOCKED_MS; ms++) {
		if (atomic_load(&j->finished))
			return false;
		task_file(atomic_load(&j->tid), "wchan", wchan, sizeof(wchan));
		if (strstr(wchan, where))
			return true;
		sleep_ms(1);
	}
	if (atomic_load(&j->finished))
		return false;
	diag("the delete is blocked in %s", wchan);
	return true;
}

/* Wait up to @ms for @j to end; true if it did. */
static bool wait_finished(struct job *j, unsigned int ms)
{
	while (!atomic_load(&j->finished) && ms--)
		sleep_ms(1);
	return atomic_load(&j->finished);
}

/* What a page read through a stale translation holds. */
static const char *stale_kind(const u64 *buf, u64 gfn)
{
	if (st_mismatch(buf, SEED_POISON, gfn, 0, P, false) < 0)
		return "the poison written before the release";
	if (buf[0] == FREED_WORD && buf[P / 8 - 1] == FREED_WORD)
		return "the allocator's poison of a freed page";
	if (st_mismatch(buf, SEED_OLD, gfn, 0, P, false) < 0)
		return "the data from before the release";
	if (st_mismatch(buf, SEED_NEW, gfn, 0, P, false) < 0)
		return "the new data (the frame reused, or the slot mapped)";
	if (mmu_is_zero(buf, P))
		return "zeroes";
	return "someone else's data (the frame was reused)";
}

struct counts {
	unsigned int rounds, huge_rounds, huge_leaf;
	unsigned int blocked, in_gp, early, waited, mmio_early;
	unsigned int stale, after_mmio, final_mmio, uffd_done, deletes_ok;
	u64 early_ns_min, early_ns_max;
};

static void round_early(struct counts *c, struct job *del, struct job *j0)
{
	u64 ns = del->t_end - del->t_start;

	c->early++;
	if (!c->early_ns_min || ns < c->early_ns_min)
		c->early_ns_min = ns;
	if (ns > c->early_ns_max)
		c->early_ns_max = ns;
	diag("round %u: the delete returned after %llu us while vCPU 0 %s",
	     c->rounds, (unsigned long long)(ns / 1000),
	     atomic_load(&j0->finished) ? "had finished" : "is still blocked");
	task_stack_diag("vCPU 0 now", atomic_load(&j0->tid));
}

/* Slot 0 of a round: where it is and how big. */
struct slot0 {
	u8 *res, *mem;		/* the mapping, and the slot's memory in it */
	size_t res_size, size;
	u64 gpa;
};

/*
 * Slot 0's memory, filled: 4 pages, or in a huge round 2 MiB, 2 MiB
 * aligned, that the host backs with a transparent huge page (asked for
 * with MADV_HUGEPAGE and MADV_COLLAPSE; vCPU 1's leaf tells whether it did).
 */
static void slot0_alloc(struct slot0 *s, bool huge)
{
	s->size = huge ? HUGE : SLOT0_PAGES * P;
	s->gpa = huge ? GPA0_HUGE : GPA0;
	s->res_size = huge ? 2 * HUGE : s->size;
	s->res = mmu_map_anon(s->res_size, NULL);
	s->mem = s->res;
	if (huge) {
		s->mem = (u8 *)(((unsigned long)s->res + HUGE - 1) &
				~(HUGE - 1));
		if (madvise(s->mem, HUGE, MADV_HUGEPAGE))
			bail_out("MADV_HUGEPAGE: %s", strerror(errno));
	}
	st_fill(s->mem, SEED_OLD, s->gpa >> 12, 0, s->size);
	if (huge)
		madvise(s->mem, HUGE, MADV_COLLAPSE);
}

/*
 * Step 4 and 5: release the victim page (in a huge round, the whole huge
 * page), then vCPU 1 reads it.
 */
static void release_and_read(struct counts *c, int vcpu1,
			     const struct slot0 *s0, struct job *j1, u64 *buf1)
{
	bool huge = s0->size == HUGE;
	u8 *victim = s0->mem + VICTIM * P;
	u8 *released = huge ? s0->mem : victim;
	size_t size = huge ? HUGE : P;
	u64 gfn = (s0->gpa >> 12) + VICTIM;
	struct vmmu_translation tr = { 0 };
	u64 old_pfn, new_pfn;

	st_fill(released, SEED_POISON, (s0->gpa >> 12) + (huge ? 0 : VICTIM),
		0, size);
	old_pfn = mmu_pagemap_pfn(victim);
	if (madvise(released, size, MADV_DONTNEED))
		bail_out("MADV_DONTNEED failed");
	st_fill(released, SEED_NEW, (s0->gpa >> 12) + (huge ? 0 : VICTIM), 0,
		size);
	new_pfn = mmu_pagemap_pfn(victim);

	job_start(j1, vcpu_access_main, vcpu1, s0->gpa + VICTIM * P, buf1,
		  VMMU_ACCESS_READ);
	if (!wait_finished(j1, WAIT_MS)) {
		c->waited++;
		return;
	}
	if (j1->r == VMMU_ACCESS_MMIO) {
		c->mmio_early++;
		return;
	}
	c->stale++;
	diag("round %u: vCPU 1's read of the released page during the delete: %s, %s",
	     c->rounds, mmu_result_name(j1->r),
	     j1->r == VMMU_ACCESS_DONE ? stale_kind(buf1, gfn) : "");
	if (j1->r != VMMU_ACCESS_DONE)
		return;
	mmu_translate(vcpu1, s0->gpa + VICTIM * P, &tr);
	diag("  first word %#llx (poison %#llx, new %#llx)",
	     (unsigned long long)buf1[0],
	     (unsigned long long)st_pattern(SEED_POISON, gfn, 0),
	     (unsigned long long)st_pattern(SEED_NEW, gfn, 0));
	diag("  pfn released %#llx, of the new page %#llx, in vCPU 1's root %#llx (%s, level %u)",
	     (unsigned long long)old_pfn, (unsigned long long)new_pfn,
	     (unsigned long long)tr.pfn, mmu_tr_flags_str(tr.flags),
	     tr.level);
}

static void one_round(int sys_fd, struct counts *c)
{
	static u64 buf0[P / 8], buf1[P / 8], page[P / 8];
	struct job j0, j1, del;
	int vm_fd, vcpu0, vcpu1, uffd;
	struct uffd_msg msg;
	struct pollfd pfd;
	bool in_gp, j1_started = false;
	/* vCPU 0 blocks in a read fault, or in a write fault every other round. */
	bool vcpu0_write = c->rounds & 1;
	/* Slot 0 is a 2 MiB huge page in rounds 2, 3, 6, 7, ... */
	bool huge = c->rounds & 2;
	struct vmmu_translation tr = { 0 };
	struct slot0 s0;
	u8 *mem1;

	slot0_alloc(&s0, huge);
	mem1 = mmu_map_anon(P, NULL);
	uffd = st_uffd_open(0);
	if (uffd < 0)
		bail_out("userfaultfd: %s", errno_name(-uffd));
	if (st_uffd_register(uffd, mem1, P, UFFDIO_REGISTER_MODE_MISSING))
		bail_out("UFFDIO_REGISTER failed");
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	mmu_set_region_or_die(vm_fd, 0, 0, s0.gpa, s0.size, s0.mem);
	mmu_set_region_or_die(vm_fd, 1, 0, GPA1, P, mem1);
	vcpu0 = mmu_create_vcpu_or_die(vm_fd, 0);
	vcpu1 = mmu_create_vcpu_or_die(vm_fd, 1);

	/* 1. vCPU 1 maps the victim. */
	if (st_access(vcpu1, VMMU_ACCESS_READ, s0.gpa + VICTIM * P, buf1, P) !=
	    VMMU_ACCESS_DONE)
		bail_out("round %u: vCPU 1 cannot read slot 0", c->rounds);
	if (huge) {
		c->huge_rounds++;
		mmu_translate(vcpu1, s0.gpa + VICTIM * P, &tr);
		if (tr.level == 2)
			c->huge_leaf++;
		else
			diag("round %u: vCPU 1 maps slot 0 at level %u (%s)",
			     c->rounds, tr.level, mmu_tr_flags_str(tr.flags));
	}

	/* 2. vCPU 0 blocks in userfaultfd, inside vm->srcu. */
	buf0[0] = st_pattern(SEED_UFFD, c->rounds, 0) ^ 1;
	job_start(&j0, vcpu_access_main, vcpu0, GPA1, buf0,
		  vcpu0_write ? VMMU_ACCESS_WRITE : VMMU_ACCESS_READ);
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	if (poll(&pfd, 1, GP_WAIT_MS) != 1 || st_uffd_read(uffd, &msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		bail_out("round %u: no userfaultfd message for vCPU 0",
			 c->rounds);
	if (!atomic_load(&j0.finished))
		c->blocked++;

	/* 3. B deletes slot 0 and waits in the grace period. */
	job_start(&del, delete_main, vm_fd, 0, NULL, 0);
	in_gp = wait_for_wchan(&del, "srcu");
	if (in_gp && !atomic_load(&j0.finished)) {
		c->in_gp++;
		/* 4. and 5. */
		release_and_read(c, vcpu1, &s0, &j1, buf1);
		j1_started = true;
	} else if (atomic_load(&del.finished)) {
		round_early(c, &del, &j0);
	} else {
		diag("round %u: vCPU 0's access ended before its page was served: %s",
		     c->rounds, mmu_result_name(j0.r));
	}

	/* 6. Serve vCPU 0's fault; everything completes. */
	st_fill(page, SEED_UFFD, GPA1 >> 12, 0, P);
	if (st_uffd_copy(uffd, mem1, page, P))
		bail_out("UFFDIO_COPY failed");
	pthread_join(j0.thread, NULL);
	if (j0.r == VMMU_ACCESS_DONE && vcpu0_write ?
	    ((u64 *)mem1)[0] == buf0[0] && !memcmp(mem1 + 8, page + 1, P - 8) :
	    !memcmp(buf0, page, P))
		c->uffd_done++;
	pthread_join(del.thread, NULL);
	if (!del.r)
		c->deletes_ok++;
	if (j1_started) {
		pthread_join(j1.thread, NULL);
		if (j1.r == VMMU_ACCESS_MMIO)
			c->after_mmio++;
	}
	if (st_access(vcpu1, VMMU_ACCESS_READ, s0.gpa + VICTIM * P, buf1, P) ==
	    VMMU_ACCESS_MMIO)
		c->final_mmio++;

	close(vcpu0);
	close(vcpu1);
	close(vm_fd);
	close(uffd);
	munmap(s0.res, s0.res_size);
	munmap(mem1, P);
	c->rounds++;
}

int main(void)
{
	unsigned int nr_rounds = st_scale(16, 2, 8);
	struct vmmu_objects base;
	struct counts c = { 0 };
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	while (c.rounds < nr_rounds)
		one_round(sys_fd, &c);
	close(sys_fd);

	diag("%u rounds: vCPU 0 blocked in userfaultfd %u, the delete seen in the grace period %u,",
	     c.rounds, c.blocked, c.in_gp);
	diag("  the delete returned while vCPU 0 was blocked %u (%llu..%llu us)",
	     c.early,
	     (unsigned long long)(c.early_ns_min / 1000),
	     (unsigned long long)(c.early_ns_max / 1000));
	diag("vCPU 1 during the delete: waited %u, MMIO %u, stale %u; after it: MMIO %u",
	     c.waited, c.mmio_early, c.stale, c.after_mmio);
	is_int(c.blocked, c.rounds,
	       "vCPU 0 was blocked in userfaultfd when the delete started, every round");
	ok(c.in_gp > 0, "the delete was seen waiting while vCPU 0 was blocked (%u of %u rounds)",
	   c.in_gp, c.rounds);
	is_int(c.stale, 0,
	       "vCPU 1 never read the released page while slot 0 was being deleted");
	is_int(c.waited + c.mmio_early, c.in_gp,
	       "vCPU 1's read waited for the delete or was MMIO, every such round");
	is_int(c.after_mmio, c.in_gp,
	       "vCPU 1's read ends with MMIO once the delete completed");
	is_int(c.final_mmio, c.rounds, "slot 0's gpa is MMIO after the delete");
	is_int(c.uffd_done, c.rounds,
	       "vCPU 0's read or write completed on the page the handler served");
	is_int(c.deletes_ok, c.rounds, "every delete succeeded");
	ok(c.huge_leaf > 0,
	   "vCPU 1 mapped slot 0 with a 2 MiB leaf before the delete (%u of %u huge rounds)",
	   c.huge_leaf, c.huge_rounds);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
