// SPDX-License-Identifier: GPL-2.0
/*
 * String port I/O on hardware vCPUs: INS and OUTS, with and without REP,
 * as KVM_EXIT_IO with count elements in the I/O data page.
 *
 * A 64-bit guest runs one string instruction per case, from a label the
 * test puts RIP on, then reports done on another port.  The test checks
 * each exit (direction, size, port, count), the data byte by byte in guest
 * memory (INS) and in the I/O data page (OUTS), and RSI, RDI, RCX and RIP:
 *
 *   rep insb/insw/insd, rep outsb/outsw/outsd; RCX 0 (nothing, no exit);
 *   no REP (one element, RCX untouched); RFLAGS.DF (downwards, the data
 *   page in port order); 67 in 64-bit mode (ECX and EDI, zero-extended,
 *   and EDI wrapping at 4 GiB); an FS override on OUTS with an FS base
 *   (and a DS base, which 64-bit mode ignores); a run across a guest page
 *   (two batches, RIP on the instruction in between); the batch limit (a
 *   page of data); a destination in a dirty-logged slot (reported dirty);
 *   a destination the guest's tables do not map or map read-only (#PF in
 *   the guest with CR2 and the error code; CR0.WP clear lets a supervisor
 *   write through), also when the VMM unmaps it between the exit and the
 *   completion; the memslot deleted between the INS exit and the
 *   completion (an internal error, nothing written, registers as before);
 *   the slot's memory unmapped (EFAULT); the destination held by a
 *   userfaultfd (the completion faults on the slot's hva and waits until
 *   the VMM's thread resolves it); an interrupt between two batches; RCX
 *   changed by the VMM between an INS exit and its completion (the INS runs
 *   again with it, as in KVM); and closing the vCPU with an INS pending.
 */
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#define MEM_SIZE	0x800000ULL
#define CODE_GPA	0x1000ULL
#define PT_GPA		0x5000ULL	/* 4 KiB pages for PF_GPA's 2 MiB */
#define GDT_GPA		0x6000ULL
#define IDT_GPA		0x7000ULL
#define HIGH_PD_GPA	0x8000ULL	/* maps linear 3-4 GiB */
#define STACK_TOP	0xb000ULL
#define DATA_GPA	0x100000ULL
#define BIG_GPA		0x200000ULL
#define WRAP_GPA	0x400000ULL	/* linear 0xffe00000 */
#define PF_GPA		0x600000ULL	/* not present; +4K read-only; +8K rw */
#define LOG_GPA		0x800000ULL	/* slot 1, dirty-logged */
#define DEL_GPA		0x900000ULL	/* slot 2, deleted */
#define UNMAP_GPA	0xa00000ULL	/* slot 3, munmapped */
#define UFFD_GPA	0xb00000ULL	/* slot 4, userfaultfd */
#define SLOT_SIZE	0x10000ULL

#define PORT		0x511
#define PORT_DONE	0xf0
#define PORT_PF		0xf1
#define X86_EFLAGS_IF	BIT_ULL(9)
#define X86_EFLAGS_DF	BIT_ULL(10)
#define PTE_PW		(X86_PTE_PRESENT | X86_PTE_WRITE)
#define NR_TESTS	61

GUEST_CODE(sio, ".code64",
	   "sio_insb:	rep insb\n	out %al, $0xf0\n	hlt\n"
	   "sio_insw:	rep insw\n	out %al, $0xf0\n	hlt\n"
	   "sio_insd:	rep insl\n	out %al, $0xf0\n	hlt\n"
	   "sio_outsb:	rep outsb\n	out %al, $0xf0\n	hlt\n"
	   "sio_outsw:	rep outsw\n	out %al, $0xf0\n	hlt\n"
	   "sio_outsd:	rep outsl\n	out %al, $0xf0\n	hlt\n"
	   "sio_insb1:	insb\n	out %al, $0xf0\n	hlt\n"
	   "sio_outsb1:	outsb\n	out %al, $0xf0\n	hlt\n"
	   "sio_a32:	addr32 rep insb\n	out %al, $0xf0\n	hlt\n"
	   "sio_fs:	rep outsb %fs:(%rsi), (%dx)\n	out %al, $0xf0\n	hlt\n"
	   "sio_pf:	mov %cr2, %r8\n	pop %r9\n	out %al, $0xf1\n	hlt\n"
	   "sio_irq:	mov $0x20, %r11\n	iretq\n");
GUEST_LABEL(sio_insb);
GUEST_LABEL(sio_insw);
GUEST_LABEL(sio_insd);
GUEST_LABEL(sio_outsb);
GUEST_LABEL(sio_outsw);
GUEST_LABEL(sio_outsd);
GUEST_LABEL(sio_insb1);
GUEST_LABEL(sio_outsb1);
GUEST_LABEL(sio_a32);
GUEST_LABEL(sio_fs);
GUEST_LABEL(sio_pf);
GUEST_LABEL(sio_irq);

static u64 at(const u8 *label)
{
	return CODE_GPA + GUEST_OFFSET(sio, label);
}

/* Start the guest at @label with these registers. */
static void start(struct guest *g, const u8 *label, u64 rdi, u64 rsi,
		  u64 rcx, u64 rflags)
{
	struct kvm_regs regs;

	memset(&regs, 0, sizeof(regs));
	regs.rip = at(label);
	regs.rdi = rdi;
	regs.rsi = rsi;
	regs.rcx = rcx;
	regs.rdx = PORT;
	regs.rsp = STACK_TOP;
	regs.rflags = 2 | rflags;
	guest_set_regs(g, &regs);
}

static bool is_io(struct guest *g, int r, u8 dir, u8 size, u32 count)
{
	struct kvm_run *run = g->run;

	return !r && run->exit_reason == KVM_EXIT_IO &&
	       run->io.direction == dir && run->io.size == size &&
	       run->io.port == PORT && run->io.count == count;
}

static bool is_port(struct guest *g, int r, u16 port)
{
	return !r && g->run->exit_reason == KVM_EXIT_IO &&
	       g->run->io.port == port;
}

/* One test: the exit is a string I/O batch. */
static bool ok_io(struct guest *g, int r, u8 dir, u8 size, u32 count,
		  const char *what)
{
	bool c = is_io(g, r, dir, size, count);

	if (!c) {
		diag("  KVM_RUN %d; wanted %s size %u count %u", r,
		     dir == KVM_EXIT_IO_IN ? "IN" : "OUT", size, count);
		guest_exit_diag(g);
	}
	return ok(c, "%s", what);
}

/* Userspace's answer to an INS batch: @seed, @seed + 1, ... */
static void fill(struct guest *g, u8 seed)
{
	u32 i, bytes = g->run->io.count * g->run->io.size;

	if (g->run->exit_reason != KVM_EXIT_IO || bytes > PAGE_SIZE)
		return;
	for (i = 0; i < bytes; i++)
		guest_io_data(g)[i] = seed + i;
}

static bool bytes_are(const u8 *p, u32 len, u8 seed)
{
	u32 i;

	for (i = 0; i < len; i++) {
		if (p[i] != (u8)(seed + i)) {
			diag("  byte %u is %#x, wanted %#x", i, p[i],
			     (u8)(seed + i));
			return false;
		}
	}
	return true;
}

static void pattern(u8 *p, u32 len, u8 seed)
{
	u32 i;

	for (i = 0; i < len; i++)
		p[i] = seed + i;
}

static struct kvm_regs regs_of(struct guest *g)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	return regs;
}

static const u8 *const ins_labels[] = { sio_insb, sio_insw, sio_insd };
static const u8 *const outs_labels[] = { sio_outsb, sio_outsw, sio_outsd };
static const char *const ins_names[] = {
	"rep insb: one exit, IN size 1 count 7",
	"rep insw: one exit, IN size 2 count 7",
	"rep insd: one exit, IN size 4 count 7",
};

static const char *const outs_names[] = {
	"rep outsb: one exit, OUT size 1 count 7",
	"rep outsw: one exit, OUT size 2 count 7",
	"rep outsd: one exit, OUT size 4 count 7",
};

static void test_rep_ins(struct guest *g)
{
	unsigned int i, size;
	struct kvm_regs regs;
	int r;

	for (i = 0; i < 3; i++) {
		size = 1 << i;
		memset(g->mem + DATA_GPA, 0, 0x100);
		start(g, ins_labels[i], DATA_GPA, 0, 7, 0);
		r = guest_run(g);
		ok_io(g, r, KVM_EXIT_IO_IN, size, 7, ins_names[i]);
		fill(g, 0x10 * i + 1);
		r = guest_run(g);
		ok(bytes_are(g->mem + DATA_GPA, 7 * size, 0x10 * i + 1) &&
		   !g->mem[DATA_GPA + 7 * size],
		   "rep ins size %u: guest memory holds the data, byte by byte", size);
		regs = regs_of(g);
		ok(is_port(g, r, PORT_DONE) && regs.rdi == DATA_GPA + 7 * size &&
		   regs.rcx == 0,
		   "rep ins size %u: RDI moved %u bytes, RCX 0, RIP past it", size,
		   7 * size);
	}
}

static void test_rep_outs(struct guest *g)
{
	unsigned int i, size;
	struct kvm_regs regs;
	int r;

	for (i = 0; i < 3; i++) {
		size = 1 << i;
		pattern(g->mem + DATA_GPA, 0x100, 0x40 * i + 3);
		start(g, outs_labels[i], 0, DATA_GPA, 7, 0);
		r = guest_run(g);
		ok_io(g, r, KVM_EXIT_IO_OUT, size, 7, outs_names[i]);
		ok(!r && bytes_are(guest_io_data(g), 7 * size, 0x40 * i + 3),
		   "rep outs size %u: the data page holds guest memory, byte by byte",
		   size);
		regs = regs_of(g);
		r = guest_run(g);
		ok(regs.rsi == DATA_GPA + 7 * size && regs.rcx == 0 &&
		   regs.rip == at(outs_labels[i]) && is_port(g, r, PORT_DONE),
		   "rep outs size %u: RSI and RCX moved at the exit, RIP at KVM_RUN",
		   size);
	}
}

static void test_count0_norep(struct guest *g)
{
	struct kvm_regs regs;
	int r;

	memset(g->mem + DATA_GPA, 0, 0x10);
	start(g, sio_insb, DATA_GPA, 0, 0, 0);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_port(g, r, PORT_DONE) && regs.rdi == DATA_GPA &&
	   !g->mem[DATA_GPA],
	   "rep insb with RCX 0: no I/O exit, nothing written, RDI kept");

	start(g, sio_insb1, DATA_GPA, 0, 7, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 1, "insb without REP: count 1 whatever RCX is");
	fill(g, 0x77);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_port(g, r, PORT_DONE) && regs.rcx == 7 &&
	   regs.rdi == DATA_GPA + 1 && g->mem[DATA_GPA] == 0x77 &&
	   !g->mem[DATA_GPA + 1],
	   "insb without REP: one byte, RDI + 1, RCX untouched");
}

static void test_df(struct guest *g)
{
	u8 *m = g->mem + DATA_GPA;
	struct kvm_regs regs;
	int r;

	memset(m, 0, 0x20);
	start(g, sio_insw, DATA_GPA + 0x10, 0, 3, X86_EFLAGS_DF);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 2, 3, "rep insw with DF: one exit, count 3");
	fill(g, 0xa0);
	r = guest_run(g);
	regs = regs_of(g);
	/* The first element read goes to RDI, the next below it. */
	ok(is_port(g, r, PORT_DONE) && m[0x10] == 0xa0 && m[0x11] == 0xa1 &&
	   m[0xe] == 0xa2 && m[0xf] == 0xa3 && m[0xc] == 0xa4 &&
	   m[0xd] == 0xa5 && !m[0xb] && !m[0x12] &&
	   regs.rdi == DATA_GPA + 0xa && regs.rcx == 0,
	   "rep insw with DF: elements downwards from RDI, RDI - 6");

	pattern(m, 0x20, 0);
	start(g, sio_outsw, 0, DATA_GPA + 0x10, 3, X86_EFLAGS_DF);
	r = guest_run(g);
	ok(is_io(g, r, KVM_EXIT_IO_OUT, 2, 3) &&
	   !memcmp(guest_io_data(g), "\x10\x11\x0e\x0f\x0c\x0d", 6),
	   "rep outsw with DF: the data page holds RSI's element first");
	guest_run(g);
}

static void test_addr32(struct guest *g)
{
	u8 *m = g->mem + DATA_GPA;
	struct kvm_regs regs;
	int r;

	memset(m, 0, 0x10);
	start(g, sio_a32, 0xdead000000000000ULL | DATA_GPA, 0,
	      0xffffffff00000004ULL, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 4, "addr32 rep insb: ECX counts (4), not RCX");
	fill(g, 0x31);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_port(g, r, PORT_DONE) && bytes_are(m, 4, 0x31) &&
	   regs.rdi == DATA_GPA + 4 && regs.rcx == 0,
	   "addr32 rep insb: EDI addresses, RDI and RCX zero-extended after");

	/* EDI 0xfffffffe: two bytes at the top of 4 GiB, two at 0. */
	memset(g->mem + WRAP_GPA + 0x1ffff0, 0, 0x10);
	memset(g->mem, 0, 0x10);
	start(g, sio_a32, 0xfffffffeULL, 0, 4, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 2,
	      "addr32 rep insb at EDI 0xfffffffe: a batch of 2 up to the wrap");
	fill(g, 0x51);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_io(g, r, KVM_EXIT_IO_IN, 1, 2) && regs.rdi == 0 &&
	   regs.rcx == 2 && regs.rip == at(sio_a32),
	   "addr32 rep insb: EDI wrapped to 0, the rest in a second batch");
	fill(g, 0x53);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_port(g, r, PORT_DONE) &&
	   bytes_are(g->mem + WRAP_GPA + 0x1ffffe, 2, 0x51) &&
	   bytes_are(g->mem, 2, 0x53) && regs.rdi == 2,
	   "addr32 rep insb: bytes at 4 GiB - 2 and at 0, RDI 2");
}

static void test_segments(struct guest *g)
{
	struct kvm_sregs sregs, saved;
	int r;

	pattern(g->mem + DATA_GPA, 0x100, 0x80);
	guest_get_sregs(g, &saved);
	sregs = saved;
	sregs.fs.base = DATA_GPA;
	sregs.ds.base = 0x1000;
	if (guest_set_sregs(g, &sregs))
		bail_out("KVM_SET_SREGS with FS and DS bases failed");
	start(g, sio_fs, 0, 0x40, 4, 0);
	r = guest_run(g);
	ok(is_io(g, r, KVM_EXIT_IO_OUT, 1, 4) &&
	   bytes_are(guest_io_data(g), 4, 0xc0),
	   "rep outsb %%fs:(%%rsi): the data comes from FS base + RSI");
	guest_run(g);
	start(g, sio_outsb, 0, DATA_GPA + 0x40, 4, 0);
	r = guest_run(g);
	ok(is_io(g, r, KVM_EXIT_IO_OUT, 1, 4) &&
	   bytes_are(guest_io_data(g), 4, 0xc0),
	   "rep outsb: 64-bit mode ignores the DS base");
	guest_run(g);
	if (guest_set_sregs(g, &saved))
		bail_out("KVM_SET_SREGS back failed");
}

static void test_page_cross(struct guest *g)
{
	struct kvm_regs regs;
	int r;

	memset(g->mem + DATA_GPA + 0xff0, 0, 0x20);
	start(g, sio_insb, DATA_GPA + 0xffc, 0, 8, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 4,
	      "rep insb across a page: the first batch ends at the page");
	fill(g, 0x11);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_io(g, r, KVM_EXIT_IO_IN, 1, 4) && regs.rip == at(sio_insb) &&
	   regs.rdi == DATA_GPA + 0x1000 && regs.rcx == 4,
	   "rep insb across a page: second batch, RIP still on it, RCX 4");
	fill(g, 0x15);
	r = guest_run(g);
	ok(is_port(g, r, PORT_DONE) &&
	   bytes_are(g->mem + DATA_GPA + 0xffc, 8, 0x11) &&
	   !g->mem[DATA_GPA + 0x1004],
	   "rep insb across a page: all 8 bytes, then RIP past it");
}

static void test_batch_limit(struct guest *g)
{
	u32 counts[4] = {}, n = 0;
	int r;

	memset(g->mem + BIG_GPA, 0, 0x3000);
	start(g, sio_insb, BIG_GPA, 0, 10000, 0);
	for (r = guest_run(g); is_io(g, r, KVM_EXIT_IO_IN, 1, g->run->io.count) &&
	     n < 4; r = guest_run(g)) {
		counts[n] = g->run->io.count;
		fill(g, n);
		n++;
	}
	ok(is_port(g, r, PORT_DONE) && n == 3 && counts[0] == 4096 &&
	   counts[1] == 4096 && counts[2] == 1808,
	   "rep insb of 10000 bytes: batches of 4096, 4096, 1808 (got %u: %u %u %u)",
	   n, counts[0], counts[1], counts[2]);
	ok(bytes_are(g->mem + BIG_GPA, 4096, 0) &&
	   bytes_are(g->mem + BIG_GPA + 4096, 4096, 1) &&
	   bytes_are(g->mem + BIG_GPA + 8192, 1808, 2),
	   "rep insb of 10000 bytes: every byte where it belongs");
	start(g, sio_insd, BIG_GPA, 0, 3000, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 4, 1024, "rep insd of 3000: a batch is at most a page (1024)");
}

/*
 * The VMM changes RCX between an INS exit and its completion: the INS runs
 * again with the new RCX, as in KVM, taking at most the batch's elements
 * (upstream's userspace_io_test does this to check nothing overflows).
 */
static void test_rcx_changed(struct guest *g)
{
	struct kvm_regs regs;
	int r;

	memset(g->mem + DATA_GPA, 0, 0x20);
	start(g, sio_insb, DATA_GPA, 0, 8, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 8, "rep insb of 8: one batch of 8");
	fill(g, 0x21);
	regs = regs_of(g);
	regs.rcx = 3;
	guest_set_regs(g, &regs);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_port(g, r, PORT_DONE) && bytes_are(g->mem + DATA_GPA, 3, 0x21) &&
	   !g->mem[DATA_GPA + 3] && regs.rdi == DATA_GPA + 3 && !regs.rcx,
	   "RCX set to 3 meanwhile: 3 bytes written, RDI + 3, RCX 0, RIP past it");
	memset(g->mem + DATA_GPA, 0, 0x20);
	start(g, sio_insb, DATA_GPA, 0, 2, 0);
	r = guest_run(g);
	fill(g, 0x31);
	regs = regs_of(g);
	regs.rcx = 5;
	guest_set_regs(g, &regs);
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_io(g, r, KVM_EXIT_IO_IN, 1, 3) && bytes_are(g->mem + DATA_GPA, 2, 0x31) &&
	   regs.rdi == DATA_GPA + 2 && regs.rcx == 3 && regs.rip == at(sio_insb),
	   "RCX set to 5 after a batch of 2: the 2 written, the INS runs again for 3");
	fill(g, 0x41);
	r = guest_run(g);
	ok(is_port(g, r, PORT_DONE) && bytes_are(g->mem + DATA_GPA + 2, 3, 0x41),
	   "... whose batch completes it");
}

static void test_dirty_log(struct guest *g, u8 *log_mem)
{
	struct kvm_dirty_log log = { .slot = 1 };
	u64 bitmap = 0;
	int r;

	log.dirty_bitmap = &bitmap;
	if (ioctl(g->vm_fd, KVM_GET_DIRTY_LOG, &log))
		bail_out("KVM_GET_DIRTY_LOG: %s", errno_name(errno));
	bitmap = 0;
	start(g, sio_insb, LOG_GPA + 0x3010, 0, 16, 0);
	r = guest_run(g);
	fill(g, 0x61);
	if (!is_io(g, r, KVM_EXIT_IO_IN, 1, 16))
		guest_exit_diag(g);
	r = guest_run(g);
	ok(is_port(g, r, PORT_DONE) && bytes_are(log_mem + 0x3010, 16, 0x61),
	   "rep insb into a dirty-logged slot: written");
	if (ioctl(g->vm_fd, KVM_GET_DIRTY_LOG, &log))
		bail_out("KVM_GET_DIRTY_LOG: %s", errno_name(errno));
	ok(bitmap == BIT_ULL(3),
	   "rep insb into a dirty-logged slot: exactly its page is dirty (%#llx)",
	   (unsigned long long)bitmap);
}

/* Run into the #PF handler: CR2 and the error code. */
static bool is_pf(struct guest *g, int r, u64 cr2, u64 error)
{
	struct kvm_regs regs = regs_of(g);

	if (is_port(g, r, PORT_PF) && regs.r8 == cr2 && regs.r9 == error)
		return true;
	diag("  CR2 %#llx error %#llx", (unsigned long long)regs.r8,
	     (unsigned long long)regs.r9);
	guest_exit_diag(g);
	return false;
}

static void test_page_faults(struct guest *g)
{
	u64 *pt = (u64 *)(g->mem + PT_GPA);
	struct kvm_sregs sregs;
	int r;

	start(g, sio_insb, PF_GPA + 0x10, 0, 4, 0);
	r = guest_run(g);
	ok(is_pf(g, r, PF_GPA + 0x10, 0x2),
	   "rep insb to a page not present: #PF, CR2, error 0x2, no I/O exit");
	start(g, sio_insb, PF_GPA + 0x1008, 0, 4, 0);
	r = guest_run(g);
	ok(is_pf(g, r, PF_GPA + 0x1008, 0x3),
	   "rep insb to a read-only page with CR0.WP: #PF, error 0x3");
	start(g, sio_outsb, 0, PF_GPA + 0x20, 4, 0);
	r = guest_run(g);
	ok(is_pf(g, r, PF_GPA + 0x20, 0x0),
	   "rep outsb from a page not present: #PF, error 0x0");

	guest_get_sregs(g, &sregs);
	sregs.cr0 &= ~X86_CR0_WP;
	guest_set_sregs(g, &sregs);
	start(g, sio_insb, PF_GPA + 0x1008, 0, 4, 0);
	r = guest_run(g);
	fill(g, 0x21);
	r = r ? r : guest_run(g);
	ok(is_port(g, r, PORT_DONE) &&
	   bytes_are(g->mem + PF_GPA + 0x1008, 4, 0x21),
	   "rep insb to a read-only page with CR0.WP clear: written");
	sregs.cr0 |= X86_CR0_WP;
	guest_set_sregs(g, &sregs);

	/* The VMM unmaps the destination after the exit: re-translated. */
	start(g, sio_insb, PF_GPA + 0x2000, 0, 4, 0);
	r = guest_run(g);
	if (!is_io(g, r, KVM_EXIT_IO_IN, 1, 4))
		guest_exit_diag(g);
	fill(g, 0x91);
	pt[2] = 0;
	r = guest_run(g);
	ok(is_pf(g, r, PF_GPA + 0x2000, 0x2) && !g->mem[PF_GPA + 0x2000],
	   "INS destination unmapped between exit and completion: #PF, nothing written");
	pt[2] = (PF_GPA + 0x2000) | PTE_PW;
}

static void test_slot_deleted(struct guest *g, u8 *del_mem)
{
	struct kvm_regs regs;
	int r;

	memset(del_mem, 0, SLOT_SIZE);
	start(g, sio_insb, DEL_GPA + 0x100, 0, 8, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 8, "rep insb into slot 2: an exit");
	fill(g, 0x44);
	if (vmmu_delete_region(g->vm_fd, 2))
		bail_out("deleting slot 2 failed");
	r = guest_run(g);
	ok(!r && g->run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
	   g->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION,
	   "slot deleted before the completion: KVM_INTERNAL_ERROR_EMULATION");
	regs = regs_of(g);
	ok(!del_mem[0x100] && regs.rip == at(sio_insb) &&
	   regs.rdi == DEL_GPA + 0x100 && regs.rcx == 8,
	   "slot deleted: its old memory untouched, RIP, RDI, RCX as before");
	mmu_set_region_or_die(g->vm_fd, 2, 0, DEL_GPA, SLOT_SIZE, del_mem);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 8, "slot back: the guest runs the INS again");
	fill(g, 0x48);
	r = guest_run(g);
	ok(is_port(g, r, PORT_DONE) && bytes_are(del_mem + 0x100, 8, 0x48),
	   "slot back: the INS completes");
}

static void test_munmap(struct guest *g, u8 *mem)
{
	struct kvm_regs regs;
	int r;

	start(g, sio_insb, UNMAP_GPA + 0x200, 0, 8, 0);
	r = guest_run(g);
	if (!is_io(g, r, KVM_EXIT_IO_IN, 1, 8))
		guest_exit_diag(g);
	fill(g, 0x12);
	munmap(mem, SLOT_SIZE);
	r = guest_run(g);
	is_errno(r, EFAULT, "slot memory munmapped before the completion: EFAULT");
	regs = regs_of(g);
	ok(regs.rip == at(sio_insb) && regs.rdi == UNMAP_GPA + 0x200 &&
	   regs.rcx == 8, "munmapped: RIP, RDI, RCX as before");
	vmmu_delete_region(g->vm_fd, 3);
}

/**
 * struct uffd_server - resolves one userfaultfd fault, as a VMM's
 *	postcopy thread would
 * @uffd: the userfaultfd
 * @page: where the fault must be: the destination's page in slot 4
 * @addr: the address of the fault it read
 * @r: 0, or the -errno of reading or resolving it
 */
struct uffd_server {
	int uffd;
	u8 *page;
	u64 addr;
	int r;
};

static void *uffd_serve(void *arg)
{
	static u8 zero[PAGE_SIZE];
	struct uffd_server *s = arg;
	struct uffd_msg msg;

	s->r = st_uffd_read(s->uffd, &msg);
	if (s->r)
		return NULL;
	s->addr = msg.arg.pagefault.address;
	/* Let KVM_RUN wait a little: the completion must not give up. */
	usleep(100 * 1000);
	s->r = st_uffd_copy(s->uffd, s->page, zero, PAGE_SIZE);
	return NULL;
}

static void test_uffd(struct guest *g)
{
	struct uffd_server s = {};
	struct kvm_regs regs;
	pthread_t thread;
	u8 *mem;
	int r;

	mem = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s.uffd = st_uffd_open(0);
	if (mem == MAP_FAILED || s.uffd < 0 ||
	    st_uffd_register(s.uffd, mem, SLOT_SIZE,
			     UFFDIO_REGISTER_MODE_MISSING)) {
		skip(3, "no userfaultfd here (%d)", s.uffd);
		return;
	}
	s.page = mem;
	mmu_set_region_or_die(g->vm_fd, 4, 0, UFFD_GPA, SLOT_SIZE, mem);
	start(g, sio_insb, UFFD_GPA + 0x300, 0, 8, 0);
	r = guest_run(g);
	ok_io(g, r, KVM_EXIT_IO_IN, 1, 8,
	      "rep insb into a userfaultfd slot: an exit, the page untouched");
	fill(g, 0x66);
	pthread_create(&thread, NULL, uffd_serve, &s);
	r = guest_run(g);
	pthread_join(thread, NULL);
	ok(!s.r && s.addr == (u64)(unsigned long)mem,
	   "the completion faults on the slot's page through its hva (%#llx)",
	   (unsigned long long)s.addr);
	regs = regs_of(g);
	ok(is_port(g, r, PORT_DONE) && bytes_are(mem + 0x300, 8, 0x66) &&
	   regs.rdi == UFFD_GPA + 0x308,
	   "the completion waits for the userfaultfd, then writes the data");
	vmmu_delete_region(g->vm_fd, 4);
	close(s.uffd);
	munmap(mem, SLOT_SIZE);
}

static void test_irq_between(struct guest *g)
{
	struct kvm_interrupt irq = { .irq = 0x20 };
	struct kvm_regs regs;
	int r;

	memset(g->mem + DATA_GPA + 0xff0, 0, 0x20);
	start(g, sio_insb, DATA_GPA + 0xffc, 0, 8, X86_EFLAGS_IF);
	r = guest_run(g);
	if (!is_io(g, r, KVM_EXIT_IO_IN, 1, 4))
		guest_exit_diag(g);
	fill(g, 0x01);
	if (ioctl(g->vcpu_fd, KVM_INTERRUPT, &irq))
		bail_out("KVM_INTERRUPT: %s", errno_name(errno));
	r = guest_run(g);
	regs = regs_of(g);
	ok(is_io(g, r, KVM_EXIT_IO_IN, 1, 4) && regs.r11 == 0x20 &&
	   regs.rip == at(sio_insb) && regs.rcx == 4,
	   "an interrupt queued after the first batch is taken before the second");
	fill(g, 0x05);
	r = guest_run(g);
	ok(is_port(g, r, PORT_DONE) &&
	   bytes_are(g->mem + DATA_GPA + 0xffc, 8, 0x01),
	   "the INS goes on after the interrupt handler");
}

/* PT_GPA: 4 KiB pages for PF_GPA; HIGH_PD_GPA: linear 0xffe00000. */
static void setup_tables(struct guest *g)
{
	u64 *pdpt = (u64 *)(g->mem + GUEST_PT_GPA + PAGE_SIZE);
	u64 *pd = (u64 *)(g->mem + GUEST_PT_GPA + 2 * PAGE_SIZE);
	u64 *pt = (u64 *)(g->mem + PT_GPA);
	u64 *high = (u64 *)(g->mem + HIGH_PD_GPA);
	u64 *idt = (u64 *)(g->mem + IDT_GPA);
	unsigned int i;

	memset(pt, 0, PAGE_SIZE);
	for (i = 0; i < 512; i++)
		pt[i] = (PF_GPA + i * PAGE_SIZE) | PTE_PW;
	pt[0] = 0;
	pt[1] = (PF_GPA + PAGE_SIZE) | X86_PTE_PRESENT;
	pd[PF_GPA >> 21] = PT_GPA | PTE_PW;
	memset(high, 0, PAGE_SIZE);
	high[511] = WRAP_GPA | PTE_PW | X86_PTE_LARGE;
	pdpt[3] = HIGH_PD_GPA | PTE_PW;
	guest_setup_gdt_idt(g, GDT_GPA, idt, IDT_GPA, 0x21);
	guest_set_gate(idt, 14, at(sio_pf));
	guest_set_gate(idt, 0x20, at(sio_irq));
}

static u8 *slot_mem(struct guest *g, u32 slot, u32 flags, u64 gpa)
{
	u8 *mem = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		bail_out("mmap failed");
	mmu_set_region_or_die(g->vm_fd, slot, flags, gpa, SLOT_SIZE, mem);
	return mem;
}

int main(void)
{
	u8 *log_mem, *del_mem, *unmap_mem;
	struct guest g;
	int sys_fd, r;
	bool pending;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, sio, GUEST_CODE_SIZE(sio));
	guest_setup_long_mode(&g, CODE_GPA, STACK_TOP);
	setup_tables(&g);
	log_mem = slot_mem(&g, 1, KVM_MEM_LOG_DIRTY_PAGES, LOG_GPA);
	del_mem = slot_mem(&g, 2, 0, DEL_GPA);
	unmap_mem = slot_mem(&g, 3, 0, UNMAP_GPA);
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");

	test_rep_ins(&g);
	test_rep_outs(&g);
	test_count0_norep(&g);
	test_df(&g);
	test_addr32(&g);
	test_segments(&g);
	test_page_cross(&g);
	test_batch_limit(&g);
	test_rcx_changed(&g);
	test_dirty_log(&g, log_mem);
	test_page_faults(&g);
	test_slot_deleted(&g, del_mem);
	test_munmap(&g, unmap_mem);
	test_uffd(&g);
	test_irq_between(&g);

	/* An INS left pending: closing the vCPU must not touch anything. */
	memset(del_mem, 0, SLOT_SIZE);
	start(&g, sio_insb, DEL_GPA, 0, 8, 0);
	r = guest_run(&g);
	pending = is_io(&g, r, KVM_EXIT_IO_IN, 1, 8);
	fill(&g, 0x99);
	guest_destroy(&g);
	ok(pending && !del_mem[0],
	   "closing the vCPU with an INS pending: nothing written");
	munmap(log_mem, SLOT_SIZE);
	munmap(del_mem, SLOT_SIZE);
	close(sys_fd);
	return tap_finish();
}
