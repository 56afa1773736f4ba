// SPDX-License-Identifier: GPL-2.0
/*
 * Triple faults and what makes them: KVM_EXIT_SHUTDOWN on hardware vCPUs.
 *
 * The 64-bit guests here have no IDT (limit 0), so any exception is a
 * triple fault: KVM_EXIT_SHUTDOWN.  That shows the exceptions vmmu injects:
 * #GP for an MSR it does not virtualize and (SVM) for an attempt to set
 * EFER.SVME, #UD for the virtualization instructions (VMRUN on SVM, VMCALL
 * on VMX), #GP for an XSETBV to anything but the host's XCR0 (which itself
 * is accepted).  A known MSR (STAR) reads back what the guest wrote.  After
 * a SHUTDOWN the vCPU is back in its RESET state, and runs again.
 *
 * A guest state the hardware refuses (CR3 beyond the CPU's physical
 * address width in long mode: vmmu does not check it against a guest
 * MAXPHYADDR yet) is KVM_EXIT_FAIL_ENTRY, with the hardware's reason
 * VMEXIT_INVALID on SVM, and leaves the guest state as it was.
 */
#include <cpuid.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest_util.h"

#define NR_TESTS	25
#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL

GUEST_CODE(lm_ud2, ".code64",
	   "	ud2\n");

GUEST_CODE(lm_bad_msr, ".code64",
	   "	mov $0x12345678, %ecx\n"
	   "	rdmsr\n"
	   "	hlt\n");

GUEST_CODE(lm_efer_svme, ".code64",
	   "	mov $0xc0000080, %ecx\n"
	   "	rdmsr\n"
	   "	or $0x1000, %eax\n"
	   "	wrmsr\n"
	   "	hlt\n");

GUEST_CODE(lm_vmrun, ".code64",
	   "	mov $0x3000, %eax\n"
	   "	vmrun\n"
	   "	hlt\n");

GUEST_CODE(lm_vmcall, ".code64",
	   "	vmcall\n"
	   "	hlt\n");

GUEST_CODE(lm_star, ".code64",
	   "	mov $0xc0000081, %ecx\n"
	   "	mov $0x00100008, %edx\n"
	   "	xor %eax, %eax\n"
	   "	wrmsr\n"
	   "	xor %edx, %edx\n"
	   "	rdmsr\n"
	   "	mov %edx, %eax\n"
	   "	out %eax, $0x21\n"
	   "	hlt\n");

/* EDX:EAX holds the host's XCR0 on entry. */
GUEST_CODE(lm_xsetbv, ".code64",
	   "	mov %cr4, %rbx\n"
	   "	or $0x40000, %rbx\n"
	   "	mov %rbx, %cr4\n"
	   "	xor %ecx, %ecx\n"
	   "	xsetbv\n"
	   "	out %al, $0x20\n"
	   "	mov $1, %eax\n"
	   "	xor %edx, %edx\n"
	   "	xsetbv\n"
	   "	hlt\n");

GUEST_CODE(rm_out, ".code16",
	   "	mov $0x99, %al\n"
	   "	out %al, $0x80\n"
	   "	hlt\n");

/* Where every vector of the real-mode IVT points in test_runs_again(). */
#define RM_TRAP_GPA	0x500ULL

GUEST_CODE(rm_trap, ".code16",
	   "	mov $0xee, %al\n"
	   "	out %al, $0x80\n"
	   "	hlt\n");

static void run_long_mode(struct guest *g, const u8 *code, size_t size)
{
	guest_load(g, CODE_GPA, code, size);
	guest_setup_long_mode(g, CODE_GPA, STACK_GPA);
}

/* One test: running @code ends in a triple fault. */
static void shutdown_test(struct guest *g, const u8 *code, size_t size,
			  const char *what)
{
	int r;

	run_long_mode(g, code, size);
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_SHUTDOWN, "%s: triple fault, SHUTDOWN",
		      what);
}

/*
 * The vCPU's emulator_replays (<debugfs>/vmmu/<pid>-<n>/vcpu0/stats: this
 * process has one VM), or -1 without debugfs.
 */
static long long replays(void)
{
	char pattern[64], name[48];
	long long v, n = -1;
	glob_t gl;
	FILE *f;

	snprintf(pattern, sizeof(pattern), "/sys/kernel/debug/vmmu/%d-*/vcpu0/stats",
		 getpid());
	if (glob(pattern, 0, NULL, &gl))
		return -1;
	f = fopen(gl.gl_pathv[0], "r");
	globfree(&gl);
	if (!f)
		return -1;
	while (fscanf(f, "%47s %lld", name, &v) == 2)
		if (!strcmp(name, "emulator_replays"))
			n = v;
	fclose(f);
	return n;
}

/* One test: the last run replayed nothing (skipped without debugfs). */
static void no_replay(long long before, const char *what)
{
	long long after = replays();

	if (before < 0 || after < 0)
		skip(1, "no <debugfs>/vmmu/.../vcpu0/stats here");
	else
		is_int(after - before, 0, "%s: not run again as an emulator fault (%lld replays)",
		       what, after);
}

/*
 * RIP in a page the guest's tables do not map (beyond their 1 GiB): #PF on
 * the first fetch, a triple fault.  On SVM this is the shape of the
 * emulator's phantom fault that vmmu runs again (svm/exit.c); a fault the
 * guest's own tables explain must not be taken for one.  Then the same
 * with an IDT whose gates the tables do not map either: the #PF and the
 * #DF fault on their gates (CR2 is no longer RIP), which is the shape of
 * the phantom fault in a guest with an IDT.
 */
static void test_unmapped_rip(struct guest *g)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	long long before;
	int r;

	run_long_mode(g, lm_ud2, GUEST_CODE_SIZE(lm_ud2));
	guest_get_regs(g, &regs);
	regs.rip = GUEST_PT_MAPPED + CODE_GPA;
	guest_set_regs(g, &regs);
	before = replays();
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_SHUTDOWN,
		      "RIP where the guest's tables map nothing: triple fault, SHUTDOWN");
	no_replay(before, "RIP unmapped");

	run_long_mode(g, lm_ud2, GUEST_CODE_SIZE(lm_ud2));
	guest_get_regs(g, &regs);
	regs.rip = GUEST_PT_MAPPED + CODE_GPA;
	guest_set_regs(g, &regs);
	guest_get_sregs(g, &sregs);
	sregs.idt.base = GUEST_PT_MAPPED + 0x10000;
	sregs.idt.limit = 0xfff;
	if (guest_set_sregs(g, &sregs))
		bail_out("KVM_SET_SREGS: %s", errno_name(errno));
	before = replays();
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_SHUTDOWN,
		      "RIP and the IDT's gates unmapped: triple fault, SHUTDOWN");
	no_replay(before, "RIP and gates unmapped");
}

static void test_reset_state(struct guest *g)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	guest_get_sregs(g, &sregs);
	ok(regs.rip == 0xfff0 && regs.rflags == 2 &&
	   sregs.cs.selector == 0xf000 && sregs.cs.base == 0xffff0000 &&
	   sregs.cr0 == 0x60000010 && !sregs.cr4 && !sregs.efer,
	   "after SHUTDOWN the vCPU is in its RESET state");
	if (regs.rip != 0xfff0)
		diag("  rip %#llx cs %#x base %#llx cr0 %#llx",
		     (unsigned long long)regs.rip, sregs.cs.selector,
		     (unsigned long long)sregs.cs.base,
		     (unsigned long long)sregs.cr0);
}

static void test_star(struct guest *g)
{
	int r;

	run_long_mode(g, lm_star, GUEST_CODE_SIZE(lm_star));
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 4, 0x21, 0x00100008,
		    "WRMSR and RDMSR of STAR: the guest reads back its value");
}

static unsigned int phys_bits(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid(0x80000008, eax, ebx, ecx, edx);
	return eax & 0xff;
}

static void test_fail_entry(struct guest *g)
{
	u64 bad_cr3 = 1ULL << phys_bits();
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int r;

	run_long_mode(g, lm_star, GUEST_CODE_SIZE(lm_star));
	guest_get_sregs(g, &sregs);
	sregs.cr3 = bad_cr3 | GUEST_PT_GPA;
	r = guest_set_sregs(g, &sregs);
	if (phys_bits() >= 52 || r == -EINVAL) {
		skip(5, "KVM_SET_SREGS refuses CR3 %#llx",
		     (unsigned long long)sregs.cr3);
		return;
	}
	is_errno(r, 0, "KVM_SET_SREGS: CR3 with bit %u set, above MAXPHYADDR",
		 phys_bits());
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_FAIL_ENTRY,
		      "the hardware refuses it: FAIL_ENTRY");
	if (guest_is_svm())
		is_hex(g->run->fail_entry.hardware_entry_failure_reason, ~0ULL,
		       "the hardware's reason: VMEXIT_INVALID (-1)");
	else
		skip(1, "the reason code checked is SVM's (VMEXIT_INVALID)");
	guest_get_regs(g, &regs);
	guest_get_sregs(g, &sregs);
	ok(regs.rip == CODE_GPA && sregs.cr3 == (bad_cr3 | GUEST_PT_GPA) &&
	   (sregs.efer & X86_EFER_LMA),
	   "the guest state is as it was before the failed entry");
	sregs.cr3 = GUEST_PT_GPA;
	guest_set_sregs(g, &sregs);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 4, 0x21, 0x00100008,
		    "with CR3 fixed the guest runs");
}

static bool host_has_xsave(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid(1, eax, ebx, ecx, edx);
	return ecx & (1U << 27);	/* OSXSAVE */
}

static u64 host_xcr0(void)
{
	u32 lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (u64)hi << 32 | lo;
}

/*
 * XSETBV is intercepted and only the host's value accepted; a CPU that
 * does not honour the intercept (QEMU 7.2) lets the guest's XCR0 = 1
 * through, and vmmu must then put the host's back before the host uses
 * its FPU state again.
 */
static void test_xsetbv(struct guest *g)
{
	struct kvm_regs regs;
	u64 xcr0;
	int r;

	if (!host_has_xsave()) {
		skip(4, "no XSAVE on the host");
		return;
	}
	xcr0 = host_xcr0();
	run_long_mode(g, lm_xsetbv, GUEST_CODE_SIZE(lm_xsetbv));
	guest_get_regs(g, &regs);
	regs.rax = (u32)xcr0;
	regs.rdx = xcr0 >> 32;
	guest_set_regs(g, &regs);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, 0x20, (u8)xcr0,
		    "XSETBV of the host's XCR0 (%#llx) is accepted",
		    (unsigned long long)xcr0);
	r = guest_run(g);
	ok(!r && (g->run->exit_reason == KVM_EXIT_SHUTDOWN ||
		  g->run->exit_reason == KVM_EXIT_HLT),
	   "XSETBV of XCR0 = 1: #GP and SHUTDOWN (or HLT where the CPU lets it through)");
	if (g->run->exit_reason == KVM_EXIT_HLT)
		diag("the CPU did not intercept XSETBV");
	is_hex(host_xcr0(), xcr0, "the host's XCR0 is intact after the guest ran");
	/* The vCPU restarts from RESET either way. */
	if (g->run->exit_reason != KVM_EXIT_SHUTDOWN) {
		run_long_mode(g, lm_ud2, GUEST_CODE_SIZE(lm_ud2));
		guest_run(g);
	}
	test_reset_state(g);
}

/*
 * The exception that made the triple fault must not outlive the RESET: a
 * vCPU that still injected it would take it through this IVT, whose every
 * vector leads to an OUT of 0xee, before its first instruction.
 */
static void test_runs_again(struct guest *g)
{
	u16 ivt[256][2];
	unsigned int i;
	int r;

	for (i = 0; i < 256; i++) {
		ivt[i][0] = RM_TRAP_GPA;	/* offset */
		ivt[i][1] = 0;			/* segment */
	}
	guest_load(g, 0, ivt, sizeof(ivt));
	guest_load(g, RM_TRAP_GPA, rm_trap, GUEST_CODE_SIZE(rm_trap));
	guest_load(g, CODE_GPA, rm_out, GUEST_CODE_SIZE(rm_out));
	guest_setup_real_mode(g, CODE_GPA);
	r = guest_run(g);
	ok_guest_io(g, r, KVM_EXIT_IO_OUT, 1, 0x80, 0x99,
		    "after the SHUTDOWNs a real-mode guest runs again, with no event left over");
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_HLT, "and halts");
}

int main(void)
{
	struct guest g;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	guest_create(&g, sys_fd, MEM_SIZE);
	shutdown_test(&g, lm_ud2, GUEST_CODE_SIZE(lm_ud2), "UD2 without an IDT");
	test_reset_state(&g);
	test_unmapped_rip(&g);
	test_reset_state(&g);
	shutdown_test(&g, lm_bad_msr, GUEST_CODE_SIZE(lm_bad_msr),
		      "RDMSR of an unknown MSR (#GP)");
	test_reset_state(&g);
	if (guest_is_svm()) {
		shutdown_test(&g, lm_efer_svme, GUEST_CODE_SIZE(lm_efer_svme),
			      "WRMSR setting EFER.SVME (#GP)");
		test_reset_state(&g);
		shutdown_test(&g, lm_vmrun, GUEST_CODE_SIZE(lm_vmrun),
			      "VMRUN in the guest (#UD)");
	} else {
		skip(2, "EFER.SVME is SVM's");
		shutdown_test(&g, lm_vmcall, GUEST_CODE_SIZE(lm_vmcall),
			      "VMCALL in the guest (#UD)");
	}
	test_reset_state(&g);
	test_fail_entry(&g);
	test_star(&g);
	test_xsetbv(&g);
	test_runs_again(&g);
	guest_destroy(&g);
	close(sys_fd);
	return tap_finish();
}
