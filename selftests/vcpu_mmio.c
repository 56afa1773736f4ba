// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO on hardware vCPUs: KVM_EXIT_MMIO from a fetch through the guest's own
 * page tables and a MOV decoder.
 *
 * Guests in real mode, 32-bit protected mode (without paging, with 32-bit
 * paging and with PAE) and 64-bit long mode touch guest-physical memory
 * that no memslot backs.  Every access is a KVM_EXIT_MMIO with the right
 * address, size, direction and (for a write) data; the VMM answers every
 * read, and the registers show the data with the right zero or sign
 * extension and merge rules (KVM_GET_REGS after the guest reports done).
 * The protected-mode guests with paging and the long-mode guests (4-level,
 * and 5-level where the CPU has LA57) run from a guest-virtual address
 * that is not identity-mapped, so a fetch that ignores the guest's page
 * tables finds nothing there.  The long-mode
 * guest also stores with a RIP-relative address, uses REX.R/REX.W/REX.X,
 * SIB, 67 and segment prefixes, writes to a read-only memslot (an MMIO
 * exit, memory unchanged) while its reads are plain memory, runs an
 * instruction that crosses into a page mapped elsewhere, has an MMIO read
 * completed by a KVM_RUN with immediate_exit, has a pending read
 * dropped when the VMM moves RIP (a write is complete at its exit, with
 * RIP past it, as in KVM), and runs ADD and XCHG on MMIO, which are
 * not emulated: KVM_EXIT_INTERNAL_ERROR with KVM_INTERNAL_ERROR_EMULATION
 * and the instruction bytes.  The guest goes on correctly after every
 * exit.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"

#define MEM_SIZE	0x80000ULL
#define CODE_GPA	0x1000ULL
#define MMIO_GPA	0xa0000ULL
#define RO_GPA		0xc0000ULL
#define RO_SIZE		0x10000ULL
#define RO_SLOT		1
#define RO_PATTERN	0x0badc0de0badf00dULL
/* Code reached through the guest's page tables only. */
#define PAGED_CODE_GPA	0x20000ULL
#define PAGED_CODE2_GPA	0x30000ULL
#define PM_VA		0x400000ULL
#define LM_VA		BIT_ULL(39)	/* PML4 entry 1 */

/* Protected-mode tables: 32-bit PD and PT; PAE PDPT, PD and PT. */
#define PD32_GPA	0x5000ULL
#define PT32_GPA	0x6000ULL
#define PDPT_PAE_GPA	0x7000ULL
#define PD_PAE_GPA	0x8000ULL
#define PT_PAE_GPA	0x9000ULL
/* Long mode: what maps LM_VA, next to guest_setup_long_mode()'s tables. */
#define LM_PDPT_GPA	0x5000ULL
#define LM_PD_GPA	0x6000ULL
#define LM_PT_GPA	0x7000ULL
#define LM_PML5_GPA	0x8000ULL

#define PORT_DONE	0x10
#define PORT_AFTER	0x11
#define PORT_CROSS	0x12

#define PTE_PW		(X86_PTE_PRESENT | X86_PTE_WRITE)
#define X86_CR4_PSE	BIT_ULL(4)
#define X86_CR4_LA57	BIT_ULL(12)

/* DS = ES = 0xa000; SI = 0x20. */
GUEST_CODE(rm, ".code16",
	   "	mov $0xa000, %ax\n"
	   "	mov %ax, %ds\n"
	   "	mov %ax, %es\n"
	   "	movb %bl, 0x10\n"
	   "rm_second:\n"
	   "	movw %bx, (%si)\n"
	   "	movl %ebx, 0x10(%si)\n"
	   "	movl $0x12345678, %es:0x60\n"
	   "	addr32 movb %bl, 0x70(%esi)\n"
	   "	mov 0x50, %cx\n"
	   "	mov 0x52, %dl\n"
	   "	mov 0x53, %dh\n"
	   "	movzbl 0x54, %eax\n"
	   "	movsbw 0x55, %di\n"
	   "	out %al, $0x10\n"
	   "	hlt\n");
GUEST_LABEL(rm_second);

/* ESI = MMIO_GPA, EDI = 4. */
GUEST_CODE(pm, ".code32",
	   "	movl %ebx, 0xa0000\n"
	   "	movw $0x4321, 2(%esi)\n"
	   "	movl %eax, 0xa0020\n"
	   "	movb %bh, 0x30(%esi,%edi,2)\n"
	   "	mov 0xa0004, %ecx\n"
	   "	movsbl (%esi,%edi,2), %edx\n"
	   "	mov 0xa0024, %al\n"
	   "	movzwl %fs:0x10(%esi), %ebp\n"
	   "	out %al, $0x10\n"
	   "	hlt\n");

/* RBX = MMIO_GPA, RBP = RO_GPA, R8 = 0; runs at LM_VA. */
GUEST_CODE(lm, ".code64",
	   "	mov %al, (%rbx)\n"
	   "lm_second:\n"
	   "	mov %cx, 2(%rbx)\n"
	   "	mov %edx, 4(%rbx)\n"
	   "	mov %r9, 8(%rbx)\n"
	   "	movb $0x5a, 0x10(%rbx)\n"
	   "	movq $-2, 0x18(%rbx)\n"
	   /* LM_VA + 0x2000 maps MMIO_GPA. */
	   "	mov %eax, lm + 0x205c(%rip)\n"
	   "	mov %edi, 0x50(%rbx,%r8,4)\n"
	   "	addr32 mov %edi, 0x54(%ebx)\n"
	   "	movl $0x1234, 0x10(%rbp)\n"
	   "	mov 0x20(%rbx), %al\n"
	   "	mov 0x40(%rbx), %ah\n"
	   "	mov 0x22(%rbx), %cx\n"
	   "	mov 0x24(%rbx), %edx\n"
	   "lm_r10:\n"
	   "	mov 0x28(%rbx), %r10\n"
	   "lm_r10_next:\n"
	   "	movzbl 0x30(%rbx), %r11d\n"
	   "	movsbq 0x31(%rbx), %r12\n"
	   "	movswl 0x32(%rbx), %r13d\n"
	   "	movsbw 0x36(%rbx), %r15w\n"
	   "	movslq 0x44(%rbx), %rsi\n"
	   "	mov %fs:0x58(%rbx), %edi\n"
	   "	mov 8(%rbp), %r8\n"
	   "	out %al, $0x10\n"
	   "	hlt\n"
	   "lm_add:\n"
	   "	add %eax, 0x60(%rbx)\n"
	   "lm_xchg:\n"
	   "	xchg %eax, 0x64(%rbx)\n"
	   "lm_after:\n"
	   "	out %al, $0x11\n"
	   "	hlt\n");
GUEST_LABEL(lm_r10);
GUEST_LABEL(lm_second);
GUEST_LABEL(lm_r10_next);
GUEST_LABEL(lm_add);
GUEST_LABEL(lm_xchg);
GUEST_LABEL(lm_after);

/* 7 bytes, loaded across two pages that are not adjacent in memory. */
GUEST_CODE(lm_cross, ".code64",
	   "	movl $0xcafef00d, 0x70(%rbx)\n"
	   "	out %al, $0x12\n"
	   "	hlt\n");
#define CROSS_FIRST	3	/* bytes of it on the first page */

/**
 * struct mmio_step - one MMIO exit the guest makes
 * @write: a write (else a read)
 * @gpa: its address
 * @len: its size
 * @data: a write's data, or what the VMM answers a read with
 * @what: the instruction
 */
struct mmio_step {
	bool write;
	u64 gpa;
	u32 len;
	u64 data;
	const char *what;
};

struct reg_check {
	size_t offset;	/* in struct kvm_regs */
	u64 value;
	const char *what;
};

#define REG(field, v, w) { offsetof(struct kvm_regs, field), (v), (w) }

static const struct mmio_step rm_steps[] = {
	{ true, MMIO_GPA + 0x10, 1, 0xff, "movb %bl, disp16" },
	{ true, MMIO_GPA + 0x20, 2, 0xeeff, "movw %bx, (%si)" },
	{ true, MMIO_GPA + 0x30, 4, 0xccddeeff, "movl %ebx, disp8(%si) (66)" },
	{ true, MMIO_GPA + 0x60, 4, 0x12345678, "movl $imm32, %es:disp16" },
	{ true, MMIO_GPA + 0x90, 1, 0xff, "addr32 movb %bl, disp8(%esi)" },
	{ false, MMIO_GPA + 0x50, 2, 0xbeef, "mov disp16, %cx" },
	{ false, MMIO_GPA + 0x52, 1, 0x5a, "mov disp16, %dl" },
	{ false, MMIO_GPA + 0x53, 1, 0xc3, "mov disp16, %dh" },
	{ false, MMIO_GPA + 0x54, 1, 0x80, "movzbl disp16, %eax" },
	{ false, MMIO_GPA + 0x55, 1, 0x90, "movsbw disp16, %di" },
};

static const struct reg_check rm_regs[] = {
	REG(rcx, 0x222222222222beefULL, "16-bit read merges into RCX"),
	REG(rdx, 0x333333333333c35aULL, "DL and DH reads merge into RDX"),
	REG(rax, 0x80, "MOVZX zero-extends into EAX"),
	REG(rdi, 0x666666666666ff90ULL, "MOVSX into DI sign-extends to 16 bits, merges"),
};

static const struct mmio_step pm_steps[] = {
	{ true, MMIO_GPA, 4, 0x8899aabb, "movl %ebx, disp32" },
	{ true, MMIO_GPA + 0x2, 2, 0x4321, "movw $imm16, disp8(%esi)" },
	{ true, MMIO_GPA + 0x20, 4, 0x11111111, "movl %eax, moffs32 (A3)" },
	{ true, MMIO_GPA + 0x38, 1, 0xaa, "movb %bh, disp8(%esi,%edi,2)" },
	{ false, MMIO_GPA + 0x4, 4, 0x89abcdef, "mov disp32, %ecx" },
	{ false, MMIO_GPA + 0x8, 1, 0x80, "movsbl (%esi,%edi,2), %edx" },
	{ false, MMIO_GPA + 0x24, 1, 0xa5, "mov moffs32, %al (A0)" },
	{ false, MMIO_GPA + 0x10, 2, 0x8001, "movzwl %fs:disp8(%esi), %ebp" },
};

static const struct reg_check pm_regs[] = {
	REG(rcx, 0x89abcdef, "32-bit read zero-extends into RCX"),
	REG(rdx, 0xffffff80, "MOVSX sign-extends into EDX"),
	REG(rax, 0x111111a5, "8-bit read merges into AL"),
	REG(rbp, 0x8001, "MOVZX of a word zero-extends into EBP"),
};

#define LM_R10_STEP	14	/* the read completed with immediate_exit */

static const struct mmio_step lm_steps[] = {
	{ true, MMIO_GPA, 1, 0x11, "mov %al, (%rbx)" },
	{ true, MMIO_GPA + 0x2, 2, 0x2222, "mov %cx, disp8(%rbx)" },
	{ true, MMIO_GPA + 0x4, 4, 0x33333333, "mov %edx, disp8(%rbx)" },
	{ true, MMIO_GPA + 0x8, 8, 0x0123456789abcdefULL, "mov %r9, disp8(%rbx)" },
	{ true, MMIO_GPA + 0x10, 1, 0x5a, "movb $imm8, disp8(%rbx)" },
	{ true, MMIO_GPA + 0x18, 8, 0xfffffffffffffffeULL,
	  "movq $-2, disp8(%rbx): imm32 sign-extended" },
	{ true, MMIO_GPA + 0x5c, 4, 0x11111111, "mov %eax, disp32(%rip)" },
	{ true, MMIO_GPA + 0x50, 4, 0x77777777, "mov %edi, disp8(%rbx,%r8,4)" },
	{ true, MMIO_GPA + 0x54, 4, 0x77777777, "addr32 mov %edi, disp8(%ebx)" },
	{ true, RO_GPA + 0x10, 4, 0x1234,
	  "movl $imm32 to a read-only memslot" },
	{ false, MMIO_GPA + 0x20, 1, 0xa5, "mov disp8(%rbx), %al" },
	{ false, MMIO_GPA + 0x40, 1, 0x7e, "mov disp8(%rbx), %ah" },
	{ false, MMIO_GPA + 0x22, 2, 0xbeef, "mov disp8(%rbx), %cx" },
	{ false, MMIO_GPA + 0x24, 4, 0x89abcdef, "mov disp8(%rbx), %edx" },
	{ false, MMIO_GPA + 0x28, 8, 0xfedcba9876543210ULL,
	  "mov disp8(%rbx), %r10" },
	{ false, MMIO_GPA + 0x30, 1, 0x80, "movzbl disp8(%rbx), %r11d" },
	{ false, MMIO_GPA + 0x31, 1, 0x80, "movsbq disp8(%rbx), %r12" },
	{ false, MMIO_GPA + 0x32, 2, 0x8001, "movswl disp8(%rbx), %r13d" },
	{ false, MMIO_GPA + 0x36, 1, 0x90, "movsbw disp8(%rbx), %r15w" },
	{ false, MMIO_GPA + 0x44, 4, 0x80000000, "movslq disp8(%rbx), %rsi" },
	{ false, MMIO_GPA + 0x58, 4, 0x13579bdf, "mov %fs:disp8(%rbx), %edi" },
};

static const struct reg_check lm_regs[] = {
	REG(rax, 0x1111111111117ea5ULL, "AL and AH reads merge into RAX"),
	REG(rcx, 0x222222222222beefULL, "16-bit read merges into RCX"),
	REG(rdx, 0x89abcdef, "32-bit read zero-extends into RDX"),
	REG(r10, 0xfedcba9876543210ULL, "64-bit read into R10 (REX.R)"),
	REG(r11, 0x80, "MOVZX byte into R11D zero-extends to 64 bits"),
	REG(r12, 0xffffffffffffff80ULL, "MOVSX byte into R12 sign-extends"),
	REG(r13, 0xffff8001, "MOVSX word into R13D: sign to 32, zero to 64"),
	REG(r15, 0x666666666666ff90ULL, "MOVSX byte into R15W merges 16 bits"),
	REG(rsi, 0xffffffff80000000ULL, "MOVSXD into RSI sign-extends"),
	REG(rdi, 0x13579bdf, "read with an FS override into EDI"),
	REG(r8, RO_PATTERN, "a read of the read-only memslot is memory"),
};

static void set_regs(struct guest *g, u64 rip, const struct kvm_regs *init)
{
	struct kvm_regs regs = *init;

	regs.rip = rip;
	regs.rflags = 2;
	guest_set_regs(g, &regs);
}

static u64 get_r10(struct guest *g)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	return regs.r10;
}

static u64 get_rip(struct guest *g)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	return regs.rip;
}

/*
 * Run the guest through @steps; stop at the first exit that is not the
 * expected one (the rest are skipped: the guest is somewhere else).
 * @imm_step: the read to complete with immediate_exit, or -1; it adds two
 * tests.  Return: true if every step went as expected.
 */
static bool run_steps(struct guest *g, const char *mode,
		      const struct mmio_step *steps, unsigned int n,
		      int imm_step, u64 imm_rip)
{
	struct kvm_regs regs;
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		const struct mmio_step *s = &steps[i];

		r = guest_run(g);
		if (!ok_guest_mmio(g, r, s->gpa, s->len, s->write, s->data,
				   "%s: %s", mode, s->what)) {
			skip(n - i - 1 + (imm_step >= (int)i ? 2 : 0),
			     "%s: the guest is not where expected", mode);
			return false;
		}
		if (!s->write)
			guest_mmio_reply(g, s->data);
		if ((int)i != imm_step)
			continue;
		g->run->immediate_exit = 1;
		is_errno(guest_run(g), EINTR,
			 "%s: immediate_exit: KVM_RUN returns EINTR", mode);
		g->run->immediate_exit = 0;
		guest_get_regs(g, &regs);
		ok(regs.r10 == s->data && regs.rip == imm_rip,
		   "%s: ... after completing the read into R10, RIP past it", mode);
		if (regs.r10 != s->data || regs.rip != imm_rip)
			diag("  r10 %#llx rip %#llx, expected rip %#llx",
			     (unsigned long long)regs.r10,
			     (unsigned long long)regs.rip,
			     (unsigned long long)imm_rip);
	}
	return true;
}

static void check_regs(struct guest *g, const char *mode,
		       const struct reg_check *checks, unsigned int n)
{
	struct kvm_regs regs;
	unsigned int i;
	u64 got;

	guest_get_regs(g, &regs);
	for (i = 0; i < n; i++) {
		memcpy(&got, (u8 *)&regs + checks[i].offset, sizeof(got));
		is_hex(got, checks[i].value, "%s: %s", mode, checks[i].what);
	}
}

/* The steps, then the guest's OUT to PORT_DONE, then its registers. */
static void run_and_check(struct guest *g, const char *mode,
			  const struct mmio_step *steps, unsigned int nsteps,
			  const struct reg_check *checks, unsigned int nchecks,
			  u8 al)
{
	int r;

	if (!run_steps(g, mode, steps, nsteps, -1, 0)) {
		skip(1 + nchecks, "%s: the guest is lost", mode);
		return;
	}
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_DONE, al, "%s: done", mode);
	check_regs(g, mode, checks, nchecks);
}

#define RM_TESTS	(ARRAY_SIZE(rm_steps) + 2 + ARRAY_SIZE(rm_regs))

static void test_real_mode(int sys_fd)
{
	const struct kvm_regs init = {
		.rbx = 0x8899aabbccddeeffULL,
		.rcx = 0x2222222222222222ULL,
		.rdx = 0x3333333333333333ULL,
		.rsi = 0x20,
		.rdi = 0x6666666666666666ULL,
	};
	struct guest g;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm, GUEST_CODE_SIZE(rm));
	guest_setup_real_mode(&g, CODE_GPA);
	set_regs(&g, CODE_GPA, &init);
	r = guest_run(&g);
	ok_guest_mmio(&g, r, MMIO_GPA + 0x10, 1, true, 0xff,
		      "real mode: first MMIO write exits");
	is_hex(get_rip(&g), CODE_GPA + GUEST_OFFSET(rm, rm_second),
	       "real mode: RIP is past a write when it exits, as in KVM");
	run_and_check(&g, "real mode", rm_steps + 1, ARRAY_SIZE(rm_steps) - 1,
		      rm_regs, ARRAY_SIZE(rm_regs), 0x80);
	guest_destroy(&g);
}

enum pm_paging { PM_FLAT, PM_PAGING32, PM_PAE };

/* 32-bit paging: a 4 MiB identity page, PM_VA -> PAGED_CODE_GPA. */
static void build_paging32(struct guest *g)
{
	u32 *pd = (u32 *)(g->mem + PD32_GPA);
	u32 *pt = (u32 *)(g->mem + PT32_GPA);

	pd[0] = PTE_PW | X86_PTE_LARGE;
	pd[PM_VA >> 22] = PT32_GPA | PTE_PW;
	pt[0] = PAGED_CODE_GPA | PTE_PW;
}

/* PAE: a 2 MiB identity page, PM_VA -> PAGED_CODE_GPA. */
static void build_pae(struct guest *g)
{
	u64 *pdpt = (u64 *)(g->mem + PDPT_PAE_GPA);
	u64 *pd = (u64 *)(g->mem + PD_PAE_GPA);
	u64 *pt = (u64 *)(g->mem + PT_PAE_GPA);

	pdpt[0] = PD_PAE_GPA | X86_PTE_PRESENT;	/* no W: reserved there */
	pd[0] = PTE_PW | X86_PTE_LARGE;
	pd[PM_VA >> 21] = PT_PAE_GPA | PTE_PW;
	pt[0] = PAGED_CODE_GPA | PTE_PW;
}

/* Load the protected-mode guest; return where it starts. */
static u64 setup_pm(struct guest *g, enum pm_paging paging)
{
	struct kvm_sregs sregs;

	guest_setup_protected_mode(g, CODE_GPA);
	if (paging == PM_FLAT) {
		guest_load(g, CODE_GPA, pm, GUEST_CODE_SIZE(pm));
		return CODE_GPA;
	}
	guest_load(g, PAGED_CODE_GPA, pm, GUEST_CODE_SIZE(pm));
	guest_get_sregs(g, &sregs);
	if (paging == PM_PAGING32) {
		build_paging32(g);
		sregs.cr3 = PD32_GPA;
		sregs.cr4 = X86_CR4_PSE;
	} else {
		build_pae(g);
		sregs.cr3 = PDPT_PAE_GPA;
		sregs.cr4 = X86_CR4_PAE;
	}
	sregs.cr0 |= X86_CR0_PG;
	if (guest_set_sregs(g, &sregs))
		bail_out("KVM_SET_SREGS with paging failed");
	return PM_VA;
}

#define PM_TESTS	(ARRAY_SIZE(pm_steps) + 1 + ARRAY_SIZE(pm_regs))

static void test_protected_mode(int sys_fd, enum pm_paging paging)
{
	static const char * const names[] = {
		[PM_FLAT] = "protected mode",
		[PM_PAGING32] = "protected mode, 32-bit paging",
		[PM_PAE] = "protected mode, PAE",
	};
	const struct kvm_regs init = {
		.rax = 0x11111111,
		.rbx = 0x8899aabb,
		.rcx = 0x2222222222222222ULL,
		.rdx = 0x3333333333333333ULL,
		.rbp = 0x4444444444444444ULL,
		.rsi = MMIO_GPA,
		.rdi = 4,
	};
	struct guest g;

	guest_create(&g, sys_fd, MEM_SIZE);
	set_regs(&g, setup_pm(&g, paging), &init);
	run_and_check(&g, names[paging], pm_steps, ARRAY_SIZE(pm_steps),
		      pm_regs, ARRAY_SIZE(pm_regs), 0xa5);
	guest_destroy(&g);
}

/* LM_VA: the code page, the next code page, then MMIO_GPA. */
static void build_lm_tables(struct guest *g)
{
	u64 *pml4 = (u64 *)(g->mem + GUEST_PT_GPA);
	u64 *pdpt = (u64 *)(g->mem + LM_PDPT_GPA);
	u64 *pd = (u64 *)(g->mem + LM_PD_GPA);
	u64 *pt = (u64 *)(g->mem + LM_PT_GPA);

	pml4[LM_VA >> 39] = LM_PDPT_GPA | PTE_PW;
	pdpt[0] = LM_PD_GPA | PTE_PW;
	pd[0] = LM_PT_GPA | PTE_PW;
	pt[0] = PAGED_CODE_GPA | PTE_PW;
	pt[1] = PAGED_CODE2_GPA | PTE_PW;
	pt[2] = MMIO_GPA | PTE_PW;
}

static const struct kvm_regs lm_init = {
	.rax = 0x1111111111111111ULL,
	.rcx = 0x2222222222222222ULL,
	.rdx = 0x3333333333333333ULL,
	.rbx = MMIO_GPA,
	.rbp = RO_GPA,
	.rsi = 0x5555555555555555ULL,
	.rdi = 0x77777777,
	.r9 = 0x0123456789abcdefULL,
	.r11 = 0x4444444444444444ULL,
	.r12 = 0x4444444444444444ULL,
	.r13 = 0x5555555555555555ULL,
	.r15 = 0x6666666666666666ULL,
};

/* An instruction that is not emulated: an internal error, RIP unchanged. */
static void check_not_emulated(struct guest *g, u64 rip, u8 opcode, u64 gpa,
			       const char *what)
{
	struct kvm_run *run = g->run;
	const u64 *d = run->internal.data;
	int r;

	set_regs(g, rip, &lm_init);
	r = guest_run(g);
	if (!ok(!r && run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
		run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION,
		"long mode: %s on MMIO: internal error, emulation", what)) {
		guest_exit_diag(g);
		skip(1, "no emulation error");
		return;
	}
	ok(run->internal.ndata >= 6 &&
	   d[0] == KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES &&
	   d[1] == 15 && (u8)d[2] == opcode && d[5] == gpa &&
	   get_rip(g) == rip,
	   "long mode: %s: the instruction bytes and the gpa, RIP on it", what);
}

static void test_long_mode_extra(struct guest *g, u8 *ro)
{
	u64 cross = LM_VA + PAGE_SIZE - CROSS_FIRST;
	u32 ro_word;
	int r;

	memcpy(&ro_word, ro + 0x10, sizeof(ro_word));
	is_hex(ro_word, (u32)RO_PATTERN,
	       "long mode: the write to the read-only memslot left it as it was");

	guest_load(g, PAGED_CODE_GPA + PAGE_SIZE - CROSS_FIRST, lm_cross,
		   CROSS_FIRST);
	guest_load(g, PAGED_CODE2_GPA, lm_cross + CROSS_FIRST,
		   GUEST_CODE_SIZE(lm_cross) - CROSS_FIRST);
	set_regs(g, cross, &lm_init);
	r = guest_run(g);
	ok_guest_mmio(g, r, MMIO_GPA + 0x70, 4, true, 0xcafef00d,
		      "long mode: an instruction across two guest pages");
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_CROSS, (u8)lm_init.rax,
		    "long mode: ... and the guest goes on after it");

	/* A write is complete at its exit: userspace may move RIP at once. */
	set_regs(g, cross, &lm_init);
	r = guest_run(g);
	ok_guest_mmio(g, r, MMIO_GPA + 0x70, 4, true, 0xcafef00d,
		      "long mode: the same instruction again");
	set_regs(g, LM_VA + GUEST_OFFSET(lm, lm_after), &lm_init);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_AFTER, (u8)lm_init.rax,
		    "long mode: RIP moved by userspace after a write: the guest runs from there");

	/* A read waits for its data: moving RIP away drops it. */
	set_regs(g, LM_VA + GUEST_OFFSET(lm, lm_r10), &lm_init);
	r = guest_run(g);
	ok_guest_mmio(g, r, MMIO_GPA + 0x28, 8, false, 0,
		      "long mode: an MMIO read into R10");
	guest_mmio_reply(g, 0xdeadbeefcafef00dULL);
	set_regs(g, LM_VA + GUEST_OFFSET(lm, lm_after), &lm_init);
	r = guest_run(g);
	ok(!r && g->run->exit_reason == KVM_EXIT_IO &&
	   get_r10(g) == lm_init.r10,
	   "long mode: RIP moved by userspace: the read is dropped, R10 unchanged");

	check_not_emulated(g, LM_VA + GUEST_OFFSET(lm, lm_add), 0x01,
			   MMIO_GPA + 0x60, "ADD");
	check_not_emulated(g, LM_VA + GUEST_OFFSET(lm, lm_xchg), 0x87,
			   MMIO_GPA + 0x64, "XCHG");
	set_regs(g, LM_VA + GUEST_OFFSET(lm, lm_after), &lm_init);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_AFTER, (u8)lm_init.rax,
		    "long mode: the guest goes on after an internal error");
}

#define LM_MAIN_TESTS	(ARRAY_SIZE(lm_steps) + 4 + ARRAY_SIZE(lm_regs))
#define LM_TESTS	(LM_MAIN_TESTS + 12)

/* 5-level paging: a PML5 whose entry 0 is guest_setup_long_mode()'s PML4. */
static bool enable_la57(struct guest *g)
{
	u64 *pml5 = (u64 *)(g->mem + LM_PML5_GPA);
	struct kvm_sregs sregs;

	pml5[0] = GUEST_PT_GPA | PTE_PW;
	guest_get_sregs(g, &sregs);
	sregs.cr3 = LM_PML5_GPA;
	sregs.cr4 |= X86_CR4_LA57;
	return !guest_set_sregs(g, &sregs);
}

/* The MMIO steps and registers: LM_MAIN_TESTS tests. */
static void test_long_mode_main(struct guest *g, const char *mode)
{
	int r;

	set_regs(g, LM_VA, &lm_init);
	r = guest_run(g);
	ok_guest_mmio(g, r, MMIO_GPA, 1, true, 0x11,
		      "%s, code not identity-mapped: first MMIO write", mode);
	is_hex(get_rip(g), LM_VA + GUEST_OFFSET(lm, lm_second),
	       "%s: RIP is past a write when it exits, as in KVM", mode);
	if (run_steps(g, mode, lm_steps + 1, ARRAY_SIZE(lm_steps) - 1,
		      LM_R10_STEP - 1, LM_VA + GUEST_OFFSET(lm, lm_r10_next))) {
		r = guest_run(g);
		ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, PORT_DONE, 0xa5,
			    "%s: done", mode);
		check_regs(g, mode, lm_regs, ARRAY_SIZE(lm_regs));
	} else {
		skip(1 + ARRAY_SIZE(lm_regs), "%s: the guest is lost", mode);
	}
}

static void test_long_mode(int sys_fd, bool la57)
{
	struct guest g;
	u64 *ro;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	ro = mmap(NULL, RO_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		bail_out("mmap of the read-only slot's memory");
	ro[1] = RO_PATTERN;
	ro[2] = RO_PATTERN;
	r = vmmu_set_region(g.vm_fd, RO_SLOT, KVM_MEM_READONLY, RO_GPA,
			    RO_SIZE, (u64)ro);
	if (r)
		bail_out("read-only memslot: %s", errno_name(-r));
	guest_load(&g, PAGED_CODE_GPA, lm, GUEST_CODE_SIZE(lm));
	guest_setup_long_mode(&g, LM_VA, 0);
	build_lm_tables(&g);
	if (!la57) {
		test_long_mode_main(&g, "long mode");
		test_long_mode_extra(&g, (u8 *)ro);
	} else if (enable_la57(&g)) {
		test_long_mode_main(&g, "long mode, 5-level paging");
	} else {
		skip(LM_MAIN_TESTS, "the guest cannot have 5-level paging here");
	}
	guest_destroy(&g);
	munmap(ro, RO_SIZE);
}

int main(void)
{
	unsigned int nr = RM_TESTS + 3 * PM_TESTS + LM_TESTS + LM_MAIN_TESTS + 1;
	struct vmmu_objects before;
	int sys_fd;

	tap_plan(nr);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(nr, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	vmmu_objects_read_or_die(&before);
	test_real_mode(sys_fd);
	test_protected_mode(sys_fd, PM_FLAT);
	test_protected_mode(sys_fd, PM_PAGING32);
	test_protected_mode(sys_fd, PM_PAE);
	test_long_mode(sys_fd, false);
	test_long_mode(sys_fd, true);
	ok_objects(&before, "every object of the VMs is gone after close");
	close(sys_fd);
	return tap_finish();
}
