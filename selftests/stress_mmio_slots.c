// SPDX-License-Identifier: GPL-2.0
/*
 * Memslot churn under a guest doing MMIO: a guest-physical window that the
 * VMM keeps turning from memory into unbacked space and back.
 *
 * A 64-bit guest loops over one page at WINDOW_GPA: it reads every word of
 * the first half and writes every word of the second half, once per epoch,
 * each write carrying the epoch and the word's index.  Meanwhile the main
 * thread cycles slot 1 through: memory A at the window (reads and writes go
 * to A), A moved to another gpa and back, deleted (unbacked: every access
 * exits with KVM_EXIT_MMIO), memory B as KVM_MEM_READONLY at the window
 * (reads from B, writes exit), deleted again, A again.
 *
 * The checks: every read the guest makes returns A's or B's pattern for
 * that gpa, or the value the vCPU thread gave the MMIO read; every MMIO
 * exit has the gpa, length and direction of the access the guest made, and
 * a write exit the data of that write; per epoch, reads from memory plus
 * MMIO reads are the whole half page, and every write is found in exactly
 * one place (A's memory or an MMIO exit), never lost and never twice; B
 * never changes; and A does not change while it is not at the window
 * (moved away or deleted): no write lands in memory the slot no longer
 * maps there.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "pass_util.h"
#include "stress_util.h"

#define NR_TESTS	12
#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define WINDOW_GPA	(8ULL << 20)
#define AWAY_GPA	(16ULL << 20)
#define SLOT		1
#define NR_WORDS	256	/* words read, and written, per epoch */
#define WRITE_OFF	(NR_WORDS * 8)
#define BASE_A		0xa5a5000000000000ULL
#define BASE_B		0xb6b6000000000000ULL
#define BASE_MMIO	0xc7c7000000000000ULL
#define WRITE_TAG	0x5700000000000000ULL
#define PORT_EPOCH	0x50
#define PORT_ASK	0x51
#define PORT_BAD	0x52
/* Exits of the vCPU after each slot change before the next. */
#define EXITS_PER_CHANGE	3

/*
 * Epoch r12: read word i of [rdi, rdi + WRITE_OFF) and check it is BASE_A,
 * BASE_B or BASE_MMIO xor its gpa (OUT to PORT_BAD if not), counting the
 * first two in r13; write WRITE_TAG | r12 << 32 | i to word i of the second
 * half.  Then OUT r13 to PORT_EPOCH and IN from PORT_ASK: 0 goes on.
 */
GUEST_CODE(window_loop, ".code64",
	   "0:	inc %r12\n"
	   "	xor %ebx, %ebx\n"
	   "	xor %r13d, %r13d\n"
	   "1:	lea (%rdi,%rbx,8), %rcx\n"
	   "	mov (%rcx), %rax\n"
	   "	xor %rcx, %rax\n"
	   "	cmp %r9, %rax\n"
	   "	je 2f\n"
	   "	cmp %r10, %rax\n"
	   "	je 2f\n"
	   "	cmp %r11, %rax\n"
	   "	je 3f\n"
	   "	out %al, $0x52\n"
	   "	hlt\n"
	   "2:	inc %r13\n"
	   "3:	mov %r12, %rax\n"
	   "	shl $32, %rax\n"
	   "	or %rbx, %rax\n"
	   "	or %r15, %rax\n"
	   "	mov %rax, 2048(%rdi,%rbx,8)\n"
	   "	inc %rbx\n"
	   "	cmp $256, %rbx\n"
	   "	jb 1b\n"
	   "	mov %r13d, %eax\n"
	   "	out %eax, $0x50\n"
	   "	in $0x51, %al\n"
	   "	test %al, %al\n"
	   "	jz 0b\n"
	   "	hlt\n");

/* What the vCPU thread saw; the first problem is kept in @why. */
struct window_stats {
	u64 epochs;
	u64 mmio_reads;
	u64 mmio_writes;
	u64 mem_reads;
	u64 writes_in_memory;
	u64 writes_verified;
	u64 bad;
	char why[160];
};

static struct guest g;
static u8 *mem_a, *mem_b;
static atomic_bool stop;
static atomic_ulong exits;
static struct window_stats ws;
static bool seen[NR_WORDS];
static u64 epoch_mmio_reads;

static u64 write_value(u64 epoch, u64 i)
{
	return WRITE_TAG | epoch << 32 | i;
}

static void fill_read_half(u8 *mem, u64 base)
{
	u64 i;

	for (i = 0; i < NR_WORDS; i++)
		((u64 *)mem)[i] = base ^ (WINDOW_GPA + i * 8);
}

#define window_bad(...)							\
	do {								\
		if (!ws.bad++)						\
			snprintf(ws.why, sizeof(ws.why), __VA_ARGS__);	\
	} while (0)

static void on_mmio(struct kvm_run *run, u64 epoch)
{
	u64 gpa = run->mmio.phys_addr, data, i;

	if (run->mmio.len != 8 || gpa < WINDOW_GPA || gpa & 7 ||
	    gpa >= WINDOW_GPA + 2 * WRITE_OFF) {
		window_bad("MMIO at %#llx len %u", (unsigned long long)gpa,
			   run->mmio.len);
		return;
	}
	i = (gpa - WINDOW_GPA) / 8;
	if (!run->mmio.is_write) {
		if (i >= NR_WORDS)
			window_bad("MMIO read of written word %llu",
				   (unsigned long long)i);
		data = BASE_MMIO ^ gpa;
		memcpy(run->mmio.data, &data, 8);
		ws.mmio_reads++;
		epoch_mmio_reads++;
		return;
	}
	memcpy(&data, run->mmio.data, 8);
	i -= NR_WORDS;
	if (i >= NR_WORDS || data != write_value(epoch, i) || seen[i])
		window_bad("MMIO write of %#llx at %#llx in epoch %llu%s",
			   (unsigned long long)data, (unsigned long long)gpa,
			   (unsigned long long)epoch,
			   i < NR_WORDS && seen[i] ? " twice" : "");
	else
		seen[i] = true;
	ws.mmio_writes++;
}

/* End of epoch @epoch: every write in one place, every read counted. */
static void on_epoch(u64 epoch, u32 mem_reads)
{
	const u64 *a = (const u64 *)(mem_a + WRITE_OFF);
	const u64 *b = (const u64 *)(mem_b + WRITE_OFF);
	u64 i;

	if (mem_reads + epoch_mmio_reads != NR_WORDS)
		window_bad("epoch %llu: %u reads from memory, %llu MMIO reads",
			   (unsigned long long)epoch, mem_reads,
			   (unsigned long long)epoch_mmio_reads);
	for (i = 0; i < NR_WORDS; i++) {
		bool in_a = a[i] == write_value(epoch, i);

		if (in_a == seen[i])
			window_bad("epoch %llu word %llu: %s",
				   (unsigned long long)epoch,
				   (unsigned long long)i,
				   in_a ? "in memory and MMIO" : "lost");
		if (b[i])
			window_bad("B written: %#llx", (unsigned long long)b[i]);
		ws.writes_in_memory += in_a;
		seen[i] = false;
	}
	ws.writes_verified += NR_WORDS;
	ws.mem_reads += mem_reads;
	ws.epochs++;
	epoch_mmio_reads = 0;
}

static bool window_exit(struct kvm_run *run, u64 *epoch)
{
	u8 *io = (u8 *)run + run->io.data_offset;
	struct kvm_regs regs;

	if (run->exit_reason == KVM_EXIT_MMIO) {
		on_mmio(run, *epoch);
		return !ws.bad;
	}
	if (run->exit_reason != KVM_EXIT_IO) {
		window_bad("exit %s", guest_exit_name(run->exit_reason));
		return false;
	}
	switch (run->io.port) {
	case PORT_EPOCH:
		on_epoch((*epoch)++, *(u32 *)io);
		return !ws.bad;
	case PORT_ASK:
		*io = atomic_load(&stop);
		return true;
	}
	guest_get_regs(&g, &regs);
	window_bad("read of %#llx gave %#llx", (unsigned long long)regs.rcx,
		   (unsigned long long)(regs.rax ^ regs.rcx));
	return false;
}

static void *vcpu_main(void *arg)
{
	u64 epoch = 1;
	int r;

	(void)arg;
	for (;;) {
		r = guest_run(&g);
		if (r) {
			window_bad("KVM_RUN: %s", errno_name(-r));
			break;
		}
		if (g.run->exit_reason == KVM_EXIT_HLT || !window_exit(g.run, &epoch))
			break;
		atomic_fetch_add(&exits, 1);
		pass_wake();
	}
	atomic_store(&exits, ULONG_MAX / 2);
	pass_wake();
	return NULL;
}

/* The churn: slot changes and the checks of A while it is away. */
struct churn {
	u64 changes;
	u64 away_checks;
	u64 away_bad;
	int errors;
	u8 away[2 * WRITE_OFF];
};

static bool exits_reached(void *arg)
{
	return atomic_load(&exits) >= *(unsigned long *)arg;
}

/*
 * Change slot 1 (size 0 without @mem: delete), then let the vCPU exit
 * EXITS_PER_CHANGE times.  @away: A just left the window; copy it.
 */
static void churn_set(struct churn *c, u32 flags, u64 gpa, u8 *mem,
		      bool away)
{
	unsigned long since = atomic_load(&exits);
	int r;

	r = vmmu_set_region(g.vm_fd, SLOT, flags, gpa, mem ? PAGE_SIZE : 0,
			    (u64)mem);
	if (r && !c->errors++)
		diag("  slot change to gpa %#llx: %s",
		     (unsigned long long)gpa, errno_name(-r));
	if (away)
		memcpy(c->away, mem_a, sizeof(c->away));
	c->changes++;
	since += EXITS_PER_CHANGE;
	pass_wait_for(exits_reached, &since);
}

/* A is about to return to the window: it must be as it left. */
static void churn_back(struct churn *c)
{
	c->away_checks++;
	if (memcmp(c->away, mem_a, sizeof(c->away)))
		c->away_bad++;
}

static void churn_round(struct churn *c)
{
	churn_set(c, 0, AWAY_GPA, mem_a, true);
	churn_back(c);
	churn_set(c, 0, WINDOW_GPA, mem_a, false);
	churn_set(c, 0, WINDOW_GPA, NULL, true);
	churn_set(c, KVM_MEM_READONLY, WINDOW_GPA, mem_b, false);
	churn_set(c, 0, WINDOW_GPA, NULL, false);
	churn_back(c);
	churn_set(c, 0, WINDOW_GPA, mem_a, false);
}

static void vcpu_start(pthread_t *thread)
{
	struct kvm_regs regs;

	guest_get_regs(&g, &regs);
	regs.rdi = WINDOW_GPA;
	regs.r9 = BASE_A;
	regs.r10 = BASE_B;
	regs.r11 = BASE_MMIO;
	regs.r15 = WRITE_TAG;
	guest_set_regs(&g, &regs);
	if (pthread_create(thread, NULL, vcpu_main, NULL))
		bail_out("pthread_create");
}

int main(void)
{
	unsigned int rounds = 150, i;
	struct vmmu_objects before;
	struct churn churn = { 0 };
	pthread_t thread;
	u8 b_copy[PAGE_SIZE];
	int sys_fd;

	sys_fd = pass_open(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	rounds = st_scale(rounds, 2, 20);
	if (guest_slow_emulator())
		rounds = 20;
	vmmu_objects_read_or_die(&before);
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, window_loop, GUEST_CODE_SIZE(window_loop));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	mem_a = vmmu_alloc_guest_memory(PAGE_SIZE);
	mem_b = vmmu_alloc_guest_memory(PAGE_SIZE);
	fill_read_half(mem_a, BASE_A);
	fill_read_half(mem_b, BASE_B);
	memcpy(b_copy, mem_b, PAGE_SIZE);
	is_errno(vmmu_set_region(g.vm_fd, SLOT, 0, WINDOW_GPA, PAGE_SIZE,
				 (u64)mem_a), 0, "slot %d: memory A at the window",
		 SLOT);

	vcpu_start(&thread);
	for (i = 0; i < rounds && !ws.bad; i++)
		churn_round(&churn);
	atomic_store(&stop, true);
	pthread_join(thread, NULL);

	diag("%llu slot changes, %llu epochs, %llu MMIO reads, %llu MMIO writes",
	     (unsigned long long)churn.changes, (unsigned long long)ws.epochs,
	     (unsigned long long)ws.mmio_reads,
	     (unsigned long long)ws.mmio_writes);
	diag("%llu reads from memory and %llu writes verified (%llu in memory)",
	     (unsigned long long)ws.mem_reads,
	     (unsigned long long)ws.writes_verified,
	     (unsigned long long)ws.writes_in_memory);
	is_int(churn.changes, 6 * rounds, "%u rounds of slot changes", rounds);
	is_int(churn.errors, 0, "every slot change succeeded");
	if (!is_int(ws.bad, 0, "every access in memory or MMIO, as the guest made it"))
		diag("  first: %s", ws.why);
	ok(g.run->exit_reason == KVM_EXIT_HLT, "the guest halted when asked");
	ok(ws.epochs >= rounds, "%llu epochs of %d reads and writes", (unsigned long long)ws.epochs,
	   NR_WORDS);
	ok(ws.mmio_reads > 0, "MMIO reads happened");
	ok(ws.mmio_writes > 0, "MMIO writes happened");
	ok(ws.mem_reads > 0 && ws.writes_in_memory > 0,
	   "reads and writes of memory happened");
	is_int(churn.away_bad, 0,
	       "A unchanged while away from the window (%llu checks)",
	       (unsigned long long)churn.away_checks);
	ok(!memcmp(b_copy, mem_b, PAGE_SIZE), "read-only B never changed");

	guest_destroy(&g);
	munmap(mem_a, PAGE_SIZE);
	munmap(mem_b, PAGE_SIZE);
	ok_objects(&before, "every object is gone after close");
	close(sys_fd);
	return tap_finish();
}
