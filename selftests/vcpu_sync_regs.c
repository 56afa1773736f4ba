// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_CAP_SYNC_REGS and KVM_GET/SET_VCPU_EVENTS on the hardware vCPU of
 * either vendor, with KVM's semantics:
 *
 * - the capabilities: KVM_CAP_SYNC_REGS is the mask of the three sets
 *   (regs, sregs, events), KVM_CAP_VCPU_EVENTS 1;
 * - KVM_RUN fails with EINVAL for a bit outside that mask in
 *   kvm_valid_regs or kvm_dirty_regs, loading nothing;
 * - on every return the sets of kvm_valid_regs are stored in kvm_run.s.regs
 *   (equal to what KVM_GET_REGS, KVM_GET_SREGS and KVM_GET_VCPU_EVENTS
 *   read), failures and immediate_exit included; with none valid, s.regs
 *   is left alone;
 * - a dirty set is loaded before the guest runs (the guest increments the
 *   RBX the host wrote there) and its bit cleared; a dirty sregs that
 *   KVM_SET_SREGS would refuse fails KVM_RUN with EINVAL, changes nothing
 *   and stays dirty, while the regs before it are loaded;
 * - events both ways: an interrupt queued while IF is clear is reported
 *   (KVM_GET_VCPU_EVENTS, s.regs.events), removed through s.regs.events;
 *   the interrupt shadow set and cleared; an exception set through
 *   s.regs.events is delivered (with no IDT: a triple fault);
 * - KVM_SET_VCPU_EVENTS's errnos: unknown flags, the flags of capabilities
 *   vmmu does not offer (PAYLOAD, TRIPLE_FAULT), exception vectors above
 *   31 or NMI's, and what vmmu cannot hold (an NMI, SMM, a software
 *   interrupt): EINVAL; a bad pointer: EFAULT; a software vCPU: EINVAL.
 *
 * The guest loops: OUT to port 0x80 (an exit), then RBX += 1.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define PORT		0x80
#define NR_TESTS	49

#define SYNC_ALL	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | \
			 KVM_SYNC_X86_EVENTS)
#define SYNC_INVALID	0x80000000ULL
#define EVENTS_FLAGS	(KVM_VCPUEVENT_VALID_NMI_PENDING | \
			 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM)
#define UD_VECTOR	6

GUEST_CODE(sync_code, ".code64",
	   "1:	out %al, $0x80\n"
	   "	add $1, %rbx\n"
	   "	jmp 1b\n");

static int get_events(struct guest *g, struct kvm_vcpu_events *ev)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_GET_VCPU_EVENTS, (unsigned long)ev);
}

static int set_events(struct guest *g, const struct kvm_vcpu_events *ev)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_SET_VCPU_EVENTS, (unsigned long)ev);
}

/* One more KVM_RUN: the guest adds 1 to RBX and exits at its OUT. */
static bool run_to_out(struct guest *g)
{
	int r = guest_run(g);

	if (!r && g->run->exit_reason == KVM_EXIT_IO &&
	    g->run->io.port == PORT)
		return true;
	diag("  KVM_RUN: %d, exit %s", r, guest_exit_name(g->run->exit_reason));
	return false;
}

static void test_caps(struct guest *g)
{
	is_int(vmmu_ioctl(g->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS),
	       SYNC_ALL, "KVM_CAP_SYNC_REGS: regs, sregs and events (7)");
	is_int(vmmu_ioctl(g->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_EVENTS),
	       1, "KVM_CAP_VCPU_EVENTS: 1");
}

static void test_invalid_bits(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_regs regs, before;

	guest_get_regs(g, &before);
	run->kvm_valid_regs = SYNC_INVALID;
	is_errno(guest_run(g), EINVAL, "kvm_valid_regs with an unknown bit");
	run->kvm_valid_regs = SYNC_INVALID | SYNC_ALL;
	is_errno(guest_run(g), EINVAL,
		 "kvm_valid_regs with an unknown bit and the three sets");
	run->kvm_valid_regs = 0;
	run->kvm_dirty_regs = SYNC_INVALID;
	is_errno(guest_run(g), EINVAL, "kvm_dirty_regs with an unknown bit");

	run->s.regs.regs = before;
	run->s.regs.regs.rbx = 0x5a5a;
	run->kvm_dirty_regs = SYNC_INVALID | KVM_SYNC_X86_REGS;
	is_errno(guest_run(g), EINVAL,
		 "kvm_dirty_regs with an unknown bit and regs");
	guest_get_regs(g, &regs);
	ok(regs.rbx == before.rbx && run->kvm_dirty_regs == (SYNC_INVALID | KVM_SYNC_X86_REGS),
	   "nothing loaded, kvm_dirty_regs unchanged (rbx %#llx)",
	   (unsigned long long)regs.rbx);
	run->kvm_dirty_regs = 0;
}

/* kvm_run.s.regs holds what the GET ioctls read now. */
static void check_stored(struct guest *g, const char *when)
{
	struct kvm_vcpu_events events;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	ok(!memcmp(&regs, &g->run->s.regs.regs, sizeof(regs)),
	   "%s: s.regs.regs is KVM_GET_REGS's", when);
	guest_get_sregs(g, &sregs);
	ok(!memcmp(&sregs, &g->run->s.regs.sregs, sizeof(sregs)),
	   "%s: s.regs.sregs is KVM_GET_SREGS's", when);
	memset(&events, 0xff, sizeof(events));
	ok(!get_events(g, &events) &&
	   !memcmp(&events, &g->run->s.regs.events, sizeof(events)),
	   "%s: s.regs.events is KVM_GET_VCPU_EVENTS's", when);
}

static void test_valid(struct guest *g)
{
	struct kvm_run *run = g->run;

	run->kvm_valid_regs = SYNC_ALL;
	ok(run_to_out(g), "all three valid: KVM_RUN exits at the OUT");
	check_stored(g, "after an exit");
	ok(run->s.regs.events.flags == EVENTS_FLAGS &&
	   !run->s.regs.events.exception.injected &&
	   !run->s.regs.events.interrupt.injected,
	   "events: KVM's flags (NMI_PENDING, SHADOW, SMM), nothing pending (%#x)",
	   run->s.regs.events.flags);
}

static void test_dirty(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	run->kvm_valid_regs = SYNC_ALL;
	run->s.regs.regs.rbx = 0xbad1dea;
	run->s.regs.sregs.apic_base = 1ULL << 11;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	ok(run_to_out(g), "regs and sregs dirty: KVM_RUN exits at the OUT");
	ok(run->s.regs.regs.rbx == 0xbad1dea + 1,
	   "the guest incremented the RBX written to s.regs (%#llx)",
	   (unsigned long long)run->s.regs.regs.rbx);
	guest_get_sregs(g, &sregs);
	ok(sregs.apic_base == 1ULL << 11 && run->s.regs.sregs.apic_base == 1ULL << 11,
	   "the APIC base of s.regs.sregs is loaded (%#llx)",
	   (unsigned long long)sregs.apic_base);
	is_int(run->kvm_dirty_regs, 0, "kvm_dirty_regs cleared");

	run->s.regs.regs.rbx = 0xdeadbeef;
	ok(run_to_out(g) && run->s.regs.regs.rbx == 0xbad1dea + 2,
	   "not dirty: s.regs.regs is overwritten with the guest's (%#llx)",
	   (unsigned long long)run->s.regs.regs.rbx);

	run->kvm_valid_regs = 0;
	run->s.regs.regs.rbx = 0xaaaa;
	guest_get_regs(g, &regs);
	regs.rbx = 0xbac0;
	guest_set_regs(g, &regs);
	run_to_out(g);
	guest_get_regs(g, &regs);
	ok(run->s.regs.regs.rbx == 0xaaaa && regs.rbx == 0xbac1,
	   "none valid: s.regs left alone, KVM_SET_REGS's RBX used (%#llx, %#llx)",
	   (unsigned long long)run->s.regs.regs.rbx,
	   (unsigned long long)regs.rbx);
}

/* A CR4 bit no CPU has: KVM_SET_SREGS refuses it. */
static void test_bad_sregs(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_sregs before, after;
	struct kvm_regs regs, regs_after;

	guest_get_sregs(g, &before);
	guest_get_regs(g, &regs);
	run->kvm_valid_regs = 0;
	run->s.regs.sregs = before;
	run->s.regs.sregs.cr4 |= 1ULL << 63;
	run->kvm_dirty_regs = KVM_SYNC_X86_SREGS;
	is_errno(guest_run(g), EINVAL, "dirty sregs with a reserved CR4 bit");
	guest_get_sregs(g, &after);
	guest_get_regs(g, &regs_after);
	ok(!memcmp(&before, &after, sizeof(before)) &&
	   regs_after.rip == regs.rip && regs_after.rbx == regs.rbx,
	   "nothing changed: sregs as before, the guest did not run");
	is_int(run->kvm_dirty_regs, KVM_SYNC_X86_SREGS, "sregs stay dirty");

	run->s.regs.regs = regs;
	run->s.regs.regs.rbx = 0x1234;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	run->kvm_valid_regs = KVM_SYNC_X86_SREGS;
	is_errno(guest_run(g), EINVAL, "dirty regs, then the bad sregs");
	guest_get_regs(g, &regs_after);
	ok(regs_after.rbx == 0x1234 && run->kvm_dirty_regs == KVM_SYNC_X86_SREGS,
	   "the regs before them are loaded and no longer dirty (%#llx)",
	   (unsigned long long)regs_after.rbx);
	ok(!memcmp(&run->s.regs.sregs, &before, sizeof(before)),
	   "the failed KVM_RUN stored the valid sregs over the bad ones");
	run->kvm_dirty_regs = 0;
}

static void test_immediate_exit(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	run->kvm_valid_regs = SYNC_ALL;
	run->s.regs.regs = regs;
	run->s.regs.regs.rbx = 0x4444;
	run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
	run->immediate_exit = 1;
	is_errno(guest_run(g), EINTR, "immediate_exit with dirty regs: EINTR");
	run->immediate_exit = 0;
	guest_get_regs(g, &regs);
	ok(regs.rbx == 0x4444 && run->kvm_dirty_regs == 0 &&
	   run->s.regs.regs.rbx == 0x4444,
	   "the regs were loaded, cleared from dirty and stored (%#llx)",
	   (unsigned long long)regs.rbx);
	check_stored(g, "after immediate_exit");
}

static void test_events_sync(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_interrupt irq = { .irq = 0x30 };
	struct kvm_vcpu_events ev;

	/* IF is clear: the interrupt stays queued. */
	vmmu_ioctl(g->vcpu_fd, KVM_INTERRUPT, (unsigned long)&irq);
	run->kvm_valid_regs = KVM_SYNC_X86_EVENTS;
	ok(run_to_out(g) && run->s.regs.events.interrupt.injected &&
	   run->s.regs.events.interrupt.nr == 0x30,
	   "an interrupt queued while IF is clear is in s.regs.events");
	run->s.regs.events.interrupt.injected = 0;
	run->kvm_dirty_regs = KVM_SYNC_X86_EVENTS;
	ok(run_to_out(g) && !get_events(g, &ev) && !ev.interrupt.injected &&
	   !run->s.regs.events.interrupt.injected && !run->kvm_dirty_regs,
	   "dirty events without it: the interrupt is gone");

	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	is_int(set_events(g, &ev), 0, "KVM_SET_VCPU_EVENTS with an STI shadow: 0");
	get_events(g, &ev);
	ok(ev.interrupt.shadow, "KVM_GET_VCPU_EVENTS reports a shadow (%#x)",
	   ev.interrupt.shadow);
	ev.interrupt.shadow = 0;
	set_events(g, &ev);
	get_events(g, &ev);
	is_int(ev.interrupt.shadow, 0, "and none once cleared");

	/* Events valid: the failed KVM_RUN stores them over the bad ones. */
	run->s.regs.events = ev;
	run->s.regs.events.exception.injected = 1;
	run->s.regs.events.exception.nr = 32;
	run->kvm_dirty_regs = KVM_SYNC_X86_EVENTS;
	is_errno(guest_run(g), EINVAL, "dirty events with exception vector 32");
	ok(!run->s.regs.events.exception.injected &&
	   run->kvm_dirty_regs == KVM_SYNC_X86_EVENTS,
	   "they stay dirty, and the vCPU's (none) are stored over them");
	run->s.regs.events.exception.injected = 1;
	run->s.regs.events.exception.nr = UD_VECTOR;
	ok_guest_exit(g, guest_run(g), KVM_EXIT_SHUTDOWN,
		      "dirty events with #UD: delivered, with no IDT a triple fault");
	run->kvm_valid_regs = 0;
	run->kvm_dirty_regs = 0;
}

static void expect_einval(struct guest *g, const struct kvm_vcpu_events *base,
			  struct kvm_vcpu_events ev, const char *what)
{
	struct kvm_vcpu_events after;

	is_errno(set_events(g, &ev), EINVAL, "KVM_SET_VCPU_EVENTS: %s", what);
	get_events(g, &after);
	if (memcmp(&after, base, sizeof(after)))
		diag("  ... and it changed the events");
}

static void test_events_errors(struct guest *g, int sys_fd)
{
	struct kvm_vcpu_events base, ev;
	struct mmu_vm vm;
	int vcpu_fd;

	memset(&base, 0, sizeof(base));
	is_int(get_events(g, &base), 0, "KVM_GET_VCPU_EVENTS: 0");
	is_int(set_events(g, &base), 0, "KVM_SET_VCPU_EVENTS of what it read: 0");
	ev = base;
	ev.flags |= 0x80;
	expect_einval(g, &base, ev, "an unknown flag");
	ev = base;
	ev.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
	expect_einval(g, &base, ev, "PAYLOAD without KVM_CAP_EXCEPTION_PAYLOAD");
	ev = base;
	ev.flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	expect_einval(g, &base, ev,
		      "TRIPLE_FAULT without KVM_CAP_X86_TRIPLE_FAULT_EVENT");
	ev = base;
	ev.exception.injected = 1;
	ev.exception.nr = 2;
	expect_einval(g, &base, ev, "exception vector 2 (NMI)");
	ev = base;
	ev.smi.pending = 1;
	expect_einval(g, &base, ev, "a pending SMI (vmmu has no SMM)");
	ev = base;
	ev.smi.smm = 1;
	expect_einval(g, &base, ev, "SMM (vmmu has none)");
	ev = base;
	ev.interrupt.injected = 1;
	ev.interrupt.soft = 1;
	expect_einval(g, &base, ev, "a software interrupt");
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_SET_VCPU_EVENTS, 8), EFAULT,
		 "KVM_SET_VCPU_EVENTS with a bad pointer: EFAULT");
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_GET_VCPU_EVENTS, 8), EFAULT,
		 "KVM_GET_VCPU_EVENTS with a bad pointer: EFAULT");

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	is_errno(vmmu_ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, (unsigned long)&ev),
		 EINVAL, "KVM_GET_VCPU_EVENTS on a software vCPU: EINVAL");
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
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	guest_load(&g, CODE_GPA, sync_code, GUEST_CODE_SIZE(sync_code));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	test_caps(&g);
	test_invalid_bits(&g);
	test_valid(&g);
	test_dirty(&g);
	test_bad_sregs(&g);
	test_immediate_exit(&g);
	test_events_errors(&g, sys_fd);
	test_events_sync(&g);
	guest_destroy(&g);
	close(sys_fd);
	return tap_finish();
}
