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
 * The same rounds run a second time with hardware vCPUs where the lane has
 * them (SVM under QEMU): two vCPUs run a guest that, pass after pass, reads
 * a word of every page of the slot at both gpas into its results page and
 * writes a tag into each (a gpa without memory is an MMIO exit, answered
 * with zero; host memory that is gone or read-only makes KVM_RUN return
 * EFAULT until the round is undone), and the VMM checks the results after
 * every pass: a hardware vCPU's stale read is seen only through the data.
 * There the reader blocked in userfaultfd is a KVM_PRE_FAULT_MEMORY of a
 * third vCPU, and slot gpas are checked with KVM_PRE_FAULT_MEMORY (ENOENT:
 * no memslot).
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

#include "guest_util.h"
#include "mmu_util.h"
#include "pass_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		16
#define REL_PAGES	4
#define CACHE_PAGE	5
#define NR_WORKERS	2

/* Software vCPUs: gpas anywhere. */
#define SW_HOME		0x40000000ULL
#define SW_AWAY		0x50000000ULL
#define SW_UFFD		0x60000000ULL
/*
 * Hardware vCPUs: within the 1 GiB the guest's page tables map; the slot
 * moves to the 16 pages right above it, and the guest passes over both.
 * Slot 0 holds the code, the tables, the stack and the results pages.
 */
#define HW_MEM		BIT_ULL(20)
#define HW_CODE		0x1000ULL
#define HW_STACK	0x9000ULL
#define HW_RESULTS	0x10000ULL
#define HW_HOME		0x200000ULL
#define HW_AWAY		(HW_HOME + NPAGES * PAGE_SIZE)
#define HW_UFFD		0x800000ULL
#define HW_TAG		BIT_ULL(62)

#define SEED_POISON	0xdead
#define SEED_NEW	0x9e70
#define SEED_UFFD	0x0ffd
#define FREED_WORD	0xaaaaaaaaaaaaaaaaULL
#define TAG		0x7a60000000000000ULL

/* Bounds of the waits; none of them is a check. */
#define GP_WAIT_MS	3000
#define BLOCKED_MS	300
#define WINDOW_MS	100
#define WINDOW_OPS	4

enum change { CH_DELETE, CH_MOVE, CH_FLAGS, NR_CHANGES };
enum release { REL_DONTNEED, REL_MUNMAP, REL_MPROTECT, REL_FORK, NR_RELEASES };

static const char *const change_name[] = { "delete", "move", "flags" };
static const char *const release_name[] = {
	"MADV_DONTNEED", "munmap", "mprotect", "fork",
};

#define NR_PHASE_TESTS	13
#define NR_TESTS	(2 * NR_PHASE_TESTS + 1)

/*
 * Read a word of every page of [rdi, rsi) (the slot's home and away gpas)
 * into the results at r9, and write the pass number with HW_TAG into word
 * 0 of the page; ask after each pass (pass_util.h).
 */
GUEST_CODE(race_passes, ".code64",
	   "0:	inc %r8\n"
	   "	mov %rdi, %rcx\n"
	   "	xor %rbx, %rbx\n"
	   "1:	mov 16(%rcx), %rax\n"
	   "	mov %rax, (%r9,%rbx,8)\n"
	   "	mov %r8, %rax\n"
	   "	bts $62, %rax\n"
	   "	mov %rax, (%rcx)\n"
	   "	inc %rbx\n"
	   PASS_GUEST_NEXT_PAGE);

static int vm_fd;
static u8 *mem;
static u8 *ufmem;
static unsigned int nr_rounds;
static bool hw;
static u64 gpa_home, gpa_away, gpa_uffd;
static struct guest g;
static struct pass_vcpu pvcpus[NR_WORKERS];
/* The phase at each hardware vCPU's last pass end: its next pass is after. */
static atomic_ulong pass_phase[NR_WORKERS];

/* Odd from the moment a round's release returned until the round is undone. */
static atomic_ulong phase;
static atomic_int stop;
/* Pages [rel_first, rel_first + REL_PAGES) are released this round. */
static atomic_uint rel_first;

static struct {
	atomic_ulong reads, writes, mmio, efault, other_err;
	atomic_ulong poison, freed;
	atomic_ulong passes, words, mmio_exits, run_efault;
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
 * Is poison in @page stale for an access that began at phase @before and
 * ended at @after?  Only if the page's release had returned before the
 * access began and the round was not undone before it ended (the next
 * round poisons its own pages before releasing them).
 */
static bool poison_stale(unsigned int page, unsigned long before,
			 unsigned long after)
{
	return (before & 1) && before == after && is_released(page);
}

/*
 * Check a page read between @phase_before and @phase_after: words from 2
 * on (0 and 1 carry the vCPUs' and the timer's writes).  Returns 0, or 1
 * for stale poison, 2 for a freed page.
 */
static int page_bad(const u64 *buf, unsigned int page,
		    unsigned long phase_before, unsigned long phase_after)
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
	if (poison && poison_stale(page, phase_before, phase_after))
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
		u64 gpa = ((x >> 8) & 1 ? gpa_away : gpa_home) + page * P;
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
				count_bad(page_bad(buf, page, ph,
						   atomic_load(&phase)),
					  &cnt.poison, buf);
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
	u64 gpa = gpa_home;
	int r;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long ph = atomic_load(&phase);

		r = pc_read(vm_fd, 0, 0, buf, P);
		atomic_fetch_add(&cnt.cache_reads, 1);
		if (!r) {
			count_bad(page_bad(buf, CACHE_PAGE, ph,
					   atomic_load(&phase)),
				  &cnt.cache_poison, buf);
		} else if (r == -ENOENT || r == -EINVAL) {
			/* Slot away or cache inactive: follow the slot. */
			atomic_fetch_add(&cnt.cache_enoent, 1);
			gpa = gpa == gpa_home ? gpa_away : gpa_home;
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
		j->r = vmmu_set_region(vm_fd, 1, 0, gpa_away, NPAGES * P,
				       (u64)(unsigned long)mem);
		break;
	default:
		j->r = vmmu_set_region(vm_fd, 1, KVM_MEM_READONLY, gpa_home,
				       NPAGES * P, (u64)(unsigned long)mem);
		break;
	}
	atomic_store(&j->finished, 1);
	return NULL;
}

static void *uffd_reader_main(void *arg)
{
	struct job *j = arg;

	struct kvm_pre_fault_memory range = {
		.gpa = gpa_uffd + j->change * P,
		.size = P,
	};

	atomic_store(&j->tid, (int)syscall(SYS_gettid));
	if (hw)
		j->r = vmmu_ioctl(j->fd, KVM_PRE_FAULT_MEMORY,
				  (unsigned long)&range);
	else
		j->r = st_access(j->fd, VMMU_ACCESS_READ, range.gpa, j->buf,
				 P);
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

/*
 * What the checker vCPU finds at @gpa: VMMU_ACCESS_DONE (with the page in
 * @buf for a software vCPU, nothing for a hardware one), VMMU_ACCESS_MMIO
 * (no memslot) or -EFAULT (no host memory).
 */
static int checker_read(int vcpu_fd, u64 gpa, u64 *buf)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = P };
	int r;

	if (!hw)
		return st_access(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P);
	memset(buf, 0, P);
	r = vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, (unsigned long)&range);
	return r == -ENOENT ? VMMU_ACCESS_MMIO : r;
}

/* After the change: the slot reads as the change says (checker vCPU). */
static void check_after(struct round_res *res, int vcpu_fd, enum change ch,
			enum release rel, unsigned int first, int change_r)
{
	static u64 buf[P / 8];
	unsigned int i, mmio = 0, good = 0;

	if (ch == CH_FLAGS) {
		if (change_r == -EINVAL)
			res->flags_einval++;
		return;
	}
	if (!change_r)
		res->changes_ok++;
	for (i = 0; i < NPAGES; i++) {
		int r = checker_read(vcpu_fd, gpa_home + i * P, buf);

		mmio += r == VMMU_ACCESS_MMIO;
		if (ch != CH_MOVE)
			continue;
		r = checker_read(vcpu_fd, gpa_away + i * P, buf);
		if (r == VMMU_ACCESS_DONE &&
		    !page_bad(buf, i, atomic_load(&phase), atomic_load(&phase)))
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
		mmu_set_region_or_die(vm_fd, 1, 0, gpa_home, NPAGES * P, mem);
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

		/* In the grace period, or blocked elsewhere for a while. */
		for (ms = 0; ms < BLOCKED_MS; ms++) {
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
		if (hw ? u.r == 0 :
		    u.r == VMMU_ACCESS_DONE && !memcmp(ubuf, page, P))
			res->uffd_ok++;
		else
			diag("round %u: the reader blocked in userfaultfd got %s, word 0 %#llx",
			     round, hw ? errno_name(-u.r) : mmu_result_name(u.r),
			     (unsigned long long)ubuf[0]);
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

/* A hardware vCPU's pass ended: check what it read (see race_passes). */
static bool hw_on_pass(struct pass_vcpu *v, u64 pass)
{
	const u64 *res = (const u64 *)(g.mem + HW_RESULTS + v->index * P);
	unsigned long ph = atomic_load(&pass_phase[v->index]);
	unsigned long now = atomic_load(&phase);
	unsigned int j;

	(void)pass;
	for (j = 0; j < 2 * NPAGES; j++) {
		unsigned int page = j % NPAGES;
		int bad = 0;

		if (res[j] == FREED_WORD)
			bad = 2;
		else if (res[j] == st_pattern(SEED_POISON, page, 16) &&
			 poison_stale(page, ph, now))
			bad = 1;
		count_bad(bad, &cnt.poison, res + j);
	}
	atomic_fetch_add(&cnt.words, 2 * NPAGES);
	atomic_fetch_add(&cnt.passes, 1);
	atomic_store(&pass_phase[v->index], now);
	atomic_fetch_add(&worker_ops[v->index], 1);
	return true;
}

/* No memory at a gpa of the passes: reads get zero. */
static bool hw_on_exit(struct pass_vcpu *v)
{
	if (v->run->exit_reason != KVM_EXIT_MMIO)
		return false;
	if (!v->run->mmio.is_write)
		memset(v->run->mmio.data, 0, sizeof(v->run->mmio.data));
	atomic_fetch_add(&cnt.mmio_exits, 1);
	return true;
}

/* Host memory gone or read-only: run again until the round is undone. */
static bool hw_on_error(struct pass_vcpu *v, int r)
{
	(void)v;
	if (r != -EFAULT)
		return false;
	atomic_fetch_add(&cnt.run_efault, 1);
	usleep(200);
	return true;
}

/* The VM and what accesses slot 1: vCPU threads, the checker, the cache. */
struct phase {
	const char *name;
	struct worker workers[NR_WORKERS];
	pthread_t cache_thread;
	int checker_fd, uffd_vcpu;
};

static void phase_start_sw(struct phase *ph, int sys_fd)
{
	unsigned int i;

	gpa_home = SW_HOME;
	gpa_away = SW_AWAY;
	gpa_uffd = SW_UFFD;
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	mmu_set_region_or_die(vm_fd, 1, 0, gpa_home, NPAGES * P, mem);
	mmu_set_region_or_die(vm_fd, 2, 0, gpa_uffd, nr_rounds * P, ufmem);
	for (i = 0; i < NR_WORKERS; i++) {
		ph->workers[i].index = i;
		ph->workers[i].vcpu_fd = mmu_create_vcpu_or_die(vm_fd, i);
		if (pthread_create(&ph->workers[i].thread, NULL, worker_main,
				   &ph->workers[i]))
			bail_out("pthread_create failed");
	}
	ph->checker_fd = mmu_create_vcpu_or_die(vm_fd, NR_WORKERS);
	ph->uffd_vcpu = mmu_create_vcpu_or_die(vm_fd, NR_WORKERS + 1);
}

static void phase_start_hw(struct phase *ph, int sys_fd)
{
	struct kvm_run *run;
	struct kvm_regs regs;
	unsigned int i;

	gpa_home = HW_HOME;
	gpa_away = HW_AWAY;
	gpa_uffd = HW_UFFD;
	guest_create(&g, sys_fd, HW_MEM);
	vm_fd = g.vm_fd;
	guest_load(&g, HW_CODE, race_passes, GUEST_CODE_SIZE(race_passes));
	guest_setup_long_mode(&g, HW_CODE, HW_STACK);
	mmu_set_region_or_die(vm_fd, 1, 0, gpa_home, NPAGES * P, mem);
	mmu_set_region_or_die(vm_fd, 2, 0, gpa_uffd, nr_rounds * P, ufmem);
	for (i = 0; i < NR_WORKERS; i++) {
		struct pass_vcpu *v = &pvcpus[i];

		pass_regs_init(&regs, HW_CODE, HW_STACK - i * 0x800, gpa_home,
			       gpa_away + NPAGES * P);
		regs.r9 = HW_RESULTS + i * P;
		v->on_pass = hw_on_pass;
		v->on_exit = hw_on_exit;
		v->on_error = hw_on_error;
		pass_vcpu_start(&g, v, i, &regs);
	}
	ph->checker_fd = guest_vcpu_add(&g, NR_WORKERS, &run);
	munmap(run, g.mmap_size);
	ph->uffd_vcpu = guest_vcpu_add(&g, NR_WORKERS + 1, &run);
	munmap(run, g.mmap_size);
}

static void phase_stop(struct phase *ph)
{
	unsigned int i;

	atomic_store(&stop, 1);
	if (hw) {
		pass_stop();
		pass_join(pvcpus, NR_WORKERS);
		/* A vCPU thread that stopped on an error is an error too. */
		for (i = 0; i < NR_WORKERS; i++) {
			if (!atomic_load(&pvcpus[i].result))
				continue;
			atomic_fetch_add(&cnt.other_err, 1);
			diag("vCPU %u stopped: %s", i, pvcpus[i].why);
		}
	} else {
		for (i = 0; i < NR_WORKERS; i++)
			pthread_join(ph->workers[i].thread, NULL);
	}
	pthread_join(ph->cache_thread, NULL);
	pc_timer_stop(vm_fd, 0);
	close(ph->checker_fd);
	close(ph->uffd_vcpu);
	if (hw) {
		pass_vcpu_close(&g, pvcpus, NR_WORKERS);
		guest_destroy(&g);
		return;
	}
	for (i = 0; i < NR_WORKERS; i++)
		close(ph->workers[i].vcpu_fd);
	close(vm_fd);
}

static void phase_report(const char *name, struct round_res *res)
{
	unsigned int per_change = nr_rounds / NR_CHANGES;

	diag("%s: %u rounds, %u with a reader blocked in userfaultfd:", name,
	     nr_rounds, res->uffd_rounds);
	diag("  the change seen in the SRCU grace period %u, returned early %u",
	     res->in_gp, res->early);
	if (hw)
		diag("vCPUs: %lu passes, %lu words checked, %lu MMIO exits, %lu KVM_RUN EFAULT",
		     atomic_load(&cnt.passes), atomic_load(&cnt.words),
		     atomic_load(&cnt.mmio_exits), atomic_load(&cnt.run_efault));
	else
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
	       "%s: no vCPU read the poison of a page after its release", name);
	is_int(atomic_load(&cnt.cache_poison), 0,
	       "%s: no cache read the poison of a page after its release", name);
	is_int(atomic_load(&cnt.freed), 0,
	       "%s: no vCPU or cache read a freed page (allocator poison)", name);
	is_int(res->ro_violations, 0,
	       "%s: no write landed in a page after mprotect(PROT_READ) returned",
	       name);
	is_int(res->fork_changed, 0,
	       "%s: no fork child's copy changed after the parent broke copy-on-write",
	       name);
	is_int(res->fork_ok, nr_rounds / NR_RELEASES,
	       "%s: every fork child checked", name);
	is_int(res->changes_ok, 2 * per_change,
	       "%s: every delete and move succeeded", name);
	is_int(res->flags_einval, per_change,
	       "%s: every flags change of the live slot is refused with EINVAL",
	       name);
	is_int(res->delete_mmio, per_change,
	       "%s: after each delete no gpa of the slot has memory", name);
	is_int(res->move_ok, per_change,
	       "%s: after each move only the new gpas have memory, without poison",
	       name);
	is_int(atomic_load(&cnt.other_err) + atomic_load(&cnt.cache_other), 0,
	       "%s: vCPUs and the cache saw only memory, MMIO, EFAULT (and ENOENT/EINVAL)",
	       name);
	is_int(res->uffd_ok, res->uffd_rounds,
	       "%s: every reader blocked in userfaultfd completed", name);
	ok(runs_diag(res) > 0 && atomic_load(hw ? &cnt.passes : &cnt.reads) &&
	   atomic_load(&cnt.cache_reads),
	   "%s: every combination of change, release and userfaultfd ran, with vCPU and cache accesses",
	   name);
}

static void run_phase(int sys_fd, bool hardware)
{
	const char *name = hardware ? guest_hw->id : "software";
	struct round_res res = { 0 };
	struct phase ph = { 0 };
	unsigned int i;
	int uffd;

	hw = hardware;
	memset(&cnt, 0, sizeof(cnt));
	atomic_store(&stop, 0);
	mem = mmu_map_anon(NPAGES * P, NULL);
	st_fill(mem, 0, 0, 0, NPAGES * P);
	ufmem = mmu_map_anon(nr_rounds * P, NULL);
	uffd = st_uffd_open(0);
	if (uffd < 0)
		bail_out("userfaultfd: %s", errno_name(-uffd));
	if (st_uffd_register(uffd, ufmem, nr_rounds * P,
			     UFFDIO_REGISTER_MODE_MISSING))
		bail_out("UFFDIO_REGISTER failed");
	if (hw)
		phase_start_hw(&ph, sys_fd);
	else
		phase_start_sw(&ph, sys_fd);
	if (pc_activate(vm_fd, 0, gpa_home + CACHE_PAGE * P, P))
		bail_out("pfncache activate failed");
	if (pc_timer_start(vm_fd, 0, 100000))
		bail_out("pfncache timer failed");
	if (pthread_create(&ph.cache_thread, NULL, cache_main, NULL))
		bail_out("pthread_create failed");

	for (i = 0; i < nr_rounds; i++)
		one_round(&res, i, uffd, ph.checker_fd, ph.uffd_vcpu);

	phase_stop(&ph);
	close(uffd);
	munmap(mem, NPAGES * P);
	munmap(ufmem, nr_rounds * P);
	phase_report(name, &res);
}

int main(void)
{
	struct vmmu_objects base;
	int sys_fd;

	/* Every combination of change, release and userfaultfd, once. */
	nr_rounds = 2 * NR_CHANGES * NR_RELEASES;
	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	run_phase(sys_fd, false);
	/*
	 * Opt-in: under QEMU's SVM emulation the retried NPFs of an invalid
	 * slot sometimes end in a guest triple fault the emulator made (the
	 * nested tables right): Documentation/testing.rst, "Hostile
	 * interleavings" and "Two failures of a loaded machine".
	 */
	if (!getenv("VMMU_STRESS_HW") || strcmp(getenv("VMMU_STRESS_HW"), "1"))
		skip(NR_PHASE_TESTS, "hardware vCPUs: set VMMU_STRESS_HW=1");
	else if (guest_hw_available(sys_fd))
		skip(NR_PHASE_TESTS, "no hardware vCPUs here (%s)",
		     guest_hw_why());
	else
		run_phase(sys_fd, true);
	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
