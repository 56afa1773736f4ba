// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge pages split and collapsed under running guests.
 *
 * Guest memory for two memslots is anonymous memory, 2 MiB aligned, with
 * MADV_HUGEPAGE.  Slot 1's userspace_addr is 4 KiB past a 2 MiB boundary
 * while its gpa is 2 MiB aligned (a host huge page never lines up with a
 * guest one); slot 2 is aligned on both sides.  One vCPU per slot makes
 * pass after pass over it: in every 4 KiB page it checks the pattern the
 * VMM wrote (a word that names the page's gpa, so a wrong page shows) and
 * writes its pass number into another word.  After each pass the vCPU
 * thread checks that pass in the VMM's view of every page.
 *
 * Meanwhile the main thread splits huge pages (mprotect of one 4 KiB page
 * to PROT_READ and back, MADV_DONTNEED of one 4 KiB page, which the VMM
 * then refills, MADV_NOHUGEPAGE and back) and collapses them again
 * (MADV_COLLAPSE; EINVAL and EAGAIN are counted, not failures), and reads
 * AnonHugePages of the memory from /proc/self/smaps to show that huge
 * pages existed.  A guest write to a page made read-only gets -EFAULT
 * from KVM_RUN only while the page is read-only; a zero where the pattern
 * belongs, or a lost pass, only in a page dropped meanwhile.  After the
 * last change every page holds the pattern and the last pass.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "stress_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define NR_VCPUS	2
#define NR_TESTS	(8 + 3 * NR_VCPUS + 1)
#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define HUGE_SIZE	(2ULL << 20)
#define SLOT_SIZE	(2 * HUGE_SIZE)
#define SLOT_PAGES	(SLOT_SIZE / PAGE_SIZE)
/* Host memory per slot: one more huge page for the 4 KiB offset. */
#define AREA_SIZE	(SLOT_SIZE + HUGE_SIZE)
#define SLOT_GPA(i)	((8ULL + 8 * (i)) << 20)
#define SLOT_OFFSET(i)	((i) ? 0 : PAGE_SIZE)
#define PATTERN		0x7e57000000000000ULL
#define PORT_ASK	0x31
#define PORT_ZERO	0x32
#define PORT_BAD	0x33
#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"

/*
 * Pass r8 over the pages of [rdi, rsi): word 0 must be PATTERN ^ gpa (a
 * zero is reported with an OUT to PORT_ZERO, anything else with PORT_BAD,
 * rcx on the page); word 1 gets r8 << 32 | gfn.  IN from PORT_ASK after a
 * pass: 0 goes on.
 */
GUEST_CODE(thp_passes, ".code64",
	   "0:	inc %r8\n"
	   "	mov %rdi, %rcx\n"
	   "1:	mov (%rcx), %rax\n"
	   "	test %rax, %rax\n"
	   "	jz 4f\n"
	   "	xor %rcx, %rax\n"
	   "	cmp %r9, %rax\n"
	   "	jne 5f\n"
	   "2:	mov %r8, %rax\n"
	   "	shl $32, %rax\n"
	   "	mov %rcx, %rdx\n"
	   "	shr $12, %rdx\n"
	   "	or %rdx, %rax\n"
	   "	mov %rax, 8(%rcx)\n"
	   "	add $4096, %rcx\n"
	   "	cmp %rsi, %rcx\n"
	   "	jb 1b\n"
	   "	in $0x31, %al\n"
	   "	test %al, %al\n"
	   "	jz 0b\n"
	   "	hlt\n"
	   "4:	out %al, $0x32\n"
	   "	jmp 2b\n"
	   "5:	out %al, $0x33\n"
	   "	hlt\n");

/*
 * Windows (see stress_util.h): one per page for MADV_DONTNEED and its
 * refill, one for the time a page is read-only.
 */
struct slot_mem {
	u8 *area;
	u8 *hva;
	atomic_ulong drop[SLOT_PAGES];
};

struct vcpu_thread {
	pthread_t thread;
	int index;
	int vcpu_fd;
	struct kvm_run *run;
	atomic_int result;	/* 0, -errno of KVM_RUN, or -EPROTO */
	char why[128];
	atomic_ulong passes;
	unsigned long window[SLOT_PAGES];
	u64 words_checked;
	u64 zeros;		/* zero patterns seen in dropped pages */
	u64 lost;		/* passes lost in dropped pages */
	atomic_ulong efaults;	/* KVM_RUN -EFAULT in a read-only window */
};

static struct guest g;
static struct slot_mem slots[NR_VCPUS];
static struct vcpu_thread threads[NR_VCPUS];
static atomic_ulong ro_window;
static atomic_bool stop;

static u64 pattern(u64 gpa)
{
	return PATTERN ^ gpa;
}

/* Pass @pass of @t in the VMM's view; false (and t->why) on a mismatch. */
static bool vmm_pass(struct vcpu_thread *t, u64 pass)
{
	struct slot_mem *s = &slots[t->index];
	unsigned long i;

	for (i = 0; i < SLOT_PAGES; i++) {
		u64 gpa = SLOT_GPA(t->index) + i * PAGE_SIZE;
		u64 *w = (u64 *)(s->hva + i * PAGE_SIZE);
		u64 w0 = w[0], w1 = w[1];
		unsigned long now = atomic_load(&s->drop[i]);
		bool dropped = st_window_hit(t->window[i], now);

		t->window[i] = now;
		if ((w0 != pattern(gpa) || w1 != (pass << 32 | gpa >> 12)) &&
		    !(dropped && (!w0 || !w1))) {
			snprintf(t->why, sizeof(t->why),
				 "pass %llu: gpa %#llx holds %#llx %#llx",
				 (unsigned long long)pass,
				 (unsigned long long)gpa,
				 (unsigned long long)w0,
				 (unsigned long long)w1);
			return false;
		}
		t->lost += w1 != (pass << 32 | gpa >> 12);
		t->words_checked++;
	}
	return true;
}

/* KVM_RUN -EFAULT: fine while a page is read-only; wait until it is not. */
static bool vcpu_efault(struct vcpu_thread *t, unsigned long before)
{
	unsigned long after = atomic_load(&ro_window);

	if (!st_window_hit(before, after))
		return false;
	t->efaults++;
	while (atomic_load(&ro_window) == after && (after & 1))
		sched_yield();
	return true;
}

static bool vcpu_exit(struct vcpu_thread *t, bool *last_pass)
{
	struct kvm_run *run = t->run;
	struct kvm_regs regs;
	u8 *data;

	if (run->exit_reason == KVM_EXIT_IO && run->io.port == PORT_ZERO) {
		t->zeros++;
		return true;
	}
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != PORT_ASK) {
		if (!vmmu_ioctl(t->vcpu_fd, KVM_GET_REGS, (unsigned long)&regs))
			snprintf(t->why, sizeof(t->why),
				 "exit %s, rcx %#llx, rax %#llx",
				 guest_exit_name(run->exit_reason),
				 (unsigned long long)regs.rcx,
				 (unsigned long long)regs.rax);
		return false;
	}
	if (!vmm_pass(t, atomic_load(&t->passes) + 1))
		return false;
	atomic_fetch_add(&t->passes, 1);
	data = (u8 *)run + run->io.data_offset;
	/* One full pass after the last change, then stop. */
	*data = atomic_load(&stop) && *last_pass;
	*last_pass = atomic_load(&stop);
	return true;
}

static void *vcpu_main(void *arg)
{
	struct vcpu_thread *t = arg;
	bool last_pass = false;
	unsigned long before;
	int r;

	for (;;) {
		before = atomic_load(&ro_window);
		r = vmmu_ioctl(t->vcpu_fd, KVM_RUN, 0);
		if (r == -EFAULT && vcpu_efault(t, before))
			continue;
		if (r) {
			snprintf(t->why, sizeof(t->why), "KVM_RUN: %s",
				 errno_name(-r));
			t->result = r;
			return NULL;
		}
		if (t->run->exit_reason == KVM_EXIT_HLT)
			return NULL;
		if (!vcpu_exit(t, &last_pass))
			break;
	}
	t->result = -EPROTO;
	return NULL;
}

/* Both slots' memory: 2 MiB aligned, MADV_HUGEPAGE, filled, in slots 1-2. */
static void slots_setup(void)
{
	u8 *res = st_reserve(NR_VCPUS * AREA_SIZE + HUGE_SIZE, NULL);
	u8 *base = (u8 *)(((u64)res + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	int i, r;
	u64 p;

	for (i = 0; i < NR_VCPUS; i++) {
		struct slot_mem *s = &slots[i];

		s->area = mmap(base + i * AREA_SIZE, AREA_SIZE,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (s->area == MAP_FAILED)
			bail_out("mmap: %s", strerror(errno));
		if (madvise(s->area, AREA_SIZE, MADV_HUGEPAGE))
			bail_out("MADV_HUGEPAGE: %s", strerror(errno));
		s->hva = s->area + SLOT_OFFSET(i);
		for (p = 0; p < SLOT_PAGES; p++)
			*(u64 *)(s->hva + p * PAGE_SIZE) =
				pattern(SLOT_GPA(i) + p * PAGE_SIZE);
		r = vmmu_set_region(g.vm_fd, 1 + i, 0, SLOT_GPA(i), SLOT_SIZE,
				    (u64)s->hva);
		if (r)
			bail_out("slot %d: %s", 1 + i, errno_name(-r));
	}
}

static void vcpu_start(struct vcpu_thread *t, int index)
{
	struct kvm_regs regs;

	t->index = index;
	if (index) {
		t->vcpu_fd = guest_vcpu_add(&g, index, &t->run);
	} else {
		t->vcpu_fd = g.vcpu_fd;
		t->run = g.run;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 2;
	regs.rdi = SLOT_GPA(index);
	regs.rsi = SLOT_GPA(index) + SLOT_SIZE;
	regs.r9 = PATTERN;
	if (vmmu_ioctl(t->vcpu_fd, KVM_SET_REGS, (unsigned long)&regs))
		bail_out("KVM_SET_REGS on vCPU %d", index);
	if (pthread_create(&t->thread, NULL, vcpu_main, t))
		bail_out("pthread_create");
}

/* Wait until every vCPU that still runs made one more pass. */
static void vcpus_wait(void)
{
	unsigned long since[NR_VCPUS];
	int v;

	for (v = 0; v < NR_VCPUS; v++)
		since[v] = atomic_load(&threads[v].passes);
	for (v = 0; v < NR_VCPUS; v++)
		while (!atomic_load(&threads[v].result) &&
		       atomic_load(&threads[v].passes) <= since[v] + 1)
			sched_yield();
}

/* AnonHugePages (kB) of the mappings overlapping both areas. */
static long anon_huge_kb(void)
{
	u64 lo = (u64)slots[0].area;
	u64 hi = (u64)slots[NR_VCPUS - 1].area + AREA_SIZE;
	bool in_range = false;
	unsigned long start, end;
	char line[256];
	long kb, total = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in_range = start < hi && end > lo;
		else if (in_range &&
			 sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return total;
}

struct thp_ops {
	unsigned int splits;
	unsigned int collapses;
	unsigned int collapse_einval;
	unsigned int collapse_eagain;
	unsigned int errors;
	unsigned int ro_passed;		/* passes over a read-only page */
	char why[128];
	long huge_kb_max;
	unsigned int huge_seen;		/* smaps reads with huge pages */
};

static void thp_call(struct thp_ops *o, int r, const char *what)
{
	if (r && !o->errors++)
		snprintf(o->why, sizeof(o->why), "%s: %s", what,
			 strerror(errno));
}

static void thp_huge(struct thp_ops *o)
{
	long kb = anon_huge_kb();

	if (kb > o->huge_kb_max)
		o->huge_kb_max = kb;
	o->huge_seen += kb > 0;
}

static void thp_collapse(struct thp_ops *o, u8 *huge)
{
	if (!madvise(huge, HUGE_SIZE, MADV_COLLAPSE))
		o->collapses++;
	else if (errno == EINVAL)
		o->collapse_einval++;
	else if (errno == EAGAIN)
		o->collapse_eagain++;
	else
		thp_call(o, -1, "MADV_COLLAPSE");
}

/*
 * A page of @t's slot is read-only: wait until its guest wrote there and
 * got -EFAULT.  Two passes without one mean that the write went through.
 */
static void ro_wait(struct thp_ops *o, struct vcpu_thread *t)
{
	unsigned long efaults = atomic_load(&t->efaults);
	unsigned long passes = atomic_load(&t->passes);

	while (atomic_load(&t->efaults) == efaults &&
	       !atomic_load(&t->result)) {
		if (atomic_load(&t->passes) > passes + 1) {
			o->ro_passed++;
			break;
		}
		sched_yield();
	}
}

/* One round on slot @i: split three ways, collapse, look at smaps. */
static void thp_round(struct thp_ops *o, int i, u64 *seed)
{
	struct slot_mem *s = &slots[i];
	unsigned long page = st_rand(seed) % SLOT_PAGES;
	u8 *hva = s->hva + page * PAGE_SIZE;
	u8 *huge = (u8 *)((u64)hva & ~(HUGE_SIZE - 1));

	st_window_open(&ro_window);
	thp_call(o, mprotect(hva, PAGE_SIZE, PROT_READ), "mprotect");
	ro_wait(o, &threads[i]);
	thp_call(o, mprotect(hva, PAGE_SIZE, PROT_READ | PROT_WRITE),
		 "mprotect back");
	st_window_close(&ro_window);
	o->splits++;
	thp_collapse(o, huge);
	vcpus_wait();

	page = st_rand(seed) % SLOT_PAGES;
	hva = s->hva + page * PAGE_SIZE;
	st_window_open(&s->drop[page]);
	thp_call(o, madvise(hva, PAGE_SIZE, MADV_DONTNEED), "MADV_DONTNEED");
	*(u64 *)hva = pattern(SLOT_GPA(i) + page * PAGE_SIZE);
	st_window_close(&s->drop[page]);
	o->splits++;
	vcpus_wait();
	thp_huge(o);
	thp_collapse(o, huge);
	thp_huge(o);

	thp_call(o, madvise(huge, HUGE_SIZE, MADV_NOHUGEPAGE),
		 "MADV_NOHUGEPAGE");
	vcpus_wait();
	thp_call(o, madvise(huge, HUGE_SIZE, MADV_HUGEPAGE), "MADV_HUGEPAGE");
	o->splits++;
	thp_collapse(o, huge);
	thp_huge(o);
	vcpus_wait();
}

/* Why THP cannot be tested here, or NULL. */
static const char *thp_unavailable(void)
{
	char buf[128] = "";
	int fd = open(THP_ENABLED, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return "no " THP_ENABLED;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return "cannot read " THP_ENABLED;
	if (strstr(buf, "[never]"))
		return "transparent huge pages are disabled ([never])";
	return NULL;
}

static void check_vcpu(struct vcpu_thread *t)
{
	unsigned long passes = atomic_load(&t->passes);
	int v = t->index;

	if (!is_errno(t->result, 0, "vCPU %d: every page as expected", v))
		diag("  %s", t->why);
	ok(passes > 2, "vCPU %d made %lu passes", v, passes);
	diag("vCPU %d: %llu pages verified, %llu zero patterns and %llu lost passes in dropped pages, %llu -EFAULTs in read-only pages",
	     v, (unsigned long long)t->words_checked,
	     (unsigned long long)t->zeros, (unsigned long long)t->lost,
	     (unsigned long long)t->efaults);
	t->lost = 0;
	if (!ok(!t->result && vmm_pass(t, passes) && !t->lost,
		"vCPU %d: the pattern and the last pass in every page", v))
		diag("  %s", t->why);
}

int main(void)
{
	unsigned int rounds = 40, i;
	struct vmmu_stats st0, st1;
	struct thp_ops ops = { 0 };
	struct vmmu_objects before;
	const char *why;
	u64 seed = 1;
	int sys_fd, v;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	why = thp_unavailable();
	if (why) {
		skip(NR_TESTS, "%s", why);
		return tap_finish();
	}
	rounds = st_scale(rounds, 4, 8);
	if (guest_slow_emulator())
		rounds = 8;
	vmmu_objects_read_or_die(&before);
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, thp_passes, GUEST_CODE_SIZE(thp_passes));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	slots_setup();
	thp_huge(&ops);
	st_stats_or_die(g.vm_fd, &st0);
	for (v = 0; v < NR_VCPUS; v++)
		vcpu_start(&threads[v], v);
	for (i = 0; i < rounds; i++)
		thp_round(&ops, i % NR_VCPUS, &seed);
	st_stats_or_die(g.vm_fd, &st1);
	atomic_store(&stop, true);
	for (v = 0; v < NR_VCPUS; v++)
		pthread_join(threads[v].thread, NULL);

	diag("%u splits, %u collapses (%u EINVAL, %u EAGAIN), up to %ld kB AnonHugePages",
	     ops.splits, ops.collapses, ops.collapse_einval,
	     ops.collapse_eagain, ops.huge_kb_max);
	st_stats_diag("stats", &st1);
	is_int(ops.splits, 3 * rounds, "%u rounds of splits and collapses",
	       rounds);
	if (!is_int(ops.errors, 0, "every mprotect and madvise succeeded"))
		diag("  %s", ops.why);
	ok(ops.huge_kb_max > 0, "huge pages existed (%u of %u looks)",
	   ops.huge_seen, 1 + 3 * rounds);
	ok(ops.collapses + ops.collapse_einval + ops.collapse_eagain ==
	   3 * rounds, "every MADV_COLLAPSE succeeded or gave EINVAL/EAGAIN");
	ok(st1.invalidations > st0.invalidations,
	   "invalidations grew (%llu)",
	   (unsigned long long)(st1.invalidations - st0.invalidations));
	ok(st1.leaves_zapped > st0.leaves_zapped, "zapped leaves grew (%llu)",
	   (unsigned long long)(st1.leaves_zapped - st0.leaves_zapped));
	ok(st1.faults > st0.faults, "the guests faulted pages back in (%llu)",
	   (unsigned long long)(st1.faults - st0.faults));
	is_int(ops.ro_passed, 0,
	       "no guest went past a read-only page without -EFAULT");
	for (v = 0; v < NR_VCPUS; v++)
		check_vcpu(&threads[v]);

	for (v = 1; v < NR_VCPUS; v++) {
		munmap(threads[v].run, g.mmap_size);
		close(threads[v].vcpu_fd);
	}
	guest_destroy(&g);
	for (v = 0; v < NR_VCPUS; v++)
		munmap(slots[v].area, AREA_SIZE);
	ok_objects(&before, "every object is gone after close");
	close(sys_fd);
	return tap_finish();
}
