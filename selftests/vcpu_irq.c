// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts from a VMM's own interrupt controller: KVM_INTERRUPT, the
 * interrupt window, and what kvm_run reports on every exit without an
 * in-kernel local APIC (if_flag, ready_for_interrupt_injection, cr8,
 * apic_base), on the hardware vCPU of either vendor.
 *
 * A 64-bit guest with a GDT and an IDT (in a memslot of its own, one page)
 * whose handlers for vectors 0x20-0x22 note the vector (R11) and where the
 * guest was (R12 = R13, a step counter) and count (R14), stops at port
 * writes where the test looks and acts:
 *
 *   1. IF clear: kvm_run says not ready; KVM_INTERRUPT(0x20) waits until
 *      the guest sets IF, and one instruction more (the STI shadow).
 *   2. IF clear, request_interrupt_window: the run ends with
 *      KVM_EXIT_IRQ_WINDOW_OPEN right after the STI shadow, ready and
 *      if_flag set; KVM_INTERRUPT(0x21) then is taken before the next
 *      instruction.
 *   3. Re-queue: with every translation zapped (VMMU_ZAP_ALL), the IDT's
 *      page is not mapped when KVM_INTERRUPT(0x22) is delivered: the NPF or
 *      EPT violation interrupts the delivery, which must be done again.
 *   4. CR8: kvm_run.cr8 is loaded at KVM_RUN (the guest reads it), a
 *      guest's MOV to CR8 is reported in kvm_run.cr8 and KVM_GET_SREGS (on
 *      VMX it exits: without a TPR shadow it would set the host's own TPR),
 *      kvm_run.cr8 above 15 makes KVM_RUN fail with EINVAL.
 *
 * And the ioctl's errors: a vector above 255, a software vCPU.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define GDT_GPA		0x6000ULL
#define STACK_GPA	0x9000ULL
#define IDT_GPA		MEM_SIZE	/* slot 1, one page */
#define IDT_SLOT	1
#define NR_TESTS	30

GUEST_CODE(irq_code, ".code64",
	   "	cli\n"
	   "	xor %r14d, %r14d\n"
	   "	xor %r12d, %r12d\n"
	   "	xor %r11d, %r11d\n"
	   "	mov $1, %r13d\n"
	   "	out %al, $0x80\n"
	   "	mov $2, %r13d\n"
	   "	sti\n"
	   "	mov $3, %r13d\n"
	   "	mov $4, %r13d\n"
	   "	out %al, $0x81\n"
	   "	cli\n"
	   "	mov $5, %r13d\n"
	   "	out %al, $0x82\n"
	   "	mov $6, %r13d\n"
	   "	sti\n"
	   "	mov $7, %r13d\n"
	   "	mov $8, %r13d\n"
	   "	out %al, $0x83\n"
	   "	mov $9, %r13d\n"
	   "	out %al, $0x84\n"
	   "	mov %cr8, %rax\n"
	   "	out %al, $0x85\n"
	   "	mov $9, %eax\n"
	   "	mov %rax, %cr8\n"
	   "	out %al, $0x86\n"
	   "	hlt\n"
	   "irq_vec20:\n"
	   "	mov $0x20, %r11d\n"
	   "	jmp irq_common\n"
	   "irq_vec21:\n"
	   "	mov $0x21, %r11d\n"
	   "	jmp irq_common\n"
	   "irq_vec22:\n"
	   "	mov $0x22, %r11d\n"
	   "irq_common:\n"
	   "	mov %r13, %r12\n"
	   "	inc %r14\n"
	   "	iretq\n");
GUEST_LABEL(irq_vec20);
GUEST_LABEL(irq_vec21);
GUEST_LABEL(irq_vec22);

static u64 *idt;

static u64 handler(const u8 *label)
{
	return CODE_GPA + GUEST_OFFSET(irq_code, label);
}

/* The GDT; the IDT in a slot of its own, gates 0x20-0x22. */
static void setup_tables(struct guest *g)
{
	idt = mmu_map_anon(PAGE_SIZE, NULL);
	mmu_set_region_or_die(g->vm_fd, IDT_SLOT, 0, IDT_GPA, PAGE_SIZE, idt);
	guest_setup_gdt_idt(g, GDT_GPA, idt, IDT_GPA, 0x23);
	guest_set_gate(idt, 0x20, handler(irq_vec20));
	guest_set_gate(idt, 0x21, handler(irq_vec21));
	guest_set_gate(idt, 0x22, handler(irq_vec22));
}

static int interrupt(struct guest *g, u32 vector)
{
	struct kvm_interrupt irq = { .irq = vector };

	return vmmu_ioctl(g->vcpu_fd, KVM_INTERRUPT, (unsigned long)&irq);
}

/* R11, R12, R14: the last vector, where the guest was, how many. */
static bool handled(struct guest *g, u64 vector, u64 step, u64 count)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	if (regs.r11 == vector && regs.r12 == step && regs.r14 == count)
		return true;
	diag("  vector %#llx at step %llu, %llu taken",
	     (unsigned long long)regs.r11, (unsigned long long)regs.r12,
	     (unsigned long long)regs.r14);
	return false;
}

static void test_if_clear(struct guest *g)
{
	struct kvm_run *run = g->run;

	ok(guest_run_to_port(g, 0x80), "the guest runs with IF clear");
	ok(!run->if_flag && !run->ready_for_interrupt_injection,
	   "IF clear: if_flag 0, not ready for an interrupt (%u, %u)",
	   run->if_flag, run->ready_for_interrupt_injection);
	is_hex(run->apic_base, 0xfee00900ULL,
	       "kvm_run.apic_base: enabled, BSP, at 0xfee00000");
	is_errno(interrupt(g, 0x20), 0, "KVM_INTERRUPT(0x20) while IF is clear");
	ok(guest_run_to_port(g, 0x81), "the guest runs on to STI");
	ok(handled(g, 0x20, 3, 1),
	   "0x20 taken once, after STI and the instruction in its shadow");
	ok(run->if_flag && run->ready_for_interrupt_injection,
	   "IF set: if_flag 1, ready for an interrupt");
}

static void test_window(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_regs regs;
	int r;

	ok(guest_run_to_port(g, 0x82), "the guest clears IF again");
	run->request_interrupt_window = 1;
	r = guest_run(g);
	ok_guest_exit(g, r, KVM_EXIT_IRQ_WINDOW_OPEN,
		      "request_interrupt_window: KVM_EXIT_IRQ_WINDOW_OPEN");
	guest_get_regs(g, &regs);
	is_int(regs.r13, 7, "the window opens after STI's shadow (step 7)");
	ok(run->if_flag && run->ready_for_interrupt_injection,
	   "at the window: if_flag 1, ready");
	run->request_interrupt_window = 0;
	is_errno(interrupt(g, 0x21), 0, "KVM_INTERRUPT(0x21) at the window");
	ok(guest_run_to_port(g, 0x83), "the guest runs on");
	ok(handled(g, 0x21, 7, 2), "0x21 taken before the next instruction");
}

static void test_requeue(struct guest *g)
{
	struct vmmu_stats st0, st1;

	st_stats_or_die(g->vm_fd, &st0);
	is_errno(vmmu_ioctl(g->vm_fd, VMMU_ZAP_ALL, 0), 0,
		 "VMMU_ZAP_ALL: the IDT's page is not mapped any more");
	is_errno(interrupt(g, 0x22), 0, "KVM_INTERRUPT(0x22)");
	ok(guest_run_to_port(g, 0x84), "the guest runs on");
	ok(handled(g, 0x22, 8, 3),
	   "0x22 taken once although a fault on the IDT interrupted its delivery");
	st_stats_or_die(g->vm_fd, &st1);
	ok(st1.faults > st0.faults, "the delivery faulted (%llu faults)",
	   (unsigned long long)(st1.faults - st0.faults));
}

static void test_cr8(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	run->cr8 = 5;
	ok(guest_run_to_port(g, 0x85), "the guest reads CR8");
	guest_get_regs(g, &regs);
	is_int(regs.rax, 5, "CR8 is kvm_run.cr8 as KVM_RUN began");
	ok(guest_run_to_port(g, 0x86), "the guest writes 9 to CR8");
	is_int(run->cr8, 9, "kvm_run.cr8 reports it");
	guest_get_sregs(g, &sregs);
	is_int(sregs.cr8, 9, "so does KVM_GET_SREGS");
	run->cr8 = 16;
	is_errno(guest_run(g), EINVAL, "kvm_run.cr8 of 16: KVM_RUN fails");
	run->cr8 = 9;
	ok_guest_exit(g, guest_run(g), KVM_EXIT_HLT, "with 9 the guest halts");
	guest_get_regs(g, &regs);
	ok(regs.r14 == 3, "no interrupt came twice (%llu)",
	   (unsigned long long)regs.r14);
}

static void test_errors(struct guest *g, int sys_fd)
{
	struct kvm_interrupt irq = { .irq = 0x20 };
	struct mmu_vm vm;
	int vcpu_fd;

	is_errno(interrupt(g, 256), EINVAL, "KVM_INTERRUPT(256): EINVAL");
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	is_errno(vmmu_ioctl(vcpu_fd, KVM_INTERRUPT, (unsigned long)&irq),
		 EINVAL, "KVM_INTERRUPT on a software vCPU: EINVAL");
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_INTERRUPT, 8), EFAULT,
		 "KVM_INTERRUPT with a bad pointer: EFAULT");
	close(vcpu_fd);
	mmu_vm_close(&vm);
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
	guest_load(&g, CODE_GPA, irq_code, GUEST_CODE_SIZE(irq_code));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	setup_tables(&g);
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	test_if_clear(&g);
	test_window(&g);
	test_requeue(&g);
	test_cr8(&g);
	test_errors(&g, sys_fd);
	guest_destroy(&g);
	munmap(idt, PAGE_SIZE);
	close(sys_fd);
	return tap_finish();
}
