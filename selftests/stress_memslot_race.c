// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile interleavings of memslot changes with the host releasing the
 * slot's memory: no vCPU and no gfn->pfn cache may ever read or write a
 * page after the host let it go.
 *
 * Slot 1 (16 pages of private anonymous memory) is read and written all the
 * time by two software-vCPU threads (at its home gpa and at the gpa a move
 * takes it to) and read through a test gfn->pfn cache whose soft timer also
 * writes through it.  Each round the main thread changes the slot (delete,
 * move, or a flags change, which vmmu refuses with EINVAL: no flag of a live
 * slot may change yet) from thread B while it releases 4 of its pages:
 *
 *  - MADV_DONTNEED, then new data written (new frames);
 *  - munmap;
 *  - mprotect(PROT_READ): not a release, but from then on no write may land
 *    in those pages (checked at the end of the round);
 *  - fork, then new data written by the parent (copy-on-write gives the
 *    parent new frames; the old ones are the child's, whose copy must not
 *    change while it waits).
 *
 * Before a release every released page is filled with a poison pattern of
 * its own; once the release returned, a read that started afterwards and
 * finds that pattern (or the allocator's 0xaa poison of freed pages, in
 * the lane booted with page_poison=1) read a page the host let go.  Every
 * other round a third software vCPU is blocked in userfaultfd on slot 2
 * (inside vm->srcu) before the change starts, and the release happens only
 * once B waits in the SRCU grace period: the window of issue 13, held open.
 * After each change the slot's gpas read as the change says (MMIO after a
 * delete; the new gpa after a move, without poison), then the round is
 * undone.  Every combination of change, release and userfaultfd runs.
 *
 * A write through a stale translation into a freed page is caught when the
 * page is allocated again (page_poison=1: "pagealloc: memory corruption",
 * which fails the lane); in the debug lane DEBUG_PAGEALLOC turns a
 * software vCPU's or the cache's access to a freed page into an oops.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmu_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		16
#define REL_PAGES	4
#define GPA_HOME	0x40000000ULL
#define GPA_AWAY	0x50000000ULL
#define GPA_UFFD	0x60000000ULL
#define CACHE_PAGE	5
#define NR_WORKERS	2

#define SEED_POISON	0xdead
#define SEED_NEW	0x9e70
#define SEED_UFFD	0x0ffd
#define FREED_WORD	0xaaaaaaaaaaaaaaaaULL
#define TAG		0x7a60000000000000ULL

/* Bounds of the waits; none of them is a check. */
#define GP_WAIT_MS	3000
#define WINDOW_MS	100
#define WINDOW_OPS	4

enum change { CH_DELETE, CH_MOVE, CH_FLAGS, NR_CHANGES };
enum release { REL_DONTNEED, REL_MUNMAP, REL_MPROTECT, REL_FORK, NR_RELEASES };

static const char *const change_name[] = { "delete", "move", "flags" };
static const char *const release_name[] = {
	"MADV_DONTNEED", "munmap", "mprotect", "fork",
};

#define NR_TESTS	14

static int vm_fd;
static u8 *mem;
static u8 *ufmem;
static unsigned int nr_rounds;

/* Odd from the moment a round's release returned until the round is undone. */
static atomic_ulong phase;
static atomic_int stop;
/* Pages [rel_first, rel_first + REL_PAGES) are released this round. */
static atomic_uint rel_first;

static struct {
	atomic_ulong reads, writes, mmio, efault, other_err;
	atomic_ulong poison, freed;
	atomic_ulong cache_reads, cache_enoent, cache_efault, cache_other;
	atomic_ulong cache_poison;
	atomic_long last_bad;
} cnt;

static atomic_ulong worker_ops[NR_WORKERS];

static bool is_released(unsigned int page)
{
	unsigned int f = atomic_load(&rel_first);

	return page >= f && page < f + REL_PAGES;
}

/*
 * Check a page read at @phase_before: words from 2 on (0 and 1 carry the
 * vCPUs' and the timer's writes).  Returns 0, or 1 for poison, 2 for a
 * freed page.
 */
static int page_bad(const u64 *buf, unsigned int page,
		    unsigned long phase_before)
{
	unsigned int i, poison = 0, freed = 0;

	for (i = 2; i < P / 8; i++) {
		if (buf[i] == st_pattern(SEED_POISON, page, i * 8))
			poison++;
		else if (buf[i] == FREED_WORD)
			freed++;
	}
	if (freed > 1)
		return 2;
	if (poison && (phase_before & 1) && is_released(page))
		return 1;
	return 0;
}

static void count_bad(int bad, atomic_ulong *poison, const u64 *buf)
{
	if (!bad)
		return;
	atomic_fetch_add(bad == 1 ? poison : &cnt.freed, 1);
	atomic_store(&cnt.last_bad, (long)buf[2]);
}

static void count_result(int r)
{
	if (r == VMMU_ACCESS_MMIO)
		atomic_fetch_add(&cnt.mmio, 1);
	else if (r == -EFAULT)
		atomic_fetch_add(&cnt.efault, 1);
	else if (r != VMMU_ACCESS_DONE)
		atomic_fetch_add(&cnt.other_err, 1);
}

struct worker {
	pthread_t thread;
	int index;
	int vcpu_fd;
};

static void *worker_main(void *arg)
{
	static __thread u64 buf[P / 8];
	struct worker *w = arg;
	u64 rnd = 0x5eed + w->index, tag;

	while (!atomic_load(&stop)) {
		u64 x = st_rand(&rnd);
		unsigned int page = x % NPAGES;
		u64 gpa = ((x >> 8) & 1 ? GPA_AWAY : GPA_HOME) + page * P;
		unsigned long ph = atomic_load(&phase);
		int r;

		if ((x >> 9) % 4 == 0) {
			tag = TAG | ((u64)w->index << 48) | (x >> 16 & 0xffffffff);
			r = st_access(w->vcpu_fd, VMMU_ACCESS_WRITE, gpa, &tag, 8);
			atomic_fetch_add(&cnt.writes, 1);
		} else {
			r = st_access(w->vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P);
			atomic_fetch_add(&cnt.reads, 1);
			if (r == VMMU_ACCESS_DONE)
				count_bad(page_bad(buf, page, ph), &cnt.poison,
					  buf);
		}
		count_result(r);
		atomic_fetch_add(&worker_ops[w->index], 1);
	}
	return NULL;
}

/* Reads the cache on page CACHE_PAGE of the slot, wherever it is. */
static void *cache_main(void *arg)
{
	static u64 buf[P / 8];
	u64 gpa = GPA_HOME;
	int r;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long ph = atomic_load(&phase);

		r = pc_read(vm_fd, 0, 0, buf, P);
		atomic_fetch_add(&cnt.cache_reads, 1);
		if (!r) {
			count_bad(page_bad(buf, CACHE_PAGE, ph),
				  &cnt.cache_poison, buf);
		} else if (r == -ENOENT || r == -EINVAL) {
			/* Slot away or cache inactive: follow the slot. */
			atomic_fetch_add(&cnt.cache_enoent, 1);
			gpa = gpa == GPA_HOME ? GPA_AWAY : GPA_HOME;
			pc_activate(vm_fd, 0, gpa + CACHE_PAGE * P, P);
			usleep(100);
		} else if (r == -EFAULT) {
			atomic_fetch_add(&cnt.cache_efault, 1);
			usleep(100);
		} else {
			atomic_fetch_add(&cnt.cache_other, 1);
		}
	}
	return NULL;
}

struct job {
	pthread_t thread;
	int fd;
	enum change change;
	u64 *buf;
	int r;
	atomic_int tid;
	atomic_int finished;
};

static void *change_main(void *arg)
{
	struct job *j = arg;

	atomic_store(&j->tid, (int)syscall(SYS_gettid));
	switch (j->change) {
	case CH_DELETE:
		j->r = vmmu_delete_region(vm_fd, 1);
		break;
	case CH_MOVE:
		j->r = vmmu_set_region(vm_fd, 1, 0, GPA_AWAY, NPAGES * P,
				       (u64)(unsigned long)mem);
		break;
	default:
		j->r = vmmu_set_region(vm_fd, 1, KVM_MEM_READONLY, GPA_HOME,
				       NPAGES * P, (u64)(unsigned long)mem);
		break;
	}
	atomic_store(&j->finished, 1);
	return NULL;
}

static void *uffd_reader_main(void *arg)
{
	struct job *j = arg;

	atomic_store(&j->tid, (int)syscall(SYS_gettid));
	j->r = st_access(j->fd, VMMU_ACCESS_READ, GPA_UFFD + j->change * P,
			 j->buf, P);
	atomic_store(&j->finished, 1);
	return NULL;
}

static void job_start(struct job *j, void *(*fn)(void *))
{
	j->r = -1;
	atomic_store(&j->tid, 0);
	atomic_store(&j->finished, 0);
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

/* Does thread @tid sleep where its wchan names @where? */
static bool task_in(int tid, const char *where)
{
	char path[64], wchan[128];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, wchan, sizeof(wchan) - 1);
		close(fd);
	}
	wchan[n > 0 ? n : 0] = 0;
	return strstr(wchan, where);
}

/* Let every worker make WINDOW_OPS accesses, or WINDOW_MS pass. */
static void let_workers_run(void)
{
	unsigned long start[NR_WORKERS];
	unsigned int i, ms;

	for (i = 0; i < NR_WORKERS; i++)
		start[i] = atomic_load(&worker_ops[i]);
	for (ms = 0; ms < WINDOW_MS; ms++) {
		for (i = 0; i < NR_WORKERS; i++)
			if (atomic_load(&worker_ops[i]) - start[i] < WINDOW_OPS)
				break;
		if (i == NR_WORKERS)
			return;
		sleep_ms(1);
	}
}

struct round_res {
	unsigned int runs[NR_CHANGES][NR_RELEASES][2];
	unsigned int in_gp, early, changes_ok, flags_einval, delete_mmio;
	unsigned int move_ok, ro_violations, fork_changed, fork_ok;
	unsigned int uffd_ok, uffd_rounds;
};

/* The child of a fork round: its copy must not change. */
static void fork_child(int rfd, unsigned int first)
{
	static u8 copy[REL_PAGES * P];
	char c;
	int bad;

	memcpy(copy, mem + first * P, sizeof(copy));
	if (read(rfd, &c, 1) != 1)
		_exit(3);
	bad = memcmp(copy, mem + first * P, sizeof(copy)) != 0;
	_exit(bad ? 1 : 0);
}

static u8 ro_snap[REL_PAGES * P];

/* Release pages [first, first + REL_PAGES); returns the fork child or 0. */
static pid_t do_release(enum release rel, unsigned int first, int *wfd)
{
	u8 *p = mem + first * P;
	size_t len = REL_PAGES * P;
	int fds[2];
	pid_t pid = 0;

	/* mprotect releases nothing: its pages keep the round's data. */
	if (rel != REL_MPROTECT)
		st_fill(p, SEED_POISON, first, 0, len);
	switch (rel) {
	case REL_DONTNEED:
		if (madvise(p, len, MADV_DONTNEED))
			bail_out("MADV_DONTNEED failed");
		st_fill(p, SEED_NEW, first, 0, len);
		break;
	case REL_MUNMAP:
		if (munmap(p, len))
			bail_out("munmap failed");
		break;
	case REL_MPROTECT:
		if (mprotect(p, len, PROT_READ))
			bail_out("mprotect failed");
		memcpy(ro_snap, p, len);
		break;
	default:
		if (pipe(fds))
			bail_out("pipe failed");
		pid = fork();
		if (pid < 0)
			bail_out("fork failed");
		if (!pid) {
			close(fds[1]);
			fork_child(fds[0], first);
		}
		close(fds[0]);
		*wfd = fds[1];
		/* Break copy-on-write: the old frames are the child's now. */
		st_fill(p, SEED_NEW, first, 0, len);
		break;
	}
	/* From here on the poison of these pages is stale. */
	atomic_fetch_add(&phase, 1);
	return pid;
}

/* After the change: the slot reads as the change says (checker vCPU). */
static void check_after(struct round_res *res, int vcpu_fd, enum change ch,
			enum release rel, unsigned int first, int change_r)
{
	static u64 buf[P / 8];
	unsigned int i, mmio = 0, good = 0;
	u64 gpa = ch == CH_MOVE ? GPA_AWAY : GPA_HOME;

	if (ch == CH_FLAGS) {
		if (change_r == -EINVAL)
			res->flags_einval++;
		return;
	}
	if (!change_r)
		res->changes_ok++;
	for (i = 0; i < NPAGES; i++) {
		int r = st_access(vcpu_fd, VMMU_ACCESS_READ,
				  (ch == CH_MOVE ? GPA_HOME : gpa) + i * P,
				  buf, P);

		mmio += r == VMMU_ACCESS_MMIO;
		if (ch != CH_MOVE)
			continue;
		r = st_access(vcpu_fd, VMMU_ACCESS_READ, gpa + i * P, buf, P);
		if (r == VMMU_ACCESS_DONE &&
		    !page_bad(buf, i, atomic_load(&phase)))
			good++;
		else if (r == -EFAULT && rel == REL_MUNMAP &&
			 i >= first && i < first + REL_PAGES)
			good++;
	}
	if (ch == CH_DELETE && mmio == NPAGES)
		res->delete_mmio++;
	if (ch == CH_MOVE && mmio == NPAGES && good == NPAGES)
		res->move_ok++;
}

/* Undo the round: memory back, data refilled, slot at home. */
static void undo_round(enum change ch, enum release rel, unsigned int first,
		       unsigned int round)
{
	u8 *p = mem + first * P;

	if (rel == REL_MUNMAP)
		mmu_map_anon(REL_PAGES * P, p);
	if (rel == REL_MPROTECT && mprotect(p, REL_PAGES * P,
					    PROT_READ | PROT_WRITE))
		bail_out("mprotect back failed");
	st_fill(mem, round + 1, 0, 0, NPAGES * P);
	atomic_fetch_add(&phase, 1);
	if (ch == CH_DELETE || ch == CH_MOVE)
		mmu_set_region_or_die(vm_fd, 1, 0, GPA_HOME, NPAGES * P, mem);
}

static void one_round(struct round_res *res, unsigned int round, int uffd,
		      int checker_fd, int uffd_vcpu)
{
	enum change ch = round % NR_CHANGES;
	enum release rel = (round / NR_CHANGES) % NR_RELEASES;
	bool with_uffd = (round / (NR_CHANGES * NR_RELEASES)) % 2;
	unsigned int first = (round * 5) % (NPAGES - REL_PAGES + 1);
	static u64 ubuf[P / 8], page[P / 8];
	struct job b = { 0 }, u = { 0 };
	struct uffd_msg msg;
	struct pollfd pfd;
	int wfd = -1, status;
	pid_t child;

	atomic_store(&rel_first, first);
	res->runs[ch][rel][with_uffd]++;
	if (with_uffd) {
		/* A reader holds vm->srcu, blocked in userfaultfd. */
		u.fd = uffd_vcpu;
		u.change = round;
		u.buf = ubuf;
		job_start(&u, uffd_reader_main);
		pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
		if (poll(&pfd, 1, GP_WAIT_MS) != 1 ||
		    st_uffd_read(uffd, &msg))
			bail_out("round %u: no userfaultfd message", round);
		res->uffd_rounds++;
	}
	b.change = ch;
	job_start(&b, change_main);
	if (with_uffd && ch != CH_FLAGS) {
		unsigned int ms;

		for (ms = 0; ms < GP_WAIT_MS; ms++) {
			if (atomic_load(&b.finished) ||
			    task_in(atomic_load(&b.tid), "srcu"))
				break;
			sleep_ms(1);
		}
		if (atomic_load(&b.finished))
			res->early++;
		else
			res->in_gp++;
	}
	child = do_release(rel, first, &wfd);
	let_workers_run();
	if (with_uffd) {
		st_fill(page, SEED_UFFD, round, 0, P);
		if (st_uffd_copy(uffd, ufmem + round * P, page, P))
			bail_out("UFFDIO_COPY failed");
		pthread_join(u.thread, NULL);
		if (u.r == VMMU_ACCESS_DONE && !memcmp(ubuf, page, P))
			res->uffd_ok++;
	}
	pthread_join(b.thread, NULL);
	let_workers_run();
	check_after(res, checker_fd, ch, rel, first, b.r);
	if (rel == REL_MPROTECT &&
	    memcmp(ro_snap, mem + first * P, REL_PAGES * P))
		res->ro_violations++;
	if (child > 0) {
		if (write(wfd, "x", 1) != 1)
			bail_out("pipe write failed");
		close(wfd);
		if (waitpid(child, &status, 0) != child)
			bail_out("waitpid failed");
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			res->fork_ok++;
		else
			res->fork_changed++;
	}
	undo_round(ch, rel, first, round);
}

/* Print the rounds per combination; return the smallest count. */
static unsigned int runs_diag(struct round_res *res)
{
	unsigned int c, r, m = ~0u;

	for (c = 0; c < NR_CHANGES; c++) {
		for (r = 0; r < NR_RELEASES; r++) {
			unsigned int *n = res->runs[c][r];

			diag("  %-6s x %-13s: %u rounds, %u with userfaultfd",
			     change_name[c], release_name[r], n[0] + n[1], n[1]);
			if (n[0] < m)
				m = n[0];
			if (n[1] < m)
				m = n[1];
		}
	}
	return m;
}

int main(void)
{
	struct worker workers[NR_WORKERS];
	struct round_res res = { 0 };
	struct vmmu_objects base;
	unsigned int i, nr_uffd, nr_moves, nr_deletes;
	pthread_t cache_thread;
	int sys_fd, uffd, checker_fd, uffd_vcpu;

	/* Every combination of change, release and userfaultfd, twice. */
	nr_rounds = st_scale(4, 2, 2) * NR_CHANGES * NR_RELEASES;
	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();

	mem = mmu_map_anon(NPAGES * P, NULL);
	st_fill(mem, 0, 0, 0, NPAGES * P);
	ufmem = mmu_map_anon(nr_rounds * P, NULL);
	uffd = st_uffd_open(0);
	if (uffd < 0)
		bail_out("userfaultfd: %s", errno_name(-uffd));
	if (st_uffd_register(uffd, ufmem, nr_rounds * P,
			     UFFDIO_REGISTER_MODE_MISSING))
		bail_out("UFFDIO_REGISTER failed");

	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	mmu_set_region_or_die(vm_fd, 1, 0, GPA_HOME, NPAGES * P, mem);
	mmu_set_region_or_die(vm_fd, 2, 0, GPA_UFFD, nr_rounds * P, ufmem);
	for (i = 0; i < NR_WORKERS; i++) {
		workers[i].index = i;
		workers[i].vcpu_fd = mmu_create_vcpu_or_die(vm_fd, i);
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]))
			bail_out("pthread_create failed");
	}
	checker_fd = mmu_create_vcpu_or_die(vm_fd, NR_WORKERS);
	uffd_vcpu = mmu_create_vcpu_or_die(vm_fd, NR_WORKERS + 1);
	if (pc_activate(vm_fd, 0, GPA_HOME + CACHE_PAGE * P, P))
		bail_out("pfncache activate failed");
	if (pc_timer_start(vm_fd, 0, 100000))
		bail_out("pfncache timer failed");
	if (pthread_create(&cache_thread, NULL, cache_main, NULL))
		bail_out("pthread_create failed");

	for (i = 0; i < nr_rounds; i++)
		one_round(&res, i, uffd, checker_fd, uffd_vcpu);

	atomic_store(&stop, 1);
	for (i = 0; i < NR_WORKERS; i++)
		pthread_join(workers[i].thread, NULL);
	pthread_join(cache_thread, NULL);
	pc_timer_stop(vm_fd, 0);

	nr_uffd = res.uffd_rounds;
	nr_deletes = nr_rounds / NR_CHANGES;
	nr_moves = nr_rounds / NR_CHANGES;
	diag("%u rounds, %u with a reader blocked in userfaultfd:", nr_rounds,
	     nr_uffd);
	diag("  the change seen in the SRCU grace period %u, returned early %u",
	     res.in_gp, res.early);
	diag("vCPUs: %lu reads, %lu writes, %lu MMIO, %lu EFAULT, %lu other errors",
	     atomic_load(&cnt.reads), atomic_load(&cnt.writes),
	     atomic_load(&cnt.mmio), atomic_load(&cnt.efault),
	     atomic_load(&cnt.other_err));
	diag("cache: %lu reads, %lu ENOENT/EINVAL, %lu EFAULT, %lu other",
	     atomic_load(&cnt.cache_reads), atomic_load(&cnt.cache_enoent),
	     atomic_load(&cnt.cache_efault), atomic_load(&cnt.cache_other));
	diag("stale: %lu vCPU and %lu cache reads of poison, %lu of a freed page (last word %#lx)",
	     atomic_load(&cnt.poison), atomic_load(&cnt.cache_poison),
	     atomic_load(&cnt.freed), atomic_load(&cnt.last_bad));

	is_int(atomic_load(&cnt.poison), 0,
	       "no vCPU read the poison of a page after its release");
	is_int(atomic_load(&cnt.cache_poison), 0,
	       "no cache read the poison of a page after its release");
	is_int(atomic_load(&cnt.freed), 0,
	       "no vCPU or cache read a freed page (allocator poison)");
	is_int(res.ro_violations, 0,
	       "no write landed in a page after mprotect(PROT_READ) returned");
	is_int(res.fork_changed, 0,
	       "no fork child's copy changed after the parent broke copy-on-write");
	is_int(res.fork_ok, nr_rounds / NR_RELEASES, "every fork child checked");
	is_int(res.changes_ok, nr_deletes + nr_moves,
	       "every delete and move succeeded");
	is_int(res.flags_einval, nr_rounds / NR_CHANGES,
	       "every flags change of the live slot is refused with EINVAL");
	is_int(res.delete_mmio, nr_deletes,
	       "after each delete every gpa of the slot is MMIO");
	is_int(res.move_ok, nr_moves,
	       "after each move the old gpas are MMIO and the new ones hold no poison");
	is_int(atomic_load(&cnt.other_err) + atomic_load(&cnt.cache_other), 0,
	       "vCPUs and the cache saw only DONE, MMIO, EFAULT (and ENOENT/EINVAL)");
	is_int(res.uffd_ok, nr_uffd,
	       "every reader blocked in userfaultfd read what was served");
	ok(runs_diag(&res) > 0,
	   "every combination of change, release and userfaultfd ran");

	for (i = 0; i < NR_WORKERS; i++)
		close(workers[i].vcpu_fd);
	close(checker_fd);
	close(uffd_vcpu);
	close(vm_fd);
	close(uffd);
	close(sys_fd);
	munmap(mem, NPAGES * P);
	munmap(ufmem, nr_rounds * P);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
