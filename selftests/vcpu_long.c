// SPDX-License-Identifier: GPL-2.0
/*
 * A 64-bit guest with its own page tables on a hardware vCPU + vmmu's NPT
 * or EPT tables.
 *
 * KVM_SET_SREGS puts the vCPU in long mode with page tables the VMM built
 * in guest memory.  The guest writes a pattern over 64 MiB (8 MiB under
 * Bochs): every page is a nested page fault (NPF or EPT violation) vmmu
 * maps on the fly, or a neighbour such a fault maps with it (fault-around:
 * the VMM wrote the memory before) - a fault storm - and the VMM
 * finds every word in its own mapping afterwards.  The guest reports its
 * progress every MiB with an OUT, and the VMM moves the vCPU thread to
 * another CPU at each report, so the vCPU migrates during the storm.
 * Then the VMM changes some of the memory behind the guest's back (new
 * data in one MiB, MADV_DONTNEED of another) and the guest's checksum of
 * the region sees exactly the VMM's view.  The guest's SSE registers
 * survive exits to userspace, RDMSR of EFER gives the guest's EFER without
 * vmmu's SVME, and VMMU_VCPU_TRANSLATE and KVM_PRE_FAULT_MEMORY work on
 * the hardware vCPU.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_TESTS	17
#define MEM_SIZE	(96ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define RESULT_GPA	0x8000ULL
#define REGION_GPA	(16ULL << 20)
#define REGION_SIZE	(region_size)
#define REGION_END	(REGION_GPA + REGION_SIZE)
/* The VMM writes new data here, and drops these pages. */
#define CHANGED_GPA	(REGION_GPA + REGION_SIZE / 4)
#define DROPPED_GPA	(REGION_GPA + REGION_SIZE / 2)
#define CHUNK		BIT_ULL(20)
#define SEED		0x5eed0000cafe0000ULL
#define SEED2		0x0123456789abcdefULL
#define PREFAULT_GPA	(88ULL << 20)
#define PREFAULT_SIZE	BIT_ULL(20)

/* 64 MiB; 8 MiB under Bochs (guest_slow_emulator()). */
static u64 region_size = 64ULL << 20;

#define PORT_DONE	0x10
#define PORT_SSE	0x11
#define PORT_EFER	0x12
#define PORT_PROGRESS	0x13

GUEST_CODE(lm, ".code64",
	   /* Fill [rdi, rsi) with address ^ rbx, reporting every MiB. */
	   "lm_fill:\n"
	   "1:	mov %rdi, %rax\n"
	   "	xor %rbx, %rax\n"
	   "	mov %rax, (%rdi)\n"
	   "	add $8, %rdi\n"
	   "	test $0xfffff, %edi\n"
	   "	jnz 2f\n"
	   "	out %al, $0x13\n"
	   "2:	cmp %rsi, %rdi\n"
	   "	jb 1b\n"
	   "	out %al, $0x10\n"
	   "	hlt\n"
	/* XOR of every word of [rdi, rsi), stored at rdx. */
	   "lm_sum:\n"
	   "	xor %rax, %rax\n"
	   "1:	xor (%rdi), %rax\n"
	   "	add $8, %rdi\n"
	   "	cmp %rsi, %rdi\n"
	   "	jb 1b\n"
	   "	mov %rax, (%rdx)\n"
	   "	hlt\n"
	/* xmm0 = rbx, exit to userspace, then store xmm0 at rdx. */
	   "lm_sse:\n"
	   "	movq %rbx, %xmm0\n"
	   "	out %al, $0x11\n"
	   "	movq %xmm0, (%rdx)\n"
	   "	hlt\n"
	/* RDMSR of EFER, out of EAX. */
	   "lm_efer:\n"
	   "	mov $0xc0000080, %ecx\n"
	   "	rdmsr\n"
	   "	out %eax, $0x12\n"
	   "	hlt\n");
GUEST_LABEL(lm_fill);
GUEST_LABEL(lm_sum);
GUEST_LABEL(lm_sse);
GUEST_LABEL(lm_efer);

static u64 pattern(u64 gpa, u64 seed)
{
	return gpa ^ seed;
}

static void start_at(struct guest *g, u64 offset, u64 rdi, u64 rsi, u64 rbx,
		     u64 rdx)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	regs.rip = CODE_GPA + offset;
	regs.rax = 0;
	regs.rdi = rdi;
	regs.rsi = rsi;
	regs.rbx = rbx;
	regs.rdx = rdx;
	guest_set_regs(g, &regs);
}

/* Pin the calling thread to the next online CPU after the current one. */
static void move_to_next_cpu(void)
{
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (ncpus < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET((sched_getcpu() + 1) % ncpus, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The index of the first word of [gpa, end) that is not the pattern. */
static long long first_mismatch(struct guest *g, u64 gpa, u64 end, u64 seed)
{
	const u64 *mem = (const u64 *)g->mem;
	u64 a;

	for (a = gpa; a < end; a += 8)
		if (mem[a / 8] != pattern(a, seed))
			return (long long)a;
	return -1;
}

static void test_fill(struct guest *g)
{
	struct vmmu_stats st;
	unsigned int reports = 0;
	long long bad;
	int r;

	start_at(g, GUEST_OFFSET(lm, lm_fill), REGION_GPA, REGION_END, SEED, 0);
	for (;;) {
		r = guest_run(g);
		if (r || g->run->exit_reason != KVM_EXIT_IO ||
		    g->run->io.port != PORT_PROGRESS)
			break;
		reports++;
		move_to_next_cpu();
	}
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_DONE,
		    (u8)pattern(REGION_END - 8, SEED),
		    "long mode: the guest filled %llu MiB and reports done",
		    (unsigned long long)(REGION_SIZE >> 20));
	is_int(reports, REGION_SIZE / CHUNK,
	       "one progress report per MiB, the vCPU moved between CPUs at each");
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_HLT, "long mode: HLT");
	bad = first_mismatch(g, REGION_GPA, REGION_END, SEED);
	if (!ok(bad < 0, "the VMM sees every word the guest wrote"))
		diag("  first difference at gpa %#llx: %#llx", bad,
		     (unsigned long long)((u64 *)g->mem)[bad / 8]);
	is_errno(vmmu_ioctl(g->vm_fd, VMMU_GET_STATS, (unsigned long)&st), 0,
		 "VMMU_GET_STATS");
	/*
	 * Each page mapped by its own fault, by fault-around, or by a 2 MiB
	 * leaf where the host gave a transparent huge page (6.12 aligns
	 * large anonymous mappings to 2 MiB, so it usually does).
	 */
	ok(st.mapped[0] + 512 * st.mapped[1] >= REGION_SIZE / PAGE_SIZE &&
	   st.faults + st.prefetched + 511 * st.mapped[1] >=
	   REGION_SIZE / PAGE_SIZE,
	   "every page mapped by a nested page fault, fault-around or a huge leaf: %llu faults, %llu prefetched, %llu + %llu leaves of 4 KiB and 2 MiB",
	   (unsigned long long)st.faults, (unsigned long long)st.prefetched,
	   (unsigned long long)st.mapped[0],
	   (unsigned long long)st.mapped[1]);
	ok_translation(g->vcpu_fd, REGION_GPA + 0x123000,
		       VMMU_TR_PRESENT | VMMU_TR_WRITABLE | VMMU_TR_ACCESSED |
		       VMMU_TR_DIRTY, 0, NULL,
		       "VMMU_VCPU_TRANSLATE: written page mapped, accessed, dirty");
}

/* The guest sees what the VMM changed: new data, and dropped pages. */
static void test_checksum(struct guest *g)
{
	const u64 *mem = (const u64 *)g->mem;
	u64 want = 0, a, got;
	int r;

	for (a = CHANGED_GPA; a < CHANGED_GPA + CHUNK; a += 8)
		((u64 *)g->mem)[a / 8] = pattern(a, SEED2);
	is_errno(madvise(g->mem + DROPPED_GPA, CHUNK, MADV_DONTNEED), 0,
		 "MADV_DONTNEED of one MiB the guest mapped");
	for (a = REGION_GPA; a < REGION_END; a += 8)
		want ^= mem[a / 8];
	start_at(g, GUEST_OFFSET(lm, lm_sum), REGION_GPA, REGION_END, 0,
		 RESULT_GPA);
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_HLT, "the guest's checksum run ends");
	memcpy(&got, g->mem + RESULT_GPA, sizeof(got));
	is_hex(got, want,
	       "the guest sees the VMM's new data and zeroes where pages were dropped");
}

/* Big copies use the host's vector registers in userspace. */
static void clobber_vector_registers(void)
{
	static u8 a[1 << 16], b[1 << 16];

	memset(a, 0x3c, sizeof(a));
	memcpy(b, a, sizeof(b));
	asm volatile("pxor %%xmm0, %%xmm0" ::: "xmm0");
}

static void test_sse(struct guest *g)
{
	const u64 value = 0x1122334455667788ULL;
	u64 got = 0;
	int r;

	start_at(g, GUEST_OFFSET(lm, lm_sse), 0, 0, value, RESULT_GPA);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_SSE, 0,
		    "the guest loaded xmm0 and exited to userspace");
	clobber_vector_registers();
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_HLT, "the guest stored xmm0 and halted");
	memcpy(&got, g->mem + RESULT_GPA, sizeof(got));
	is_hex(got, value, "the guest's xmm0 survived the exit to userspace");
}

static void test_efer(struct guest *g)
{
	int r;

	start_at(g, GUEST_OFFSET(lm, lm_efer), 0, 0, 0, 0);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 4, PORT_EFER,
		    X86_EFER_LME | X86_EFER_LMA,
		    "RDMSR of EFER: LME and LMA, no SVME");
}

static void test_prefault(struct guest *g)
{
	struct kvm_pre_fault_memory range = {
		.gpa = PREFAULT_GPA,
		.size = PREFAULT_SIZE,
	};

	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_PRE_FAULT_MEMORY,
			    (unsigned long)&range), 0,
		 "KVM_PRE_FAULT_MEMORY on a %s vCPU", guest_hw->name);
	ok_translation(g->vcpu_fd, PREFAULT_GPA + PREFAULT_SIZE - PAGE_SIZE,
		       VMMU_TR_PRESENT, 0, NULL,
		       "the pre-faulted range is mapped in the vCPU's root");
}

int main(void)
{
	struct vmmu_objects before;
	struct guest g;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	if (guest_slow_emulator())
		region_size = 8ULL << 20;
	vmmu_objects_read_or_die(&before);
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, lm, GUEST_CODE_SIZE(lm));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	test_fill(&g);
	test_checksum(&g);
	test_sse(&g);
	test_efer(&g);
	test_prefault(&g);
	guest_destroy(&g);
	ok_objects(&before, "every object of the VM is gone after close");
	close(sys_fd);
	return tap_finish();
}
