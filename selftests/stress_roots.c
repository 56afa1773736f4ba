// SPDX-License-Identifier: GPL-2.0
/*
 * Root invalidation under load, in NPT and EPT.
 *
 *  (a) An invalidate-all-roots storm: the main thread issues VMMU_ZAP_ALL
 *      over and over while three vCPU threads read and write a slot.  No
 *      access may fail and every read must return the pattern.
 *  (b) Memslot churn: the main thread deletes, re-adds and moves three
 *      small slots (each delete or move invalidates every root) while the
 *      vCPUs keep faulting on a fixed slot, where nothing may fail, and now
 *      and then access the churned slots, where MMIO is allowed only if
 *      the access overlapped a move of that slot or the time from its
 *      delete to its re-add.  Data is keyed by the page's index in its
 *      slot, so it follows a moved slot.
 *
 * After each part one more VMMU_ZAP_ALL leaves the idle vCPUs holding the
 * zapped root: one invalid root, no valid one, one table.  Once every vCPU
 * has made one more access (which loads a new root), VMMU_GET_STATS must
 * show no invalid root left and one valid root, and its table count must
 * be exactly what the leaves still mapped need: the root plus, per level
 * below it, the distinct tables covering the present leaves, as
 * VMMU_VCPU_TRANSLATE shows them.  No host
 * invalidation runs in this test, so no empty table can be left behind.
 *
 * The main thread waits after each operation until every vCPU has finished
 * two accesses, so the loops are bounded by operation counts.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NR_VCPUS	3
#define BUDGET		4

/* The fixed slot spans two last-level tables: 1 MiB into a 2 MiB region. */
#define SLOT0		0
#define GPA0		0x40100000ULL
#define NPAGES0		512
#define SEED0		0x5107

#define NR_CHURN	3		/* slots 1..3 */
#define NPAGES_C	16
#define GPA_C(k, alt)	(((alt) ? 0xc0000000ULL : 0x80000000ULL) + \
			 (u64)(k) * 0x1000000ULL)
#define SEED_C(k)	(0xc4a0 + (k))

#define ZAPS		3000
#define CHURN_OPS	600

#define TESTS_PER_FORMAT 18
#define NR_FORMATS	2
#define NR_TESTS	(TESTS_PER_FORMAT * NR_FORMATS)

struct churn_slot {
	char *hva;
	atomic_ulong changing;	/* window: the slot is being changed */
	atomic_ullong gpa;	/* where it is now (published after a change) */
	int present;		/* host side only */
	int alt;		/* host side only: at GPA_C(k, 1) */
};

struct shared {
	struct st_pace pace;
	int churn;		/* part (b): also access the churned slots */
	struct churn_slot slots[NR_CHURN + 1];	/* [1..NR_CHURN] */
};

struct worker {
	pthread_t thread;
	unsigned int id;
	int vcpu_fd;
	struct shared *sh;
	unsigned long fixed, fixed_bad, churned, churned_ok, mmio_ok;
	unsigned long churned_bad;
	char first_bad[160];
	u64 buf[P / 8];
};

static void worker_note(struct worker *w, const char *what, u64 gpa, int r)
{
	if (!w->first_bad[0])
		snprintf(w->first_bad, sizeof(w->first_bad),
			 "vCPU %u: %s at gpa %#llx: %s", w->id, what,
			 (unsigned long long)gpa, mmu_result_name(r));
}

static void access_fixed(struct worker *w, u64 rnd)
{
	u64 gpa = GPA0 + (rnd % NPAGES0) * P;
	bool write = (rnd >> 40) % 4 == 0;
	int r;

	if (write)
		st_fill(w->buf, SEED0, gpa >> 12, 0, P);
	r = st_access(w->vcpu_fd, write ? VMMU_ACCESS_WRITE : VMMU_ACCESS_READ,
		      gpa, w->buf, P);
	w->fixed++;
	if (r != VMMU_ACCESS_DONE) {
		w->fixed_bad++;
		worker_note(w, "fixed slot access failed", gpa, r);
	} else if (!write &&
		   st_mismatch(w->buf, SEED0, gpa >> 12, 0, P, false) >= 0) {
		w->fixed_bad++;
		worker_note(w, "fixed slot read without the pattern", gpa, r);
	}
}

static void access_churned(struct worker *w, u64 rnd)
{
	unsigned int k = 1 + rnd % NR_CHURN, idx = (rnd >> 8) % NPAGES_C;
	struct churn_slot *cs = &w->sh->slots[k];
	unsigned long before, after;
	u64 gpa;
	int r;

	before = atomic_load(&cs->changing);
	gpa = atomic_load(&cs->gpa) + idx * P;
	r = st_access(w->vcpu_fd, VMMU_ACCESS_READ, gpa, w->buf, P);
	after = atomic_load(&cs->changing);
	w->churned++;
	if (r == VMMU_ACCESS_DONE) {
		if (st_mismatch(w->buf, SEED_C(k), idx, 0, P, false) >= 0) {
			w->churned_bad++;
			worker_note(w, "churned slot read without its data",
				    gpa, r);
		} else {
			w->churned_ok++;
		}
		return;
	}
	if (r == VMMU_ACCESS_MMIO && st_window_hit(before, after)) {
		w->mmio_ok++;
		return;
	}
	w->churned_bad++;
	worker_note(w, "churned slot access failed outside a change", gpa, r);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	u64 rnd = 0x2545f4914f6cdd1dULL * (w->id + 3);

	while (st_pace_begin(&w->sh->pace, w->id)) {
		u64 x = st_rand(&rnd);

		if (w->sh->churn && (x >> 56) % 5 == 0)
			access_churned(w, x);
		else
			access_fixed(w, x);
		st_pace_end(&w->sh->pace, w->id);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Present 4 KiB leaves in [gpa, gpa + n pages) as @vcpu_fd sees them,
 * appended to @gfns.
 */
static unsigned int collect_leaves(int vcpu_fd, u64 gpa, unsigned int n,
				   u64 *gfns, unsigned int nr)
{
	struct vmmu_translation tr;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (mmu_translate(vcpu_fd, gpa + i * P, &tr))
			bail_out("VMMU_VCPU_TRANSLATE: %s", strerror(errno));
		if ((tr.flags & VMMU_TR_PRESENT) && tr.level == 1)
			gfns[nr++] = (gpa >> 12) + i;
	}
	return nr;
}

/* Tables a root of @levels needs for the leaves @gfns: the root included. */
static u64 tables_needed(const u64 *gfns, unsigned int nr, unsigned int levels)
{
	u64 *keys = malloc(sizeof(*keys) * (nr + 1));
	unsigned int l, i;
	u64 tables = 1;

	if (!keys)
		bail_out("out of memory");
	for (l = 1; l < levels; l++) {
		for (i = 0; i < nr; i++)
			keys[i] = gfns[i] >> (9 * l);
		qsort(keys, nr, sizeof(*keys), cmp_u64);
		for (i = 0; i < nr; i++)
			if (!i || keys[i] != keys[i - 1])
				tables++;
	}
	free(keys);
	return tables;
}

struct vm_ctx {
	const char *fn;
	int vm_fd;
	unsigned int levels;
	struct shared *sh;
	struct worker workers[NR_VCPUS];
};

static void start_workers(struct vm_ctx *c)
{
	unsigned int i;

	st_pace_init(&c->sh->pace, NR_VCPUS, BUDGET);
	for (i = 0; i < NR_VCPUS; i++) {
		struct worker *w = &c->workers[i];

		w->fixed = 0;
		w->fixed_bad = 0;
		w->churned = 0;
		w->churned_ok = 0;
		w->churned_bad = 0;
		w->mmio_ok = 0;
		w->first_bad[0] = 0;
		if (pthread_create(&w->thread, NULL, worker_main, w))
			bail_out("pthread_create failed");
	}
}

/* Stop the workers; sum their counters; the fewest accesses of one. */
static unsigned long stop_workers(struct vm_ctx *c, struct worker *sum)
{
	unsigned long fewest = ~0UL;
	unsigned int i;

	st_pace_stop(&c->sh->pace);
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < NR_VCPUS; i++) {
		struct worker *w = &c->workers[i];

		pthread_join(w->thread, NULL);
		if (w->first_bad[0])
			diag("%s: %s", c->fn, w->first_bad);
		sum->fixed += w->fixed;
		sum->fixed_bad += w->fixed_bad;
		sum->churned += w->churned;
		sum->churned_ok += w->churned_ok;
		sum->churned_bad += w->churned_bad;
		sum->mmio_ok += w->mmio_ok;
		if (w->fixed + w->churned < fewest)
			fewest = w->fixed + w->churned;
	}
	return fewest;
}

/* Every vCPU makes one access, which loads the current valid root. */
static bool every_vcpu_touches(struct vm_ctx *c)
{
	static u64 buf[8];
	unsigned int i;
	bool good = true;

	for (i = 0; i < NR_VCPUS; i++)
		if (st_access(c->workers[i].vcpu_fd, VMMU_ACCESS_READ,
			      GPA0 + i * P, buf, sizeof(buf)) !=
		    VMMU_ACCESS_DONE)
			good = false;
	return good;
}

/*
 * Invalidate the roots while the vCPUs are idle, then check that they
 * reload and that roots and tables match what is mapped; @what names the
 * moment.  Five tests.
 */
static void check_roots_tables(struct vm_ctx *c, const char *what)
{
	static u64 gfns[NPAGES0 + NR_CHURN * NPAGES_C];
	int vcpu_fd = c->workers[0].vcpu_fd;
	struct vmmu_stats st;
	unsigned int nr, k;
	u64 want;

	/* The vCPUs, idle now, keep the root this makes invalid. */
	if (vmmu_ioctl(c->vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
	st_stats_or_die(c->vm_fd, &st);
	ok(st.roots_invalid == 1 && st.roots_valid == 0 && st.tables == 1,
	   "%s: %s, one more VMMU_ZAP_ALL: roots valid %llu, invalid %llu, tables %llu (want 0, 1, 1: the idle vCPUs hold the zapped root)",
	   c->fn, what, (unsigned long long)st.roots_valid,
	   (unsigned long long)st.roots_invalid,
	   (unsigned long long)st.tables);
	ok(every_vcpu_touches(c), "%s: %s: every vCPU made one more access",
	   c->fn, what);
	st_stats_or_die(c->vm_fd, &st);
	ok(st.roots_invalid == 0 && st.roots_valid == 1,
	   "%s: %s: roots valid %llu, invalid %llu (want 1, 0)", c->fn, what,
	   (unsigned long long)st.roots_valid,
	   (unsigned long long)st.roots_invalid);
	nr = collect_leaves(vcpu_fd, GPA0, NPAGES0, gfns, 0);
	for (k = 1; k <= NR_CHURN; k++)
		if (c->sh->slots[k].present)
			nr = collect_leaves(vcpu_fd,
					    atomic_load(&c->sh->slots[k].gpa),
					    NPAGES_C, gfns, nr);
	want = tables_needed(gfns, nr, c->levels);
	ok(st.tables == want,
	   "%s: %s: stats.tables %llu = what %u mapped leaves need (%llu)",
	   c->fn, what, (unsigned long long)st.tables, nr,
	   (unsigned long long)want);
	is_int(st.mapped[0], nr,
	       "%s: %s: stats.mapped[0] counts the present leaves", c->fn,
	       what);
}

/* Read every page of every present slot; returns the bad ones. */
static unsigned int check_all_data(struct vm_ctx *c)
{
	int vcpu_fd = c->workers[1].vcpu_fd;
	static u64 buf[P / 8];
	unsigned int i, k, bad = 0;

	for (i = 0; i < NPAGES0; i++) {
		u64 gpa = GPA0 + i * P;

		if (st_access(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P) !=
		    VMMU_ACCESS_DONE ||
		    st_mismatch(buf, SEED0, gpa >> 12, 0, P, false) >= 0)
			bad++;
	}
	for (k = 1; k <= NR_CHURN; k++) {
		struct churn_slot *cs = &c->sh->slots[k];

		if (!cs->present)
			continue;
		for (i = 0; i < NPAGES_C; i++)
			if (st_access(vcpu_fd, VMMU_ACCESS_READ,
				      atomic_load(&cs->gpa) + i * P, buf, P) !=
			    VMMU_ACCESS_DONE ||
			    st_mismatch(buf, SEED_C(k), i, 0, P, false) >= 0)
				bad++;
	}
	return bad;
}

/* (a) VMMU_ZAP_ALL storm. */
static void part_storm(struct vm_ctx *c)
{
	unsigned long zaps = st_scale(ZAPS, 2, 200), i, fewest;
	struct vmmu_stats st0, st;
	struct worker sum;

	c->sh->churn = 0;
	st_stats_or_die(c->vm_fd, &st0);
	start_workers(c);
	for (i = 0; i < zaps; i++) {
		long r = vmmu_ioctl(c->vm_fd, VMMU_ZAP_ALL, 0);

		if (r)
			bail_out("VMMU_ZAP_ALL: %s", errno_name(-r));
		st_pace_wait(&c->sh->pace);
	}
	fewest = stop_workers(c, &sum);
	st_stats_or_die(c->vm_fd, &st);
	diag("%s: storm: %lu VMMU_ZAP_ALL, %llu roots invalidated, %lu accesses (fewest %lu)",
	     c->fn, zaps,
	     (unsigned long long)(st.roots_invalidated - st0.roots_invalidated),
	     sum.fixed, fewest);
	diag("%s: storm: before the vCPUs reload: roots valid %llu, invalid %llu, tables %llu",
	     c->fn, (unsigned long long)st.roots_valid,
	     (unsigned long long)st.roots_invalid,
	     (unsigned long long)st.tables);

	is_int(sum.fixed_bad, 0,
	       "%s: storm: every access succeeded and every read saw the pattern",
	       c->fn);
	ok(st.roots_invalidated - st0.roots_invalidated >= 1 &&
	   st.roots_invalidated - st0.roots_invalidated <= zaps &&
	   fewest >= 2 * zaps,
	   "%s: storm: %llu roots invalidated by %lu zaps, every vCPU ran alongside",
	   c->fn,
	   (unsigned long long)(st.roots_invalidated - st0.roots_invalidated),
	   zaps);
	check_roots_tables(c, "after the storm");
	is_int(check_all_data(c), 0, "%s: storm: every page reads back its data",
	       c->fn);
}

/*
 * Change churned slot @k for the @n-th time: move, delete, add, move ...
 * Its window is open during a move and from a delete to the next add.
 */
static void churn_one(struct vm_ctx *c, unsigned int k, unsigned long n,
		      unsigned long *deletes, unsigned long *moves)
{
	struct churn_slot *cs = &c->sh->slots[k];
	u64 gpa;
	int r;

	if (n % 3 == 1) {
		st_window_open(&cs->changing);
		r = vmmu_delete_region(c->vm_fd, k);
		if (r)
			bail_out("delete slot %u: %s", k, errno_name(-r));
		cs->present = 0;
		(*deletes)++;
		return;
	}
	/* A move, or an add after a delete: to the other address. */
	if (cs->present)
		st_window_open(&cs->changing);
	cs->alt = !cs->alt;
	gpa = GPA_C(k, cs->alt);
	mmu_set_region_or_die(c->vm_fd, k, 0, gpa, NPAGES_C * P, cs->hva);
	atomic_store(&cs->gpa, gpa);
	if (cs->present)
		(*moves)++;
	cs->present = 1;
	st_window_close(&cs->changing);
}

/* (b) memslot churn while faulting on the fixed slot. */
static void part_churn(struct vm_ctx *c)
{
	unsigned long ops = st_scale(CHURN_OPS, 2, 60), i, fewest;
	unsigned long deletes = 0, moves = 0;
	struct vmmu_stats st0, st;
	struct worker sum;

	c->sh->churn = 1;
	st_stats_or_die(c->vm_fd, &st0);
	start_workers(c);
	for (i = 0; i < ops; i++) {
		churn_one(c, 1 + i % NR_CHURN, i / NR_CHURN, &deletes, &moves);
		st_pace_wait(&c->sh->pace);
	}
	fewest = stop_workers(c, &sum);
	st_stats_or_die(c->vm_fd, &st);
	diag("%s: churn: %lu memslot changes (%lu deletes, %lu moves), %llu roots invalidated",
	     c->fn, ops, deletes, moves,
	     (unsigned long long)(st.roots_invalidated - st0.roots_invalidated));
	diag("%s: churn: %lu fixed-slot accesses, %lu churned-slot accesses (%lu MMIO in a change)",
	     c->fn, sum.fixed, sum.churned, sum.mmio_ok);

	is_int(sum.fixed_bad, 0,
	       "%s: churn: every fixed-slot access succeeded with the pattern",
	       c->fn);
	ok(sum.churned_bad == 0 && sum.churned_ok > 0,
	   "%s: churn: churned slots: %lu good reads, MMIO only while changing (%lu bad)",
	   c->fn, sum.churned_ok, sum.churned_bad);
	ok(deletes + moves > 0 && fewest >= 2 * ops &&
	   st.roots_invalidated > st0.roots_invalidated,
	   "%s: churn: %lu deletes and moves invalidated roots (%llu), every vCPU ran alongside",
	   c->fn, deletes + moves,
	   (unsigned long long)(st.roots_invalidated - st0.roots_invalidated));
	check_roots_tables(c, "after the churn");
	is_int(check_all_data(c), 0,
	       "%s: churn: every page of every slot reads back its data", c->fn);
}

static void run_format(int sys_fd, u32 format, const struct vmmu_objects *base)
{
	static struct shared sh;
	struct vmmu_mmu_config cfg;
	struct vm_ctx c;
	int memfd, fds[NR_CHURN + 1];
	unsigned int i, k;
	char *mem0;

	memset(&c, 0, sizeof(c));
	memset(&sh, 0, sizeof(sh));
	c.fn = st_format_name(format);
	c.sh = &sh;
	c.vm_fd = st_vm_create(sys_fd, format, 0, &cfg);
	c.levels = cfg.levels;

	memfd = mmu_memfd("vmmu-roots", NPAGES0 * P);
	mem0 = mmu_map_fd(memfd, NPAGES0 * P, 0, NULL);
	st_fill(mem0, SEED0, GPA0 >> 12, 0, NPAGES0 * P);
	mmu_set_region_or_die(c.vm_fd, SLOT0, 0, GPA0, NPAGES0 * P, mem0);
	for (k = 1; k <= NR_CHURN; k++) {
		struct churn_slot *cs = &sh.slots[k];

		fds[k] = mmu_memfd("vmmu-churn", NPAGES_C * P);
		cs->hva = mmu_map_fd(fds[k], NPAGES_C * P, 0, NULL);
		st_fill(cs->hva, SEED_C(k), 0, 0, NPAGES_C * P);
		mmu_set_region_or_die(c.vm_fd, k, 0, GPA_C(k, 0), NPAGES_C * P,
				      cs->hva);
		atomic_store(&cs->gpa, GPA_C(k, 0));
		cs->present = 1;
	}
	for (i = 0; i < NR_VCPUS; i++) {
		c.workers[i].id = i;
		c.workers[i].sh = &sh;
		c.workers[i].vcpu_fd = mmu_create_vcpu_or_die(c.vm_fd, i);
	}

	part_storm(&c);
	part_churn(&c);

	for (i = 0; i < NR_VCPUS; i++)
		close(c.workers[i].vcpu_fd);
	close(c.vm_fd);
	munmap(mem0, NPAGES0 * P);
	close(memfd);
	for (k = 1; k <= NR_CHURN; k++) {
		munmap(sh.slots[k].hva, NPAGES_C * P);
		close(fds[k]);
	}
	ok_objects(base, "%s: objects back at baseline after closing", c.fn);
}

int main(void)
{
	struct vmmu_objects base;
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	run_format(sys_fd, VMMU_MMU_FORMAT_NPT, &base);
	run_format(sys_fd, VMMU_MMU_FORMAT_EPT, &base);
	close(sys_fd);
	return tap_finish();
}
