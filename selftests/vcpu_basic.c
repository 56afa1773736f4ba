// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware vCPUs (SVM or VMX): configuration, KVM_RUN and port I/O in real
 * and protected mode.
 *
 * VMMU_SET_MMU accepts SVM vCPUs only with NPT and VMX vCPUs only with EPT;
 * software and hardware vCPUs each refuse the other's ioctls.  A real-mode
 * guest writes a byte, a word and a dword to ports and halts: every
 * KVM_EXIT_IO has the right direction, size, port and data, RIP stays on
 * the OUT until the next KVM_RUN (as in KVM) and is past the HLT after
 * KVM_EXIT_HLT.  Port reads take their data from the I/O page (narrow reads
 * merge into RAX), also when KVM_RUN only completes them (immediate_exit).
 * A signal interrupts a guest spinning in a loop: -EINTR with
 * KVM_EXIT_INTR.  CPUID is answered in the kernel, from the supported table
 * while the vCPU has none of its own (vcpu_cpuid tests the rest), and a
 * 32-bit protected-mode guest runs from KVM_SET_SREGS state.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_TESTS	48
#define MEM_SIZE	BIT_ULL(20)
#define CODE_GPA	0x1000ULL

GUEST_CODE(rm_out, ".code16",
	   "	mov $0x41, %al\n"
	   "rm_out1:\n"
	   "	out %al, $0x80\n"
	   "	mov $0x1234, %ax\n"
	   "	mov $0x3f8, %dx\n"
	   "rm_out2:\n"
	   "	out %ax, (%dx)\n"
	   "	mov $0xdeadbeef, %eax\n"
	   "rm_out4:\n"
	   "	out %eax, (%dx)\n"
	   "	hlt\n"
	   "rm_out_after:\n"
	   "	hlt\n");
GUEST_LABEL(rm_out1);
GUEST_LABEL(rm_out2);
GUEST_LABEL(rm_out4);
GUEST_LABEL(rm_out_after);

GUEST_CODE(rm_in, ".code16",
	   "	mov $0x11223344, %eax\n"
	   "rm_in1:\n"
	   "	in $0x81, %al\n"
	   "rm_in1_next:\n"
	   "	mov %eax, %ebx\n"
	   "	mov $0x82, %dx\n"
	   "	in (%dx), %ax\n"
	   "	mov %eax, %ecx\n"
	   "	in (%dx), %eax\n"
	   "	hlt\n");
GUEST_LABEL(rm_in1);
GUEST_LABEL(rm_in1_next);

GUEST_CODE(rm_spin, ".code16",
	   "1:	jmp 1b\n");

GUEST_CODE(rm_cpuid, ".code16",
	   "	xor %eax, %eax\n"
	   "	xor %ecx, %ecx\n"
	   "	cpuid\n"
	   "	hlt\n");

GUEST_CODE(pm_out, ".code32",
	   "	mov $0xfeedface, %eax\n"
	   "	out %eax, $0x84\n"
	   "	hlt\n");

static void on_alarm(int sig)
{
	(void)sig;
}

static void test_config(int sys_fd)
{
	/* The other vendor's table format. */
	u32 wrong = guest_is_svm() ? VMMU_MMU_FORMAT_EPT : VMMU_MMU_FORMAT_NPT;
	struct vmmu_mmu_config cfg = {
		.format = wrong,
		.vcpu_kind = guest_hw->vcpu_kind,
	};
	const char *kind = guest_hw->name, *tables = guest_hw->tables;
	/* NPT must match the host's depth; EPT defaults to 4 levels. */
	int levels = guest_is_svm() ? mmu_host_levels() : 4;
	int vm_fd = vmmu_create_vm_or_die(sys_fd);

	is_int(vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0), 2 * PAGE_SIZE,
	       "KVM_GET_VCPU_MMAP_SIZE: the kvm_run page and the I/O page");
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 1), EINVAL,
		 "KVM_GET_VCPU_MMAP_SIZE with an argument: EINVAL");
	is_int(vmmu_check_extension(sys_fd, KVM_CAP_IMMEDIATE_EXIT), 1,
	       "KVM_CAP_IMMEDIATE_EXIT is 1");
	is_int(vmmu_check_extension(sys_fd, KVM_CAP_INTERNAL_ERROR_DATA), 1,
	       "KVM_CAP_INTERNAL_ERROR_DATA is 1");
	is_errno(mmu_set_mmu(vm_fd, &cfg), EINVAL,
		 "VMMU_SET_MMU: %s vCPUs with %s tables: EINVAL", kind,
		 guest_is_svm() ? "EPT" : "NPT");
	is_errno(guest_set_hw(vm_fd), 0, "VMMU_SET_MMU: %s vCPUs with %s",
		 kind, tables);
	memset(&cfg, 0xa5, sizeof(cfg));
	is_errno(mmu_get_mmu(vm_fd, &cfg), 0, "VMMU_GET_MMU");
	ok(cfg.format == guest_hw->format &&
	   cfg.vcpu_kind == guest_hw->vcpu_kind && (int)cfg.levels == levels,
	   "VMMU_GET_MMU: %s with %d levels, %s vCPUs", tables, levels, kind);
	is_errno(guest_set_hw(vm_fd), 0,
		 "VMMU_SET_MMU: %s again before any vCPU or memslot", kind);
	close(vm_fd);
}

/* A software vCPU has no KVM_RUN; a hardware vCPU no VMMU_VCPU_ACCESS. */
static void test_kinds(int sys_fd)
{
	struct vmmu_mmu_config sw = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	struct kvm_regs regs;
	struct guest g;
	u8 byte = 0;
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int vcpu_fd;
	void *p;

	/* Hardware vCPUs are the default here: software ones must be chosen. */
	if (mmu_set_mmu(vm_fd, &sw))
		bail_out("VMMU_SET_MMU with software vCPUs failed");
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);

	is_errno(vmmu_ioctl(vcpu_fd, KVM_RUN, 0), EINVAL,
		 "software vCPU: KVM_RUN: EINVAL");
	is_errno(vmmu_ioctl(vcpu_fd, KVM_GET_REGS, (unsigned long)&regs),
		 EINVAL, "software vCPU: KVM_GET_REGS: EINVAL");
	p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, vcpu_fd, 0);
	ok(p == MAP_FAILED && errno == ENODEV,
	   "software vCPU: mmap: ENODEV");
	if (p != MAP_FAILED)
		munmap(p, PAGE_SIZE);
	close(vcpu_fd);
	close(vm_fd);

	guest_create(&g, sys_fd, MEM_SIZE);
	is_errno(mmu_read(g.vcpu_fd, 0, &byte, 1), EINVAL,
		 "%s vCPU: VMMU_VCPU_ACCESS: EINVAL", guest_hw->name);
	is_errno(vmmu_ioctl(g.vcpu_fd, KVM_RUN, 1), EINVAL,
		 "%s vCPU: KVM_RUN with an argument: EINVAL", guest_hw->name);
	guest_get_regs(&g, &regs);
	ok(regs.rip == 0xfff0 && regs.rflags == 2,
	   "%s vCPU: starts at the reset vector (RIP 0xfff0, RFLAGS 2)",
	   guest_hw->name);
	guest_destroy(&g);
}

static u64 guest_rip(struct guest *g)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	return regs.rip;
}

static void test_real_mode_out(int sys_fd)
{
	struct guest g;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_out, GUEST_CODE_SIZE(rm_out));
	guest_setup_real_mode(&g, CODE_GPA);

	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, 0x80, 0x41,
		    "real mode: OUT of a byte to port 0x80");
	is_hex(guest_rip(&g), CODE_GPA + GUEST_OFFSET(rm_out, rm_out1),
	       "real mode: RIP is on the OUT until the next KVM_RUN");
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 2, 0x3f8, 0x1234,
		    "real mode: OUT of a word to port 0x3f8");
	is_hex(guest_rip(&g), CODE_GPA + GUEST_OFFSET(rm_out, rm_out2),
	       "real mode: RIP is on the second OUT");
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x3f8, 0xdeadbeef,
		    "real mode: OUT of a dword to port 0x3f8");
	is_hex(guest_rip(&g), CODE_GPA + GUEST_OFFSET(rm_out, rm_out4),
	       "real mode: RIP is on the third OUT");
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "real mode: HLT exits");
	is_hex(guest_rip(&g), CODE_GPA + GUEST_OFFSET(rm_out, rm_out_after),
	       "real mode: RIP is past the HLT");
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT,
		      "real mode: KVM_RUN after HLT runs on to the next HLT");
	guest_destroy(&g);
}

static void test_real_mode_in(int sys_fd)
{
	struct kvm_regs regs;
	struct guest g;
	u32 data;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_in, GUEST_CODE_SIZE(rm_in));
	guest_setup_real_mode(&g, CODE_GPA);

	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_IN, 1, 0x81, 0,
		    "real mode: IN of a byte from port 0x81");
	*guest_io_data(&g) = 0x5a;
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_IN, 2, 0x82, 0,
		    "real mode: IN of a word from port 0x82");
	data = 0xbeef;
	memcpy(guest_io_data(&g), &data, 2);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_IN, 4, 0x82, 0,
		    "real mode: IN of a dword from port 0x82");
	data = 0xcafef00d;
	memcpy(guest_io_data(&g), &data, 4);
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "real mode: HLT after the INs");
	guest_get_regs(&g, &regs);
	is_hex((u32)regs.rbx, 0x1122335a,
	       "IN of a byte: AL replaced, the rest of EAX kept");
	is_hex((u32)regs.rcx, 0x1122beef,
	       "IN of a word: AX replaced, the rest of EAX kept");
	is_hex((u32)regs.rax, 0xcafef00d, "IN of a dword: EAX replaced");
	guest_destroy(&g);
}

static void test_immediate_exit(int sys_fd)
{
	struct kvm_regs regs;
	struct guest g;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_in, GUEST_CODE_SIZE(rm_in));
	guest_setup_real_mode(&g, CODE_GPA);

	g.run->immediate_exit = 1;
	is_errno(guest_run(&g), EINTR, "immediate_exit: KVM_RUN returns EINTR");
	is_hex(guest_rip(&g), CODE_GPA, "immediate_exit: the guest did not run");
	g.run->immediate_exit = 0;
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_IN, 1, 0x81, 0,
		    "without immediate_exit the guest runs to its IN");
	*guest_io_data(&g) = 0x77;
	g.run->immediate_exit = 1;
	is_errno(guest_run(&g), EINTR,
		 "immediate_exit with an IN pending: EINTR");
	guest_get_regs(&g, &regs);
	ok(regs.rip == CODE_GPA + GUEST_OFFSET(rm_in, rm_in1_next) &&
	   (u8)regs.rax == 0x77,
	   "immediate_exit completes the pending IN (AL = 0x77, RIP past it)");
	g.run->immediate_exit = 0;
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_IN, 2, 0x82, 0,
		    "the guest goes on with the next IN");
	guest_destroy(&g);
}

static void test_signal(int sys_fd)
{
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct guest g;
	int r;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_spin, GUEST_CODE_SIZE(rm_spin));
	guest_setup_real_mode(&g, CODE_GPA);
	setitimer(ITIMER_REAL, &it, NULL);
	r = guest_run(&g);
	is_errno(r, EINTR, "a signal interrupts a spinning guest: EINTR");
	is_int(g.run->exit_reason, KVM_EXIT_INTR, "exit_reason KVM_EXIT_INTR");
	is_hex(guest_rip(&g), CODE_GPA, "RIP is still in the loop");
	signal(SIGALRM, SIG_DFL);
	guest_destroy(&g);
}

/* Leaf 0 of KVM_GET_SUPPORTED_CPUID; bails out if it is missing. */
static struct kvm_cpuid_entry2 supported_leaf0(int sys_fd)
{
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 entries[256];
	} c = { .hdr.nent = 256 };
	unsigned int i;
	long r;

	r = vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)&c);
	if (r)
		bail_out("KVM_GET_SUPPORTED_CPUID: %s", errno_name(-r));
	for (i = 0; i < c.hdr.nent; i++)
		if (c.entries[i].function == 0)
			return c.entries[i];
	bail_out("KVM_GET_SUPPORTED_CPUID: no leaf 0");
}

static void test_cpuid(int sys_fd)
{
	struct kvm_cpuid_entry2 leaf0 = supported_leaf0(sys_fd);
	unsigned int eax, ebx, ecx, edx;
	struct kvm_regs regs;
	struct guest g;
	int r;

	__cpuid_count(0, 0, eax, ebx, ecx, edx);
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_cpuid, GUEST_CODE_SIZE(rm_cpuid));
	guest_setup_real_mode(&g, CODE_GPA);
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT,
		      "CPUID is handled in the kernel: the guest reaches HLT");
	guest_get_regs(&g, &regs);
	ok(regs.rax == leaf0.eax && regs.rbx == ebx && regs.rcx == ecx &&
	   regs.rdx == edx && leaf0.eax <= eax,
	   "CPUID leaf 0 is the supported table's: the host's vendor, max leaf %#x of the host's %#x",
	   leaf0.eax, eax);
	guest_destroy(&g);
}

static void test_protected_mode(int sys_fd)
{
	struct kvm_sregs sregs;
	struct guest g;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, pm_out, GUEST_CODE_SIZE(pm_out));
	guest_setup_protected_mode(&g, CODE_GPA);
	guest_get_sregs(&g, &sregs);
	ok((sregs.cr0 & X86_CR0_PE) && sregs.cs.db && !sregs.cs.l &&
	   sregs.cs.selector == 8 && sregs.cs.limit == 0xffffffff &&
	   sregs.cs.g && !sregs.efer,
	   "KVM_GET_SREGS returns the protected-mode state that was set");
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x84, 0xfeedface,
		    "32-bit protected mode: OUT of a dword");
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "32-bit protected mode: HLT");

	sregs.efer = X86_EFER_LMA;
	is_errno(guest_set_sregs(&g, &sregs), EINVAL,
		 "KVM_SET_SREGS: EFER.LMA without paging: EINVAL");
	guest_get_sregs(&g, &sregs);
	sregs.cr0 |= X86_CR0_PG;
	sregs.efer = X86_EFER_LME;
	is_errno(guest_set_sregs(&g, &sregs), EINVAL,
		 "KVM_SET_SREGS: paging with LME but no PAE or LMA: EINVAL");
	guest_get_sregs(&g, &sregs);
	sregs.interrupt_bitmap[0] = 1;
	is_errno(guest_set_sregs(&g, &sregs), EINVAL,
		 "KVM_SET_SREGS: a pending interrupt: EINVAL");
	guest_destroy(&g);
}

int main(void)
{
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	test_config(sys_fd);
	test_kinds(sys_fd);
	test_real_mode_out(sys_fd);
	test_real_mode_in(sys_fd);
	test_immediate_exit(sys_fd);
	test_signal(sys_fd);
	test_cpuid(sys_fd);
	test_protected_mode(sys_fd);
	close(sys_fd);
	return tap_finish();
}
