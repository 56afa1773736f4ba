// SPDX-License-Identifier: GPL-2.0
/*
 * NMIs from a VMM: KVM_NMI, NMI blocking until the handler's IRET, the NMI
 * window, re-injection, and the NMI state of KVM_GET/SET_VCPU_EVENTS, on
 * the hardware vCPU of either vendor (SVM: the IRET intercept and a single
 * step; VMX: virtual NMIs and NMI-window exiting).
 *
 * A 64-bit guest with an IDT (in a memslot of its own, one page) whose NMI
 * handler notes where the guest was (R12 = R13, a step counter; R11 = the
 * RIP it interrupted, which must never be the handler's own, not even its
 * IRET), counts (R14), tracks how deeply NMIs nest (R9, deepest in R10)
 * and, when R15 is
 * set, stops at a port write of its own before its IRET; its #DB handler
 * counts in R8 (a single step of vmmu's must never reach the guest).  The
 * guest stops at port writes where the test looks and acts:
 *
 *   1. Three KVM_NMI with IF clear: two are kept (one delivered at once,
 *      one latched behind it, delivered right after the first's IRET), the
 *      third is lost, as on a CPU.
 *   2. Inside the handler: NMIs are blocked (nmi.masked); three KVM_NMI
 *      leave one pending; with every translation zapped the handler's IRET
 *      faults on its stack (a memslot of its own) and runs again; the NMI
 *      is delivered after the IRET completes, not nested.
 *   3. The MOV SS interrupt shadow (KVM_SET_VCPU_EVENTS, once the last OUT
 *      is complete) holds the NMI off for one instruction.
 *   4. Re-queue: with every translation zapped, the IDT's page is not
 *      mapped when the NMI is delivered: the fault interrupts the delivery,
 *      which must be done again.
 *   5. KVM_SET_VCPU_EVENTS with nmi.masked and nmi.pending: the NMI waits
 *      for an IRET of the guest's (to itself), and comes right after it.
 *   6. KVM_SET_VCPU_EVENTS with nmi.injected (and masked): delivered at the
 *      next entry, blocked or not.
 *
 * And: KVM_CAP_USER_NMI, KVM_NMI on a software vCPU (EINVAL), no #DB and no
 * TF seen by the guest or in KVM_GET_REGS.
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
/* From step 3 on, a stack in a slot of its own (the guest's mov to ESP). */
#define STACK2_GPA	(MEM_SIZE + 0x10000)
#define STACK2_SLOT	2
#define PORT_IN_NMI	0x9f
#define NR_TESTS	47
#define RFLAGS_TF	0x100

GUEST_CODE(nmi_code, ".code64",
	   "	cli\n"
	   "	xor %r8d, %r8d\n"
	   "	xor %r9d, %r9d\n"
	   "	xor %r10d, %r10d\n"
	   "	xor %r12d, %r12d\n"
	   "	xor %r14d, %r14d\n"
	   "	xor %r15d, %r15d\n"
	   "	mov $1, %r13d\n"
	   "	out %al, $0x90\n"
	   "	mov $2, %r13d\n"
	   "	out %al, $0x91\n"
	   "	mov $0x411000, %esp\n"
	   "	mov $3, %r13d\n"
	   "	mov $1, %r15d\n"
	   "	out %al, $0x92\n"
	   "	mov $4, %r13d\n"
	   "	out %al, $0x93\n"
	   "	mov $5, %r13d\n"
	   "	out %al, $0x94\n"
	   "	mov $6, %r13d\n"
	   "	mov $7, %r13d\n"
	   "	out %al, $0x95\n"
	   "	mov $8, %r13d\n"
	   "	out %al, $0x96\n"
	   "	mov $9, %r13d\n"
	   "	out %al, $0x97\n"
	   "	mov $10, %r13d\n"
	   "	out %al, $0x98\n"
	   "	mov $11, %r13d\n"
	   "	out %al, $0x99\n"
	   "	mov $12, %r13d\n"
	   /* An IRET to the next instruction, in an NMI's absence. */
	   "	mov %rsp, %rax\n"
	   "	mov %ss, %ecx\n"
	   "	push %rcx\n"
	   "	push %rax\n"
	   "	pushfq\n"
	   "	mov %cs, %ecx\n"
	   "	push %rcx\n"
	   "	lea 1f(%rip), %rcx\n"
	   "	push %rcx\n"
	   "	iretq\n"
	   "1:	mov $13, %r13d\n"
	   "	out %al, $0x9a\n"
	   "	mov $14, %r13d\n"
	   "	out %al, $0x9b\n"
	   "	hlt\n"
	   "nmi_handler:\n"
	   "	mov (%rsp), %r11\n"
	   "	inc %r9\n"
	   "	cmp %r10, %r9\n"
	   "	cmova %r9, %r10\n"
	   "	mov %r13, %r12\n"
	   "	inc %r14\n"
	   "	test %r15, %r15\n"
	   "	jz 2f\n"
	   "	xor %r15d, %r15d\n"
	   "	out %al, $0x9f\n"
	   "2:	dec %r9\n"
	   "	iretq\n"
	   "db_handler:\n"
	   "	inc %r8\n"
	   "	iretq\n");
GUEST_LABEL(nmi_handler);
GUEST_LABEL(db_handler);

static u64 *idt, *stack2;

static u64 handler(const u8 *label)
{
	return CODE_GPA + GUEST_OFFSET(nmi_code, label);
}

/* The GDT; the IDT in a slot of its own, gates for #DB and NMI. */
static void setup_tables(struct guest *g)
{
	idt = mmu_map_anon(PAGE_SIZE, NULL);
	mmu_set_region_or_die(g->vm_fd, IDT_SLOT, 0, IDT_GPA, PAGE_SIZE, idt);
	guest_setup_gdt_idt(g, GDT_GPA, idt, IDT_GPA, 3);
	guest_set_gate(idt, 1, handler(db_handler));
	guest_set_gate(idt, 2, handler(nmi_handler));
	stack2 = mmu_map_anon(PAGE_SIZE, NULL);
	mmu_set_region_or_die(g->vm_fd, STACK2_SLOT, 0, STACK2_GPA, PAGE_SIZE,
			      stack2);
}

static int nmi(struct guest *g)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_NMI, 0);
}

static void nmis(struct guest *g, int n)
{
	while (n--)
		if (nmi(g))
			bail_out("KVM_NMI: %s", errno_name(errno));
}

static void get_events(struct guest *g, struct kvm_vcpu_events *ev)
{
	if (vmmu_ioctl(g->vcpu_fd, KVM_GET_VCPU_EVENTS, (unsigned long)ev))
		bail_out("KVM_GET_VCPU_EVENTS: %s", errno_name(errno));
}

static int set_events(struct guest *g, const struct kvm_vcpu_events *ev)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_SET_VCPU_EVENTS, (unsigned long)ev);
}

/* nmi.injected, nmi.pending, nmi.masked as KVM_GET_VCPU_EVENTS says. */
static bool nmi_state(struct guest *g, int injected, int pending, int masked)
{
	struct kvm_vcpu_events ev;

	get_events(g, &ev);
	if (ev.nmi.injected == injected && ev.nmi.pending == pending &&
	    ev.nmi.masked == masked &&
	    (ev.flags & KVM_VCPUEVENT_VALID_NMI_PENDING))
		return true;
	diag("  nmi injected %u pending %u masked %u, flags %#x", ev.nmi.injected,
	     ev.nmi.pending, ev.nmi.masked, ev.flags);
	return false;
}

/*
 * R12, R14, R10, R11: where the last NMI came, how many, how deeply nested,
 * the RIP it interrupted (not in the handlers: no NMI came before an IRET
 * of the NMI handler had completed).
 */
static bool handled(struct guest *g, u64 step, u64 count)
{
	u64 from = CODE_GPA + GUEST_OFFSET(nmi_code, nmi_handler);
	u64 to = CODE_GPA + GUEST_CODE_SIZE(nmi_code);
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	if (regs.r12 == step && regs.r14 == count && regs.r10 == 1 &&
	    (regs.r11 < from || regs.r11 >= to) && !regs.r8 &&
	    !(regs.rflags & RFLAGS_TF))
		return true;
	diag("  last NMI at step %llu, %llu taken, %llu deep, from RIP %#llx",
	     (unsigned long long)regs.r12, (unsigned long long)regs.r14,
	     (unsigned long long)regs.r10, (unsigned long long)regs.r11);
	diag("  (handlers %#llx-%#llx), %llu #DB, RFLAGS %#llx",
	     (unsigned long long)from, (unsigned long long)to,
	     (unsigned long long)regs.r8, (unsigned long long)regs.rflags);
	return false;
}

static void test_latch(struct guest *g)
{
	ok(guest_run_to_port(g, 0x90), "the guest runs with IF clear");
	ok(nmi_state(g, 0, 0, 0), "no NMI pending, injected or blocked");
	is_errno(nmi(g), 0, "KVM_NMI");
	nmis(g, 2);
	ok(nmi_state(g, 0, 2, 0), "two more: 2 pending (the third is lost)");
	ok(guest_run_to_port(g, 0x91), "the guest runs on");
	ok(handled(g, 1, 2),
	   "two NMIs taken before the next instruction, IF clear, one after the other's IRET");
	ok(nmi_state(g, 0, 0, 0), "none pending or blocked after that");
}

static void test_blocked(struct guest *g)
{
	ok(guest_run_to_port(g, 0x92), "the guest asks its handler to stop inside");
	nmis(g, 1);
	ok(guest_run_to_port(g, PORT_IN_NMI), "the NMI handler runs");
	ok(nmi_state(g, 0, 0, 1), "inside the handler NMIs are blocked");
	nmis(g, 3);
	ok(nmi_state(g, 0, 1, 1), "three KVM_NMI there: 1 pending");
	/*
	 * The IRET's frame on the stack is not mapped now: the IRET faults
	 * (an NPF or EPT violation after it unblocked NMIs, VMX says) and
	 * runs again; NMIs stay blocked until it completes.
	 */
	is_errno(vmmu_ioctl(g->vm_fd, VMMU_ZAP_ALL, 0), 0,
		 "VMMU_ZAP_ALL: the handler's stack is not mapped any more");
	ok(guest_run_to_port(g, 0x93), "the handler returns, the guest runs on");
	ok(handled(g, 3, 4),
	   "the pending NMI came after the IRET (which faulted), not nested");
	ok(nmi_state(g, 0, 0, 0), "none pending or blocked after that");
}

static void test_shadow(struct guest *g)
{
	struct kvm_vcpu_events ev;

	ok(guest_run_to_port(g, 0x94), "the guest runs on");
	/*
	 * The OUT completes at the next KVM_RUN, and ends any shadow (in
	 * KVM too): complete it first, with immediate_exit.
	 */
	g->run->immediate_exit = 1;
	is_errno(guest_run(g), EINTR, "KVM_RUN with immediate_exit: EINTR");
	g->run->immediate_exit = 0;
	get_events(g, &ev);
	ev.flags |= KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_MOV_SS;
	is_errno(set_events(g, &ev), 0, "KVM_SET_VCPU_EVENTS: a MOV SS shadow");
	nmis(g, 1);
	ok(guest_run_to_port(g, 0x95), "KVM_NMI; the guest runs on");
	ok(handled(g, 6, 5),
	   "the NMI came after the instruction in the shadow, not before");
}

static void test_requeue(struct guest *g)
{
	struct vmmu_stats st0, st1;

	ok(guest_run_to_port(g, 0x96), "the guest runs on");
	st_stats_or_die(g->vm_fd, &st0);
	is_errno(vmmu_ioctl(g->vm_fd, VMMU_ZAP_ALL, 0), 0,
		 "VMMU_ZAP_ALL: the IDT's page is not mapped any more");
	nmis(g, 1);
	ok(guest_run_to_port(g, 0x97), "KVM_NMI; the guest runs on");
	ok(handled(g, 8, 6),
	   "the NMI taken once although a fault on the IDT interrupted its delivery");
	st_stats_or_die(g->vm_fd, &st1);
	ok(st1.faults > st0.faults, "the delivery faulted (%llu faults)",
	   (unsigned long long)(st1.faults - st0.faults));
	ok(nmi_state(g, 0, 0, 0), "none pending or blocked after that");
}

static void test_set_masked(struct guest *g)
{
	struct kvm_vcpu_events ev;

	ok(guest_run_to_port(g, 0x98), "the guest runs on");
	get_events(g, &ev);
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
	ev.nmi.pending = 1;
	ev.nmi.masked = 1;
	is_errno(set_events(g, &ev), 0,
		 "KVM_SET_VCPU_EVENTS: NMIs blocked, one pending");
	ok(nmi_state(g, 0, 1, 1), "KVM_GET_VCPU_EVENTS reads them back");
	ok(guest_run_to_port(g, 0x99), "the guest runs on");
	ok(handled(g, 8, 6), "the NMI waits while NMIs are blocked");
	ok(nmi_state(g, 0, 1, 1), "still pending and blocked");
	ok(guest_run_to_port(g, 0x9a), "the guest executes an IRET (to itself)");
	ok(handled(g, 12, 7), "the NMI came right after that IRET");
	ok(nmi_state(g, 0, 0, 0), "none pending or blocked after that");
}

static void test_set_injected(struct guest *g)
{
	struct kvm_vcpu_events ev;

	get_events(g, &ev);
	ev.nmi.injected = 1;
	ev.nmi.masked = 1;
	is_errno(set_events(g, &ev), 0,
		 "KVM_SET_VCPU_EVENTS: an NMI in delivery, NMIs blocked");
	ok(nmi_state(g, 1, 0, 1), "KVM_GET_VCPU_EVENTS reads it back");
	ok(guest_run_to_port(g, 0x9b), "the guest runs on");
	ok(handled(g, 13, 8), "the NMI was delivered at once");
	ok(nmi_state(g, 0, 0, 0), "none pending or blocked after that");
	get_events(g, &ev);
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
	ev.nmi.pending = 200;
	is_errno(set_events(g, &ev), 0, "KVM_SET_VCPU_EVENTS: 200 pending");
	ok(nmi_state(g, 0, 2, 0), "as on a CPU, 2 are kept");
	ev.nmi.pending = 0;
	is_errno(set_events(g, &ev), 0, "KVM_SET_VCPU_EVENTS: 0 pending");
	ok_guest_exit(g, guest_run(g), KVM_EXIT_HLT, "the guest halts");
	ok(handled(g, 13, 8), "no other NMI came");
}

static void test_errors(int sys_fd)
{
	struct mmu_vm vm;
	int vcpu_fd;

	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_NMI), 1,
	       "KVM_CAP_USER_NMI: 1");
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	is_errno(vmmu_ioctl(vcpu_fd, KVM_NMI, 0), EINVAL,
		 "KVM_NMI on a software vCPU: EINVAL");
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
	guest_load(&g, CODE_GPA, nmi_code, GUEST_CODE_SIZE(nmi_code));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	setup_tables(&g);
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	test_latch(&g);
	test_blocked(&g);
	test_shadow(&g);
	test_requeue(&g);
	test_set_masked(&g);
	test_set_injected(&g);
	test_errors(sys_fd);
	guest_destroy(&g);
	munmap(idt, PAGE_SIZE);
	munmap(stack2, PAGE_SIZE);
	close(sys_fd);
	return tap_finish();
}
