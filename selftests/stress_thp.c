// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge pages split and collapsed under running guests.
 *
 * Guest memory for three memslots is anonymous memory, 2 MiB aligned, with
 * MADV_HUGEPAGE.  Slot 1's userspace_addr is 4 KiB past a 2 MiB boundary
 * while its gpa is 2 MiB aligned (a host huge page never lines up with a
 * guest one); slots 2 and 3 are aligned on both sides, so vmmu maps slot
 * 3's huge pages with 2 MiB leaves (slot 2 logs dirty pages: 4 KiB leaves
 * only), and every split below must take those leaves away, every collapse
 * lets them come back (the peak count of 2 MiB leaves shows that they
 * existed).  One vCPU per slot makes
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
 *
 * Slot 2 logs dirty pages.  After each step of a round, once both guests
 * made two more passes, the main thread harvests it: every page must be
 * in the log (the guest wrote each one in the full pass since the last
 * harvest, whatever the host did to the huge page under it meanwhile), and
 * the writes after a harvest take the lockless fast path (pf_fast grows)
 * until a split or collapse zaps the leaves.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "pass_util.h"
#include "stress_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define NR_VCPUS	3
#define HUGE_SLOT	2	/* slots[2], memslot 3 */
#define NR_TESTS	(8 + 3 * NR_VCPUS + 2 + 1 + 1)
#define LOGGED_SLOT	1	/* slots[1], memslot 2 */
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
	   PASS_GUEST_NEXT_PAGE
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

/* What the VMM saw of each vCPU's passes. */
struct vcpu_view {
	unsigned long window[SLOT_PAGES];	/* drop[] at the last pass */
	unsigned long ro_before;		/* ro_window before KVM_RUN */
	u64 words_checked;
	u64 zeros;		/* zero patterns seen in dropped pages */
	u64 lost;		/* passes lost in dropped pages */
	atomic_ulong efaults;	/* KVM_RUN -EFAULT in a read-only window */
};

static struct guest g;
static struct slot_mem slots[NR_VCPUS];
static struct pass_vcpu vcpus[NR_VCPUS];
static struct vcpu_view views[NR_VCPUS];
static atomic_ulong ro_window;

static u64 pattern(u64 gpa)
{
	return PATTERN ^ gpa;
}

/* Pass @pass of @v in the VMM's view; false (and v->why) on a mismatch. */
static bool vmm_pass(struct pass_vcpu *v, u64 pass)
{
	struct vcpu_view *view = &views[v->index];
	struct slot_mem *s = &slots[v->index];
	unsigned long i;

	for (i = 0; i < SLOT_PAGES; i++) {
		u64 gpa = SLOT_GPA(v->index) + i * PAGE_SIZE;
		u64 *w = (u64 *)(s->hva + i * PAGE_SIZE);
		u64 w0 = w[0], w1 = w[1];
		unsigned long now = atomic_load(&s->drop[i]);
		bool dropped = st_window_hit(view->window[i], now);

		view->window[i] = now;
		if ((w0 != pattern(gpa) || w1 != (pass << 32 | gpa >> 12)) &&
		    !(dropped && (!w0 || !w1))) {
			snprintf(v->why, sizeof(v->why),
				 "pass %llu: gpa %#llx holds %#llx %#llx",
				 (unsigned long long)pass,
				 (unsigned long long)gpa,
				 (unsigned long long)w0,
				 (unsigned long long)w1);
			return false;
		}
		view->lost += w1 != (pass << 32 | gpa >> 12);
		view->words_checked++;
	}
	return true;
}

static void vcpu_before_run(struct pass_vcpu *v)
{
	views[v->index].ro_before = atomic_load(&ro_window);
}

static bool ro_changed(void *arg)
{
	unsigned long seen = *(unsigned long *)arg;

	return !(seen & 1) || atomic_load(&ro_window) != seen;
}

/* KVM_RUN -EFAULT: fine while a page is read-only; wait until it is not. */
static bool vcpu_error(struct pass_vcpu *v, int r)
{
	struct vcpu_view *view = &views[v->index];
	unsigned long after = atomic_load(&ro_window);

	if (r != -EFAULT || !st_window_hit(view->ro_before, after))
		return false;
	view->efaults++;
	pass_wake();
	pass_wait_for(ro_changed, &after);
	return true;
}

/* The guest found a zero pattern: a page being dropped (checked later). */
static bool vcpu_exit(struct pass_vcpu *v)
{
	if (v->run->exit_reason != KVM_EXIT_IO ||
	    v->run->io.port != PORT_ZERO)
		return false;
	views[v->index].zeros++;
	return true;
}

/* The slots' memory: 2 MiB aligned, MADV_HUGEPAGE, filled, in slots 1-3. */
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
		r = vmmu_set_region(g.vm_fd, 1 + i,
				    i == LOGGED_SLOT ? KVM_MEM_LOG_DIRTY_PAGES : 0,
				    SLOT_GPA(i), SLOT_SIZE, (u64)s->hva);
		if (r)
			bail_out("slot %d: %s", 1 + i, errno_name(-r));
	}
}

static void vcpu_start(int index)
{
	struct pass_vcpu *v = &vcpus[index];
	struct kvm_regs regs;

	pass_regs_init(&regs, CODE_GPA, STACK_GPA, SLOT_GPA(index),
		       SLOT_GPA(index) + SLOT_SIZE);
	regs.r9 = PATTERN;
	v->on_pass = vmm_pass;
	v->on_exit = vcpu_exit;
	v->on_error = vcpu_error;
	v->before_run = vcpu_before_run;
	pass_vcpu_start(&g, v, index, &regs);
}

/* AnonHugePages (kB) of the mappings overlapping both areas. */
static long anon_huge_kb(void)
{
	u8 *lo = slots[0].area;
	u8 *hi = slots[NR_VCPUS - 1].area + AREA_SIZE;

	return mmu_anon_huge_kb(lo, hi - lo);
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
	unsigned long long leaves_2m_max;	/* vmmu's 2 MiB leaves */
	unsigned int harvests;
	unsigned int harvests_short;	/* harvests without every page */
	char log_why[128];
};

static void thp_call(struct thp_ops *o, int r, const char *what)
{
	if (r && !o->errors++)
		snprintf(o->why, sizeof(o->why), "%s: %s", what,
			 strerror(errno));
}

/* Note how many 2 MiB leaves vmmu has now. */
static void leaves_peak(struct thp_ops *o)
{
	struct vmmu_stats st;

	st_stats_or_die(g.vm_fd, &st);
	if (st.mapped[1] > o->leaves_2m_max)
		o->leaves_2m_max = st.mapped[1];
}

static void thp_huge(struct thp_ops *o)
{
	long kb = anon_huge_kb();

	leaves_peak(o);
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

/* What ro_wait() waits for. */
struct ro_target {
	struct pass_vcpu *v;
	unsigned long efaults;
	unsigned long passes;
};

static bool ro_faulted(void *arg)
{
	struct ro_target *t = arg;

	return atomic_load(&views[t->v->index].efaults) > t->efaults ||
	       atomic_load(&t->v->passes) > t->passes + 1 ||
	       atomic_load(&t->v->halted);
}

/*
 * A page of @t->v's slot is read-only: wait until its guest wrote there
 * and got -EFAULT.  Two passes without one mean that the write went
 * through.
 */
static void ro_wait(struct thp_ops *o, struct ro_target *t)
{
	pass_wait_for(ro_faulted, t);
	if (atomic_load(&views[t->v->index].efaults) == t->efaults &&
	    !atomic_load(&t->v->halted))
		o->ro_passed++;
}

/*
 * Harvest the logged slot after both guests made two more passes: every
 * page was written in the full pass since the last harvest.
 */
static void log_point(struct thp_ops *o)
{
	u64 bm[SLOT_PAGES / 64] = { 0 };
	struct kvm_dirty_log dl = {
		.slot = 1 + LOGGED_SLOT, .dirty_bitmap = bm,
	};
	unsigned long p;
	int r;

	pass_wait(vcpus, NR_VCPUS, 2);
	leaves_peak(o);
	r = (int)vmmu_ioctl(g.vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&dl);
	if (r)
		bail_out("KVM_GET_DIRTY_LOG: %s", errno_name(-r));
	o->harvests++;
	for (p = 0; p < SLOT_PAGES; p++) {
		if (bm[p / 64] & BIT_ULL(p % 64))
			continue;
		if (!o->harvests_short++)
			snprintf(o->log_why, sizeof(o->log_why),
				 "harvest %u: gpa %#llx not logged", o->harvests,
				 (unsigned long long)(SLOT_GPA(LOGGED_SLOT) +
						      p * PAGE_SIZE));
		break;
	}
}

/* One round on slot @i: split three ways, collapse, look at smaps. */
static void thp_round(struct thp_ops *o, int i, u64 *seed)
{
	struct slot_mem *s = &slots[i];
	unsigned long page = st_rand(seed) % SLOT_PAGES;
	u8 *hva = s->hva + page * PAGE_SIZE;
	u8 *huge = (u8 *)((u64)hva & ~(HUGE_SIZE - 1));
	struct ro_target ro;

	/* -EFAULTs counted before the page is read-only: the guest is quick. */
	ro.v = &vcpus[i];
	ro.efaults = atomic_load(&views[i].efaults);
	st_window_open(&ro_window);
	thp_call(o, mprotect(hva, PAGE_SIZE, PROT_READ), "mprotect");
	/* Passes from here on must meet the read-only page. */
	ro.passes = atomic_load(&vcpus[i].passes);
	ro_wait(o, &ro);
	thp_call(o, mprotect(hva, PAGE_SIZE, PROT_READ | PROT_WRITE),
		 "mprotect back");
	st_window_close(&ro_window);
	pass_wake();
	o->splits++;
	thp_collapse(o, huge);
	log_point(o);

	page = st_rand(seed) % SLOT_PAGES;
	hva = s->hva + page * PAGE_SIZE;
	st_window_open(&s->drop[page]);
	thp_call(o, madvise(hva, PAGE_SIZE, MADV_DONTNEED), "MADV_DONTNEED");
	*(u64 *)hva = pattern(SLOT_GPA(i) + page * PAGE_SIZE);
	st_window_close(&s->drop[page]);
	o->splits++;
	log_point(o);
	thp_huge(o);
	thp_collapse(o, huge);
	thp_huge(o);

	thp_call(o, madvise(huge, HUGE_SIZE, MADV_NOHUGEPAGE),
		 "MADV_NOHUGEPAGE");
	log_point(o);
	thp_call(o, madvise(huge, HUGE_SIZE, MADV_HUGEPAGE), "MADV_HUGEPAGE");
	o->splits++;
	thp_collapse(o, huge);
	thp_huge(o);
	log_point(o);
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

static void check_vcpu(struct pass_vcpu *v)
{
	unsigned long passes = atomic_load(&v->passes);
	struct vcpu_view *view = &views[v->index];
	int i = v->index;

	if (!is_errno(v->result, 0, "vCPU %d: every page as expected", i))
		diag("  %s", v->why);
	ok(passes > 2, "vCPU %d made %lu passes", i, passes);
	diag("vCPU %d: %llu pages verified; in dropped pages %llu zero patterns, %llu lost passes",
	     i, (unsigned long long)view->words_checked,
	     (unsigned long long)view->zeros, (unsigned long long)view->lost);
	diag("vCPU %d: %lu -EFAULTs in read-only pages", i,
	     atomic_load(&view->efaults));
	/* Nothing is dropped any more: the last pass must be everywhere. */
	view->lost = 0;
	if (!ok(!v->result && vmm_pass(v, passes) && !view->lost,
		"vCPU %d: the pattern and the last pass in every page", i))
		diag("  %s", v->why);
}

int main(void)
{
	unsigned int rounds = 30, i;
	struct vmmu_stats st0, st1;
	struct thp_ops ops = { 0 };
	struct vmmu_objects before;
	const char *why;
	u64 seed = 1;
	int sys_fd, v;

	sys_fd = pass_open(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	why = thp_unavailable();
	/*
	 * On the debug kernel QEMU's SVM emulation sometimes makes this
	 * guest triple-fault after KVM_RUN EFAULT returns, with vmmu's
	 * nested tables right; it runs there only with VMMU_STRESS_HW=1.
	 * Documentation/testing.rst, "Two failures of a loaded machine".
	 */
	if (!why && st_debug_kernel() &&
	    (!getenv("VMMU_STRESS_HW") || strcmp(getenv("VMMU_STRESS_HW"), "1")))
		why = "debug kernel: set VMMU_STRESS_HW=1 (emulator triple fault)";
	if (why) {
		skip(NR_TESTS, "%s", why);
		return tap_finish();
	}
	rounds = st_scale(rounds, 3, 8);
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
		vcpu_start(v);
	for (i = 0; i < rounds; i++)
		thp_round(&ops, i % NR_VCPUS, &seed);
	st_stats_or_die(g.vm_fd, &st1);
	pass_stop();
	pass_join(vcpus, NR_VCPUS);

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
	if (!is_int(ops.harvests_short, 0,
		    "slot 2 logs dirty pages: each of %u harvests holds every page",
		    ops.harvests))
		diag("  %s", ops.log_why);
	ok(ops.leaves_2m_max > 0,
	   "slot 3: vmmu mapped huge pages with 2 MiB leaves (up to %llu at once)",
	   ops.leaves_2m_max);
	ok(st1.pf_fast > st0.pf_fast,
	   "slot 2: write faults after a harvest took the fast path (%llu)",
	   (unsigned long long)(st1.pf_fast - st0.pf_fast));
	for (v = 0; v < NR_VCPUS; v++)
		check_vcpu(&vcpus[v]);
	pass_vcpu_close(&g, vcpus, NR_VCPUS);
	guest_destroy(&g);
	for (v = 0; v < NR_VCPUS; v++)
		munmap(slots[v].area, AREA_SIZE);
	ok_objects(&before, "every object is gone after close");
	close(sys_fd);
	return tap_finish();
}
