// SPDX-License-Identifier: GPL-2.0
/*
 * Missing-flush detection.
 *
 * The software vCPU caches translations in a modelled TLB that only the
 * MMU's flush requests clear, and it holds no page reference, exactly like
 * hardware.  So if the MMU zaps an entry but does not flush, the vCPU keeps
 * using the old host page.  Every scenario here fills the TLB (64 entries,
 * indexed by the low bits of the gfn: 64 consecutive pages fit), lets the
 * host replace or protect the pages, and then checks that the guest uses
 * the new state, never the old page:
 *
 *  anon:     guest reads A; MADV_DONTNEED; the VMM writes B; guest reads B.
 *  memfd-r:  guest reads A from memfd 1; munmap and mmap memfd 2 (holding B)
 *            at the same address with MAP_FIXED; guest reads B.
 *  memfd-w:  guest writes A to memfd 1; remap memfd 2 as above; guest
 *            writes C; memfd 2 has C, memfd 1 still A.
 *  mprotect: guest writes A; mprotect(PROT_READ); a guest write must fail
 *            with EFAULT and leave A in place.
 *
 * Stale reads only ever touch pages the VMM freed or still owns, and stale
 * writes only pages it still owns, so a module that skips flushes fails
 * these tests without corrupting the host.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"

#define P		PAGE_SIZE
#define NPAGES		256
#define BATCH		64	/* the modelled TLB's size */
#define NBATCHES	(NPAGES / BATCH)
#define ROUNDS		16
#define SIZE		(NPAGES * P)
#define ANON_SLOT	0
#define ANON_GPA	0x40000000ULL
#define MFD_SLOT	1
#define MFD_GPA		0x80000000ULL

#define TESTS_PER_CFG	5
#define NR_TESTS	(TESTS_PER_CFG * MMU_NR_CFGS)

static struct vmmu_objects baseline;

struct ctx {
	struct mmu_vm vm;
	int vcpu_fd;
	unsigned int cfg;
	u8 *anon;		/* ANON_SLOT's memory */
	u8 *mfd_hva;	/* MFD_SLOT's address */
	int mfd[2];		/* the memfds mapped there, batch by batch */
	unsigned int cur[NBATCHES];	/* index in @mfd mapped per batch */
};

/* Outcome of one scenario. */
struct tally {
	unsigned long checks;	/* pages checked after the host's change */
	unsigned long stale;	/* the guest used the old page */
	unsigned long wrong;	/* anything else unexpected */
};

/* Offset of the word a round uses in each page: moves with the round. */
static size_t word_off(unsigned int round, unsigned int page)
{
	return ((round * 37 + page * 5) % (P / 8)) * 8;
}

static u64 value(const struct ctx *t, unsigned int round, char which,
		 u64 gpa)
{
	return mmu_pattern(((u64)t->cfg << 32) | (round << 8) | which,
			   gpa);
}

static u64 *word(u8 *base, unsigned int page, size_t off)
{
	return (u64 *)(base + page * P + off);
}

static int guest_read64(struct ctx *t, u64 gpa, u64 *v)
{
	*v = 0;
	return mmu_read(t->vcpu_fd, gpa, v, 8);
}

static int guest_write64(struct ctx *t, u64 gpa, u64 v)
{
	return mmu_write(t->vcpu_fd, gpa, &v, 8);
}

static void note_wrong(struct tally *y, const char *what, unsigned int page,
		       int r, u64 got, u64 want)
{
	if (!y->wrong++)
		diag("  first unexpected result: %s, page %u: %s, got %#llx, expected %#llx",
		     what, page, mmu_result_name(r), (unsigned long long)got,
		     (unsigned long long)want);
}

static void note_stale(struct tally *y, const char *what, unsigned int page)
{
	if (!y->stale++)
		diag("  first stale access: %s, page %u", what, page);
}

/* guest reads A; MADV_DONTNEED; VMM writes B; guest must read B. */
static void scenario_anon(struct ctx *t, struct tally *y)
{
	unsigned int round, b, i;

	for (round = 0; round < ROUNDS; round++) {
		for (b = 0; b < NBATCHES; b++) {
			unsigned int first = b * BATCH;

			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = ANON_GPA + i * P + off;
				u64 a = value(t, round, 'A', gpa), got;
				int r;

				*word(t->anon, i, off) = a;
				r = guest_read64(t, gpa, &got);
				if (r || got != a)
					note_wrong(y, "read before", i, r, got,
						   a);
			}
			if (madvise(t->anon + first * P, BATCH * P,
				    MADV_DONTNEED))
				bail_out("madvise: %s", strerror(errno));
			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = ANON_GPA + i * P + off;

				*word(t->anon, i, off) = value(t, round, 'B',
							       gpa);
			}
			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = ANON_GPA + i * P + off;
				u64 a = value(t, round, 'A', gpa);
				u64 bv = value(t, round, 'B', gpa), got;
				int r = guest_read64(t, gpa, &got);

				y->checks++;
				if (!r && got == bv)
					continue;
				if (!r && got == a)
					note_stale(y, "read after DONTNEED", i);
				else
					note_wrong(y, "read after DONTNEED", i,
						   r, got, bv);
			}
		}
	}
}

/* Map the other memfd at batch @b of the memfd slot; returns the old one. */
static unsigned int swap_batch(struct ctx *t, unsigned int b)
{
	unsigned int old = t->cur[b];
	u8 *addr = t->mfd_hva + b * BATCH * P;

	if (munmap(addr, BATCH * P))
		bail_out("munmap: %s", strerror(errno));
	t->cur[b] = !old;
	mmu_map_fd(t->mfd[t->cur[b]], BATCH * P, b * BATCH * P, addr);
	return old;
}

static u64 mfd_word(struct ctx *t, unsigned int which, unsigned int page,
		    size_t off)
{
	u64 v = 0;

	if (pread(t->mfd[which], &v, 8, page * P + off) != 8)
		bail_out("pread: %s", strerror(errno));
	return v;
}

static void mfd_set_word(struct ctx *t, unsigned int which,
			 unsigned int page, size_t off, u64 v)
{
	if (pwrite(t->mfd[which], &v, 8, page * P + off) != 8)
		bail_out("pwrite: %s", strerror(errno));
}

/* guest reads A from one memfd; the other (holding B) replaces it. */
static void scenario_memfd_read(struct ctx *t, struct tally *y)
{
	unsigned int round, b, i;

	for (round = 0; round < ROUNDS; round++) {
		for (b = 0; b < NBATCHES; b++) {
			unsigned int first = b * BATCH, other = !t->cur[b];

			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = MFD_GPA + i * P + off;
				u64 a = value(t, round, 'a', gpa), got;
				int r;

				*word(t->mfd_hva, i, off) = a;
				mfd_set_word(t, other, i, off,
					     value(t, round, 'b', gpa));
				r = guest_read64(t, gpa, &got);
				if (r || got != a)
					note_wrong(y, "read before", i, r, got,
						   a);
			}
			swap_batch(t, b);
			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = MFD_GPA + i * P + off;
				u64 a = value(t, round, 'a', gpa);
				u64 bv = value(t, round, 'b', gpa), got;
				int r = guest_read64(t, gpa, &got);

				y->checks++;
				if (!r && got == bv)
					continue;
				if (!r && got == a)
					note_stale(y, "read after remap", i);
				else
					note_wrong(y, "read after remap", i, r,
						   got, bv);
			}
		}
	}
}

/* guest writes A to one memfd; after the remap its writes go to the other. */
static void scenario_memfd_write(struct ctx *t, struct tally *y)
{
	unsigned int round, b, i;

	for (round = 0; round < ROUNDS; round++) {
		for (b = 0; b < NBATCHES; b++) {
			unsigned int first = b * BATCH, old;

			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = MFD_GPA + i * P + off;
				u64 a = value(t, round, 'w', gpa);
				int r = guest_write64(t, gpa, a);

				if (r || *word(t->mfd_hva, i, off) != a)
					note_wrong(y, "write before", i, r,
						   *word(t->mfd_hva, i, off),
						   a);
			}
			old = swap_batch(t, b);
			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = MFD_GPA + i * P + off;
				u64 a = value(t, round, 'w', gpa);
				u64 c = value(t, round, 'c', gpa);
				int r = guest_write64(t, gpa, c);
				u64 now = *word(t->mfd_hva, i, off);

				y->checks++;
				if (!r && now == c && mfd_word(t, old, i, off) == a)
					continue;
				if (!r && mfd_word(t, old, i, off) == c)
					note_stale(y, "write after remap", i);
				else
					note_wrong(y, "write after remap", i,
						   r, now, c);
			}
		}
	}
}

/* guest writes A; mprotect(PROT_READ); a guest write must fail. */
static void scenario_mprotect(struct ctx *t, struct tally *y)
{
	unsigned int round, b, i;

	for (round = 0; round < ROUNDS; round++) {
		for (b = 0; b < NBATCHES; b++) {
			unsigned int first = b * BATCH;
			u8 *batch = t->anon + first * P;

			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = ANON_GPA + i * P + off;
				u64 a = value(t, round, 'p', gpa);
				int r = guest_write64(t, gpa, a);

				if (r || *word(t->anon, i, off) != a)
					note_wrong(y, "write before", i, r,
						   *word(t->anon, i, off), a);
			}
			if (mprotect(batch, BATCH * P, PROT_READ))
				bail_out("mprotect: %s", strerror(errno));
			for (i = first; i < first + BATCH; i++) {
				size_t off = word_off(round, i);
				u64 gpa = ANON_GPA + i * P + off;
				u64 a = value(t, round, 'p', gpa);
				int r = guest_write64(t, gpa, ~a);
				u64 now = *word(t->anon, i, off);

				y->checks++;
				if (r == -EFAULT && now == a)
					continue;
				if (r == VMMU_ACCESS_DONE && now == ~a)
					note_stale(y, "write after mprotect", i);
				else
					note_wrong(y, "write after mprotect", i,
						   r, now, a);
			}
			if (mprotect(batch, BATCH * P, PROT_READ | PROT_WRITE))
				bail_out("mprotect: %s", strerror(errno));
		}
	}
}

static void report(struct ctx *t, const char *name, const char *what,
		   const struct tally *y)
{
	diag("%s: %s: %lu page checks, %lu stale, %lu wrong", t->vm.name,
	     name, y->checks, y->stale, y->wrong);
	ok(y->checks == (unsigned long)ROUNDS * NPAGES && !y->stale &&
	   !y->wrong, "%s: %s: %s (%lu checks)", t->vm.name, name, what,
	   y->checks);
}

static void run_cfg(int sys_fd, unsigned int c)
{
	struct ctx t = { .cfg = c };
	struct tally y;
	unsigned int b;

	mmu_vm_create(sys_fd, &mmu_cfgs[c], &t.vm);
	t.vcpu_fd = mmu_create_vcpu_or_die(t.vm.vm_fd, 0);
	t.anon = mmu_map_anon(SIZE, NULL);
	memset(t.anon, 0, SIZE);
	t.mfd[0] = mmu_memfd("vmmu-flush-1", SIZE);
	t.mfd[1] = mmu_memfd("vmmu-flush-2", SIZE);
	t.mfd_hva = mmu_map_fd(t.mfd[0], SIZE, 0, NULL);
	for (b = 0; b < NBATCHES; b++)
		t.cur[b] = 0;
	mmu_set_region_or_die(t.vm.vm_fd, ANON_SLOT, 0, ANON_GPA, SIZE, t.anon);
	mmu_set_region_or_die(t.vm.vm_fd, MFD_SLOT, 0, MFD_GPA, SIZE,
			      t.mfd_hva);

	memset(&y, 0, sizeof(y));
	scenario_anon(&t, &y);
	report(&t, "anon",
	       "after MADV_DONTNEED the guest reads the VMM's new data, not the old page",
	       &y);
	memset(&y, 0, sizeof(y));
	scenario_memfd_read(&t, &y);
	report(&t, "memfd-r",
	       "after a MAP_FIXED remap of another memfd the guest reads the new one",
	       &y);
	memset(&y, 0, sizeof(y));
	scenario_memfd_write(&t, &y);
	report(&t, "memfd-w",
	       "after a MAP_FIXED remap of another memfd guest writes reach it only",
	       &y);
	memset(&y, 0, sizeof(y));
	scenario_mprotect(&t, &y);
	report(&t, "mprotect",
	       "after mprotect(PROT_READ) guest writes fail and change nothing",
	       &y);

	close(t.vcpu_fd);
	mmu_vm_close(&t.vm);
	munmap(t.anon, SIZE);
	munmap(t.mfd_hva, SIZE);
	close(t.mfd[0]);
	close(t.mfd[1]);
	ok_objects(&baseline, "%s: objects back at baseline", t.vm.name);
}

int main(void)
{
	unsigned int c;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&baseline);
	for (c = 0; c < MMU_NR_CFGS; c++)
		run_cfg(sys_fd, c);
	close(sys_fd);
	return tap_finish();
}
