// SPDX-License-Identifier: GPL-2.0
/*
 * The gfn->pfn cache, one step at a time, through VMMU_TEST_PFNCACHE on a
 * VM with a software vCPU: data written through the cache is what the VMM
 * and the guest (the software vCPU) read, and the reverse; the cache
 * follows MADV_DONTNEED, mremap and munmap of its page and memslot
 * deletes and moves; the soft hrtimer consumer writes through it and
 * resumes on a new page; invalid use gets clean errors.  Then the
 * run-state page of a hardware vCPU (SVM or VMX; skipped without): the guest reads its
 * own record while it runs, the VMM after every exit.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define NR_TESTS	69
#define SLOT0_SIZE	(64ULL << 10)
#define RO_GPA		0x100000ULL
#define NOPERM_GPA	(2ULL << 20)
#define MOVE_GPA	(3ULL << 20)
#define MOVED_GPA	(4ULL << 20)
#define CACHE_GPA	0x3008ULL
#define CACHE_LEN	256

static int vm_fd, vcpu_fd;
static u8 *mem;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Data both ways: VMM, cache and guest agree. */
static void test_data(void)
{
	u8 buf[CACHE_LEN], back[CACHE_LEN];
	u8 *page = mem + (CACHE_GPA & ~0xfffULL);

	is_errno(pc_activate(vm_fd, 0, CACHE_GPA, CACHE_LEN), 0, "activate");
	mmu_pattern_fill(mem + CACHE_GPA, CACHE_GPA, CACHE_LEN, 1);
	memset(buf, 0, sizeof(buf));
	is_errno(pc_read(vm_fd, 0, 0, buf, CACHE_LEN), 0, "read");
	ok(mmu_pattern_check(buf, CACHE_GPA, CACHE_LEN, 1, "cache"),
	   "the cache reads what the VMM wrote");

	mmu_pattern_fill(buf, CACHE_GPA, CACHE_LEN, 2);
	is_errno(pc_write(vm_fd, 0, 0, buf, CACHE_LEN), 0, "write");
	ok(mmu_pattern_check(mem + CACHE_GPA, CACHE_GPA, CACHE_LEN, 2, "VMM"),
	   "the VMM reads what the cache wrote");
	memset(back, 0, sizeof(back));
	is_errno(mmu_read(vcpu_fd, CACHE_GPA, back, CACHE_LEN),
		 VMMU_ACCESS_DONE, "guest read");
	ok(mmu_pattern_check(back, CACHE_GPA, CACHE_LEN, 2, "guest"),
	   "the guest reads what the cache wrote");

	mmu_pattern_fill(buf, CACHE_GPA, CACHE_LEN, 3);
	is_errno(mmu_write(vcpu_fd, CACHE_GPA, buf, CACHE_LEN),
		 VMMU_ACCESS_DONE, "guest write");
	memset(back, 0, sizeof(back));
	is_errno(pc_read(vm_fd, 0, 0, back, CACHE_LEN), 0, "read");
	ok(mmu_pattern_check(back, CACHE_GPA, CACHE_LEN, 3, "cache"),
	   "the cache reads what the guest wrote");

	/* A part of the range, at an offset. */
	is_errno(pc_read(vm_fd, 0, 64, back, 16), 0, "read at an offset");
	ok(!memcmp(back, buf + 64, 16), "the bytes at that offset");

	/* The page goes: the cache reads the new (zero) page. */
	madvise(page, PAGE_SIZE, MADV_DONTNEED);
	memset(back, 0xaa, sizeof(back));
	is_errno(pc_read(vm_fd, 0, 0, back, CACHE_LEN), 0,
		 "read after MADV_DONTNEED");
	ok(mmu_is_zero(back, CACHE_LEN), "the new page is zero");
	mmu_pattern_fill(buf, CACHE_GPA, CACHE_LEN, 4);
	is_errno(pc_write(vm_fd, 0, 0, buf, CACHE_LEN), 0, "write to it");
	ok(mmu_pattern_check(mem + CACHE_GPA, CACHE_GPA, CACHE_LEN, 4, "VMM"),
	   "the VMM sees the write in the new page");
}

/* The backing page moves away with mremap, and comes back with mmap. */
static void test_mremap(void)
{
	u8 *page = mem + (CACHE_GPA & ~0xfffULL);
	void *away = st_reserve(PAGE_SIZE, NULL);
	u8 buf[16];
	void *p;

	p = mremap(page, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   away);
	ok(p == away, "mremap the page away");
	is_errno(pc_read(vm_fd, 0, 0, buf, sizeof(buf)), EFAULT,
		 "read while nothing is mapped at the hva");
	mmu_map_anon(PAGE_SIZE, page);
	mmu_pattern_fill(mem + CACHE_GPA, CACHE_GPA, 16, 5);
	is_errno(pc_read(vm_fd, 0, 0, buf, sizeof(buf)), 0,
		 "read after a new page is mapped there");
	ok(mmu_pattern_check(buf, CACHE_GPA, 16, 5, "cache"),
	   "the cache reads the new page");
	ok(mmu_pattern_check((u8 *)away + (CACHE_GPA & 0xfff), CACHE_GPA, 16,
			     4, "moved page"),
	   "the moved page kept the old data");
	munmap(away, PAGE_SIZE);
}

/* Memslot delete and move: the generation makes the cache look again. */
static void test_memslots(void)
{
	u8 *m = mmu_map_anon(PAGE_SIZE, NULL);
	u8 buf[8];

	mmu_set_region_or_die(vm_fd, 3, 0, MOVE_GPA, PAGE_SIZE, m);
	is_errno(pc_activate(vm_fd, 1, MOVE_GPA + 8, 8), 0,
		 "activate in a memslot");
	mmu_pattern_fill(m + 8, MOVE_GPA + 8, 8, 6);
	is_errno(pc_read(vm_fd, 1, 0, buf, 8), 0, "read");
	ok(mmu_pattern_check(buf, MOVE_GPA + 8, 8, 6, "cache"), "data");
	is_errno(vmmu_set_region(vm_fd, 3, 0, MOVED_GPA, PAGE_SIZE,
				 (unsigned long)m), 0, "move the memslot");
	is_errno(pc_read(vm_fd, 1, 0, buf, 8), ENOENT,
		 "read after the move: no memslot at the gpa");
	is_errno(pc_activate(vm_fd, 1, MOVED_GPA + 8, 8), 0,
		 "activate at the new gpa");
	is_errno(pc_read(vm_fd, 1, 0, buf, 8), 0, "read");
	ok(mmu_pattern_check(buf, MOVE_GPA + 8, 8, 6, "cache"),
	   "the same page at the new gpa");
	is_errno(vmmu_delete_region(vm_fd, 3), 0, "delete the memslot");
	is_errno(pc_refresh(vm_fd, 1, 8), ENOENT, "refresh after the delete");
	mmu_set_region_or_die(vm_fd, 3, 0, MOVED_GPA, PAGE_SIZE, m);
	is_errno(pc_refresh(vm_fd, 1, 8), 0, "refresh once it is back");
	is_errno(vmmu_delete_region(vm_fd, 3), 0, "delete it again");
	munmap(m, PAGE_SIZE);
}

/* Invalid use: errors, and the cache unchanged. */
static void test_errors(void)
{
	struct vmmu_test_pfncache arg;
	u8 buf[16];

	is_errno(pc_activate(vm_fd, 2, 0x1001, 8), EINVAL, "unaligned gpa");
	is_errno(pc_activate(vm_fd, 2, 0x1ff8, 16), EINVAL,
		 "range crossing a page");
	is_errno(pc_activate(vm_fd, 2, 0x1000, 0), EINVAL, "empty range");
	is_errno(pc_activate(vm_fd, 2, 0x1000, PAGE_SIZE + 8), EINVAL,
		 "longer than a page");
	is_errno(pc_activate(vm_fd, 2, 0x40000000, 8), ENOENT,
		 "gpa outside every memslot");
	is_errno(pc_activate(vm_fd, 2, RO_GPA, 8), EPERM, "read-only memslot");
	is_errno(pc_activate(vm_fd, 2, NOPERM_GPA, 8), EFAULT,
		 "host memory that cannot be written");
	is_errno(pc_read(vm_fd, 2, 0, buf, 8), EINVAL,
		 "read of a cache that failed to activate");

	is_errno(pc_activate(vm_fd, 2, 0x2000, 16), 0, "activate");
	is_errno(pc_read(vm_fd, 2, 8, buf, 16), EINVAL,
		 "read beyond the cache's range");
	is_errno(pc_refresh(vm_fd, 2, 32), EINVAL, "refresh beyond it");
	is_errno(pc_deactivate(vm_fd, 2), 0, "deactivate");
	is_errno(pc_read(vm_fd, 2, 0, buf, 8), EINVAL, "read after deactivate");
	is_errno(pc_write(vm_fd, 2, 0, buf, 8), EINVAL,
		 "write after deactivate");
	is_errno(pc_refresh(vm_fd, 2, 8), EINVAL, "refresh after deactivate");
	is_errno(pc_activate(vm_fd, VMMU_TEST_PFNCACHES, 0x2000, 8), EINVAL,
		 "cache id out of range");
	memset(&arg, 0, sizeof(arg));
	arg.op = 99;
	is_errno(pc_ioctl(vm_fd, &arg), EINVAL, "unknown op");
	arg.op = VMMU_TEST_PFNCACHE_STATS;
	arg.reserved[3] = 1;
	is_errno(pc_ioctl(vm_fd, &arg), EINVAL, "reserved field set");
	is_errno(pc_timer_start(vm_fd, 2, 100), EINVAL, "timer period too short");
}

/* The soft hrtimer consumer, across a page replacement. */
static void test_timer(void)
{
	u64 *w = (u64 *)(mem + 0x4000);
	struct vmmu_test_pfncache st;
	u64 n0, n1;
	int i;

	is_errno(pc_activate(vm_fd, 3, 0x4000, 16), 0, "activate");
	is_errno(pc_timer_start(vm_fd, 3, 200000), 0, "start the timer");
	for (i = 0; i < 500 && !__atomic_load_n(&w[0], __ATOMIC_RELAXED); i++)
		sleep_ms(10);
	n0 = __atomic_load_n(&w[0], __ATOMIC_RELAXED);
	ok(n0, "the timer writes through the cache");
	madvise(w, PAGE_SIZE, MADV_DONTNEED);
	for (i = 0; i < 500 && __atomic_load_n(&w[0], __ATOMIC_RELAXED) <= n0;
	     i++)
		sleep_ms(10);
	n1 = __atomic_load_n(&w[0], __ATOMIC_RELAXED);
	ok(n1 > n0, "writes resume on the new page: %llu after %llu",
	   (unsigned long long)n1, (unsigned long long)n0);
	is_errno(pc_timer_stop(vm_fd, 3), 0, "stop the timer");
	pc_stats(vm_fd, 3, &st);
	diag("timer: %llu writes, %llu skips, %llu refreshes",
	     (unsigned long long)st.timer_writes,
	     (unsigned long long)st.timer_skips,
	     (unsigned long long)st.refreshes);
	ok(w[1] == ~w[0] && w[0] <= st.timer_writes,
	   "the last pair is whole and counted: %llu",
	   (unsigned long long)w[0]);
	ok(st.timer_skips >= 1 && st.refreshes >= 2,
	   "the invalidated cache made the timer skip and refresh");
}

GUEST_CODE(rs_guest, ".code16",
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
#define RS_ROUNDS	200

/* The run-state page of a hardware vCPU (SVM or VMX). */
static void test_runstate(int sys_fd)
{
	struct vmmu_runstate *rs;
	struct guest g;
	u32 e, x, bad = 0, last = 0;
	int i, r;

	r = guest_hw_available(sys_fd);
	if (r) {
		skip(9, "no hardware vCPUs here (%s)", guest_hw_why());
		return;
	}
	guest_create(&g, sys_fd, 1 << 20);
	madvise(g.mem, 1 << 20, MADV_NOHUGEPAGE);
	rs = (struct vmmu_runstate *)(g.mem + RS_GPA);
	guest_load(&g, 0x1000, rs_guest, GUEST_CODE_SIZE(rs_guest));
	guest_setup_real_mode(&g, 0x1000);

	is_errno(pc_set_runstate(g.vcpu_fd, RS_GPA + 4, 1), EINVAL,
		 "SET_RUNSTATE: unaligned");
	is_errno(pc_set_runstate(g.vcpu_fd, RS_GPA + 4080, 1), EINVAL,
		 "SET_RUNSTATE: crossing a page");
	is_errno(pc_set_runstate(g.vcpu_fd, 1ULL << 30, 1), ENOENT,
		 "SET_RUNSTATE: outside every memslot");
	is_errno(pc_set_runstate(g.vcpu_fd, RS_GPA, 3), EINVAL,
		 "SET_RUNSTATE: unknown flag");
	is_errno(pc_set_runstate(g.vcpu_fd, RS_GPA, VMMU_RUNSTATE_ENABLE), 0,
		 "SET_RUNSTATE");
	ok(rs->seq == 2 && rs->entries == 0 && rs->exits == 0,
	   "the first record is there: seq %u", rs->seq);

	for (i = 0; i < RS_ROUNDS; i++) {
		if (guest_run(&g) || g.run->exit_reason != KVM_EXIT_IO)
			break;
		e = *(u32 *)guest_io_data(&g);
		if (guest_run(&g) || g.run->exit_reason != KVM_EXIT_IO)
			break;
		x = *(u32 *)guest_io_data(&g);
		/* The guest runs: one more entry than exits, and more each time. */
		if (e != x + 1 || e <= last || rs->seq & 1 ||
		    rs->entries != rs->exits || rs->entries < e ||
		    rs->flags)
			bad++;
		last = e;
	}
	is_int(i, RS_ROUNDS, "the guest reported %d times", RS_ROUNDS);
	is_int(bad, 0, "guest and VMM views consistent (last entries %u)",
	       last);
	diag("runstate: %llu entries, %llu exits, %llu ns in, %llu ns out",
	     (unsigned long long)rs->entries, (unsigned long long)rs->exits,
	     (unsigned long long)rs->ns_in_guest,
	     (unsigned long long)rs->ns_out_guest);
	ok(rs->ns_in_guest && rs->ns_out_guest, "time in and out is counted");
	guest_destroy(&g);
}

int main(void)
{
	struct vmmu_objects before;
	struct mmu_vm vm;
	void *ro, *noperm;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&before);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vm_fd = vm.vm_fd;
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	mem = mmu_map_anon(SLOT0_SIZE, NULL);
	madvise(mem, SLOT0_SIZE, MADV_NOHUGEPAGE);
	mmu_set_region_or_die(vm_fd, 0, 0, 0, SLOT0_SIZE, mem);
	ro = mmu_map_anon(PAGE_SIZE, NULL);
	mmu_set_region_or_die(vm_fd, 1, KVM_MEM_READONLY, RO_GPA, PAGE_SIZE,
			      ro);
	noperm = mmu_map_anon(PAGE_SIZE, NULL);
	mprotect(noperm, PAGE_SIZE, PROT_READ);
	mmu_set_region_or_die(vm_fd, 2, 0, NOPERM_GPA, PAGE_SIZE, noperm);

	test_data();
	test_mremap();
	test_memslots();
	test_errors();
	test_timer();

	/* Closing the VM with active caches and a timer frees them. */
	pc_timer_start(vm_fd, 3, 1000000);
	close(vcpu_fd);
	mmu_vm_close(&vm);
	test_runstate(sys_fd);
	ok_objects(&before, "no object left behind");
	return tap_finish();
}
