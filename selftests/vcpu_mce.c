// SPDX-License-Identifier: GPL-2.0
/*
 * Machine checks from the VMM (KVM_CAP_MCE, KVM_X86_GET_MCE_CAP_SUPPORTED,
 * KVM_X86_SETUP_MCE, KVM_X86_SET_MCE) with KVM's semantics, on the
 * hardware vCPU of either vendor.  A VMM such as QEMU sets up the banks
 * its CPU model has, and reports memory the host found poisoned as a
 * machine check in the guest.
 *
 * - The capability is the most banks (32); the supported MCG_CAP bits are
 *   MCG_CTL_P and MCG_SER_P; KVM_X86_SETUP_MCE refuses 0 or 33 banks and
 *   other bits (EINVAL) and turns MCG_CTL and every MCi_CTL to all ones;
 *   banks beyond the count do not exist.
 * - KVM_X86_SET_MCE: EINVAL for a bank beyond the count or a status
 *   without VAL; a corrected error lands in its bank, a second one sets
 *   OVER; an uncorrected one with CR4.MCE set is a #MC the guest takes
 *   (its IDT's handler marks a register) with the bank and MCG_STATUS
 *   written; another while MCG_STATUS.MCIP is set, or one with CR4.MCE
 *   clear, shuts the vCPU down (KVM_EXIT_SHUTDOWN); with MCi_CTL 0 an
 *   uncorrected error is dropped.
 */
#include <string.h>
#include <unistd.h>

#include "guest_util.h"

#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define GDT_GPA		0x6000ULL
#define IDT_GPA		0x7000ULL
#define STACK_GPA	0x9000ULL
#define MC_VECTOR	18
#define NR_TESTS	18

#define MSR_MCG_CAP	0x179
#define MSR_MCG_STATUS	0x17a
#define MSR_MCG_CTL	0x17b
#define MSR_MC0_CTL	0x400
#define MSR_MCI(bank, i)	(MSR_MC0_CTL + 4 * (bank) + (i))

#define MCG_CTL_P	BIT_ULL(8)
#define MCG_SER_P	BIT_ULL(24)
#define MCG_LMCE_P	BIT_ULL(27)
#define MCG_STATUS_RIPV	BIT_ULL(0)
#define MCG_STATUS_EIPV	BIT_ULL(1)
#define MCG_STATUS_MCIP	BIT_ULL(2)
#define MCI_STATUS_VAL	BIT_ULL(63)
#define MCI_STATUS_OVER	BIT_ULL(62)
#define MCI_STATUS_UC	BIT_ULL(61)
#define MCI_STATUS_EN	BIT_ULL(60)
#define MCI_STATUS_ADDRV BIT_ULL(58)
#define MCI_STATUS_PCC	BIT_ULL(57)
#define X86_CR4_MCE	BIT_ULL(6)

#define BANKS		10	/* QEMU's */
#define CAP		(MCG_CTL_P | MCG_SER_P | BANKS)
#define CORRECTED	(MCI_STATUS_VAL | MCI_STATUS_EN | 0x0001)
#define UNCORRECTED	(MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | \
			 MCI_STATUS_ADDRV | MCI_STATUS_PCC | 0x0134)

/* Spin at a HLT; the #MC handler marks R15 and halts. */
GUEST_CODE(mce_code, ".code64",
	   "mce_loop:\n"
	   "	hlt\n"
	   "	jmp mce_loop\n"
	   "mce_handler:\n"
	   "	mov $18, %r15d\n"
	   "	hlt\n");
GUEST_LABEL(mce_handler);

static u64 get_msr(struct guest *g, u32 msr, int *n)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = msr };

	*n = vmmu_ioctl(g->vcpu_fd, KVM_GET_MSRS, (unsigned long)&m);
	return m.e.data;
}

static int set_mce(struct guest *g, u32 bank, u64 status, u64 mcg_status)
{
	struct kvm_x86_mce mce = {
		.status = status,
		.addr = 0x123000,
		.misc = 0x86,
		.mcg_status = mcg_status,
		.bank = bank,
	};

	return vmmu_ioctl(g->vcpu_fd, KVM_X86_SET_MCE, (unsigned long)&mce);
}

static int setup_mce(struct guest *g, u64 cap)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_X86_SETUP_MCE, (unsigned long)&cap);
}

/* Start (again) at the HLT loop with R15 0, CR4.MCE as @mce says. */
static void guest_start(struct guest *g, bool mce)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	guest_setup_long_mode(g, CODE_GPA, STACK_GPA);
	guest_setup_gdt_idt(g, GDT_GPA, (u64 *)(g->mem + IDT_GPA), IDT_GPA, 32);
	guest_set_gate((u64 *)(g->mem + IDT_GPA), MC_VECTOR,
		       CODE_GPA + GUEST_OFFSET(mce_code, mce_handler));
	guest_get_sregs(g, &sregs);
	sregs.cr4 = mce ? sregs.cr4 | X86_CR4_MCE : sregs.cr4 & ~X86_CR4_MCE;
	if (guest_set_sregs(g, &sregs))
		bail_out("KVM_SET_SREGS: %m");
	guest_get_regs(g, &regs);
	regs.r15 = 0;
	guest_set_regs(g, &regs);
}

static void test_setup(struct guest *g)
{
	u64 cap = 0;
	int n, n2;
	long r;

	is_int(vmmu_ioctl(g->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MCE), 32,
	       "KVM_CAP_MCE: 32 banks");
	r = vmmu_ioctl(g->sys_fd, KVM_X86_GET_MCE_CAP_SUPPORTED,
		       (unsigned long)&cap);
	ok(!r && cap == (MCG_CTL_P | MCG_SER_P),
	   "KVM_X86_GET_MCE_CAP_SUPPORTED: MCG_CTL_P and MCG_SER_P (%ld, %#llx)",
	   r, (unsigned long long)cap);
	is_errno(setup_mce(g, MCG_CTL_P), EINVAL, "KVM_X86_SETUP_MCE of 0 banks");
	is_errno(setup_mce(g, 33), EINVAL, "KVM_X86_SETUP_MCE of 33 banks");
	is_errno(setup_mce(g, MCG_LMCE_P | BANKS), EINVAL,
		 "KVM_X86_SETUP_MCE with LMCE");
	is_int(setup_mce(g, CAP), 0,
	       "KVM_X86_SETUP_MCE of 10 banks, MCG_CTL_P, MCG_SER_P");
	ok(get_msr(g, MSR_MCG_CAP, &n) == CAP && n == 1 &&
	   get_msr(g, MSR_MCG_CTL, &n2) == ~0ULL && n2 == 1,
	   "MCG_CAP is what was set up, MCG_CTL all ones");
	ok(get_msr(g, MSR_MCI(9, 0), &n) == ~0ULL && n == 1 &&
	   (get_msr(g, MSR_MCI(10, 0), &n2), n2 == 0),
	   "MC9_CTL all ones, no bank 10 (%d, %d)", n, n2);
}

static void test_inject(struct guest *g)
{
	struct kvm_regs regs;
	int n, r;

	is_errno(set_mce(g, BANKS, CORRECTED, 0), EINVAL,
		 "KVM_X86_SET_MCE of bank 10 of 10");
	is_errno(set_mce(g, 1, CORRECTED & ~MCI_STATUS_VAL, 0), EINVAL,
		 "KVM_X86_SET_MCE of a status without VAL");
	set_mce(g, 1, CORRECTED, 0);
	ok(get_msr(g, MSR_MCI(1, 1), &n) == CORRECTED &&
	   get_msr(g, MSR_MCI(1, 2), &n) == 0x123000,
	   "a corrected error lands in its bank: MC1_STATUS, MC1_ADDR");
	set_mce(g, 1, CORRECTED, 0);
	is_hex(get_msr(g, MSR_MCI(1, 1), &n), CORRECTED | MCI_STATUS_OVER,
	       "a second one sets OVER");

	guest_start(g, true);
	is_int(set_mce(g, 2, UNCORRECTED, MCG_STATUS_MCIP | MCG_STATUS_EIPV), 0,
	       "KVM_X86_SET_MCE of an uncorrected error, CR4.MCE set: 0");
	r = guest_run(g);
	guest_get_regs(g, &regs);
	ok(!r && g->run->exit_reason == KVM_EXIT_HLT && regs.r15 == MC_VECTOR,
	   "the guest takes #MC (exit %s, R15 %llu)",
	   guest_exit_name(g->run->exit_reason), (unsigned long long)regs.r15);
	ok(get_msr(g, MSR_MCI(2, 1), &n) == UNCORRECTED &&
	   get_msr(g, MSR_MCG_STATUS, &n) == (MCG_STATUS_MCIP | MCG_STATUS_EIPV),
	   "MC2_STATUS and MCG_STATUS hold the error");
	set_mce(g, 3, UNCORRECTED, MCG_STATUS_MCIP | MCG_STATUS_EIPV);
	r = guest_run(g);
	ok(!r && g->run->exit_reason == KVM_EXIT_SHUTDOWN,
	   "another while MCG_STATUS.MCIP is set: KVM_EXIT_SHUTDOWN (%s)",
	   guest_exit_name(g->run->exit_reason));

	setup_mce(g, CAP);
	guest_start(g, false);
	set_mce(g, 2, UNCORRECTED, MCG_STATUS_MCIP | MCG_STATUS_EIPV);
	r = guest_run(g);
	ok(!r && g->run->exit_reason == KVM_EXIT_SHUTDOWN,
	   "one with CR4.MCE clear: KVM_EXIT_SHUTDOWN (%s)",
	   guest_exit_name(g->run->exit_reason));

	setup_mce(g, CAP);
	guest_start(g, true);
	{
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} m = { .hdr.nmsrs = 1, .e = { .index = MSR_MCI(4, 0) } };

		vmmu_ioctl(g->vcpu_fd, KVM_SET_MSRS, (unsigned long)&m);
	}
	set_mce(g, 4, UNCORRECTED, MCG_STATUS_MCIP | MCG_STATUS_EIPV);
	r = guest_run(g);
	guest_get_regs(g, &regs);
	ok(!r && g->run->exit_reason == KVM_EXIT_HLT && regs.r15 == 0 &&
	   get_msr(g, MSR_MCI(4, 1), &n) == 0,
	   "with MC4_CTL 0 an uncorrected error in bank 4 is dropped (R15 %llu)",
	   (unsigned long long)regs.r15);
}

int main(void)
{
	struct guest g;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, mce_code, GUEST_CODE_SIZE(mce_code));
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	test_setup(&g);
	test_inject(&g);
	guest_destroy(&g);
	close(sys_fd);
	return tap_finish();
}
