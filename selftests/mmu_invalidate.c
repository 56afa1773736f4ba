// SPDX-License-Identifier: GPL-2.0
/*
 * Invalidation: whatever the host does to the memory behind a slot, or to
 * the slot itself, the guest sees it at its next access, in every MMU
 * configuration.
 *
 * Each host operation (munmap, MADV_DONTNEED, mprotect, mremap, fork with
 * copy-on-write, memslot delete and move, VMMU_ZAP_ALL) comes after the
 * guest mapped the memory, and is followed by VMMU_VCPU_TRANSLATE and by
 * data checks through the vCPU and through the VMM's mapping.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmu_util.h"

#define P		PAGE_SIZE
#define NPAGES		64
#define SIZE		(NPAGES * P)
#define SLOT		0
#define GPA		0x80000000ULL
#define MOVED_GPA	0x100000000ULL

#define TESTS_PER_CFG	50
#define NR_TESTS	(TESTS_PER_CFG * MMU_NR_CFGS)

static struct vmmu_objects baseline;

struct ctx {
	struct mmu_vm vm;
	int vcpu_fd;
	u8 *mem;		/* the slot's hva */
	u8 *buf;		/* SIZE bytes for the guest's accesses */
	unsigned int cfg;
};

static u64 seed_of(const struct ctx *t, unsigned int what)
{
	return 0x10000 * (t->cfg + 1) + what;
}

/*
 * The slot's contents are patterns of the slot's original gpa, GPA, wherever
 * the slot is: a moved slot keeps its data.
 */

/* The guest writes pattern @seed over the slot at @gpa; true if all done. */
static bool guest_fill(struct ctx *t, u64 gpa, u64 seed)
{
	mmu_pattern_fill(t->buf, GPA, SIZE, seed);
	return !mmu_guest_write_range(t->vcpu_fd, gpa, t->buf, SIZE, SIZE);
}

/* The guest reads the slot at @gpa and finds pattern @seed. */
static bool guest_sees(struct ctx *t, u64 gpa, u64 seed)
{
	memset(t->buf, 0, SIZE);
	return !mmu_guest_read_range(t->vcpu_fd, gpa, t->buf, SIZE, SIZE) &&
	       mmu_pattern_check(t->buf, GPA, SIZE, seed, "guest read");
}

/*
 * Pages of the slot at @gpa whose translation has any of @flags, or -errno;
 * the first such translation goes to @first.
 */
static int pages_with(struct ctx *t, u64 gpa, u32 flags,
		      struct vmmu_translation *first)
{
	struct vmmu_translation tr;
	unsigned int i;
	int n = 0, r;

	for (i = 0; i < NPAGES; i++) {
		r = mmu_translate(t->vcpu_fd, gpa + i * P, &tr);
		if (r)
			return r;
		if (tr.flags & flags && !n++)
			*first = tr;
	}
	return n;
}

static int count_pages_with(struct ctx *t, u64 gpa, u32 flags)
{
	struct vmmu_translation first;

	return pages_with(t, gpa, flags, &first);
}

/* One test: @want pages of the slot at @gpa have any of @flags. */
static void ok_pages_with(struct ctx *t, u64 gpa, u32 flags,
			  int want, const char *what)
{
	struct vmmu_translation first;
	int n = pages_with(t, gpa, flags, &first);

	if (!is_int(n, want, "%s: %s", t->vm.name, what) && n > 0)
		mmu_translation_diag("first page with them", &first);
}

static void ok_none_present(struct ctx *t, u64 gpa, const char *after)
{
	char what[96];

	snprintf(what, sizeof(what),
		 "after %s no page of the slot is present", after);
	ok_pages_with(t, gpa, VMMU_TR_PRESENT, 0, what);
}

static void test_munmap(struct ctx *t)
{
	u64 s = seed_of(t, 1);

	ok(guest_fill(t, GPA, s) &&
	   count_pages_with(t, GPA, VMMU_TR_PRESENT) == NPAGES,
	   "%s: munmap: the guest wrote every page, all present", t->vm.name);
	munmap(t->mem, SIZE);
	ok_none_present(t, GPA, "munmap");
	is_errno(mmu_read(t->vcpu_fd, GPA + 5 * P, t->buf, 8), EFAULT,
		 "%s: after munmap a guest read gives EFAULT", t->vm.name);
	is_errno(mmu_write(t->vcpu_fd, GPA + 6 * P, t->buf, 8), EFAULT,
		 "%s: after munmap a guest write gives EFAULT", t->vm.name);
	mmu_map_anon(SIZE, t->mem);
	memset(t->buf, 0xff, SIZE);
	ok(!mmu_guest_read_range(t->vcpu_fd, GPA, t->buf, SIZE, SIZE) &&
	   mmu_is_zero(t->buf, SIZE),
	   "%s: new memory mapped there: the guest reads zeros, not old data",
	   t->vm.name);
}

static void test_dontneed(struct ctx *t)
{
	u64 s = seed_of(t, 2);

	ok(guest_fill(t, GPA, s) &&
	   mmu_pattern_check(t->mem, GPA, SIZE, s, "VMM mapping"),
	   "%s: MADV_DONTNEED: the VMM sees what the guest wrote", t->vm.name);
	if (madvise(t->mem, SIZE, MADV_DONTNEED))
		bail_out("madvise: %s", strerror(errno));
	ok_none_present(t, GPA, "MADV_DONTNEED");
	memset(t->buf, 0xff, SIZE);
	ok(!mmu_guest_read_range(t->vcpu_fd, GPA, t->buf, SIZE, SIZE) &&
	   mmu_is_zero(t->buf, SIZE),
	   "%s: after MADV_DONTNEED the guest reads zeros", t->vm.name);

	/* Part of the range: those pages only lose their data. */
	s = seed_of(t, 3);
	guest_fill(t, GPA, s);
	if (madvise(t->mem + 8 * P, 8 * P, MADV_DONTNEED))
		bail_out("madvise: %s", strerror(errno));
	memset(t->buf, 0xff, SIZE);
	ok(!mmu_guest_read_range(t->vcpu_fd, GPA, t->buf, SIZE, SIZE) &&
	   mmu_pattern_check(t->buf, GPA, 8 * P, s, "pages 0-7") &&
	   mmu_is_zero(t->buf + 8 * P, 8 * P) &&
	   mmu_pattern_check(t->buf + 16 * P, GPA + 16 * P, SIZE - 16 * P, s,
			     "pages 16-63"),
	   "%s: MADV_DONTNEED of pages 8-15: zeros there, data elsewhere",
	   t->vm.name);
}

static void test_mprotect(struct ctx *t)
{
	u64 s = seed_of(t, 4), w = 0x5a5a5a5a5a5a5a5aULL;
	struct vmmu_translation tr;

	ok(guest_fill(t, GPA, s) &&
	   count_pages_with(t, GPA, VMMU_TR_WRITABLE) == NPAGES,
	   "%s: mprotect: the guest wrote every page, all writable",
	   t->vm.name);
	if (mprotect(t->mem, SIZE, PROT_READ))
		bail_out("mprotect: %s", strerror(errno));
	ok_pages_with(t, GPA, VMMU_TR_WRITABLE, 0,
		      "after mprotect(PROT_READ) no page is writable");
	is_errno(mmu_write(t->vcpu_fd, GPA + 3 * P, &w, 8), EFAULT,
		 "%s: a guest write to PROT_READ memory gives EFAULT",
		 t->vm.name);
	ok(guest_sees(t, GPA, s), "%s: guest reads of PROT_READ memory work",
	   t->vm.name);
	ok_translation(t->vcpu_fd, GPA + 3 * P, VMMU_TR_PRESENT,
		       VMMU_TR_WRITABLE, &tr,
		       "%s: after the read the entry is present, read-only",
		       t->vm.name);
	ok(mmu_pattern_check(t->mem, GPA, SIZE, s, "VMM mapping"),
	   "%s: the failed write changed nothing", t->vm.name);

	if (mprotect(t->mem, SIZE, PROT_READ | PROT_WRITE))
		bail_out("mprotect: %s", strerror(errno));
	s = seed_of(t, 5);
	ok(guest_fill(t, GPA, s) &&
	   mmu_pattern_check(t->mem, GPA, SIZE, s, "VMM mapping"),
	   "%s: writable again: guest writes reach the VMM", t->vm.name);
}

static void test_mremap(struct ctx *t)
{
	u64 s = seed_of(t, 6);
	u8 *away;
	void *p;

	ok(guest_fill(t, GPA, s), "%s: mremap: the guest wrote every page",
	   t->vm.name);
	/* Reserve a place to move to. */
	away = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (away == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	p = mremap(t->mem, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, away);
	if (p != away)
		bail_out("mremap away: %s", strerror(errno));
	ok_none_present(t, GPA, "mremap away");
	is_errno(mmu_read(t->vcpu_fd, GPA, t->buf, 8), EFAULT,
		 "%s: after mremap away the slot's hva gives EFAULT",
		 t->vm.name);
	ok(mmu_pattern_check(away, GPA, SIZE, s, "moved mapping"),
	   "%s: the moved mapping has the guest's data", t->vm.name);

	s = seed_of(t, 7);
	mmu_pattern_fill(away, GPA, SIZE, s);
	p = mremap(away, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, t->mem);
	if (p != t->mem)
		bail_out("mremap back: %s", strerror(errno));
	ok(guest_sees(t, GPA, s),
	   "%s: moved back, the guest reads what the VMM wrote meanwhile",
	   t->vm.name);
}

/* What the child tells the parent. */
struct cow_report {
	long odd_not_d0;	/* odd pages that are not the pre-fork data */
	long even_not_d2;	/* even pages that are not the child's data */
};

/* The child did not report: count everything as wrong. */
static void cow_report_lost(struct cow_report *rep)
{
	rep->odd_not_d0 = -1;
	rep->even_not_d2 = -1;
}

static void cow_child(struct ctx *t, int rd, int wr, u64 d0, u64 d2)
{
	struct cow_report rep = { 0, 0 };
	unsigned int i;
	char c;

	/* Step 1: the parent's guest has written the odd pages. */
	if (read(rd, &c, 1) != 1)
		_exit(2);
	for (i = 1; i < NPAGES; i += 2)
		if (mmu_pattern_mismatch(t->mem + i * P, GPA + i * P, P, d0) >= 0)
			rep.odd_not_d0++;
	for (i = 0; i < NPAGES; i += 2)
		mmu_pattern_fill(t->mem + i * P, GPA + i * P, P, d2);
	if (write(wr, &rep, sizeof(rep)) != sizeof(rep))
		_exit(3);

	/* Step 2: the parent's guest has written the even pages too. */
	if (read(rd, &c, 1) != 1)
		_exit(2);
	rep.odd_not_d0 = 0;
	for (i = 0; i < NPAGES; i++) {
		if (i & 1) {
			if (mmu_pattern_mismatch(t->mem + i * P, GPA + i * P,
						 P, d0) >= 0)
				rep.odd_not_d0++;
		} else if (mmu_pattern_mismatch(t->mem + i * P, GPA + i * P,
						P, d2) >= 0) {
			rep.even_not_d2++;
		}
	}
	if (write(wr, &rep, sizeof(rep)) != sizeof(rep))
		_exit(3);
	_exit(0);
}

static bool guest_pages(struct ctx *t, unsigned int first, bool write,
			u64 seed, const char *what)
{
	unsigned int i;
	bool good = true;

	for (i = first; i < NPAGES; i += 2) {
		u64 gpa = GPA + i * P;
		u8 *b = t->buf + i * P;
		int r;

		if (write) {
			mmu_pattern_fill(b, gpa, P, seed);
			r = mmu_write(t->vcpu_fd, gpa, b, P);
		} else {
			memset(b, 0, P);
			r = mmu_read(t->vcpu_fd, gpa, b, P);
		}
		if (r != VMMU_ACCESS_DONE) {
			diag("  %s page %u: %s", what, i, mmu_result_name(r));
			return false;
		}
		if (!write && good)
			good = mmu_pattern_check(b, gpa, P, seed, what);
	}
	return good;
}

static void test_fork_cow(struct ctx *t)
{
	u64 d0 = seed_of(t, 8), d1 = seed_of(t, 9), d2 = seed_of(t, 10);
	struct cow_report rep = { -1, -1 };
	int to_child[2], to_parent[2], status = -1;
	unsigned int i;
	bool good;
	pid_t pid;

	ok(guest_fill(t, GPA, d0), "%s: fork: the guest wrote every page",
	   t->vm.name);
	if (pipe(to_child) || pipe(to_parent))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid)
		cow_child(t, to_child[0], to_parent[1], d0, d2);

	/* Before the child looks: the parent's guest writes odd pages. */
	good = guest_pages(t, 1, true, d1, "parent's guest write");
	if (write(to_child[1], "1", 1) != 1 ||
	    read(to_parent[0], &rep, sizeof(rep)) != sizeof(rep))
		cow_report_lost(&rep);
	ok(good && rep.odd_not_d0 == 0,
	   "%s: the child's copy does not see the parent's guest writes",
	   t->vm.name);
	if (rep.odd_not_d0)
		diag("  %ld of %d odd pages in the child changed",
		     rep.odd_not_d0, NPAGES / 2);

	/* The child has written even pages in its copy. */
	ok(guest_pages(t, 0, false, d0, "parent's guest read"),
	   "%s: the parent's guest reads its own data, not the child's",
	   t->vm.name);
	ok(guest_pages(t, 1, false, d1, "parent's guest read"),
	   "%s: the parent's guest reads back what it wrote", t->vm.name);
	good = guest_pages(t, 0, true, d1, "parent's guest write");
	if (write(to_child[1], "2", 1) != 1 ||
	    read(to_parent[0], &rep, sizeof(rep)) != sizeof(rep))
		cow_report_lost(&rep);
	ok(good && rep.even_not_d2 == 0 && rep.odd_not_d0 == 0,
	   "%s: the child's writes stay in the child's memory only",
	   t->vm.name);
	if (rep.even_not_d2 || rep.odd_not_d0)
		diag("  child: %ld even pages lost its data, %ld odd pages changed",
		     rep.even_not_d2, rep.odd_not_d0);
	waitpid(pid, &status, 0);
	is_int(status, 0, "%s: the child exited cleanly", t->vm.name);

	for (i = 0; i < NPAGES; i++)
		if (mmu_pattern_mismatch(t->mem + i * P, GPA + i * P, P, d1) >= 0)
			break;
	is_int(i, NPAGES,
	       "%s: the parent's memory has its guest's writes on every page",
	       t->vm.name);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

static void test_memslot_delete_move(struct ctx *t)
{
	u64 s = seed_of(t, 11);
	struct vmmu_translation tr;
	struct vmmu_access acc;
	int r;

	ok(guest_fill(t, GPA, s), "%s: memslot: the guest wrote every page",
	   t->vm.name);
	is_errno(vmmu_delete_region(t->vm.vm_fd, SLOT), 0,
		 "%s: delete the slot while mapped", t->vm.name);
	r = mmu_translate(t->vcpu_fd, GPA, &tr);
	ok(!r && ((tr.flags & VMMU_TR_ROOT_INVALID) ||
		  !(tr.flags & VMMU_TR_PRESENT)),
	   "%s: after the delete the translation is gone or its root invalid",
	   t->vm.name);
	if (r || !((tr.flags & VMMU_TR_ROOT_INVALID) ||
		   !(tr.flags & VMMU_TR_PRESENT)))
		mmu_translation_diag("got", &tr);
	r = mmu_access(t->vcpu_fd, VMMU_ACCESS_READ, GPA + P, t->buf, 8, &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == GPA + P,
	   "%s: a guest read of the deleted slot: MMIO", t->vm.name);
	r = mmu_access(t->vcpu_fd, VMMU_ACCESS_WRITE, GPA, t->buf, 8, &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == GPA,
	   "%s: a guest write to the deleted slot: MMIO", t->vm.name);
	ok_translation(t->vcpu_fd, GPA, 0,
		       VMMU_TR_PRESENT | VMMU_TR_ROOT_INVALID, NULL,
		       "%s: after the access: a valid root, nothing mapped",
		       t->vm.name);
	mmu_set_region_or_die(t->vm.vm_fd, SLOT, 0, GPA, SIZE, t->mem);
	ok(guest_sees(t, GPA, s),
	   "%s: created again, the slot has the same data", t->vm.name);

	/* Move the slot while the guest has it mapped. */
	is_errno(vmmu_set_region(t->vm.vm_fd, SLOT, 0, MOVED_GPA, SIZE,
				 (unsigned long)t->mem), 0,
		 "%s: move the slot while mapped", t->vm.name);
	ok(guest_sees(t, MOVED_GPA, s),
	   "%s: after the move the data is at the new gpa", t->vm.name);
	r = mmu_access(t->vcpu_fd, VMMU_ACCESS_READ, GPA + 2 * P, t->buf, 8,
		       &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == GPA + 2 * P,
	   "%s: after the move the old gpa is MMIO", t->vm.name);
	ok_pages_with(t, GPA, VMMU_TR_PRESENT, 0,
		      "after the move nothing is mapped at the old gpa");
	s = seed_of(t, 12);
	ok(guest_fill(t, MOVED_GPA, s) &&
	   mmu_pattern_check(t->mem, GPA, SIZE, s, "VMM mapping"),
	   "%s: guest writes at the new gpa reach the VMM", t->vm.name);
	is_errno(vmmu_set_region(t->vm.vm_fd, SLOT, 0, GPA, SIZE,
				 (unsigned long)t->mem), 0,
		 "%s: move the slot back", t->vm.name);
	ok(guest_sees(t, GPA, s), "%s: moved back, the data is there again",
	   t->vm.name);
}

static void test_zap_all(struct ctx *t)
{
	u64 s = seed_of(t, 13);
	struct vmmu_objects before, now;

	ok(guest_fill(t, GPA, s) &&
	   count_pages_with(t, GPA, VMMU_TR_PRESENT) == NPAGES,
	   "%s: VMMU_ZAP_ALL: the guest wrote every page, all present",
	   t->vm.name);
	vmmu_objects_read_or_die(&before);
	is_errno(vmmu_ioctl(t->vm.vm_fd, VMMU_ZAP_ALL, 0), 0,
		 "%s: VMMU_ZAP_ALL", t->vm.name);
	ok_pages_with(t, GPA, VMMU_TR_ROOT_INVALID, NPAGES,
		      "after VMMU_ZAP_ALL the vCPU's root is invalid");
	ok_pages_with(t, GPA, VMMU_TR_PRESENT, 0,
		      "after VMMU_ZAP_ALL the invalid root maps nothing");
	ok(guest_sees(t, GPA, s), "%s: after VMMU_ZAP_ALL the data is intact",
	   t->vm.name);
	ok_pages_with(t, GPA, VMMU_TR_ROOT_INVALID, 0,
		      "after an access the vCPU's root is valid again");
	vmmu_objects_read_or_die(&now);
	is_int(now.roots, before.roots,
	       "%s: the old root was freed when the vCPU left it", t->vm.name);
}

static void run_cfg(int sys_fd, unsigned int c)
{
	struct ctx t = { .cfg = c };

	mmu_vm_create(sys_fd, &mmu_cfgs[c], &t.vm);
	t.vcpu_fd = mmu_create_vcpu_or_die(t.vm.vm_fd, 0);
	t.mem = mmu_map_anon(SIZE, NULL);
	t.buf = mmu_map_anon(SIZE, NULL);
	mmu_set_region_or_die(t.vm.vm_fd, SLOT, 0, GPA, SIZE, t.mem);

	test_munmap(&t);
	test_dontneed(&t);
	test_mprotect(&t);
	test_mremap(&t);
	test_fork_cow(&t);
	test_memslot_delete_move(&t);
	test_zap_all(&t);

	close(t.vcpu_fd);
	mmu_vm_close(&t.vm);
	munmap(t.mem, SIZE);
	munmap(t.buf, SIZE);
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
