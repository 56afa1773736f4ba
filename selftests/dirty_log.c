// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging: KVM_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG,
 * KVM_CLEAR_DIRTY_LOG and KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, with every
 * word accounted for.
 *
 *  1. errnos: every bad argument of the ioctls and of KVM_ENABLE_CAP gets
 *     KVM's errno and changes nothing;
 *  2. exact logs, per page-table configuration (NPT, EPT 4, EPT 5) with a
 *     software vCPU: a harvest reports exactly the pages written since the
 *     last one (never a page only read), write-protects exactly those, the
 *     next write to one of them takes the lockless fast path (pf_fast) and
 *     is logged again; logging turned off restores writes lazily (fast
 *     path, nothing logged), turned on again protects everything; a move
 *     keeps the log; manual protection (GET reports, CLEAR clears and
 *     protects), INITIALLY_SET (all bits set, none past the slot's end); a
 *     write through a gfn->pfn cache is logged;
 *  3. races: vCPU threads write pages they own while a thread harvests in a
 *     loop (GET, or GET + CLEAR with manual protection).  Every write is
 *     bracketed by the harvest count before and after it; it must appear
 *     in a harvest between the two (or the one after): a write after a
 *     harvest is never lost, and a page never written never appears.  Then
 *     the same while logging is turned off and on, or the slot is deleted
 *     and created again: a write made entirely within a logging period (a
 *     slot's life) must be in that period's harvests; and while the slot
 *     is moved away and back (the log is kept): a write that landed (not
 *     MMIO) is in a harvest between its bounds;
 *  4. hardware vCPUs: a 64-bit guest writes a list of pages; the log is the
 *     list, and a second round's writes to protected pages take the fast
 *     path.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
/* Not a multiple of 64: the log's last word is partial. */
#define NPAGES		259
#define LOG_WORDS	((NPAGES + 63) / 64)
#define GPA		0x40000000ULL
#define GPA2		0x80000000ULL
#define SLOT		1
#define SLOT2		2

#define NR_ERRNO_TESTS	29
#define NR_EXACT_TESTS	37
#define NR_RACE_TESTS	13
#define NR_HW_TESTS	6
#define NR_TESTS	(NR_ERRNO_TESTS + MMU_NR_CFGS * NR_EXACT_TESTS + \
			 NR_RACE_TESTS + NR_HW_TESTS + 1)

static int get_log(int vm_fd, u32 slot, void *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return (int)vmmu_ioctl(vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&log);
}

static int clear_log(int vm_fd, u32 slot, u64 first, u32 num, void *bitmap)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .first_page = first, .num_pages = num,
		.dirty_bitmap = bitmap,
	};

	return (int)vmmu_ioctl(vm_fd, KVM_CLEAR_DIRTY_LOG, (unsigned long)&log);
}

static int set_region(int vm_fd, u32 slot, u32 flags, u64 gpa, u64 size,
		      void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (u64)hva,
	};

	return (int)vmmu_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION,
			       (unsigned long)&r);
}

static int enable_manual(int vm_fd, u32 flags, u64 args)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .flags = flags,
		.args = { args },
	};

	return (int)vmmu_ioctl(vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap);
}

/* A bitmap of NPAGES bits with the pages of @list (ended by -1) set. */
static void bits_of(u64 *bm, const int *list)
{
	memset(bm, 0, LOG_WORDS * 8);
	for (; *list >= 0; list++)
		bm[*list / 64] |= 1ULL << (*list % 64);
}

/* One test: the log @got is exactly @list; differences are printed. */
static bool __tap_printf(3, 4)
log_is_(const u64 *got, const int *list, const char *fmt, ...)
{
	u64 want[LOG_WORDS];
	char what[200];
	va_list ap;
	bool same;
	int w;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	bits_of(want, list);
	same = !memcmp(got, want, sizeof(want));
	ok(same, "%s", what);
	for (w = 0; !same && w < LOG_WORDS; w++)
		if (got[w] != want[w])
			diag("  word %d: got %#llx want %#llx", w, (unsigned long long)got[w],
			     (unsigned long long)want[w]);
	return same;
}

#define log_is(got, list, ...) \
	(tap_check_format(__VA_ARGS__), log_is_((got), (list), __VA_ARGS__))

/* Harvest @slot (GET) into @bm; bails out if the ioctl fails. */
static void harvest(int vm_fd, u32 slot, u64 *bm)
{
	int r;

	memset(bm, 0xa5, LOG_WORDS * 8);
	r = get_log(vm_fd, slot, bm);
	if (r)
		bail_out("KVM_GET_DIRTY_LOG slot %u: %s", slot, errno_name(-r));
}

/* Write or read one word of every page of @list through the vCPU. */
static int access_pages(int vcpu_fd, u64 gpa, const int *list, bool write,
			u64 stamp)
{
	int r;

	for (; *list >= 0; list++) {
		u64 v = stamp + (u64)*list;

		r = st_access(vcpu_fd, write ? VMMU_ACCESS_WRITE :
				       VMMU_ACCESS_READ, gpa + (u64)*list * P,
			      &v, sizeof(v));
		if (r != VMMU_ACCESS_DONE)
			return r < 0 ? r : -EIO;
	}
	return 0;
}

/* Do the pages of @list have (or lack, if !@writable) VMMU_TR_WRITABLE? */
static bool pages_writable(int vcpu_fd, u64 gpa, const int *list,
			   bool writable)
{
	struct vmmu_translation tr;

	for (; *list >= 0; list++) {
		if (mmu_translate(vcpu_fd, gpa + (u64)*list * P, &tr) ||
		    !(tr.flags & VMMU_TR_PRESENT) ||
		    !!(tr.flags & VMMU_TR_WRITABLE) != writable) {
			mmu_translation_diag("page", &tr);
			diag("  page %d", *list);
			return false;
		}
	}
	return true;
}

static u64 stat_fast(int vm_fd)
{
	struct vmmu_stats st;

	st_stats_or_die(vm_fd, &st);
	return st.pf_fast;
}

/* 1. errnos ------------------------------------------------------------ */

static void test_errnos(int sys_fd)
{
	u64 bm[LOG_WORDS + 2];
	struct mmu_vm vm;
	void *mem, *mem2;
	int fd;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	fd = vm.vm_fd;
	mem = mmu_map_anon(NPAGES * P, NULL);
	mem2 = mmu_map_anon(NPAGES * P, NULL);

	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION,
			  KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2),
	       KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
	       "/dev/vmmu: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 reports both flags");
	is_int(vmmu_ioctl(fd, KVM_CHECK_EXTENSION,
			  KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), 3,
	       "VM: the same");

	mmu_set_region_or_die(fd, 0, 0, 0, NPAGES * P, mem);
	is_errno(get_log(fd, 0, bm), ENOENT, "GET of a slot that does not log: ENOENT");
	is_errno(get_log(fd, 5, bm), ENOENT, "GET of a slot that does not exist: ENOENT");
	is_errno(get_log(fd, 512, bm), EINVAL, "GET of slot id 512: EINVAL");
	is_errno(get_log(fd, 1 << 16, bm), EINVAL, "GET in address space 1: EINVAL");
	is_errno(set_region(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES | (1U << 2), GPA,
			    NPAGES * P, mem2), EINVAL,
		 "an unknown flag beside KVM_MEM_LOG_DIRTY_PAGES: EINVAL");
	is_int(set_region(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA, NPAGES * P,
			  mem2), 0, "a slot created with KVM_MEM_LOG_DIRTY_PAGES");
	is_errno(get_log(fd, SLOT, NULL), EFAULT, "GET into NULL: EFAULT");
	memset(bm, 0xff, sizeof(bm));
	is_int(get_log(fd, SLOT, bm), 0, "GET of the new slot");
	ok(!bm[0] && !bm[LOG_WORDS - 1] && bm[LOG_WORDS] == ~0ULL,
	   "it is empty and GET wrote %d words, no more", LOG_WORDS);

	is_errno(clear_log(fd, SLOT, 1, 64, bm), EINVAL,
		 "CLEAR from page 1 (not a multiple of 64): EINVAL");
	is_errno(clear_log(fd, 7, 1, 64, bm), EINVAL,
		 "CLEAR from page 1 of a missing slot: EINVAL before ENOENT");
	is_errno(clear_log(fd, SLOT, 0, 63, bm), EINVAL,
		 "CLEAR of 63 pages not ending at the slot's end: EINVAL");
	is_errno(clear_log(fd, SLOT, 0, NPAGES + 1, bm), EINVAL,
		 "CLEAR past the slot's end: EINVAL");
	is_errno(clear_log(fd, SLOT, 320, 0, bm), EINVAL,
		 "CLEAR from beyond the slot: EINVAL");
	is_int(clear_log(fd, SLOT, 256, NPAGES - 256, bm), 0,
	       "CLEAR of the partial last word, ending at the slot's end");
	is_errno(clear_log(fd, SLOT, 0, 64, NULL), EFAULT, "CLEAR from NULL: EFAULT");
	is_errno(clear_log(fd, 0, 0, 64, bm), ENOENT,
		 "CLEAR of a slot that does not log: ENOENT");

	is_errno(enable_manual(fd, 0, KVM_DIRTY_LOG_INITIALLY_SET), EINVAL,
		 "KVM_ENABLE_CAP: INITIALLY_SET without MANUAL_PROTECT_ENABLE: EINVAL");
	is_errno(enable_manual(fd, 0, 4), EINVAL, "KVM_ENABLE_CAP: unknown flag 4: EINVAL");
	is_errno(enable_manual(fd, 1, 1), EINVAL, "KVM_ENABLE_CAP: cap flags 1: EINVAL");
	is_int(enable_manual(fd, 0, 3), 0, "KVM_ENABLE_CAP: both flags");
	is_int(enable_manual(fd, 0, 0), 0, "KVM_ENABLE_CAP: none again");

	is_int(set_region(fd, SLOT2, KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY,
			  GPA2, NPAGES * P, mem), 0,
	       "KVM_MEM_LOG_DIRTY_PAGES with KVM_MEM_READONLY is accepted");
	memset(bm, 0xff, sizeof(bm));
	ok(!get_log(fd, SLOT2, bm) && !bm[0] && !bm[LOG_WORDS - 1],
	   "GET of the read-only slot: empty");
	is_errno(set_region(fd, SLOT2, KVM_MEM_LOG_DIRTY_PAGES, GPA2, NPAGES * P,
			    mem), EINVAL,
		 "dropping KVM_MEM_READONLY is still refused: EINVAL");
	is_int(set_region(fd, SLOT2, 0, GPA2, 0, mem), 0, "the slot deleted");
	is_errno(get_log(fd, SLOT2, bm), ENOENT, "GET of the deleted slot: ENOENT");

	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
	munmap(mem2, NPAGES * P);
}

/* 2. exact logs --------------------------------------------------------- */

static const int written[] = { 0, 1, 63, 64, 200, 258, -1 };
static const int only_read[] = { 2, 100, 257, -1 };
static const int none[] = { -1 };

static void test_exact(int sys_fd, const struct mmu_cfg *c)
{
	u64 bm[LOG_WORDS], v = 0x1234, fast;
	struct mmu_vm vm;
	int fd, vcpu, r;
	u64 *mem, *mem2;

	mmu_vm_create(sys_fd, c, &vm);
	fd = vm.vm_fd;
	vcpu = mmu_create_vcpu_or_die(fd, 0);
	mem = mmu_map_anon(NPAGES * P, NULL);
	mem2 = mmu_map_anon(NPAGES * P, NULL);
#define T(fmt, ...) "%s: " fmt, vm.name, ##__VA_ARGS__

	mmu_set_region_or_die(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA,
			      NPAGES * P, mem);
	harvest(fd, SLOT, bm);
	log_is(bm, none, T("a new slot's log is empty"));

	r = access_pages(vcpu, GPA, written, true, 0x100);
	r = r ?: access_pages(vcpu, GPA, only_read, false, 0);
	is_int(r, 0, T("the vCPU writes 6 pages and reads 3 others"));
	harvest(fd, SLOT, bm);
	log_is(bm, written, T("GET reports exactly the pages written"));
	ok(mem[200 * P / 8] == 0x100 + 200, T("the data reached the host page"));
	ok(pages_writable(vcpu, GPA, written, false) &&
	   pages_writable(vcpu, GPA, only_read, false),
	   T("written pages are write-protected, read pages read-only"));
	harvest(fd, SLOT, bm);
	log_is(bm, none, T("a second GET is empty"));

	fast = stat_fast(fd);
	is_int(access_pages(vcpu, GPA, written, true, 0x200), 0,
	       T("the vCPU writes the 6 pages again"));
	is_int(stat_fast(fd) - fast, 6, T("each write took the lockless fast path"));
	ok(pages_writable(vcpu, GPA, written, true), T("and made its page writable"));
	harvest(fd, SLOT, bm);
	log_is(bm, written, T("GET reports them again"));

	fast = stat_fast(fd);
	is_int(access_pages(vcpu, GPA, only_read, true, 0x300), 0,
	       T("the vCPU writes the 3 pages it had only read"));
	is_int(stat_fast(fd) - fast, 0,
	       T("mapped read-only by a read, they took the slow path"));
	harvest(fd, SLOT, bm);
	log_is(bm, only_read, T("GET reports those 3"));

	/* Logging off: writes become possible again lazily, unlogged. */
	is_int(set_region(fd, SLOT, 0, GPA, NPAGES * P, mem), 0,
	       T("logging turned off"));
	is_errno(get_log(fd, SLOT, bm), ENOENT, T("GET: ENOENT"));
	fast = stat_fast(fd);
	is_int(access_pages(vcpu, GPA, written, true, 0x400), 0,
	       T("the vCPU writes the 6 pages"));
	is_int(stat_fast(fd) - fast, 6, T("protected leaves were made writable by the fast path"));

	is_int(set_region(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA, NPAGES * P,
			  mem), 0, T("logging turned on again"));
	ok(pages_writable(vcpu, GPA, written, false),
	   T("turning it on write-protected every leaf"));
	harvest(fd, SLOT, bm);
	log_is(bm, none, T("the new log is empty: nothing written while off"));

	{
		static const int seven[] = { 7, -1 };

		is_int(access_pages(vcpu, GPA, seven, true, 0x500), 0,
		       T("page 7 written"));
		is_int(set_region(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA2,
				  NPAGES * P, mem), 0,
		       T("the slot moved while logging"));
		harvest(fd, SLOT, bm);
		log_is(bm, seven, T("the move kept the log: page 7"));
	}

	/* Manual protection: GET only reports, CLEAR clears and protects. */
	{
		static const int three_four[] = { 3, 4, -1 };
		static const int three[] = { 3, -1 };
		static const int four[] = { 4, -1 };

		is_int(enable_manual(fd, 0, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE),
		       0, T("manual protection on"));
		access_pages(vcpu, GPA2, three_four, true, 0x600);
		harvest(fd, SLOT, bm);
		harvest(fd, SLOT, bm);
		log_is(bm, three_four, T("GET twice: pages 3 and 4, not cleared"));
		ok(pages_writable(vcpu, GPA2, three_four, true),
		   T("GET protected nothing"));
		bits_of(bm, three);
		is_int(clear_log(fd, SLOT, 0, 64, bm), 0, T("CLEAR page 3"));
		harvest(fd, SLOT, bm);
		log_is(bm, four, T("the log keeps page 4"));
		ok(pages_writable(vcpu, GPA2, three, false) &&
		   pages_writable(vcpu, GPA2, four, true),
		   T("CLEAR protected page 3 only"));
	}

	/* INITIALLY_SET: a new log is all set; CLEAR protects. */
	is_int(enable_manual(fd, 0, 3), 0, T("INITIALLY_SET on"));
	is_int(set_region(fd, SLOT2, KVM_MEM_LOG_DIRTY_PAGES, GPA, NPAGES * P,
			  mem2), 0, T("a new logged slot"));
	harvest(fd, SLOT2, bm);
	ok(bm[0] == ~0ULL && bm[LOG_WORDS - 2] == ~0ULL &&
	   bm[LOG_WORDS - 1] == (1ULL << (NPAGES % 64)) - 1,
	   T("its log has every page set, and no bit past the end"));
	memset(bm, 0xff, sizeof(bm));
	is_int(clear_log(fd, SLOT2, 0, NPAGES, bm), 0, T("CLEAR of the whole slot"));
	{
		static const int nine[] = { 9, -1 };

		access_pages(vcpu, GPA, nine, true, 0x700);
		harvest(fd, SLOT2, bm);
		log_is(bm, nine, T("after a write to page 9 the log is page 9"));
	}
	is_int(enable_manual(fd, 0, 0), 0, T("manual protection off"));

	/* A write through a gfn->pfn cache is logged too. */
	harvest(fd, SLOT2, bm);
	r = pc_activate(fd, 0, GPA + 11 * P, 8);
	r = r ?: pc_write(fd, 0, 0, &v, sizeof(v));
	is_int(r, 0, T("a gfn->pfn cache writes page 11"));
	{
		static const int eleven[] = { 11, -1 };

		harvest(fd, SLOT2, bm);
		log_is(bm, eleven, T("GET reports page 11"));
	}
	pc_deactivate(fd, 0);
#undef T
	close(vcpu);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
	munmap(mem2, NPAGES * P);
}

/* 3. races -------------------------------------------------------------- */

#define RACE_THREADS	3
#define RACE_PAGES	(NPAGES - NPAGES % RACE_THREADS)
#define MAX_HARVESTS	4096

struct race_write {
	u32 page;
	u32 h0, h1;	/* harvests begun before and after the write */
	u64 value;
};

/* What the main thread does to the slot every 10 harvests. */
enum race_churn {
	CHURN_NONE,
	CHURN_TOGGLE,	/* logging off, then on: a new log */
	CHURN_DELETE,	/* delete, create again: a new log */
	CHURN_MOVE,	/* move to GPA2 and back: the log is kept */
	CHURN_HOST,	/* the host zaps and ages the slot's memory meanwhile */
};

struct race {
	int vm_fd;
	bool manual;
	enum race_churn churn;
	atomic_uint harvests;	/* harvests begun */
	atomic_bool stop;
	atomic_uint epoch;	/* toggle: odd while logging is on */
	u64 logs[MAX_HARVESTS][LOG_WORDS];
	struct race_write *writes[RACE_THREADS];
	unsigned long nr_writes[RACE_THREADS];
	unsigned long max_writes;
	int vcpu_fd[RACE_THREADS];
	int err;
	u8 *mem;
	unsigned long host_ops;	/* CHURN_HOST: madvise calls */
	int host_err;
};

/* The VM's counters at the end of the last race_run(). */
static struct vmmu_stats race_stats;

struct race_arg {
	struct race *race;
	int t;
};

/* Print the kernel stack and state of every thread of this process. */
static void dump_threads(void)
{
	char path[300], buf[2048];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");

	while (dir && (d = readdir(dir))) {
		static const char * const files[] = { "stat", "stack" };
		unsigned int f;

		if (d->d_name[0] == '.')
			continue;
		for (f = 0; f < ARRAY_SIZE(files); f++) {
			ssize_t n;
			int fd;

			snprintf(path, sizeof(path), "/proc/self/task/%s/%s",
				 d->d_name, files[f]);
			fd = open(path, O_RDONLY);
			n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
			if (fd >= 0)
				close(fd);
			buf[n > 0 ? n : 0] = 0;
			diag("thread %s %s:\n%s", d->d_name, files[f], buf);
		}
	}
	if (dir)
		closedir(dir);
}

/*
 * Watch a race: if neither writes nor harvests advance for 20 s, say so
 * with every thread's kernel stack, so that a stuck run is reported with
 * where it is stuck instead of by the lane's silence watchdog.
 */
static void *race_monitor(void *p)
{
	struct race *rc = p;
	unsigned long last = ~0UL, now;
	int still = 0, t;

	while (!atomic_load(&rc->stop)) {
		sleep(1);
		now = atomic_load(&rc->harvests);
		for (t = 0; t < RACE_THREADS; t++)
			now += rc->nr_writes[t];
		still = now == last ? still + 1 : 0;
		last = now;
		if (still == 20) {
			diag("race: no progress for 20 s (%lu)", now);
			dump_threads();
		}
	}
	return NULL;
}

/* Is the slot away now and then (accesses may be MMIO)? */
static bool slot_goes(const struct race *rc)
{
	return rc->churn == CHURN_DELETE || rc->churn == CHURN_MOVE;
}

static void *race_writer(void *p)
{
	struct race_arg *a = p;
	struct race *rc = a->race;
	u64 seed = 0x5eed + a->t, v;
	unsigned long i;

	for (i = 0; i < rc->max_writes && !atomic_load(&rc->stop); i++) {
		struct race_write *w = &rc->writes[a->t][i];
		u32 page = (u32)(st_rand(&seed) % (RACE_PAGES / RACE_THREADS)) *
			   RACE_THREADS + a->t;
		u32 e0, e1;
		int r;

		/* Reads of others' pages must never be logged. */
		r = st_access(rc->vcpu_fd[a->t], VMMU_ACCESS_READ,
			      GPA + (u64)((page + 1) % RACE_PAGES) * P, &v, 8);
		e0 = atomic_load(&rc->epoch);
		w->h0 = atomic_load(&rc->harvests);
		v = i;
		if (r == VMMU_ACCESS_DONE ||
		    (r == VMMU_ACCESS_MMIO && slot_goes(rc)))
			r = st_access(rc->vcpu_fd[a->t], VMMU_ACCESS_WRITE,
				      GPA + (u64)page * P, &v, 8);
		w->h1 = atomic_load(&rc->harvests);
		e1 = atomic_load(&rc->epoch);
		w->page = page;
		w->value = v;
		/* While the slot is deleted or moved away: MMIO, not judged. */
		if (r == VMMU_ACCESS_MMIO && slot_goes(rc)) {
			w->page = ~0U;
		} else if (r != VMMU_ACCESS_DONE) {
			rc->err = r < 0 ? r : -EIO;
			break;
		}
		/*
		 * A new log (toggle, delete): only writes within one
		 * logging period are judged.
		 */
		if ((rc->churn == CHURN_TOGGLE || rc->churn == CHURN_DELETE) &&
		    !(e0 == e1 && (e0 & 1)))
			w->page = ~0U;
		rc->nr_writes[a->t] = i + 1;
	}
	return NULL;
}

/*
 * CHURN_HOST: a thread of the VMM zaps one page of the slot's memfd
 * (MADV_DONTNEED: the data stays in the file) and ages 16 (MADV_PAGEOUT:
 * reclaim's reference check clears the accessed bits through the notifier,
 * on the kernels whose reclaim calls it; without swap nothing is written
 * out), over and over, racing the fast path's and the faults' cmpxchg.
 */
static void *race_host(void *p)
{
	struct race *rc = p;
	u64 seed = 0x40057;

	while (!atomic_load(&rc->stop)) {
		u64 page = st_rand(&seed) % NPAGES;
		u64 first = st_rand(&seed) % (NPAGES - 16);

		if (madvise(rc->mem + page * P, P, MADV_DONTNEED) ||
		    madvise(rc->mem + first * P, 16 * P, MADV_PAGEOUT)) {
			rc->host_err = errno;
			break;
		}
		rc->host_ops += 2;
		usleep(200);
	}
	return NULL;
}

static void race_set_region(struct race *rc, u32 flags, u64 gpa, u64 size,
			    void *mem)
{
	int r = set_region(rc->vm_fd, SLOT, flags, gpa, size, mem);

	if (r)
		bail_out("race: KVM_SET_USER_MEMORY_REGION(flags %#x, gpa %#llx, size %#llx): %s",
			 flags, (unsigned long long)gpa,
			 (unsigned long long)size, errno_name(-r));
}

static void race_harvest(struct race *rc)
{
	unsigned int h = atomic_load(&rc->harvests);
	u64 *bm = rc->logs[h];

	if (h + 1 >= MAX_HARVESTS)
		return;
	/* Writes that read this count may come before or after the GET. */
	atomic_store(&rc->harvests, h + 1);
	harvest(rc->vm_fd, SLOT, bm);
	if (rc->manual && clear_log(rc->vm_fd, SLOT, 0, NPAGES, bm))
		bail_out("KVM_CLEAR_DIRTY_LOG failed");
}

/*
 * Run writers against a harvester; returns the number of writes checked,
 * or -1 after a diagnostic.
 */
static long race_run(int sys_fd, bool manual, enum race_churn churn,
		     unsigned int rounds, unsigned int *nr_harvests,
		     unsigned int *nr_toggles)
{
	static struct race rc;
	struct race_arg args[RACE_THREADS];
	pthread_t th[RACE_THREADS], mon, host;
	unsigned int h, toggles = 0;
	struct mmu_vm vm;
	long checked = 0;
	bool bad = false;
	void *mem;
	int t;
	unsigned long i;

	memset(&rc, 0, sizeof(rc));
	rc.manual = manual;
	rc.churn = churn;
	rc.max_writes = 1000000;
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	rc.vm_fd = vm.vm_fd;
	if (churn == CHURN_HOST) {
		int fd = mmu_memfd("dirty_log_race", NPAGES * P);

		mem = mmu_map_fd(fd, NPAGES * P, 0, NULL);
		close(fd);
	} else {
		mem = mmu_map_anon(NPAGES * P, NULL);
	}
	rc.mem = mem;
	if (manual && enable_manual(rc.vm_fd, 0, 1))
		bail_out("KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2) failed");
	mmu_set_region_or_die(rc.vm_fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA,
			      NPAGES * P, mem);
	atomic_store(&rc.epoch, 1);
	for (t = 0; t < RACE_THREADS; t++) {
		rc.writes[t] = calloc(rc.max_writes, sizeof(*rc.writes[t]));
		if (!rc.writes[t])
			bail_out("out of memory");
		rc.vcpu_fd[t] = mmu_create_vcpu_or_die(rc.vm_fd, t);
		args[t] = (struct race_arg){ &rc, t };
		pthread_create(&th[t], NULL, race_writer, &args[t]);
	}
	pthread_create(&mon, NULL, race_monitor, &rc);
	if (churn == CHURN_HOST)
		pthread_create(&host, NULL, race_host, &rc);

	for (i = 0; i < rounds; i++) {
		race_harvest(&rc);
		usleep(2000);
		/* A sign of life for the lane's silence watchdog. */
		if (guest_slow_emulator() && i % 10 == 9)
			diag("  %lu of %u harvests", i + 1, rounds);
		if (churn == CHURN_MOVE && i % 10 == 9) {
			/* The log stays: no period ends. */
			race_set_region(&rc, KVM_MEM_LOG_DIRTY_PAGES, GPA2,
					NPAGES * P, mem);
			usleep(1000);
			race_harvest(&rc);
			race_set_region(&rc, KVM_MEM_LOG_DIRTY_PAGES, GPA,
					NPAGES * P, mem);
			toggles++;
		} else if ((churn == CHURN_TOGGLE || churn == CHURN_DELETE) &&
			   i % 10 == 9) {
			/*
			 * End of a period: harvest, then turn logging off or
			 * delete the slot.
			 */
			atomic_fetch_add(&rc.epoch, 1);
			race_harvest(&rc);
			/* Size 0 deletes. */
			race_set_region(&rc, 0, GPA, churn == CHURN_TOGGLE ?
					NPAGES * P : 0, mem);
			usleep(1000);
			race_set_region(&rc, KVM_MEM_LOG_DIRTY_PAGES, GPA,
					NPAGES * P, mem);
			/* Writes that start from here on are in a period. */
			atomic_fetch_add(&rc.epoch, 1);
			toggles++;
		}
	}
	atomic_store(&rc.stop, true);
	for (t = 0; t < RACE_THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_join(mon, NULL);
	if (churn == CHURN_HOST)
		pthread_join(host, NULL);
	atomic_fetch_add(&rc.epoch, 1);
	race_harvest(&rc);
	h = atomic_load(&rc.harvests);
	if (rc.err) {
		diag("a vCPU access failed: %s", errno_name(-rc.err));
		bad = true;
	}
	if (rc.host_err) {
		diag("the host thread's madvise failed: %s",
		     strerror(rc.host_err));
		bad = true;
	}
	if (churn == CHURN_HOST)
		diag("  the host thread made %lu madvise calls", rc.host_ops);
	/* No write lost to a stale mapping: each page holds its last one. */
	for (t = 0; !bad && churn == CHURN_HOST && t < RACE_THREADS; t++) {
		u64 last[NPAGES];
		bool seen[NPAGES] = { false };
		u32 pg;

		for (i = 0; i < rc.nr_writes[t]; i++) {
			struct race_write *w = &rc.writes[t][i];

			if (w->page == ~0U)
				continue;
			last[w->page] = w->value;
			seen[w->page] = true;
		}
		for (pg = 0; pg < NPAGES; pg++) {
			if (!seen[pg])
				continue;
			if (*(u64 *)(mem + pg * P) != last[pg]) {
				diag("thread %d: page %u holds %#llx, its last write was %#llx",
				     t, pg,
				     (unsigned long long)*(u64 *)(mem + pg * P),
				     (unsigned long long)last[pg]);
				bad = true;
				break;
			}
		}
	}

	/*
	 * Harvest h0 - 1 may have begun before the write and done its GET
	 * after it; harvest h1 began after the write ended.  So every judged
	 * write is in a harvest in [h0 - 1, h1], and harvest h1 exists: the
	 * last one began after the writers stopped.  With logging toggled,
	 * a write judged (made within one logging period) ended before that
	 * period's last harvest began, so harvest h1 is in its period.
	 */
	for (t = 0; !bad && t < RACE_THREADS; t++) {
		for (i = 0; i < rc.nr_writes[t]; i++) {
			struct race_write *w = &rc.writes[t][i];
			u32 k, found = 0;

			if (w->page == ~0U)
				continue;
			for (k = w->h0 ? w->h0 - 1 : 0; k <= w->h1 && k < h; k++)
				if (rc.logs[k][w->page / 64] &
				    (1ULL << (w->page % 64)))
					found = 1;
			if (!found) {
				diag("thread %d write %lu: page %u, harvests %u..%u: in none",
				     t, i, w->page, w->h0, w->h1);
				bad = true;
				break;
			}
			checked++;
		}
	}
	/* Nothing but written pages: each thread writes only pages % T == t. */
	for (h = 0; !bad && h < atomic_load(&rc.harvests); h++) {
		u32 pg;

		for (pg = RACE_PAGES; pg < NPAGES; pg++)
			if (rc.logs[h][pg / 64] & (1ULL << (pg % 64))) {
				diag("harvest %u: page %u, never written", h, pg);
				bad = true;
			}
	}
	*nr_harvests = atomic_load(&rc.harvests);
	*nr_toggles = toggles;
	st_stats_or_die(rc.vm_fd, &race_stats);
	for (t = 0; t < RACE_THREADS; t++) {
		close(rc.vcpu_fd[t]);
		free(rc.writes[t]);
	}
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
	return bad ? -1 : checked;
}

static void test_races(int sys_fd)
{
	/*
	 * Harvest rounds, 2 ms apart, while the writers write hundreds of
	 * thousands of times on QEMU.  On one slow emulated CPU (Bochs) the
	 * writers starve the harvester: fewer rounds.
	 */
	unsigned int rounds = guest_slow_emulator() ? 60 :
			  (unsigned int)st_scale(750, 3, 150);
	unsigned int nh, nt;
	long n;

	n = race_run(sys_fd, false, CHURN_NONE, rounds, &nh, &nt);
	ok(n >= 0, "race, GET: every write in a harvest between its bounds");
	diag("  %ld writes by %d vCPU threads, %u harvests", n, RACE_THREADS, nh);
	ok(n > 0 && nh > 10, "race, GET: writes and harvests happened");
	n = race_run(sys_fd, true, CHURN_NONE, rounds, &nh, &nt);
	ok(n >= 0, "race, GET + CLEAR: every write in a harvest between its bounds");
	diag("  %ld writes, %u harvests", n, nh);
	ok(n > 0 && nh > 10, "race, GET + CLEAR: writes and harvests happened");
	n = race_run(sys_fd, false, CHURN_TOGGLE, rounds, &nh, &nt);
	ok(n >= 0, "race, logging toggled: every write of a period in its harvests");
	diag("  %ld writes judged, %u harvests, logging turned off and on %u times",
	     n, nh, nt);
	ok(n > 0 && nt > 3, "race, logging toggled: writes and toggles happened");
	n = race_run(sys_fd, false, CHURN_DELETE, rounds, &nh, &nt);
	ok(n >= 0, "race, slot deleted and made again: each write in its slot's harvests");
	diag("  %ld writes judged, %u harvests, the slot deleted %u times",
	     n, nh, nt);
	ok(n > 0 && nt > 3, "race, slot deleted: writes and deletes happened");
	n = race_run(sys_fd, true, CHURN_MOVE, rounds, &nh, &nt);
	ok(n >= 0, "race, slot moved and back (GET + CLEAR): every write in its harvests");
	diag("  %ld writes judged, %u harvests, the slot moved away and back %u times",
	     n, nh, nt);
	ok(n > 0 && nt > 3, "race, slot moved: writes and moves happened");
	n = race_run(sys_fd, true, CHURN_HOST, rounds, &nh, &nt);
	ok(n >= 0, "race, host zaps and ages the memfd: every write logged and kept");
	diag("  %ld writes, %u harvests", n, nh);
	ok(n > 0 && nh > 10, "race, host zapping and aging: writes and harvests happened");
	diag("  leaves zapped %llu, fast-path faults %llu, accessed bits cleared %llu",
	     (unsigned long long)race_stats.leaves_zapped,
	     (unsigned long long)race_stats.pf_fast,
	     (unsigned long long)race_stats.young_cleared);
	ok(race_stats.leaves_zapped > 0 && race_stats.pf_fast > 0,
	   "race, host zapping and aging: leaves zapped and the fast path ran meanwhile");
}

/* 4. hardware vCPUs ----------------------------------------------------- */

/*
 * RSI: a list of gpas ending with 0; each gets RDX.  Then OUT to 0x80 and
 * start over with whatever RSI the VMM sets.
 */
GUEST_CODE(writer, ".code64",
	   "1:	mov (%rsi), %rax\n"
	   "	test %rax, %rax\n"
	   "	jz 2f\n"
	   "	mov %rdx, (%rax)\n"
	   "	add $8, %rsi\n"
	   "	jmp 1b\n"
	   "2:	out %al, $0x80\n"
	   "	jmp 2b\n");

#define HW_MEM		(4ULL << 20)
#define HW_CODE		0x100000ULL
#define HW_LIST		0x101000ULL
#define HW_STACK	0x108000ULL

/* Below the 1 GiB guest_setup_long_mode() maps. */
#define HW_GPA		0x20000000ULL

static int hw_round(struct guest *g, const int *list, u64 stamp)
{
	u64 *l = (u64 *)(g->mem + HW_LIST);
	struct kvm_regs regs;
	int r;

	for (; *list >= 0; list++)
		*l++ = HW_GPA + (u64)*list * P;
	*l = 0;
	guest_setup_long_mode(g, HW_CODE, HW_STACK);
	guest_get_regs(g, &regs);
	regs.rsi = HW_LIST;
	regs.rdx = stamp;
	guest_set_regs(g, &regs);
	r = guest_run(g);
	if (r || g->run->exit_reason != KVM_EXIT_IO) {
		guest_exit_diag(g);
		return r ?: -EIO;
	}
	return 0;
}

static void test_hw(void)
{
	static const int second[] = { 1, 64, 65, 258, -1 };
	u64 bm[LOG_WORDS], fast;
	struct guest g;
	int sys_fd;
	u64 *mem;

	sys_fd = guest_open_or_skip(NR_HW_TESTS);
	if (sys_fd < 0)
		return;
	guest_create(&g, sys_fd, HW_MEM);
	guest_load(&g, HW_CODE, writer, GUEST_CODE_SIZE(writer));
	mem = mmu_map_anon(NPAGES * P, NULL);
	mmu_set_region_or_die(g.vm_fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, HW_GPA,
			      NPAGES * P, mem);

	is_int(hw_round(&g, written, 0xabc), 0,
	       "%s: the guest writes 6 pages of the logged slot", guest_hw->name);
	harvest(g.vm_fd, SLOT, bm);
	log_is(bm, written, "GET reports exactly those");
	ok(mem[258 * P / 8] == 0xabc, "the data reached the host page");
	fast = stat_fast(g.vm_fd);
	is_int(hw_round(&g, second, 0xdef), 0,
	       "the guest writes 4 pages, 3 of them written before");
	harvest(g.vm_fd, SLOT, bm);
	log_is(bm, second, "GET reports exactly the 4");
	ok(stat_fast(g.vm_fd) - fast >= 3,
	   "the 3 protected pages took the fast path (pf_fast +%llu)",
	   (unsigned long long)(stat_fast(g.vm_fd) - fast));
	guest_destroy(&g);
	munmap(mem, NPAGES * P);
	close(sys_fd);
}

int main(void)
{
	struct vmmu_objects base;
	int sys_fd, i;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	test_errnos(sys_fd);
	for (i = 0; i < MMU_NR_CFGS; i++)
		test_exact(sys_fd, &mmu_cfgs[i]);
	test_races(sys_fd);
	close(sys_fd);
	test_hw();
	ok_objects(&base, "objects back at baseline (dirty bitmaps freed)");
	return tap_finish();
}
