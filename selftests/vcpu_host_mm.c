// SPDX-License-Identifier: GPL-2.0
/*
 * A hardware vCPU runs in its own thread while the VMM changes the host
 * mapping of its memory in another: the guest sees the pages the host has,
 * never pages the host dropped.
 *
 * Replaced pages: the VMM fills 64 pages with generation-numbered content,
 * then again and again drops one (MADV_DONTNEED) or maps a new anonymous
 * page over it (mmap with MAP_FIXED) and writes the next generation into
 * its first half.  The guest checks page after page that the first half is
 * one generation throughout and reports the generation with an OUT; it
 * writes its pass number into the second half.  Every report is consistent
 * with the order of events: a generation the host had completed before the
 * guest started to read the page, or a newer one it was writing; a zero or
 * torn page only while a change of that page was in flight.  After the
 * VMM's last change the guest makes one more pass, which sees only the last
 * generation, and the VMM finds that pass in every second half.
 *
 * Read-only: the VMM makes part of the memory the guest is writing
 * PROT_READ.  KVM_RUN returns -EFAULT (as KVM does when the host mapping
 * refuses the write), RIP is on the store, nothing landed in the read-only
 * part, and after PROT_READ | PROT_WRITE the next KVM_RUN completes that
 * store and the guest goes on.
 *
 * Unmapped: the VMM unmaps part of a memslot's memory without deleting the
 * slot.  KVM_RUN returns -EFAULT; after the same range is mapped again the
 * guest continues on the fresh (zero) pages.  Every word the guest wrote
 * last is in the VMM's view of memory afterwards, and the module's objects
 * are back at their baseline once the VMs are gone.
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
#include "stress_util.h"

#define NR_TESTS	(6 + 2 * 6 + 1)
#define MEM_SIZE	(8ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define REGION_GPA	(4ULL << 20)

/* Replaced pages. */
#define CHK_PAGES	64
#define CHK_HALF	(PAGE_SIZE / 16)	/* words in half a page */
#define CHK_CHANGES	600
#define PORT_SEEN	0x40
#define PORT_NEXT	0x41
#define SEEN_ZERO	0xfffffffeU
#define SEEN_TORN	0xffffffffU

/* Read-only and unmapped pieces of a written region. */
#define WR_SIZE		BIT_ULL(20)
#define WR_HOLE_OFF	(512ULL << 10)
#define WR_HOLE_SIZE	(64ULL << 10)
#define WR_MAX_PASSES	200	/* after the change, without -EFAULT */
#define PORT_ASK	0x31

/*
 * Check pages [rdi, rdi + 4096 * rsi): for each, OUT to PORT_SEEN the
 * generation of its first half, SEEN_ZERO or SEEN_TORN; then write pass r8
 * into its second half.  IN from PORT_NEXT after a pass: 0 goes on.
 */
GUEST_CODE(chk, ".code64",
	   "0:	inc %r8\n"
	   "	xor %ebx, %ebx\n"
	   "1:	mov %rbx, %rdx\n"
	   "	shl $12, %rdx\n"
	   "	add %rdi, %rdx\n"
	   "	mov (%rdx), %rax\n"
	   "	test %rax, %rax\n"
	   "	jz 4f\n"
	   "	shr $32, %rax\n"
	   "	mov %rax, %r9\n"
	   /* r10 = gen << 32 | page << 16: word i holds r10 | i. */
	   "	mov %r9, %r10\n"
	   "	shl $32, %r10\n"
	   "	mov %rbx, %r11\n"
	   "	shl $16, %r11\n"
	   "	or %r11, %r10\n"
	   "	xor %ecx, %ecx\n"
	   "2:	mov %r10, %r11\n"
	   "	or %rcx, %r11\n"
	   "	cmp (%rdx,%rcx,8), %r11\n"
	   "	jne 5f\n"
	   "	inc %rcx\n"
	   "	cmp $256, %rcx\n"
	   "	jb 2b\n"
	   "	mov %r9d, %eax\n"
	   "	jmp 6f\n"
	   "4:	mov $0xfffffffe, %eax\n"
	   "	jmp 6f\n"
	   "5:	mov $0xffffffff, %eax\n"
	   "6:	out %eax, $0x40\n"
	   /* r10 = pass << 48 | page << 16: word i holds r10 | i. */
	   "	mov %r8, %r10\n"
	   "	shl $48, %r10\n"
	   "	mov %rbx, %r11\n"
	   "	shl $16, %r11\n"
	   "	or %r11, %r10\n"
	   "	mov $256, %ecx\n"
	   "3:	mov %r10, %r11\n"
	   "	or %rcx, %r11\n"
	   "	mov %r11, (%rdx,%rcx,8)\n"
	   "	inc %rcx\n"
	   "	cmp $512, %rcx\n"
	   "	jb 3b\n"
	   "	inc %rbx\n"
	   "	cmp %rsi, %rbx\n"
	   "	jb 1b\n"
	   "	in $0x41, %al\n"
	   "	test %al, %al\n"
	   "	jz 0b\n"
	   "	hlt\n");

/*
 * Pass r8 over [rdi, rsi): every word gets (pass << 48) | its address.
 * IN from PORT_ASK after a pass: 0 goes on.
 */
GUEST_CODE(wr, ".code64",
	   "0:	inc %r8\n"
	   "	mov %rdi, %rcx\n"
	   "1:	mov %r8, %rax\n"
	   "	shl $48, %rax\n"
	   "	or %rcx, %rax\n"
	   "wr_store:\n"
	   "	mov %rax, (%rcx)\n"
	   "	add $8, %rcx\n"
	   "	cmp %rsi, %rcx\n"
	   "	jb 1b\n"
	   "	in $0x31, %al\n"
	   "	test %al, %al\n"
	   "	jz 0b\n"
	   "	hlt\n");
GUEST_LABEL(wr_store);

static struct guest g;

static u64 chk_word(u64 gen, u64 page, u64 i)
{
	return gen << 32 | page << 16 | i;
}

static u64 pass_word(u64 pass, u64 page, u64 i)
{
	return pass << 48 | page << 16 | i;
}

static u64 *chk_page(unsigned int page)
{
	return (u64 *)(g.mem + REGION_GPA + (u64)page * PAGE_SIZE);
}

static void chk_fill(unsigned int page, u64 gen)
{
	u64 *w = chk_page(page);
	u64 i;

	for (i = 0; i < CHK_HALF; i++)
		w[i] = chk_word(gen, page, i);
}

static void guest_start(struct guest *gu, const u8 *code, size_t len,
			u64 rdi, u64 rsi)
{
	struct kvm_regs regs;

	guest_load(gu, CODE_GPA, code, len);
	guest_setup_long_mode(gu, CODE_GPA, STACK_GPA);
	guest_get_regs(gu, &regs);
	regs.rdi = rdi;
	regs.rsi = rsi;
	guest_set_regs(gu, &regs);
}

/* The generation of each page: begun by the VMM, and completed. */
static atomic_uint chk_started[CHK_PAGES];
static atomic_uint chk_done[CHK_PAGES];
static atomic_bool chk_changes_over;

/* What the vCPU thread saw of the replaced pages. */
struct chk_seen {
	int result;		/* 0, -errno of KVM_RUN, or -EPROTO */
	u32 bad_exit;
	u64 passes;
	u64 reports;
	u64 newer;		/* reports of a generation above the first */
	u64 in_flight;		/* zero or torn while a change was in flight */
	u64 stale;		/* older than completed, or never written */
	u64 unexplained;	/* zero or torn without a change in flight */
	u64 final_reports;
	u64 final_bad;
};

/* One OUT of the guest about @page, read after @lo was completed. */
static void chk_report(struct chk_seen *s, unsigned int page, u32 lo,
		       u32 seen, bool final)
{
	u32 hi = atomic_load(&chk_started[page]);

	s->reports++;
	if (seen == SEEN_ZERO || seen == SEEN_TORN) {
		if (hi == lo)
			s->unexplained++;
		else
			s->in_flight++;
	} else if (seen < lo || seen > hi) {
		if (!s->stale)
			diag("  page %u: generation %u seen, %u..%u possible",
			     page, seen, lo, hi);
		s->stale++;
	} else if (seen > 1) {
		s->newer++;
	}
	if (final) {
		s->final_reports++;
		s->final_bad += seen != lo || hi != lo;
	}
}

/*
 * The vCPU thread: check pages until the VMM made its last change and the
 * guest made one full pass after it.
 */
static void *chk_vcpu(void *arg)
{
	struct chk_seen *s = arg;
	struct kvm_run *run = g.run;
	bool final = false;
	unsigned int next = 0;
	u32 lo = atomic_load(&chk_done[0]);
	struct kvm_regs regs;
	u8 *data;
	int r;

	for (;;) {
		r = guest_run(&g);
		if (r) {
			s->result = r;
			return NULL;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		data = guest_io_data(&g);
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == PORT_SEEN &&
		    run->io.size == 4 && next < CHK_PAGES) {
			chk_report(s, next, lo, *(u32 *)data, final);
			next++;
		} else if (run->exit_reason == KVM_EXIT_IO &&
			   run->io.port == PORT_NEXT && next == CHK_PAGES) {
			s->passes++;
			*data = final;
			final = atomic_load(&chk_changes_over);
			next = 0;
		} else {
			s->bad_exit = run->exit_reason;
			s->result = -EPROTO;
			return NULL;
		}
		/* What was complete before the guest reads the next page. */
		if (next < CHK_PAGES)
			lo = atomic_load(&chk_done[next]);
	}
	guest_get_regs(&g, &regs);
	s->passes = regs.r8;
	return NULL;
}

/* Generation @gen of @page on a new host page. */
static int chk_replace(unsigned int page, u32 gen, bool drop)
{
	void *p = chk_page(page);

	atomic_store(&chk_started[page], gen);
	if (drop) {
		if (madvise(p, PAGE_SIZE, MADV_DONTNEED))
			return -errno;
	} else if (mmap(p, PAGE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p) {
		return -errno;
	}
	chk_fill(page, gen);
	atomic_store(&chk_done[page], gen);
	return 0;
}

/* The page the VMM's view of the second halves is first wrong in, or -1. */
static int chk_vmm_view(u64 pass)
{
	unsigned int p;
	u64 i;

	for (p = 0; p < CHK_PAGES; p++) {
		u64 *w = chk_page(p);
		u32 gen = atomic_load(&chk_done[p]);

		for (i = 0; i < CHK_HALF; i++)
			if (w[i] != chk_word(gen, p, i))
				return p;
		for (i = CHK_HALF; i < 2 * CHK_HALF; i++)
			if (w[i] != pass_word(pass, p, i))
				return p;
	}
	return -1;
}

static void test_replaced_pages(int sys_fd)
{
	unsigned int changes = st_scale(CHK_CHANGES, 4, 100);
	unsigned int seed = 7, i, drops = 0, maps = 0;
	struct chk_seen s;
	pthread_t thread;
	int r = 0, bad;

	memset(&s, 0, sizeof(s));
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_start(&g, chk, GUEST_CODE_SIZE(chk), REGION_GPA, CHK_PAGES);
	for (i = 0; i < CHK_PAGES; i++) {
		chk_fill(i, 1);
		atomic_store(&chk_started[i], 1);
		atomic_store(&chk_done[i], 1);
	}
	atomic_store(&chk_changes_over, false);
	if (pthread_create(&thread, NULL, chk_vcpu, &s))
		bail_out("pthread_create");
	for (i = 0; i < changes && !r; i++) {
		unsigned int page = rand_r(&seed) % CHK_PAGES;
		bool drop = rand_r(&seed) & 1;

		r = chk_replace(page, atomic_load(&chk_done[page]) + 1, drop);
		drops += drop;
		maps += !drop;
		usleep(200);
	}
	atomic_store(&chk_changes_over, true);
	pthread_join(thread, NULL);
	diag("replaced pages: %u MADV_DONTNEED, %u mmap(MAP_FIXED)", drops, maps);
	diag("guest: %llu passes, %llu reports, %llu of a newer generation, %llu torn in flight",
	     (unsigned long long)s.passes, (unsigned long long)s.reports,
	     (unsigned long long)s.newer, (unsigned long long)s.in_flight);
	is_errno(r, 0, "%u changes of the host mapping while the guest ran",
		 changes);
	if (!is_errno(s.result, 0, "replaced pages: the vCPU ran until HLT"))
		diag("  exit reason %u", s.bad_exit);
	is_int(s.stale, 0,
	       "no page seen older than the host's completed change, or newer than begun");
	is_int(s.unexplained, 0,
	       "no zero or torn page without a change of it in flight");
	ok(s.final_reports == CHK_PAGES && !s.final_bad,
	   "the pass after the last change sees the last generation of all %u pages",
	   CHK_PAGES);
	bad = chk_vmm_view(s.passes);
	if (!ok(bad < 0 && s.passes >= 2,
		"the VMM sees its last generation and the guest's last pass (%llu) in every word",
		(unsigned long long)s.passes))
		diag("  first wrong page %d", bad);
	guest_destroy(&g);
}

/* A vCPU thread running the writer until it stops or fails. */
struct wr_vcpu {
	atomic_ulong passes;
	atomic_ulong limit;	/* stop after this many passes */
	int result;
	u32 bad_exit;
};

/* Run the writer; answer "stop" once @w->limit passes are done. */
static int wr_run(struct wr_vcpu *w)
{
	u8 *data;
	int r;

	for (;;) {
		r = guest_run(&g);
		if (r)
			return r;
		if (g.run->exit_reason == KVM_EXIT_HLT)
			return 0;
		if (g.run->exit_reason != KVM_EXIT_IO ||
		    g.run->io.port != PORT_ASK) {
			w->bad_exit = g.run->exit_reason;
			return -EPROTO;
		}
		data = guest_io_data(&g);
		*data = atomic_fetch_add(&w->passes, 1) + 1 >=
			atomic_load(&w->limit);
	}
}

static void *wr_vcpu_main(void *arg)
{
	struct wr_vcpu *w = arg;

	w->result = wr_run(w);
	return NULL;
}

/*
 * The first word of the written region that is not what pass @pass wrote,
 * or -1; [@zero_gpa, @zero_end) must be zero instead.
 */
static long long wr_first_wrong(u64 pass, u64 zero_gpa, u64 zero_end)
{
	u64 a, want;

	for (a = REGION_GPA; a < REGION_GPA + WR_SIZE; a += 8) {
		want = a >= zero_gpa && a < zero_end ? 0 : pass << 48 | a;
		if (*(u64 *)(g.mem + a) != want)
			return (long long)a;
	}
	return -1;
}

/* How the host takes the hole away from the guest and gives it back. */
struct wr_change {
	const char *name;
	int (*take)(void *hole);
	int (*give)(void *hole);
};

static int wr_protect(void *hole)
{
	return mprotect(hole, WR_HOLE_SIZE, PROT_READ) ? -errno : 0;
}

static int wr_unprotect(void *hole)
{
	return mprotect(hole, WR_HOLE_SIZE, PROT_READ | PROT_WRITE) ? -errno : 0;
}

static int wr_unmap(void *hole)
{
	return munmap(hole, WR_HOLE_SIZE) ? -errno : 0;
}

static int wr_remap(void *hole)
{
	void *p = mmap(hole, WR_HOLE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	return p == hole ? 0 : -EEXIST;
}

/*
 * Wait (bounded) until the writer made a pass, take the hole away while it
 * runs, and return the first KVM_RUN error; the guest is then at the store.
 */
static int wr_until_fault(struct wr_vcpu *w, const struct wr_change *c,
			  u8 *before, int *take_r)
{
	u8 *hole = g.mem + REGION_GPA + WR_HOLE_OFF;
	pthread_t thread;
	int n;

	atomic_store(&w->limit, ~0UL);
	if (pthread_create(&thread, NULL, wr_vcpu_main, w))
		bail_out("pthread_create");
	for (n = 0; n < 30000 && !atomic_load(&w->passes); n++)
		usleep(1000);
	*take_r = c->take(hole);
	if (before && !*take_r)
		memcpy(before, hole, WR_HOLE_SIZE);
	/* A guest that never faults stops by itself. */
	atomic_store(&w->limit, atomic_load(&w->passes) + WR_MAX_PASSES);
	pthread_join(thread, NULL);
	return w->result;
}

/*
 * Take the hole away while the writer runs: KVM_RUN -EFAULT at the store;
 * give it back: the guest completes the store and its pass.
 */
static void test_hole(int sys_fd, const struct wr_change *c, bool readonly)
{
	static u8 before[WR_HOLE_SIZE];
	u64 hole_gpa = REGION_GPA + WR_HOLE_OFF;
	int r, take_r, give_r;
	struct kvm_regs regs;
	struct wr_vcpu w;
	long long wrong;
	u64 pass, addr;
	u8 *hole;

	memset(&w, 0, sizeof(w));
	guest_create(&g, sys_fd, MEM_SIZE);
	hole = g.mem + hole_gpa;
	guest_start(&g, wr, GUEST_CODE_SIZE(wr), REGION_GPA,
		    REGION_GPA + WR_SIZE);
	r = wr_until_fault(&w, c, readonly ? before : NULL, &take_r);
	diag("%s: %lu passes before KVM_RUN returned", c->name,
	     (unsigned long)atomic_load(&w.passes));
	if (!is_errno(r, EFAULT, "%s while the guest writes: KVM_RUN -EFAULT",
		      c->name))
		diag("  %s: %d, exit reason %u", c->name, take_r, w.bad_exit);
	guest_get_regs(&g, &regs);
	pass = regs.r8;
	addr = regs.rcx;
	if (!ok(regs.rip == CODE_GPA + GUEST_OFFSET(wr, wr_store) &&
		addr >= hole_gpa && addr < hole_gpa + WR_HOLE_SIZE,
		"%s: RIP on the store, its address in the changed range",
		c->name))
		diag("  rip %#llx rcx %#llx", (unsigned long long)regs.rip,
		     (unsigned long long)addr);
	if (readonly)
		ok(!memcmp(before, hole, WR_HOLE_SIZE),
		   "%s: no guest write landed in the read-only range", c->name);
	give_r = c->give(hole);
	if (give_r)
		bail_out("%s: giving the memory back: %s", c->name,
			 errno_name(-give_r));
	if (!readonly)
		ok(mmu_is_zero(hole, WR_HOLE_SIZE),
		   "%s: the range mapped again is fresh, zero memory", c->name);

	/* The interrupted pass completes, then HLT. */
	atomic_store(&w.limit, atomic_load(&w.passes) + 1);
	r = wr_run(&w);
	is_errno(r, 0, "%s: with the host mapping back the guest runs on to HLT",
		 c->name);
	guest_get_regs(&g, &regs);
	is_int(regs.r8, pass, "%s: the guest completed the interrupted pass",
	       c->name);
	/*
	 * What the guest wrote into the hole before munmap is gone; the
	 * store that faulted and every later one landed.
	 */
	wrong = wr_first_wrong(pass, hole_gpa, readonly ? hole_gpa : addr);
	if (!ok(wrong < 0,
		"%s: the VMM sees pass %llu in every word from the faulting store on, and before the hole",
		c->name, (unsigned long long)pass))
		diag("  gpa %#llx holds %#llx", wrong,
		     (unsigned long long)*(u64 *)(g.mem + wrong));
	guest_destroy(&g);
}

static const struct wr_change wr_readonly = {
	.name = "mprotect(PROT_READ)",
	.take = wr_protect,
	.give = wr_unprotect,
};

static const struct wr_change wr_unmapped = {
	.name = "munmap",
	.take = wr_unmap,
	.give = wr_remap,
};

int main(void)
{
	struct vmmu_objects before;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	vmmu_objects_read_or_die(&before);
	test_replaced_pages(sys_fd);
	test_hole(sys_fd, &wr_readonly, true);
	test_hole(sys_fd, &wr_unmapped, false);
	ok_objects(&before, "every object is gone after close");
	close(sys_fd);
	return tap_finish();
}
