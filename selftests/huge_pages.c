// SPDX-License-Identifier: GPL-2.0
/*
 * Huge leaves: vmmu maps 2 MiB of guest memory with one leaf where the host
 * maps it with one (a transparent huge page or a hugetlbfs page) and the
 * memslot allows it, and with 4 KiB leaves elsewhere.  A software vCPU
 * reads and writes; VMMU_VCPU_TRANSLATE shows each leaf's level and host
 * frame, and the MMU statistics count leaves per level.
 *
 * In each page-table configuration (NPT, 4- and 5-level EPT), over 4 MiB of
 * THP-backed memory in a slot aligned like it:
 *  - one read maps a 2 MiB leaf, whose frame is the host's (pagemap), and
 *    the other 511 pages of it need no fault;
 *  - KVM_PRE_FAULT_MEMORY maps the slot with two 2 MiB leaves.
 * Then, in the default configuration:
 *  - writes through a 2 MiB leaf reach the host's page;
 *  - the host splits one huge page (mprotect of one 4 KiB page) and drops a
 *    page of the other (MADV_DONTNEED): the leaves go, the memory faults
 *    back in 4 KiB leaves, every other word is intact and the dropped page
 *    reads as zero; after MADV_COLLAPSE the range is one leaf again;
 *  - no huge leaf where the slot does not allow one: a gpa that is not
 *    congruent with the hva modulo 2 MiB, the part of a slot that ends in
 *    the middle of a huge page;
 *  - dirty logging over 2 MiB leaves, with eager splitting, without it, and
 *    with KVM_DIRTY_LOG_INITIALLY_SET: split when logging starts (or at the
 *    first write, or at CLEAR), each write logged alone, tables zapped and
 *    huge leaves back when it stops;
 *  - the iTLB-multihit workaround forced on (nx_huge_pages=on): huge leaves
 *    non-executable, an instruction fetch splits one (software vCPU, and a
 *    hardware vCPU's guest running from it), the recovery worker zaps the
 *    split table;
 *  - hugetlbfs 2 MiB pages (if the host can reserve two): 2 MiB leaves with
 *    the host's frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << 26)
#endif

#define P		PAGE_SIZE
#define HUGE		(2UL << 20)
#define MEM_SIZE	(2 * HUGE)
#define GPA		0x40000000ULL
#define SLOT		1
#define NR_HUGETLB	2
#define NR_HUGETLB_PATH	"/proc/sys/vm/nr_hugepages"

#define NR_CFG_TESTS	7
#define NR_TESTS	(MMU_NR_CFGS * NR_CFG_TESTS + 15 + 3 + 3 * 6 + 7 + 5 + 5 + 6 + 1)

/* Memory for a slot: 2 MiB aligned inside a larger reservation. */
struct huge_mem {
	void *res;
	size_t res_size;
	u8 *mem;
};

/* The word at byte @off of the test memory: names the offset. */
static u64 word(u64 off)
{
	return 0x4855474500000000ULL ^ off;
}

static void fill(u8 *mem, size_t size)
{
	u64 off;

	for (off = 0; off < size; off += 8)
		*(u64 *)(mem + off) = word(off);
}

/*
 * MEM_SIZE bytes of anonymous memory, 2 MiB aligned, filled, backed by
 * transparent huge pages: MADV_HUGEPAGE before the first touch, and
 * MADV_COLLAPSE where the host did not give one at once.
 */
static void thp_alloc(struct huge_mem *m)
{
	m->res_size = MEM_SIZE + HUGE;
	m->res = mmu_map_anon(m->res_size, NULL);
	m->mem = (u8 *)(((unsigned long)m->res + HUGE - 1) & ~(HUGE - 1));
	if (madvise(m->mem, MEM_SIZE, MADV_HUGEPAGE))
		bail_out("MADV_HUGEPAGE: %s", strerror(errno));
	fill(m->mem, MEM_SIZE);
	mmu_thp_collapse(m->mem, MEM_SIZE, 5);
}

static void huge_free(struct huge_mem *m)
{
	munmap(m->res, m->res_size);
}

/* Does the host map all of @m with huge pages?  Says why not. */
static bool thp_mapped(const struct huge_mem *m)
{
	long kb = mmu_anon_huge_kb(m->mem, MEM_SIZE);

	if (kb == MEM_SIZE / 1024)
		return true;
	diag("the host maps %ld of %lu kB with huge pages", kb,
	     MEM_SIZE / 1024);
	return false;
}

/*
 * A VM in @cfg with a software vCPU, and THP-backed memory for it: false
 * (after a diagnostic) if the host did not back it with huge pages.
 */
static bool thp_vm(int sys_fd, const struct mmu_cfg *cfg, struct mmu_vm *vm,
		   int *vcpu_fd, struct huge_mem *m)
{
	mmu_vm_create(sys_fd, cfg, vm);
	*vcpu_fd = mmu_create_vcpu_or_die(vm->vm_fd, 0);
	thp_alloc(m);
	return thp_mapped(m);
}

static void thp_vm_close(struct mmu_vm *vm, int vcpu_fd, struct huge_mem *m)
{
	close(vcpu_fd);
	mmu_vm_close(vm);
	huge_free(m);
}

static int read_word(int vcpu_fd, u64 gpa, u64 *w)
{
	*w = 0;
	return st_access(vcpu_fd, VMMU_ACCESS_READ, gpa, w, sizeof(*w));
}

/* Read the word at slot offset @off through the vCPU: does it hold @want? */
static bool guest_word_is(int vcpu_fd, u64 off, u64 want)
{
	u64 w;
	int r = read_word(vcpu_fd, GPA + off, &w);

	if (r == VMMU_ACCESS_DONE && w == want)
		return true;
	diag("gpa %#llx: %s, %#llx (want %#llx)",
	     (unsigned long long)(GPA + off), mmu_result_name(r),
	     (unsigned long long)w, (unsigned long long)want);
	return false;
}

/* The level of the leaf that maps @gpa now, 0 if none. */
static int leaf_level(int vcpu_fd, u64 gpa, struct vmmu_translation *tr)
{
	if (mmu_translate(vcpu_fd, gpa, tr))
		bail_out("VMMU_VCPU_TRANSLATE %#llx", (unsigned long long)gpa);
	return tr->flags & VMMU_TR_PRESENT ? (int)tr->level : 0;
}

static bool level_is(int vcpu_fd, u64 gpa, int want, const char *what)
{
	struct vmmu_translation tr;
	int level = leaf_level(vcpu_fd, gpa, &tr);

	if (level == want)
		return true;
	diag("%s: gpa %#llx maps at level %d, want %d", what,
	     (unsigned long long)gpa, level, want);
	mmu_translation_diag("  ", &tr);
	return false;
}

/* Does the leaf of @gpa map the host frame of @hva? */
static bool pfn_is_hosts(int vcpu_fd, u64 gpa, const void *hva)
{
	struct vmmu_translation tr;
	u64 host = mmu_pagemap_pfn(hva);

	leaf_level(vcpu_fd, gpa, &tr);
	if ((tr.flags & VMMU_TR_PFN_VALID) && host && tr.pfn == host)
		return true;
	diag("gpa %#llx: pfn %#llx, the host's %#llx",
	     (unsigned long long)gpa, (unsigned long long)tr.pfn,
	     (unsigned long long)host);
	return false;
}

static void set_slot(int vm_fd, u32 flags, u64 gpa, u64 size, const void *hva)
{
	mmu_set_region_or_die(vm_fd, SLOT, flags, gpa, size, hva);
}

static void stats(int vm_fd, struct vmmu_stats *st)
{
	st_stats_or_die(vm_fd, st);
}

/* The tests every configuration runs: NR_CFG_TESTS. */
static void test_cfg(int sys_fd, const struct mmu_cfg *cfg)
{
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = MEM_SIZE };
	struct vmmu_stats st0, st1;
	struct huge_mem m;
	struct mmu_vm vm;
	u64 off, bad = 0;
	int vcpu_fd, r;

	if (!thp_vm(sys_fd, cfg, &vm, &vcpu_fd, &m)) {
		skip(NR_CFG_TESTS, "%s: no transparent huge pages", vm.name);
		goto out;
	}
	set_slot(vm.vm_fd, 0, GPA, MEM_SIZE, m.mem);

	stats(vm.vm_fd, &st0);
	ok(guest_word_is(vcpu_fd, 0x1238, word(0x1238)),
	   "%s: a read in THP-backed memory", vm.name);
	ok(level_is(vcpu_fd, GPA + 0x1238, 2, "first read"),
	   "%s: it mapped a 2 MiB leaf", vm.name);
	ok(pfn_is_hosts(vcpu_fd, GPA, m.mem) &&
	   pfn_is_hosts(vcpu_fd, GPA + 0x25000, m.mem + 0x25000) &&
	   pfn_is_hosts(vcpu_fd, GPA + HUGE - P, m.mem + HUGE - P),
	   "%s: the leaf maps the host's frames (first, 37th, last page)",
	   vm.name);
	for (off = 0; off < HUGE; off += P)
		bad += !guest_word_is(vcpu_fd, off + 8, word(off + 8));
	stats(vm.vm_fd, &st1);
	is_int(bad, 0, "%s: every page of the 2 MiB reads right", vm.name);
	ok(st1.faults - st0.faults == 1 && st1.mapped[1] == 1 &&
	   st1.mapped[0] == 0,
	   "%s: with one fault, one 2 MiB leaf and no 4 KiB one (%llu faults, %llu + %llu leaves)",
	   vm.name, (unsigned long long)(st1.faults - st0.faults),
	   (unsigned long long)st1.mapped[1], (unsigned long long)st1.mapped[0]);

	if (ioctl(vm.vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
	r = vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, (unsigned long)&range);
	stats(vm.vm_fd, &st1);
	ok(!r && !range.size && st1.mapped[1] == 2 && st1.mapped[0] == 0,
	   "%s: KVM_PRE_FAULT_MEMORY of the slot maps two 2 MiB leaves (%s, %llu left, %llu + %llu leaves)",
	   vm.name, errno_name(-r), (unsigned long long)range.size,
	   (unsigned long long)st1.mapped[1], (unsigned long long)st1.mapped[0]);
	ok(level_is(vcpu_fd, GPA + HUGE + 0x3000, 2, "pre-faulted"),
	   "%s: the second 2 MiB too", vm.name);
out:
	thp_vm_close(&vm, vcpu_fd, &m);
}

/* Writes through 2 MiB leaves; the host splits, drops, collapses: 15. */
static void test_host_changes(int sys_fd)
{
	struct vmmu_stats st;
	struct huge_mem m;
	struct mmu_vm vm;
	u64 w = 0x5752495445000000ULL, off, bad = 0;
	int vcpu_fd, r;

	if (!thp_vm(sys_fd, &mmu_cfgs[0], &vm, &vcpu_fd, &m)) {
		skip(15, "no transparent huge pages");
		goto out;
	}
	set_slot(vm.vm_fd, 0, GPA, MEM_SIZE, m.mem);

	r = st_access(vcpu_fd, VMMU_ACCESS_WRITE, GPA + HUGE + 0x5008, &w,
		      sizeof(w));
	is_int(r, VMMU_ACCESS_DONE, "a guest write in the second 2 MiB");
	is_int(*(u64 *)(m.mem + HUGE + 0x5008), w, "the host reads it");
	ok(level_is(vcpu_fd, GPA + HUGE, 2, "write"),
	   "through a 2 MiB leaf");
	*(u64 *)(m.mem + HUGE + 0x5008) = word(HUGE + 0x5008);
	ok(guest_word_is(vcpu_fd, 0, word(0)), "a read in the first 2 MiB");

	/* The host splits the first huge page: the leaf must go. */
	if (mprotect(m.mem + 0x3000, P, PROT_READ))
		bail_out("mprotect: %s", strerror(errno));
	ok(level_is(vcpu_fd, GPA, 0, "after mprotect"),
	   "mprotect of one page inside it removed the 2 MiB leaf");
	ok(guest_word_is(vcpu_fd, 0x3000, word(0x3000)) &&
	   level_is(vcpu_fd, GPA + 0x3000, 1, "read-only page"),
	   "the read-only page reads right, through a 4 KiB leaf");
	ok(guest_word_is(vcpu_fd, 0x7000, word(0x7000)) &&
	   level_is(vcpu_fd, GPA + 0x7000, 1, "neighbour"),
	   "so does its neighbour: the host maps 4 KiB pages there now");
	if (mprotect(m.mem + 0x3000, P, PROT_READ | PROT_WRITE))
		bail_out("mprotect: %s", strerror(errno));

	/* The host drops one page of the second huge page. */
	if (madvise(m.mem + HUGE + 0x7000, P, MADV_DONTNEED))
		bail_out("MADV_DONTNEED: %s", strerror(errno));
	ok(level_is(vcpu_fd, GPA + HUGE, 0, "after MADV_DONTNEED"),
	   "MADV_DONTNEED of one page removed the second 2 MiB leaf");
	ok(guest_word_is(vcpu_fd, HUGE + 0x7000, 0),
	   "the dropped page reads as zero");
	for (off = 0; off < MEM_SIZE; off += P)
		if (off != HUGE + 0x7000)
			bad += !guest_word_is(vcpu_fd, off + 16,
					      word(off + 16));
	is_int(bad, 0, "every other page holds its words");
	stats(vm.vm_fd, &st);
	ok(st.mapped[1] == 0 && st.mapped[0] == MEM_SIZE / P,
	   "all of it is mapped by 4 KiB leaves now (%llu + %llu)",
	   (unsigned long long)st.mapped[1], (unsigned long long)st.mapped[0]);

	/* Collapse the first 2 MiB back into a huge page. */
	if (madvise(m.mem, HUGE, MADV_COLLAPSE)) {
		skip(3, "MADV_COLLAPSE: %s", strerror(errno));
	} else {
		ok(level_is(vcpu_fd, GPA, 0, "after MADV_COLLAPSE"),
		   "MADV_COLLAPSE removed the 4 KiB leaves");
		ok(guest_word_is(vcpu_fd, 0x3010, word(0x3010)),
		   "the collapsed memory reads right");
		ok(level_is(vcpu_fd, GPA + 0x3010, 2, "collapsed"),
		   "through a 2 MiB leaf again");
	}
	ok(pfn_is_hosts(vcpu_fd, GPA + HUGE + 0x7000, m.mem + HUGE + 0x7000),
	   "the dropped page's leaf maps the host's new frame");
out:
	thp_vm_close(&vm, vcpu_fd, &m);
}

/* Slots that allow no huge leaf, or only part: 3. */
static void test_slot_limits(int sys_fd)
{
	struct huge_mem m;
	struct mmu_vm vm;
	int vcpu_fd;

	if (!thp_vm(sys_fd, &mmu_cfgs[0], &vm, &vcpu_fd, &m)) {
		skip(3, "no transparent huge pages");
		goto out;
	}
	/* The gpa one page past 2 MiB alignment, the hva aligned. */
	set_slot(vm.vm_fd, 0, GPA + P, MEM_SIZE, m.mem);
	ok(guest_word_is(vcpu_fd, P + 0x2000, word(0x2000)) &&
	   level_is(vcpu_fd, GPA + P + 0x2000, 1, "not congruent"),
	   "gpa and hva not congruent modulo 2 MiB: a 4 KiB leaf");

	/* A slot of 3 MiB: the second 2 MiB of guest memory is cut short. */
	set_slot(vm.vm_fd, 0, GPA, 0, m.mem);
	set_slot(vm.vm_fd, 0, GPA, HUGE + HUGE / 2, m.mem);
	ok(guest_word_is(vcpu_fd, 0x4000, word(0x4000)) &&
	   level_is(vcpu_fd, GPA + 0x4000, 2, "whole"),
	   "a slot of 3 MiB: 2 MiB leaf in its first 2 MiB");
	ok(guest_word_is(vcpu_fd, HUGE + 0x4000, word(HUGE + 0x4000)) &&
	   level_is(vcpu_fd, GPA + HUGE + 0x4000, 1, "cut"),
	   "4 KiB leaves in the 1 MiB after it");

out:
	thp_vm_close(&vm, vcpu_fd, &m);
}

/* Is the leaf of @gpa present, 4 KiB, and writable as @writable says? */
static bool small_leaf(int vcpu_fd, u64 gpa, bool writable, const char *what)
{
	struct vmmu_translation tr;

	if (leaf_level(vcpu_fd, gpa, &tr) == 1 &&
	    !!(tr.flags & VMMU_TR_WRITABLE) == writable)
		return true;
	diag("%s: want a %s 4 KiB leaf", what,
	     writable ? "writable" : "read-only");
	mmu_translation_diag("  ", &tr);
	return false;
}

static int write_word(int vcpu_fd, u64 gpa, u64 w)
{
	return st_access(vcpu_fd, VMMU_ACCESS_WRITE, gpa, &w, sizeof(w));
}

/* The log of the slot's first 64 pages; KVM_GET_DIRTY_LOG. */
static u64 log_word(int vm_fd)
{
	u64 bm[MEM_SIZE / P / 64] = { 0 };
	struct kvm_dirty_log dl = { .slot = SLOT, .dirty_bitmap = bm };
	unsigned int i;

	if (vmmu_ioctl(vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&dl))
		bail_out("KVM_GET_DIRTY_LOG: %s", strerror(errno));
	for (i = 1; i < MEM_SIZE / P / 64; i++)
		if (bm[i])
			return ~0ULL;	/* a page beyond the first 64 */
	return bm[0];
}

/*
 * Dirty logging over two 2 MiB leaves, in one of three setups: eager
 * splitting (the default), eager splitting off, KVM_DIRTY_LOG_INITIALLY_SET
 * with manual protection.  Page 9 is written while logging: 6 each.
 */
enum log_setup { LOG_EAGER, LOG_NO_EAGER, LOG_INITIALLY_SET };

static void test_logging(int sys_fd, enum log_setup setup)
{
	static const char *const names[] = { "eager split", "no eager split",
					     "INITIALLY_SET" };
	const char *name = names[setup];
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = MEM_SIZE };
	struct vmmu_stats st0, st1;
	struct huge_mem m;
	struct mmu_vm vm;
	unsigned int split;
	int vcpu_fd, r;

	if (!thp_vm(sys_fd, &mmu_cfgs[0], &vm, &vcpu_fd, &m)) {
		skip(6, "%s: no transparent huge pages", name);
		goto out;
	}
	if (setup == LOG_INITIALLY_SET) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				  KVM_DIRTY_LOG_INITIALLY_SET },
		};

		if (vmmu_ioctl(vm.vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap))
			bail_out("KVM_ENABLE_CAP: %s", strerror(errno));
	}
	if (setup == LOG_NO_EAGER && st_param_write("eager_page_split", 0))
		bail_out("cannot turn eager_page_split off");
	set_slot(vm.vm_fd, 0, GPA, MEM_SIZE, m.mem);
	/* Writable 2 MiB leaves: the host maps the THP writable. */
	r = vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, (unsigned long)&range);
	if (r || !level_is(vcpu_fd, GPA, 2, "before logging"))
		bail_out("%s: no 2 MiB leaves to start with", name);

	stats(vm.vm_fd, &st0);
	set_slot(vm.vm_fd, KVM_MEM_LOG_DIRTY_PAGES, GPA, MEM_SIZE, m.mem);
	stats(vm.vm_fd, &st1);
	if (setup == LOG_EAGER)
		ok(st1.huge_splits - st0.huge_splits == 2 &&
		   st1.mapped[1] == 0 && st1.mapped[0] == MEM_SIZE / P &&
		   small_leaf(vcpu_fd, GPA + 0x5000, false, "split"),
		   "%s: logging split both leaves in place: every page still mapped, read-only",
		   name);
	else
		ok(st1.huge_splits == st0.huge_splits &&
		   level_is(vcpu_fd, GPA + 0x5000, 2, "not split"),
		   "%s: logging began with the 2 MiB leaves whole", name);

	if (setup == LOG_INITIALLY_SET) {
		u64 bit9 = BIT_ULL(9);
		struct kvm_clear_dirty_log cl = {
			.slot = SLOT, .first_page = 0, .num_pages = 64,
			.dirty_bitmap = &bit9,
		};

		if (vmmu_ioctl(vm.vm_fd, KVM_CLEAR_DIRTY_LOG, (unsigned long)&cl))
			bail_out("KVM_CLEAR_DIRTY_LOG: %s", strerror(errno));
		stats(vm.vm_fd, &st1);
		ok(st1.huge_splits - st0.huge_splits == 1 &&
		   small_leaf(vcpu_fd, GPA + 0x9000, false, "cleared") &&
		   small_leaf(vcpu_fd, GPA + 0x5000, true, "not cleared"),
		   "%s: clearing page 9 split its leaf and protected page 9 alone",
		   name);
	} else {
		ok(!log_word(vm.vm_fd), "%s: the log starts empty", name);
	}

	stats(vm.vm_fd, &st0);
	r = write_word(vcpu_fd, GPA + 0x9000, 0x4c4f474745440000ULL);
	stats(vm.vm_fd, &st1);
	if (setup == LOG_NO_EAGER)
		ok(r == VMMU_ACCESS_DONE &&
		   st1.huge_splits - st0.huge_splits == 1 &&
		   small_leaf(vcpu_fd, GPA + 0x9000, true, "written") &&
		   small_leaf(vcpu_fd, GPA + 0x5000, false, "neighbour"),
		   "%s: the write split the leaf in its fault; the neighbours stay mapped, read-only",
		   name);
	else
		ok(r == VMMU_ACCESS_DONE && st1.pf_fast - st0.pf_fast == 1,
		   "%s: the write took the lockless fast path (%s, pf_fast +%llu)",
		   name, mmu_result_name(r),
		   (unsigned long long)(st1.pf_fast - st0.pf_fast));
	ok(log_word(vm.vm_fd) & BIT_ULL(9), "%s: the log holds page 9", name);
	if (setup != LOG_INITIALLY_SET)
		is_int(log_word(vm.vm_fd), 0, "%s: and nothing else", name);
	else
		ok(log_word(vm.vm_fd) == ~0ULL,
		   "%s: and, never cleared, every other page", name);

	/*
	 * Logging off: the tables that huge leaves can replace are zapped,
	 * both with eager splitting, else the one page 9's write split.
	 */
	split = setup == LOG_EAGER ? 2 : 1;
	stats(vm.vm_fd, &st0);
	set_slot(vm.vm_fd, 0, GPA, MEM_SIZE, m.mem);
	stats(vm.vm_fd, &st1);
	ok(st1.huge_recovered - st0.huge_recovered == split &&
	   st1.mapped[0] == 0 && st1.mapped[1] == 2 - split &&
	   guest_word_is(vcpu_fd, 0x9000, 0x4c4f474745440000ULL) &&
	   level_is(vcpu_fd, GPA + 0x9000, 2, "recovered"),
	   "%s: logging off: %u table(s) zapped, a read maps 2 MiB again (%llu recovered; %llu + %llu leaves before the read)",
	   name, split,
	   (unsigned long long)(st1.huge_recovered - st0.huge_recovered),
	   (unsigned long long)st1.mapped[1], (unsigned long long)st1.mapped[0]);
out:
	if (setup == LOG_NO_EAGER)
		st_param_write("eager_page_split", 1);
	thp_vm_close(&vm, vcpu_fd, &m);
}

static bool exec_leaf(int vcpu_fd, u64 gpa, int level, bool exec,
		      const char *what)
{
	struct vmmu_translation tr;

	if (leaf_level(vcpu_fd, gpa, &tr) == level &&
	    !!(tr.flags & VMMU_TR_EXECUTABLE) == exec)
		return true;
	diag("%s: want a %sexecutable leaf of level %d", what,
	     exec ? "" : "non-", level);
	mmu_translation_diag("  ", &tr);
	return false;
}

/*
 * The iTLB-multihit workaround forced on (nx_huge_pages=on) for a new VM:
 * 2 MiB leaves are not executable, a fetch splits one and maps its page
 * executable, and the recovery worker zaps the split table again: 7.
 */
static void test_nx_huge(int sys_fd)
{
	struct vmmu_stats st0, st1;
	struct huge_mem m;
	struct mmu_vm vm;
	u64 w = 0;
	int vcpu_fd, r, i;

	/* The worker runs every 20 ms from the start, zapping nothing yet. */
	if (st_param_set("nx_huge_pages", "on") ||
	    st_param_set("nx_huge_pages_recovery_ratio", "0") ||
	    st_param_set("nx_huge_pages_recovery_period_ms", "20")) {
		skip(7, "cannot set nx_huge_pages");
		return;
	}
	if (!thp_vm(sys_fd, &mmu_cfgs[0], &vm, &vcpu_fd, &m)) {
		skip(7, "nx_huge_pages: no transparent huge pages");
		goto out;
	}
	set_slot(vm.vm_fd, 0, GPA, MEM_SIZE, m.mem);
	ok(guest_word_is(vcpu_fd, 0x3000, word(0x3000)) &&
	   exec_leaf(vcpu_fd, GPA + 0x3000, 2, false, "read"),
	   "nx_huge_pages: a read maps a non-executable 2 MiB leaf");

	stats(vm.vm_fd, &st0);
	r = st_access(vcpu_fd, VMMU_ACCESS_FETCH, GPA + 0x5000, &w, sizeof(w));
	stats(vm.vm_fd, &st1);
	ok(r == VMMU_ACCESS_DONE && w == word(0x5000),
	   "nx_huge_pages: an instruction fetch from it completes (%s)",
	   mmu_result_name(r));
	ok(exec_leaf(vcpu_fd, GPA + 0x5000, 1, true, "fetched"),
	   "nx_huge_pages: through an executable 4 KiB leaf");
	ok(st1.huge_splits - st0.huge_splits == 1 &&
	   exec_leaf(vcpu_fd, GPA + 0x6000, 1, false, "neighbour"),
	   "nx_huge_pages: the 2 MiB leaf was split, its other pages still mapped, not executable");
	ok(exec_leaf(vcpu_fd, GPA + HUGE, 0, false, "second") ||
	   (guest_word_is(vcpu_fd, HUGE, word(HUGE)) &&
	    exec_leaf(vcpu_fd, GPA + HUGE, 2, false, "second")),
	   "nx_huge_pages: the other 2 MiB still maps huge");

	/* From now on the worker zaps all such tables each time. */
	st_param_set("nx_huge_pages_recovery_ratio", "1");
	for (i = 0; i < 500; i++) {
		struct vmmu_translation tr;

		if (!leaf_level(vcpu_fd, GPA + 0x6000, &tr))
			break;
		usleep(10000);
	}
	st_param_set("nx_huge_pages_recovery_ratio", "0");
	ok(i < 500, "nx_huge_pages: the recovery worker zapped the split table (%d ms)",
	   i * 10);
	ok(guest_word_is(vcpu_fd, 0x6000, word(0x6000)) &&
	   exec_leaf(vcpu_fd, GPA + 0x6000, 2, false, "recovered"),
	   "nx_huge_pages: a read maps a non-executable 2 MiB leaf again");
out:
	st_param_set("nx_huge_pages", "auto");
	st_param_set("nx_huge_pages_recovery_ratio", "60");
	st_param_set("nx_huge_pages_recovery_period_ms", "0");
	thp_vm_close(&vm, vcpu_fd, &m);
}

/*
 * A hardware vCPU's guest runs code from THP-backed memory that the VMM
 * pre-faulted as a non-executable 2 MiB leaf: its first instruction fetch
 * exits on the nested/EPT tables, and the fault splits the leaf.  The code
 * reads the word at rdi (in the same 2 MiB) and writes its low byte to port
 * 0x42.
 */
#define HW_PORT		0x42
#define HW_GPA		(16ULL << 20)
#define HW_CODE		(HW_GPA + 0x1000)
#define HW_DATA		(HW_GPA + 0x7000)

GUEST_CODE(nx_guest, ".code64",
	   "	mov (%rdi), %rax\n"
	   "	out %al, $0x42\n"
	   "	hlt\n");

/* nx_huge_pages=on with a hardware vCPU: 5. */
static void test_nx_hw(int sys_fd)
{
	struct vmmu_stats st0, st1;
	struct kvm_regs regs;
	struct huge_mem m;
	struct guest g;
	int r;

	if (guest_hw_available(sys_fd)) {
		skip(5, "nx_huge_pages: no hardware vCPUs here (%s)",
		     guest_hw_why());
		return;
	}
	if (st_param_set("nx_huge_pages", "on")) {
		skip(5, "cannot set nx_huge_pages");
		return;
	}
	guest_create(&g, sys_fd, 1 << 20);
	st_param_set("nx_huge_pages", "auto");
	thp_alloc(&m);
	if (!thp_mapped(&m)) {
		skip(5, "nx_huge_pages (%s): no transparent huge pages",
		     guest_hw->name);
		goto out;
	}
	memcpy(m.mem + (HW_CODE - HW_GPA), nx_guest, GUEST_CODE_SIZE(nx_guest));
	set_slot(g.vm_fd, 0, HW_GPA, MEM_SIZE, m.mem);
	{
		struct kvm_pre_fault_memory range = {
			.gpa = HW_GPA, .size = HUGE,
		};

		r = vmmu_ioctl(g.vcpu_fd, KVM_PRE_FAULT_MEMORY,
			       (unsigned long)&range);
	}
	ok(!r && exec_leaf(g.vcpu_fd, HW_CODE, 2, false, "pre-faulted"),
	   "nx_huge_pages (%s): the code's 2 MiB is a non-executable leaf",
	   guest_hw->name);
	guest_setup_long_mode(&g, HW_CODE, 0x8000);
	guest_get_regs(&g, &regs);
	regs.rdi = HW_DATA;
	guest_set_regs(&g, &regs);
	stats(g.vm_fd, &st0);
	r = guest_run(&g);
	stats(g.vm_fd, &st1);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, HW_PORT,
		    (u8)word(HW_DATA - HW_GPA),
		    "nx_huge_pages (%s): the guest ran its code from there",
		    guest_hw->name);
	ok(st1.huge_splits - st0.huge_splits == 1,
	   "nx_huge_pages (%s): its first fetch split the leaf (%llu splits)",
	   guest_hw->name,
	   (unsigned long long)(st1.huge_splits - st0.huge_splits));
	ok(exec_leaf(g.vcpu_fd, HW_CODE, 1, true, "code"),
	   "nx_huge_pages (%s): the code page is an executable 4 KiB leaf",
	   guest_hw->name);
	ok(exec_leaf(g.vcpu_fd, HW_DATA, 1, false, "data"),
	   "nx_huge_pages (%s): the data page a non-executable one",
	   guest_hw->name);
out:
	guest_destroy(&g);
	huge_free(&m);
}

/* Reserve @want 2 MiB hugetlbfs pages; returns the previous count or -1. */
static long hugetlb_reserve(long want)
{
	char buf[32];
	long old = -1, now = -1;
	int fd = open(NR_HUGETLB_PATH, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		old = atol(buf);
	}
	if (old >= 0 && old < want) {
		snprintf(buf, sizeof(buf), "%ld", want);
		if (pwrite(fd, buf, strlen(buf), 0) < 0)
			old = -1;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = 0;
		now = atol(buf);
	}
	close(fd);
	return now >= want ? old : -1;
}

static void hugetlb_restore(long old)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", old);
	if (st_write_file(NR_HUGETLB_PATH, buf))
		diag("cannot restore %s", NR_HUGETLB_PATH);
}

/* hugetlbfs 2 MiB pages: 5. */
static void test_hugetlb(int sys_fd)
{
	long old = hugetlb_reserve(NR_HUGETLB);
	struct vmmu_stats st;
	struct mmu_vm vm;
	u64 off, bad = 0;
	int vcpu_fd;
	u8 *mem;

	if (old < 0) {
		skip(5, "cannot reserve %d hugetlbfs pages", NR_HUGETLB);
		return;
	}
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
		   -1, 0);
	if (mem == MAP_FAILED) {
		skip(5, "MAP_HUGETLB: %s", strerror(errno));
		hugetlb_restore(old);
		return;
	}
	fill(mem, MEM_SIZE);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	set_slot(vm.vm_fd, 0, GPA, MEM_SIZE, mem);
	ok(guest_word_is(vcpu_fd, HUGE + 0x1230, word(HUGE + 0x1230)),
	   "hugetlbfs: a read");
	ok(level_is(vcpu_fd, GPA + HUGE, 2, "hugetlbfs"),
	   "hugetlbfs: through a 2 MiB leaf");
	ok(pfn_is_hosts(vcpu_fd, GPA + HUGE + 0x1000, mem + HUGE + 0x1000),
	   "hugetlbfs: with the host's frame");
	for (off = 0; off < MEM_SIZE; off += P)
		bad += !guest_word_is(vcpu_fd, off + 24, word(off + 24));
	is_int(bad, 0, "hugetlbfs: every page reads right");
	stats(vm.vm_fd, &st);
	ok(st.mapped[1] == 2 && st.mapped[0] == 0,
	   "hugetlbfs: two 2 MiB leaves and no 4 KiB one (%llu + %llu)",
	   (unsigned long long)st.mapped[1], (unsigned long long)st.mapped[0]);
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(mem, MEM_SIZE);
	hugetlb_restore(old);
}

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)
#endif
#define GIG		BIT_ULL(30)
#define NR_1G_PATH	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

/* Did the kernel command line ask for 1 GiB hugetlbfs pages? */
static bool boot_reserved_1g(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f && !fgets(line, sizeof(line), f))
		line[0] = 0;
	if (f)
		fclose(f);
	return strstr(line, "hugepagesz=1G");
}

/*
 * A hardware vCPU's guest reads the 1 GiB page through a 1 GiB page of its
 * own (PDPT entry 1 of the tables guest_setup_long_mode() built): vmmu
 * maps it with one 1 GiB nested/EPT leaf, which the CPU's walker takes: 3.
 */
#define G1_CODE		0x100000ULL
#define G1_STACK	0x80000ULL

static void test_hugetlb_1g_hw(int sys_fd, const u8 *mem)
{
	u64 *pdpt, gpa = GIG + 0x12345000;
	struct vmmu_stats st;
	struct kvm_regs regs;
	struct guest g;
	int r;

	if (guest_hw_available(sys_fd)) {
		skip(3, "1 GiB hugetlbfs page: no hardware vCPUs here (%s)",
		     guest_hw_why());
		return;
	}
	guest_create(&g, sys_fd, 2 << 20);
	mmu_set_region_or_die(g.vm_fd, SLOT, 0, GIG, GIG, mem);
	guest_load(&g, G1_CODE, nx_guest, GUEST_CODE_SIZE(nx_guest));
	guest_setup_long_mode(&g, G1_CODE, G1_STACK);
	pdpt = (u64 *)(g.mem + GUEST_PT_GPA + PAGE_SIZE);
	pdpt[1] = GIG | X86_PTE_PRESENT | X86_PTE_WRITE | X86_PTE_LARGE;
	guest_get_regs(&g, &regs);
	regs.rdi = gpa;
	guest_set_regs(&g, &regs);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, HW_PORT, (u8)word(0x12345000),
		    "1 GiB hugetlbfs page (%s): the guest read it",
		    guest_hw->name);
	ok(level_is(g.vcpu_fd, gpa, 3, "1 GiB") &&
	   pfn_is_hosts(g.vcpu_fd, gpa, mem + 0x12345000),
	   "1 GiB hugetlbfs page (%s): through a 1 GiB %s leaf with the host's frame",
	   guest_hw->name, guest_hw->tables);
	stats(g.vm_fd, &st);
	ok(st.mapped[2] == 1,
	   "1 GiB hugetlbfs page (%s): one 1 GiB leaf (%llu)", guest_hw->name,
	   (unsigned long long)st.mapped[2]);
	guest_destroy(&g);
}

/*
 * A 1 GiB hugetlbfs page, where the host can give one (a boot with
 * hugepagesz=1G hugepages=1, or a gigantic page allocated now): one 1 GiB
 * leaf with the host's frame, for a software vCPU (3) and a hardware one
 * (3).
 */
static void test_hugetlb_1g(int sys_fd)
{
	struct vmmu_stats st;
	struct mmu_vm vm;
	int vcpu_fd;
	bool reserved = false;
	u8 *mem;

	mem = mmap(NULL, GIG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB,
		   -1, 0);
	if (mem == MAP_FAILED && !st_write_file(NR_1G_PATH, "1")) {
		reserved = true;
		mem = mmap(NULL, GIG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			   MAP_HUGE_1GB, -1, 0);
	}
	if (mem == MAP_FAILED) {
		int err = errno;

		/* The lane that booted with one must have it. */
		if (boot_reserved_1g()) {
			ok(0, "1 GiB hugetlbfs page: the boot reserved one, but mmap failed: %s",
			   strerror(err));
			skip(5, "no 1 GiB page");
		} else {
			skip(6, "no 1 GiB hugetlbfs page here (%s)",
			     strerror(err));
		}
		goto out;
	}
	*(u64 *)(mem + 0x12345000) = word(0x12345000);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	mmu_set_region_or_die(vm.vm_fd, SLOT, 0, GIG, GIG, mem);
	ok(guest_word_is(vcpu_fd, GIG + 0x12345000 - GPA, word(0x12345000)),
	   "1 GiB hugetlbfs page: a read");
	ok(level_is(vcpu_fd, GIG + 0x12345000, 3, "1 GiB") &&
	   pfn_is_hosts(vcpu_fd, GIG + 0x12345000, mem + 0x12345000),
	   "1 GiB hugetlbfs page: through a 1 GiB leaf with the host's frame");
	stats(vm.vm_fd, &st);
	ok(st.mapped[2] == 1 && !st.mapped[1] && !st.mapped[0],
	   "1 GiB hugetlbfs page: one 1 GiB leaf, nothing else (%llu + %llu + %llu)",
	   (unsigned long long)st.mapped[2], (unsigned long long)st.mapped[1],
	   (unsigned long long)st.mapped[0]);
	close(vcpu_fd);
	mmu_vm_close(&vm);
	test_hugetlb_1g_hw(sys_fd, mem);
	munmap(mem, GIG);
out:
	if (reserved)
		st_write_file(NR_1G_PATH, "0");
}

int main(void)
{
	struct vmmu_objects base;
	int sys_fd, i;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	{
		char buf[8] = "?";
		FILE *f = fopen("/sys/module/vmmu/parameters/nx_huge_pages", "r");

		if (f && fgets(buf, sizeof(buf), f))
			buf[strcspn(buf, "\n")] = 0;
		if (f)
			fclose(f);
		diag("nx_huge_pages here by default: %s", buf);
	}
	for (i = 0; i < MMU_NR_CFGS; i++)
		test_cfg(sys_fd, &mmu_cfgs[i]);
	test_host_changes(sys_fd);
	test_slot_limits(sys_fd);
	test_logging(sys_fd, LOG_EAGER);
	test_logging(sys_fd, LOG_NO_EAGER);
	test_logging(sys_fd, LOG_INITIALLY_SET);
	test_nx_huge(sys_fd);
	test_nx_hw(sys_fd);
	test_hugetlb(sys_fd);
	test_hugetlb_1g(sys_fd);
	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
