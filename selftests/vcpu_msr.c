// SPDX-License-Identifier: GPL-2.0
/*
 * The MSRs a guest reads and writes, the same on every vendor.
 *
 * A 64-bit guest with a GDT and an IDT whose #GP handler marks R15 and
 * halts runs one WRMSR or RDMSR at a time (ECX, EDX:EAX set through
 * KVM_SET_REGS).  Every MSR vmmu virtualizes reads back what the guest
 * wrote; what KVM refuses with #GP is refused on SVM and on VMX alike, and
 * leaves the MSR as it was: a non-canonical address in LSTAR, CSTAR,
 * KERNEL_GS_BASE, FS/GS base, SYSENTER_ESP and SYSENTER_EIP; a PAT with a
 * reserved memory type; EFER with a reserved bit, or with LME cleared
 * while paging is on; an MSR vmmu does not know, read or written.
 * (Before the x86 layer, SVM took non-canonical SYSENTER_ESP/EIP.)
 */
#include <unistd.h>

#include "guest_util.h"

#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define GDT_GPA		0x6000ULL
#define IDT_GPA		0x7000ULL
#define STACK_GPA	0x9000ULL
#define GP_VECTOR	13
#define NONCANONICAL	0x0000800000000000ULL

#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_SYSENTER_CS		0x174
#define MSR_SYSENTER_ESP	0x175
#define MSR_SYSENTER_EIP	0x176
#define MSR_APIC_BASE		0x1b
#define MSR_PAT			0x277
#define MSR_UNKNOWN		0x12345678

#define EFER_SCE	BIT_ULL(0)

GUEST_CODE(msr_code, ".code64",
	   "msr_wr:\n"
	   "	wrmsr\n"
	   "	hlt\n"
	   "msr_rd:\n"
	   "	rdmsr\n"
	   "	hlt\n"
	   "msr_gp:\n"
	   "	mov $13, %r15d\n"
	   "	hlt\n");
GUEST_LABEL(msr_wr);
GUEST_LABEL(msr_rd);
GUEST_LABEL(msr_gp);

struct round_trip {
	u32 msr;
	const char *name;
	u64 value;
};

static const struct round_trip round_trips[] = {
	{ MSR_STAR, "STAR", 0x0013000800000000ULL },
	{ MSR_LSTAR, "LSTAR", 0xffffffff81000000ULL },
	{ MSR_CSTAR, "CSTAR", 0xffffffff82000000ULL },
	{ MSR_SYSCALL_MASK, "SFMASK", 0x47700 },
	{ MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE", 0xffff888000001000ULL },
	{ MSR_FS_BASE, "FS_BASE", 0x00007f0000001000ULL },
	{ MSR_GS_BASE, "GS_BASE", 0xffff888000002000ULL },
	{ MSR_SYSENTER_CS, "SYSENTER_CS", 0x10 },
	{ MSR_SYSENTER_ESP, "SYSENTER_ESP", 0xffffc90000004000ULL },
	{ MSR_SYSENTER_EIP, "SYSENTER_EIP", 0xffffffff81001000ULL },
	{ MSR_PAT, "PAT", 0x0007010600070106ULL },
	{ MSR_APIC_BASE, "APIC_BASE", 0xfee00900ULL },
	{ MSR_EFER, "EFER (SCE, LME, LMA)",
	  EFER_SCE | X86_EFER_LME | X86_EFER_LMA },
};

struct refused {
	u32 msr;
	const char *what;
	u64 value;
};

static const struct refused refused[] = {
	{ MSR_LSTAR, "LSTAR non-canonical", NONCANONICAL },
	{ MSR_CSTAR, "CSTAR non-canonical", NONCANONICAL },
	{ MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE non-canonical", NONCANONICAL },
	{ MSR_FS_BASE, "FS_BASE non-canonical", NONCANONICAL },
	{ MSR_GS_BASE, "GS_BASE non-canonical", NONCANONICAL },
	{ MSR_SYSENTER_ESP, "SYSENTER_ESP non-canonical", NONCANONICAL },
	{ MSR_SYSENTER_EIP, "SYSENTER_EIP non-canonical", NONCANONICAL },
	{ MSR_PAT, "PAT with memory type 2", 0x0007010600070102ULL },
	{ MSR_EFER, "EFER with reserved bit 1",
	  EFER_SCE | X86_EFER_LME | X86_EFER_LMA | BIT_ULL(1) },
	{ MSR_EFER, "EFER clearing LME under paging", EFER_SCE | X86_EFER_LMA },
};

#define NR_TESTS	(ARRAY_SIZE(round_trips) + ARRAY_SIZE(refused) + 2)

/* The GDT and an IDT whose #GP gate goes to msr_gp. */
static void setup_tables(struct guest *g)
{
	u64 *idt = (u64 *)(g->mem + IDT_GPA);

	guest_setup_gdt_idt(g, GDT_GPA, idt, IDT_GPA, 32);
	guest_set_gate(idt, GP_VECTOR,
		       CODE_GPA + GUEST_OFFSET(msr_code, msr_gp));
}

/*
 * One WRMSR (@write) or RDMSR of @msr; *@value in and out.  Returns 1 if
 * the guest took #GP, 0 if not, -1 if it did not halt.
 */
static int msr_access(struct guest *g, bool write, u32 msr, u64 *value)
{
	const u8 *entry = write ? msr_wr : msr_rd;
	struct kvm_regs regs;
	int r;

	guest_get_regs(g, &regs);
	regs.rip = CODE_GPA + GUEST_OFFSET(msr_code, entry);
	regs.rsp = STACK_GPA;
	regs.rflags = 2;
	regs.rcx = msr;
	regs.rax = (u32)*value;
	regs.rdx = *value >> 32;
	regs.r15 = 0;
	guest_set_regs(g, &regs);
	r = guest_run(g);
	if (r || g->run->exit_reason != KVM_EXIT_HLT) {
		diag("%s %#x: KVM_RUN %d, exit %s", write ? "WRMSR" : "RDMSR",
		     msr, r, guest_exit_name(g->run->exit_reason));
		return -1;
	}
	guest_get_regs(g, &regs);
	if (!write)
		*value = (u64)(u32)regs.rdx << 32 | (u32)regs.rax;
	return regs.r15 == GP_VECTOR;
}

static void test_round_trip(struct guest *g, const struct round_trip *t)
{
	u64 v = t->value, back = 0;
	int w = msr_access(g, true, t->msr, &v);
	int r = msr_access(g, false, t->msr, &back);

	if (!ok(!w && !r && back == t->value,
		"%s: WRMSR of %#llx reads back", t->name,
		(unsigned long long)t->value))
		diag("  write %d, read %d, read back %#llx", w, r,
		     (unsigned long long)back);
}

static void test_refused(struct guest *g, const struct refused *t)
{
	u64 before = 0, after = 0, v = t->value;
	int r0 = msr_access(g, false, t->msr, &before);
	int w = msr_access(g, true, t->msr, &v);
	int r1 = msr_access(g, false, t->msr, &after);

	if (!ok(!r0 && w == 1 && !r1 && after == before,
		"%s (%#llx): #GP, the MSR keeps %#llx", t->what,
		(unsigned long long)t->value, (unsigned long long)before))
		diag("  read %d, write %d, read %d, now %#llx", r0, w, r1,
		     (unsigned long long)after);
}

int main(void)
{
	struct guest g;
	unsigned int i;
	int sys_fd;
	u64 v = 0;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, msr_code, GUEST_CODE_SIZE(msr_code));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	setup_tables(&g);
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	for (i = 0; i < ARRAY_SIZE(round_trips); i++)
		test_round_trip(&g, &round_trips[i]);
	for (i = 0; i < ARRAY_SIZE(refused); i++)
		test_refused(&g, &refused[i]);
	is_int(msr_access(&g, false, MSR_UNKNOWN, &v), 1,
	       "RDMSR of an MSR vmmu does not know: #GP");
	is_int(msr_access(&g, true, MSR_UNKNOWN, &v), 1,
	       "WRMSR of an MSR vmmu does not know: #GP");
	guest_destroy(&g);
	close(sys_fd);
	return tap_finish();
}
