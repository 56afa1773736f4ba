// SPDX-License-Identifier: GPL-2.0
/*
 * The gfn->pfn cache under races, each scenario run for a bounded time with
 * several seeds, its operations counted and printed:
 *
 * churn: one thread activates, deactivates, refreshes and writes through a
 *   test cache; two threads read through another cache of the same page;
 *   a soft hrtimer writes through a third; the main thread meanwhile
 *   replaces the page (MADV_DONTNEED, munmap + mmap), moves it away and
 *   back with mremap, and deletes or moves its memslot.  Every word read is
 *   one some writer wrote or zero, never another page's data, only the
 *   expected errors occur, and a page moved away by mremap is never
 *   written after the move (the debug lane would also oops on a write to
 *   a freed page).
 * storm: while a thread invalidates other pages of the memslot in a loop,
 *   another activates and deactivates a cache: every activation completes
 *   and none has to retry, since no invalidation covers its page.
 * guest (SVM or VMX; skipped without): a guest reads its run-state page in a loop
 *   and reports what it saw, while the VMM replaces that page under it;
 *   every record the guest sees is whole (one more entry than exits, more
 *   entries than the last time) or the fresh zero page.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define NR_SEEDS	2
#define NR_TESTS	(NR_SEEDS * 6 + NR_SEEDS * 3 + NR_SEEDS * 4 + 1)
#define SCENARIO_NS	1000000000ULL	/* per seed: 2 s per scenario */
#define SLOT_SIZE	(64ULL << 10)
#define PAGE_GPA	0x8000ULL	/* the page the caches map */
#define OTHER_GPA	0x200000ULL	/* where its memslot moves */
#define WRITE_TAG	0x5eedULL	/* top 16 bits of the words T1 writes */

static int vm_fd;

/* What the churn threads saw; only the main thread reports. */
struct churn {
	u8 *mem;
	atomic_int stop;
	atomic_ulong ops[3];
	atomic_ulong errs_expected;
	atomic_ulong bad_errno;
	atomic_ulong bad_word;
	atomic_long last_bad;
	u64 seed;
};

/* A word of the page is zero or what some writer writes there. */
static bool word_ok(unsigned int i, u64 w)
{
	if (!w)
		return true;
	switch (i) {
	case 0:		/* the timer's n */
		return w < (1ULL << 40);
	case 1:		/* the timer's ~n */
		return ~w < (1ULL << 40);
	case 4 ... 7:	/* T1's tagged count */
		return w >> 48 == WRITE_TAG;
	default:
		return false;
	}
}

static bool churn_errno_ok(int r)
{
	/* Inactive, no memslot (deleted, moved), nothing mapped at the hva. */
	return r == -EINVAL || r == -ENOENT || r == -EFAULT;
}

static void churn_count(struct churn *c, int r)
{
	if (!r)
		return;
	if (churn_errno_ok(r)) {
		atomic_fetch_add(&c->errs_expected, 1);
	} else {
		atomic_fetch_add(&c->bad_errno, 1);
		atomic_store(&c->last_bad, r);
	}
}

/* T1: writer and cache life cycle, on cache 0: words 4..7 of the page. */
static void *churn_writer(void *arg)
{
	struct churn *c = arg;
	u64 rng = c->seed * 2 + 1, n = 0, words[4];
	int i, r;

	while (!atomic_load(&c->stop)) {
		switch (st_rand(&rng) % 8) {
		case 0:
			r = pc_activate(vm_fd, 0, PAGE_GPA + 32, 32);
			break;
		case 1:
			r = pc_deactivate(vm_fd, 0);
			break;
		case 2:
			r = pc_refresh(vm_fd, 0, 32);
			break;
		default:
			for (i = 0; i < 4; i++)
				words[i] = WRITE_TAG << 48 | ++n;
			r = pc_write(vm_fd, 0, 0, words, sizeof(words));
		}
		churn_count(c, r);
		atomic_fetch_add(&c->ops[0], 1);
	}
	return NULL;
}

/* T2, T3: readers of the whole first 64 bytes through cache 2 (or 3). */
static void *churn_reader(void *arg)
{
	struct churn *c = arg;
	static atomic_int next_id = 2;
	int id = atomic_fetch_add(&next_id, 1) % 2 + 2;
	u64 words[8];
	int i, r;

	while (!atomic_load(&c->stop)) {
		r = pc_read(vm_fd, id, 0, words, sizeof(words));
		churn_count(c, r);
		/* Inactive (or never activated): activate, read next time. */
		if (r == -EINVAL)
			churn_count(c, pc_activate(vm_fd, id, PAGE_GPA,
						   sizeof(words)));
		for (i = 0; !r && i < 8; i++) {
			if (!word_ok(i, words[i])) {
				atomic_fetch_add(&c->bad_word, 1);
				atomic_store(&c->last_bad, (long)words[i]);
			}
		}
		atomic_fetch_add(&c->ops[id - 1], 1);
	}
	return NULL;
}

/*
 * One change of the host mapping or the memslot of the page.  Returns the
 * number of "moved away, then never written" checks that failed.
 */
static int churn_host_op(struct churn *c, u64 *rng, void *away)
{
	u8 *page = c->mem + PAGE_GPA;
	u8 snap[PAGE_SIZE];
	int bad = 0;

	switch (st_rand(rng) % 5) {
	case 0:
		madvise(page, PAGE_SIZE, MADV_DONTNEED);
		break;
	case 1:
		munmap(page, PAGE_SIZE);
		usleep(st_rand(rng) % 200);
		mmu_map_anon(PAGE_SIZE, page);
		break;
	case 2:
		mremap(page, PAGE_SIZE, PAGE_SIZE,
		       MREMAP_MAYMOVE | MREMAP_FIXED, away);
		memcpy(snap, away, PAGE_SIZE);
		usleep(500 + st_rand(rng) % 500);
		/* Nothing may write to the page once it is not the guest's. */
		bad = !!memcmp(snap, away, PAGE_SIZE);
		mremap(away, PAGE_SIZE, PAGE_SIZE,
		       MREMAP_MAYMOVE | MREMAP_FIXED, page);
		st_reserve(PAGE_SIZE, away);
		break;
	case 3:
		vmmu_delete_region(vm_fd, 0);
		usleep(st_rand(rng) % 200);
		mmu_set_region_or_die(vm_fd, 0, 0, 0, SLOT_SIZE, c->mem);
		break;
	case 4:
		vmmu_set_region(vm_fd, 0, 0, OTHER_GPA, SLOT_SIZE,
				(unsigned long)c->mem);
		usleep(st_rand(rng) % 200);
		vmmu_set_region(vm_fd, 0, 0, 0, SLOT_SIZE,
				(unsigned long)c->mem);
		break;
	}
	return bad;
}

static void scenario_churn(u64 seed)
{
	struct churn c = { .seed = seed };
	struct vmmu_test_pfncache st;
	pthread_t t[3];
	void *away;
	u64 rng = seed + 7, end, *w;
	int i, stale = 0, moves = 0;

	c.mem = mmu_map_anon(SLOT_SIZE, NULL);
	madvise(c.mem, SLOT_SIZE, MADV_NOHUGEPAGE);
	/* Other pages hold a pattern: a cache that reads them is caught. */
	mmu_pattern_fill(c.mem, 0, SLOT_SIZE, seed);
	memset(c.mem + PAGE_GPA, 0, PAGE_SIZE);
	mmu_set_region_or_die(vm_fd, 0, 0, 0, SLOT_SIZE, c.mem);
	away = st_reserve(PAGE_SIZE, NULL);
	is_errno(pc_activate(vm_fd, 1, PAGE_GPA, 16), 0,
		 "churn seed %llu: activate the timer's cache",
		 (unsigned long long)seed);
	pc_timer_start(vm_fd, 1, 100000);
	pthread_create(&t[0], NULL, churn_writer, &c);
	pthread_create(&t[1], NULL, churn_reader, &c);
	pthread_create(&t[2], NULL, churn_reader, &c);
	end = vmmu_now_ns() + SCENARIO_NS;
	while (vmmu_now_ns() < end) {
		usleep(st_rand(&rng) % 1000);
		stale += churn_host_op(&c, &rng, away);
		moves++;
	}
	atomic_store(&c.stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pc_timer_stop(vm_fd, 1);
	pc_stats(vm_fd, 1, &st);
	diag("churn seed %llu: %lu writer ops, %lu + %lu reads, %d host ops, %lu expected errors",
	     (unsigned long long)seed, atomic_load(&c.ops[0]),
	     atomic_load(&c.ops[1]), atomic_load(&c.ops[2]), moves,
	     atomic_load(&c.errs_expected));
	diag("churn seed %llu: timer %llu writes, %llu skips, %llu refreshes",
	     (unsigned long long)seed, (unsigned long long)st.timer_writes,
	     (unsigned long long)st.timer_skips,
	     (unsigned long long)st.refreshes);
	ok(atomic_load(&c.ops[0]) && atomic_load(&c.ops[1]) && moves,
	   "churn seed %llu: every thread made progress",
	   (unsigned long long)seed);
	is_int(atomic_load(&c.bad_errno), 0,
	       "churn seed %llu: only EINVAL, ENOENT, EFAULT (last %ld)",
	       (unsigned long long)seed, atomic_load(&c.last_bad));
	is_int(atomic_load(&c.bad_word), 0,
	       "churn seed %llu: every word read was written there (last %lx)",
	       (unsigned long long)seed, atomic_load(&c.last_bad));
	is_int(stale, 0, "churn seed %llu: no write to a page moved away",
	       (unsigned long long)seed);
	/* At rest: the timer's last pair is whole, in the page the VMM has. */
	w = (u64 *)(c.mem + PAGE_GPA);
	memset(w, 0, 16);
	i = pc_activate(vm_fd, 1, PAGE_GPA, 16);
	pc_timer_start(vm_fd, 1, 100000);
	while (!i && w[0] < 10 && vmmu_now_ns() < end + 10 * SCENARIO_NS)
		usleep(1000);
	pc_timer_stop(vm_fd, 1);
	pc_stats(vm_fd, 1, &st);
	ok(!i && w[0] && w[1] == ~w[0] && w[0] <= st.timer_writes,
	   "churn seed %llu: at rest the timer writes the VMM's page: %llu",
	   (unsigned long long)seed, (unsigned long long)w[0]);
	for (i = 0; i < 4; i++)
		pc_deactivate(vm_fd, i);
	vmmu_delete_region(vm_fd, 0);
	munmap(away, PAGE_SIZE);
	munmap(c.mem, SLOT_SIZE);
}

struct storm {
	u8 *mem;
	atomic_int stop;
	atomic_ulong invalidations;
};

/* Invalidate every page of the memslot above the cache's, in turn. */
static void *storm_thread(void *arg)
{
	struct storm *s = arg;
	u64 off = PAGE_GPA + PAGE_SIZE;

	while (!atomic_load(&s->stop)) {
		s->mem[off] = 1;
		madvise(s->mem + off, PAGE_SIZE, MADV_DONTNEED);
		atomic_fetch_add(&s->invalidations, 1);
		off += PAGE_SIZE;
		if (off >= SLOT_SIZE)
			off = PAGE_GPA + PAGE_SIZE;
	}
	return NULL;
}

static void scenario_storm(u64 seed)
{
	struct storm s = { 0 };
	struct vmmu_test_pfncache st0, st1;
	unsigned long done = 0, failed = 0, during;
	pthread_t t;
	u64 end;

	s.mem = mmu_map_anon(SLOT_SIZE, NULL);
	madvise(s.mem, SLOT_SIZE, MADV_NOHUGEPAGE);
	mmu_set_region_or_die(vm_fd, 0, 0, 0, SLOT_SIZE, s.mem);
	pc_stats(vm_fd, 0, &st0);
	pthread_create(&t, NULL, storm_thread, &s);
	end = vmmu_now_ns() + SCENARIO_NS;
	while (vmmu_now_ns() < end) {
		if (pc_activate(vm_fd, 0, PAGE_GPA + 8 * (seed % 8), 8))
			failed++;
		else
			done++;
		pc_deactivate(vm_fd, 0);
	}
	during = atomic_load(&s.invalidations);
	atomic_store(&s.stop, 1);
	pthread_join(t, NULL);
	pc_stats(vm_fd, 0, &st1);
	diag("storm seed %llu: %lu activations completed during %lu invalidations of other pages",
	     (unsigned long long)seed, done, during);
	ok(done > 0 && during > 0 && !failed,
	   "storm seed %llu: activations complete while other pages churn",
	   (unsigned long long)seed);
	is_int(st1.retries - st0.retries, 0,
	       "storm seed %llu: no lookup retried for another page's invalidation",
	       (unsigned long long)seed);
	is_int(st1.refreshes - st0.refreshes, done,
	       "storm seed %llu: one lookup per activation",
	       (unsigned long long)seed);
	vmmu_delete_region(vm_fd, 0);
	munmap(s.mem, SLOT_SIZE);
}

GUEST_CODE(rs_reader, ".code16",
	   "0:	mov $0x5000, %bx\n"
	   "1:	movl (%bx), %ecx\n"
	   "	test $1, %cl\n"
	   "	jnz 1b\n"
	   "	movl 8(%bx), %eax\n"
	   "	movl 16(%bx), %edx\n"
	   "	movl (%bx), %esi\n"
	   "	cmp %ecx, %esi\n"
	   "	jne 1b\n"
	   "	out %eax, $0x80\n"
	   "	mov %edx, %eax\n"
	   "	out %eax, $0x81\n"
	   "	jmp 0b\n");

#define RS_GPA		0x5000ULL

struct remapper {
	u8 *page;
	u64 seed;
	atomic_int stop;
	atomic_ulong remaps;
};

static void *remap_thread(void *arg)
{
	struct remapper *rm = arg;
	u64 rng = rm->seed * 3 + 1;

	while (!atomic_load(&rm->stop)) {
		usleep(st_rand(&rng) % 500);
		if (st_rand(&rng) % 2)
			madvise(rm->page, PAGE_SIZE, MADV_DONTNEED);
		else
			mmu_map_anon(PAGE_SIZE, rm->page);
		atomic_fetch_add(&rm->remaps, 1);
	}
	return NULL;
}

/* One report of the guest: 1 whole, 0 the zero page, -1 inconsistent. */
static int guest_report(struct guest *g, u32 *last)
{
	u32 e, x;

	if (guest_run(g) || g->run->exit_reason != KVM_EXIT_IO)
		return -1;
	e = *(u32 *)guest_io_data(g);
	if (guest_run(g) || g->run->exit_reason != KVM_EXIT_IO)
		return -1;
	x = *(u32 *)guest_io_data(g);
	if (!e && !x)
		return 0;
	if (e != x + 1 || e <= *last)
		return -1;
	*last = e;
	return 1;
}

static void scenario_guest(int sys_fd, u64 seed)
{
	struct remapper rm = { .seed = seed };
	unsigned long whole = 0, zero = 0, bad = 0;
	struct vmmu_runstate *rs;
	struct guest g;
	pthread_t t;
	u32 last = 0;
	u64 end;
	int r;

	guest_create(&g, sys_fd, 1 << 20);
	madvise(g.mem, 1 << 20, MADV_NOHUGEPAGE);
	guest_load(&g, 0x1000, rs_reader, GUEST_CODE_SIZE(rs_reader));
	guest_setup_real_mode(&g, 0x1000);
	rm.page = g.mem + RS_GPA;
	is_errno(pc_set_runstate(g.vcpu_fd, RS_GPA, VMMU_RUNSTATE_ENABLE), 0,
		 "guest seed %llu: SET_RUNSTATE", (unsigned long long)seed);
	pthread_create(&t, NULL, remap_thread, &rm);
	end = vmmu_now_ns() + SCENARIO_NS;
	while (vmmu_now_ns() < end) {
		r = guest_report(&g, &last);
		if (r < 0 && ++bad > 10)
			break;
		r > 0 ? whole++ : r == 0 ? zero++ : 0;
	}
	atomic_store(&rm.stop, 1);
	pthread_join(t, NULL);
	diag("guest seed %llu: %lu whole records, %lu zero pages, %lu remaps",
	     (unsigned long long)seed, whole, zero, atomic_load(&rm.remaps));
	is_int(bad, 0, "guest seed %llu: every record the guest read is whole or zero",
	       (unsigned long long)seed);
	ok(whole > 0 && atomic_load(&rm.remaps) > 0,
	   "guest seed %llu: records read while the page was replaced",
	   (unsigned long long)seed);
	/* At rest the page catches up: whole in the guest and the VMM. */
	r = guest_report(&g, &last);
	rs = (struct vmmu_runstate *)rm.page;
	ok(r == 1 && !(rs->seq & 1) && rs->entries == rs->exits &&
	   rs->entries >= last,
	   "guest seed %llu: the record is whole after the last remap: %llu entries",
	   (unsigned long long)seed, (unsigned long long)rs->entries);
	guest_destroy(&g);
}

int main(void)
{
	struct vmmu_objects before;
	struct mmu_vm vm;
	int sys_fd, r;
	u64 seed;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&before);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vm_fd = vm.vm_fd;
	for (seed = 1; seed <= NR_SEEDS; seed++)
		scenario_churn(seed);
	for (seed = 1; seed <= NR_SEEDS; seed++)
		scenario_storm(seed);
	mmu_vm_close(&vm);

	r = guest_hw_available(sys_fd);
	if (r) {
		skip(NR_SEEDS * 4, "no hardware vCPUs here (%s)", guest_hw_why());
	} else {
		for (seed = 1; seed <= NR_SEEDS; seed++)
			scenario_guest(sys_fd, seed);
	}
	ok_objects(&before, "no object left behind");
	return tap_finish();
}
