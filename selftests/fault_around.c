// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-around: a 4 KiB fault also maps the neighbours of its page (its
 * aligned window of fault_around pages, 8 by default, inside the memslot)
 * that the host maps already.  With a software vCPU and 4 KiB host pages:
 *  - one read maps the window's present pages, with the accessed bit clear,
 *    and nothing outside the window;
 *  - a page the host never populated stays unmapped and unpopulated (host
 *    RSS and pagemap: fault-around never allocates);
 *  - a page the host maps read-only is mapped read-only;
 *  - the prefetched leaves map the host's frames and read right; a host
 *    invalidation of one removes it;
 *  - the window is cut at the memslot's edges;
 *  - none in a slot that logs dirty pages, none with fault_around=0;
 *  - where the host has a transparent huge page that the slot lets vmmu
 *    map only at 4 KiB (gpa and hva not congruent), the window is mapped;
 *  - after fork() the parent's pages are copy-on-write: a write fault
 *    maps its neighbours read-only, and the guest's write to one of them
 *    lands in the parent's own copy, never in the page the child shares;
 *  - faults race with a thread that keeps releasing and rewriting the
 *    neighbours (MADV_DONTNEED: an invalidation, then a new frame): with
 *    that thread paused after each round, every leaf maps the frame the
 *    host maps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		32
#define GPA		0x100000ULL
#define SLOT		1
#define WINDOW		8
/* Pages the host never touches, and the one it maps read-only. */
#define UNTOUCHED	3
#define READ_ONLY	5

#define NR_TESTS	24

/* The race: rounds, and the pages the churning thread releases. */
#define RACE_ROUNDS	400
#define RACE_PAGES	NPAGES

static u64 word(unsigned int page)
{
	return 0x4e45494700000000ULL | page;
}

/* NPAGES pages: every page written but UNTOUCHED, READ_ONLY read-only. */
static u8 *mem_setup(void)
{
	u8 *mem = mmu_map_anon(NPAGES * P, NULL);
	unsigned int i;

	madvise(mem, NPAGES * P, MADV_NOHUGEPAGE);
	for (i = 0; i < NPAGES; i++)
		if (i != UNTOUCHED)
			*(u64 *)(mem + i * P) = word(i);
	if (mprotect(mem + READ_ONLY * P, P, PROT_READ))
		bail_out("mprotect: %s", strerror(errno));
	return mem;
}

/* The translation of page @i of the slot: 0 if no leaf maps it. */
static u32 tr_flags(int vcpu_fd, unsigned int i)
{
	struct vmmu_translation tr;

	if (mmu_translate(vcpu_fd, GPA + i * P, &tr))
		bail_out("VMMU_VCPU_TRANSLATE");
	return tr.flags & VMMU_TR_PRESENT ? tr.flags : 0;
}

/* Pages of [0, n) mapped now, as a bit mask. */
static u64 mapped_mask(int vcpu_fd, unsigned int n)
{
	u64 m = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (tr_flags(vcpu_fd, i))
			m |= BIT_ULL(i);
	return m;
}

static int read_page(int vcpu_fd, unsigned int i, u64 *w)
{
	*w = 0;
	return st_access(vcpu_fd, VMMU_ACCESS_READ, GPA + i * P, w, sizeof(*w));
}

static void test_window(int sys_fd)
{
	u64 want = 0xffULL & ~BIT_ULL(UNTOUCHED), w, host_pfn;
	struct vmmu_stats st0, st1;
	struct vmmu_translation tr;
	struct mmu_vm vm;
	int vcpu_fd, r;
	u8 *mem = mem_setup();

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, NPAGES * P, mem);

	st_stats_or_die(vm.vm_fd, &st0);
	r = read_page(vcpu_fd, 1, &w);
	st_stats_or_die(vm.vm_fd, &st1);
	is_int(r == VMMU_ACCESS_DONE && w == word(1), 1, "a read of page 1");
	if (!is_int(mapped_mask(vcpu_fd, NPAGES), want,
		    "one fault mapped the pages of its window of %d the host has, no more",
		    WINDOW))
		diag("mapped %#llx", (unsigned long long)mapped_mask(vcpu_fd, NPAGES));
	ok(st1.faults - st0.faults == 1 && st1.prefetched - st0.prefetched == 6,
	   "one fault, six leaves of fault-around (%llu, %llu)",
	   (unsigned long long)(st1.faults - st0.faults),
	   (unsigned long long)(st1.prefetched - st0.prefetched));
	ok(!mmu_pagemap_pfn(mem + UNTOUCHED * P),
	   "the page the host never touched is still not populated");
	ok((tr_flags(vcpu_fd, 1) & VMMU_TR_ACCESSED) &&
	   !(tr_flags(vcpu_fd, 2) & VMMU_TR_ACCESSED) &&
	   !(tr_flags(vcpu_fd, 7) & VMMU_TR_ACCESSED),
	   "the faulting page is accessed, its neighbours are not");
	ok((tr_flags(vcpu_fd, 2) & VMMU_TR_WRITABLE) &&
	   !(tr_flags(vcpu_fd, READ_ONLY) & VMMU_TR_WRITABLE),
	   "writable where the host maps writable, read-only where it does not");
	host_pfn = mmu_pagemap_pfn(mem + 6 * P);
	mmu_translate(vcpu_fd, GPA + 6 * P, &tr);
	ok(host_pfn && (tr.flags & VMMU_TR_PFN_VALID) && tr.pfn == host_pfn &&
	   read_page(vcpu_fd, 6, &w) == VMMU_ACCESS_DONE && w == word(6),
	   "a prefetched leaf maps the host's frame and reads right");
	st_stats_or_die(vm.vm_fd, &st0);
	ok(st0.faults == st1.faults,
	   "reading a prefetched page needed no fault");

	if (madvise(mem + 4 * P, P, MADV_DONTNEED))
		bail_out("MADV_DONTNEED: %s", strerror(errno));
	ok(!tr_flags(vcpu_fd, 4) && tr_flags(vcpu_fd, 7),
	   "the host dropped page 4: its leaf went, page 7's stayed");
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
}

/* The window cut at the slot's edges; logging; fault_around=0. */
static void test_limits(int sys_fd)
{
	struct vmmu_stats st0, st1;
	struct mmu_vm vm;
	int vcpu_fd;
	u64 w;
	u8 *mem = mem_setup();

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	/* Slot pages 0-1 are host pages 6-7: the window is [0, 2). */
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, 2 * P, mem + 6 * P);
	mmu_set_region_or_die(vm.vm_fd, SLOT + 1, 0, GPA + 2 * P, 4 * P,
			      mem + 16 * P);
	read_page(vcpu_fd, 0, &w);
	is_int(mapped_mask(vcpu_fd, 6), 0x3,
	       "the window stops at the slot's end: the next slot's pages stay unmapped");
	mmu_set_region_or_die(vm.vm_fd, SLOT + 1, 0, GPA + 2 * P, 0, NULL);

	mmu_set_region_or_die(vm.vm_fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA,
			      2 * P, mem + 6 * P);
	if (ioctl(vm.vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
	st_stats_or_die(vm.vm_fd, &st0);
	read_page(vcpu_fd, 0, &w);
	st_stats_or_die(vm.vm_fd, &st1);
	ok(mapped_mask(vcpu_fd, 2) == 0x1 && st1.prefetched == st0.prefetched,
	   "none in a slot that logs dirty pages");

	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, 0, NULL);
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, NPAGES * P, mem);
	if (st_param_write("fault_around", 0))
		bail_out("cannot set fault_around");
	st_stats_or_die(vm.vm_fd, &st0);
	read_page(vcpu_fd, 9, &w);
	st_stats_or_die(vm.vm_fd, &st1);
	ok(mapped_mask(vcpu_fd, NPAGES) == BIT_ULL(9) &&
	   st1.prefetched == st0.prefetched, "none with fault_around=0");
	st_param_write("fault_around", 16);
	read_page(vcpu_fd, 20, &w);
	is_int(mapped_mask(vcpu_fd, NPAGES), BIT_ULL(9) | 0xffff0000ULL,
	       "fault_around=16: the 16 pages of page 20's window");
	st_param_write("fault_around", WINDOW);
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
}

#define HUGE		(2UL << 20)

/* A host huge page that the slot lets vmmu map only at 4 KiB. */
static void test_host_huge(int sys_fd)
{
	u8 *res = mmu_map_anon(2 * HUGE, NULL);
	u8 *mem = (u8 *)(((unsigned long)res + HUGE - 1) & ~(HUGE - 1));
	struct vmmu_translation tr;
	struct mmu_vm vm;
	unsigned int i;
	int vcpu_fd;
	long kb;
	u64 w;

	if (madvise(mem, HUGE, MADV_HUGEPAGE))
		bail_out("MADV_HUGEPAGE: %s", strerror(errno));
	for (i = 0; i < HUGE / P; i++)
		*(u64 *)(mem + i * P) = word(i);
	kb = mmu_thp_collapse(mem, HUGE, 5);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	/* GPA is 1 MiB aligned, @mem 2 MiB: not congruent, 4 KiB leaves. */
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, HUGE, mem);
	is_int(read_page(vcpu_fd, 9, &w) == VMMU_ACCESS_DONE && w == word(9), 1,
	       "a read of a slot the host backs with a huge page (%ld kB of it)",
	       kb);
	mmu_translate(vcpu_fd, GPA + 9 * P, &tr);
	if (!is_int(mapped_mask(vcpu_fd, 24), 0xff00ULL,
		    "mapped at %u KiB: the 8 pages of its window", 4 << (9 * (tr.level - 1))))
		diag("mapped %#llx", (unsigned long long)mapped_mask(vcpu_fd, 24));
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(res, 2 * HUGE);
}

/*
 * After fork(), a write fault maps its copy-on-write neighbours read-only;
 * the guest's write to one of them breaks the sharing first.
 */
static void test_cow(int sys_fd)
{
	u64 w = 0x5752495445000001ULL, v = 0x5752495445000002ULL;
	struct mmu_vm vm;
	int vcpu_fd, status, go[2];
	pid_t child;
	u8 *mem = mem_setup();
	char c = 0;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, NPAGES * P, mem);
	if (pipe(go))
		bail_out("pipe: %s", strerror(errno));
	fflush(stdout);
	child = fork();
	if (child < 0)
		bail_out("fork: %s", strerror(errno));
	if (!child) {
		unsigned int i;

		/* Wait for the parent's guest writes, then check the copy. */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		for (i = 0; i < WINDOW; i++)
			if (i != UNTOUCHED && *(u64 *)(mem + i * P) != word(i))
				_exit(1);
		_exit(0);
	}
	close(go[0]);

	is_int(st_access(vcpu_fd, VMMU_ACCESS_WRITE, GPA + P, &w, sizeof(w)),
	       VMMU_ACCESS_DONE, "after fork(): a write to page 1");
	ok(tr_flags(vcpu_fd, 2) && !(tr_flags(vcpu_fd, 2) & VMMU_TR_WRITABLE) &&
	   (tr_flags(vcpu_fd, 1) & VMMU_TR_WRITABLE),
	   "its copy-on-write neighbours are mapped read-only");
	is_int(st_access(vcpu_fd, VMMU_ACCESS_WRITE, GPA + 2 * P, &v, sizeof(v)),
	       VMMU_ACCESS_DONE, "a write to page 2, a prefetched neighbour");
	ok(*(u64 *)(mem + P) == w && *(u64 *)(mem + 2 * P) == v,
	   "the parent's pages have the guest's writes");
	if (write(go[1], &c, 1) != 1)
		bail_out("write: %s", strerror(errno));
	close(go[1]);
	if (waitpid(child, &status, 0) != child)
		bail_out("waitpid: %s", strerror(errno));
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "the child's copies kept their data (status %#x)", status);
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
}

struct churn {
	pthread_t thread;
	u8 *mem;
	atomic_int pause, paused, stop;
	unsigned long ops;
};

/* Release and rewrite the odd pages, over and over; pause when asked. */
static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	unsigned int i = 1;

	while (!atomic_load(&ch->stop)) {
		if (atomic_load(&ch->pause)) {
			atomic_store(&ch->paused, 1);
			while (atomic_load(&ch->pause) && !atomic_load(&ch->stop))
				usleep(50);
			atomic_store(&ch->paused, 0);
			continue;
		}
		madvise(ch->mem + i * P, P, MADV_DONTNEED);
		*(u64 *)(ch->mem + i * P) = word(i);
		ch->ops++;
		i = (i + 2) % RACE_PAGES;
	}
	return NULL;
}

/* Pages whose leaf maps another frame than the host's; printed. */
static unsigned int stale_leaves(int vcpu_fd, const u8 *mem,
				 unsigned int round)
{
	struct vmmu_translation tr;
	unsigned int i, stale = 0;
	u64 pfn;

	for (i = 0; i < RACE_PAGES; i++) {
		if (mmu_translate(vcpu_fd, GPA + i * P, &tr))
			bail_out("VMMU_VCPU_TRANSLATE");
		if (!(tr.flags & VMMU_TR_PRESENT) ||
		    !(tr.flags & VMMU_TR_PFN_VALID))
			continue;
		pfn = mmu_pagemap_pfn(mem + i * P);
		if (tr.pfn == pfn)
			continue;
		if (stale++ < 3)
			diag("round %u: page %u: leaf pfn %#llx, host pfn %#llx (%s)",
			     round, i, (unsigned long long)tr.pfn,
			     (unsigned long long)pfn, mmu_tr_flags_str(tr.flags));
	}
	return stale;
}

/*
 * Faults (one per window: its neighbours come by fault-around) while
 * another thread releases the neighbours; the thread is paused before
 * each check, so every leaf must map the host's frame.
 */
static void test_race(int sys_fd)
{
	struct churn ch = { 0 };
	struct vmmu_stats st0, st1;
	unsigned int r, i, stale = 0, bad_reads = 0;
	struct mmu_vm vm;
	int vcpu_fd;
	u64 w;

	ch.mem = mmu_map_anon(RACE_PAGES * P, NULL);
	madvise(ch.mem, RACE_PAGES * P, MADV_NOHUGEPAGE);
	for (i = 0; i < RACE_PAGES; i++)
		*(u64 *)(ch.mem + i * P) = word(i);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GPA, RACE_PAGES * P, ch.mem);
	st_stats_or_die(vm.vm_fd, &st0);
	if (pthread_create(&ch.thread, NULL, churn_main, &ch))
		bail_out("pthread_create failed");
	for (r = 0; r < RACE_ROUNDS; r++) {
		if (ioctl(vm.vm_fd, VMMU_ZAP_ALL, 0))
			bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
		for (i = 0; i < RACE_PAGES; i += 2 * WINDOW)
			if (read_page(vcpu_fd, i, &w) != VMMU_ACCESS_DONE ||
			    w != word(i))
				bad_reads++;
		atomic_store(&ch.pause, 1);
		while (!atomic_load(&ch.paused))
			usleep(50);
		stale += stale_leaves(vcpu_fd, ch.mem, r);
		for (i = 0; i < RACE_PAGES; i++)
			if (read_page(vcpu_fd, i, &w) != VMMU_ACCESS_DONE ||
			    w != word(i))
				bad_reads++;
		/* Fault in the even windows' pages here, the odd ones above. */
		if (ioctl(vm.vm_fd, VMMU_ZAP_ALL, 0))
			bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
		atomic_store(&ch.pause, 0);
		for (i = WINDOW; i < RACE_PAGES; i += 2 * WINDOW)
			if (read_page(vcpu_fd, i, &w) != VMMU_ACCESS_DONE ||
			    w != word(i))
				bad_reads++;
	}
	atomic_store(&ch.stop, 1);
	pthread_join(ch.thread, NULL);
	stale += stale_leaves(vcpu_fd, ch.mem, r);
	st_stats_or_die(vm.vm_fd, &st1);
	diag("%u rounds, %lu releases by the other thread, %llu prefetched, %llu retries",
	     r, ch.ops, (unsigned long long)(st1.prefetched - st0.prefetched),
	     (unsigned long long)(st1.fault_retries - st0.fault_retries));
	ok(st1.prefetched > st0.prefetched && ch.ops > 0,
	   "fault-around mapped neighbours while they were being released");
	is_int(stale, 0, "every leaf maps the host's frame after each round");
	is_int(bad_reads, 0, "every read saw its page's data");
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(ch.mem, RACE_PAGES * P);
}

int main(void)
{
	struct vmmu_objects base;
	unsigned long fa;
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	if (st_param_read("fault_around", &fa) || fa != WINDOW) {
		skip(NR_TESTS - 1, "fault_around is not %d here", WINDOW);
	} else {
		test_window(sys_fd);
		test_limits(sys_fd);
		test_host_huge(sys_fd);
		test_cow(sys_fd);
		test_race(sys_fd);
	}
	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
