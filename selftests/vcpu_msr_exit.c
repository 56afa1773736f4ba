// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RDMSR and WRMSR handled by userspace: KVM_CAP_X86_USER_SPACE_MSR
 * and KVM_X86_SET_MSR_FILTER (KVM_CAP_X86_MSR_FILTER), with KVM's
 * semantics.
 *
 * A 64-bit guest whose #GP handler marks R15 and halts runs one RDMSR or
 * WRMSR at a time (ECX, EDX:EAX set through KVM_SET_REGS).  Checked: the
 * capabilities and KVM_ENABLE_CAP's errnos; the exits for each reason
 * (UNKNOWN: an MSR vmmu does not know; INVAL: a value it refuses; FILTER:
 * the filter denied it), only for the reasons the VMM asked for, #GP
 * otherwise; the completion at the next KVM_RUN (EDX:EAX and RIP, or #GP
 * with kvm_run.msr.error; dropped if the VMM moved RIP; done also with
 * immediate_exit); the filter (ranges for reads, writes or both, default
 * allow and deny, the x2APIC MSRs never filtered, a range that wraps past
 * 2^32 deciding nothing, KVM_GET/SET_MSRS never filtered), KVM's errnos for
 * bad filters, the old filter staying after one; allocation failures
 * (debug kernel); and a stress run where one thread replaces the filter in
 * a loop while the vCPU reads and writes an MSR in a loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fail_util.h"
#include "guest_util.h"

#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define GDT_GPA		0x6000ULL
#define IDT_GPA		0x7000ULL
#define STACK_GPA	0x9000ULL
#define GP_VECTOR	13
#define NONCANONICAL	0x0000800000000000ULL

#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_X2APIC_VERSION	0x803
#define MSR_UNKNOWN		0x12345678
#define MSR_TOP			0xffffff80

#define ALL_REASONS	(KVM_MSR_EXIT_REASON_INVAL | \
			 KVM_MSR_EXIT_REASON_UNKNOWN | \
			 KVM_MSR_EXIT_REASON_FILTER)

/* What the stress guest writes, and what userspace answers its reads with. */
#define STRESS_VALUE	0x0013000800000000ULL
#define STRESS_MAGIC	0x5a5a5a5a00c0ffeeULL

GUEST_CODE(msrx_code, ".code64",
	   "msrx_wr:\n"
	   "	wrmsr\n"
	   "msrx_wr_end:\n"
	   "	hlt\n"
	   "msrx_rd:\n"
	   "	rdmsr\n"
	   "msrx_rd_end:\n"
	   "	hlt\n"
	   "msrx_gp:\n"
	   "	mov $13, %r15d\n"
	   "	hlt\n"
	   "msrx_other:\n"
	   "	hlt\n"
	   /*
	    * R8: the value to write, R10: userspace's answer to reads.  Each
	    * round writes, reads back either value, counts in R14 and tells
	    * userspace through port 0x80; anything else read halts.
	    */
	   "msrx_stress:\n"
	   "	mov %r8d, %eax\n"
	   "	mov %r8, %rdx\n"
	   "	shr $32, %rdx\n"
	   "	wrmsr\n"
	   "	rdmsr\n"
	   "	shl $32, %rdx\n"
	   "	or %rdx, %rax\n"
	   "	cmp %rax, %r8\n"
	   "	je 1f\n"
	   "	cmp %rax, %r10\n"
	   "	jne msrx_stress_bad\n"
	   "1:\n"
	   "	inc %r14\n"
	   "	out %al, $0x80\n"
	   "	jmp msrx_stress\n"
	   "msrx_stress_bad:\n"
	   "	hlt\n");
GUEST_LABEL(msrx_wr);
GUEST_LABEL(msrx_wr_end);
GUEST_LABEL(msrx_rd);
GUEST_LABEL(msrx_rd_end);
GUEST_LABEL(msrx_gp);
GUEST_LABEL(msrx_other);
GUEST_LABEL(msrx_stress);

#define GPA_OF(label)	(CODE_GPA + GUEST_OFFSET(msrx_code, label))

#define NR_TESTS	54

static void setup_guest(struct guest *g, int sys_fd)
{
	u64 *idt;

	guest_create(g, sys_fd, MEM_SIZE);
	guest_load(g, CODE_GPA, msrx_code, GUEST_CODE_SIZE(msrx_code));
	guest_setup_long_mode(g, CODE_GPA, STACK_GPA);
	idt = (u64 *)(g->mem + IDT_GPA);
	guest_setup_gdt_idt(g, GDT_GPA, idt, IDT_GPA, 32);
	guest_set_gate(idt, GP_VECTOR, GPA_OF(msrx_gp));
}

static long enable_user_msr(struct guest *g, u64 mask)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = mask,
	};

	return vmmu_ioctl(g->vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap);
}

static long set_filter(struct guest *g, const struct kvm_msr_filter *f)
{
	return vmmu_ioctl(g->vm_fd, KVM_X86_SET_MSR_FILTER, (unsigned long)f);
}

/* KVM_X86_SET_MSR_FILTER with no ranges and default allow: no filtering. */
static void clear_filter(struct guest *g)
{
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };

	if (set_filter(g, &f))
		bail_out("KVM_X86_SET_MSR_FILTER without ranges failed");
}

/*
 * Start the guest on a WRMSR or RDMSR of @msr (EDX:EAX = @value) and run it
 * once.  Returns KVM_RUN's result; the exit is in g->run.
 */
static int start_access(struct guest *g, bool write, u32 msr, u64 value)
{
	struct kvm_regs regs;

	guest_get_regs(g, &regs);
	regs.rip = write ? GPA_OF(msrx_wr) : GPA_OF(msrx_rd);
	regs.rsp = STACK_GPA;
	regs.rflags = 2;
	regs.rcx = msr;
	regs.rax = write ? (u32)value : 0xaaaaaaaa;
	regs.rdx = write ? value >> 32 : 0xdddddddd;
	regs.r15 = 0;
	guest_set_regs(g, &regs);
	return guest_run(g);
}

/*
 * How the guest ended up after its access: 1 #GP, 0 halted after the
 * instruction, -1 anything else.  EDX:EAX into *@value.
 */
static int access_result(struct guest *g, bool write, u64 *value)
{
	struct kvm_regs regs;
	u64 after = write ? GPA_OF(msrx_wr_end) : GPA_OF(msrx_rd_end);

	guest_get_regs(g, &regs);
	*value = (u64)(u32)regs.rdx << 32 | (u32)regs.rax;
	if (regs.r15 == GP_VECTOR)
		return 1;
	if (regs.rip == after + 1)	/* past the HLT */
		return 0;
	diag("  guest at %#llx, r15 %llu", (unsigned long long)regs.rip,
	     (unsigned long long)regs.r15);
	return -1;
}

/* One access handled in the kernel: 1 #GP, 0 done, -1 it exited instead. */
static int kernel_access(struct guest *g, bool write, u32 msr, u64 *value)
{
	int r = start_access(g, write, msr, *value);

	if (r || g->run->exit_reason != KVM_EXIT_HLT) {
		diag("  %s %#x: KVM_RUN %d, exit %s", write ? "WRMSR" : "RDMSR",
		     msr, r, guest_exit_name(g->run->exit_reason));
		return -1;
	}
	return access_result(g, write, value);
}

/*
 * The last KVM_RUN returned @r and should be a userspace MSR exit of this
 * kind, MSR, reason and data, with RIP still on the instruction.
 */
static bool is_msr_exit(struct guest *g, int r, bool write, u32 msr,
			u32 reason, u64 data)
{
	struct kvm_run *run = g->run;
	u32 want = write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
	struct kvm_regs regs;

	if (r || run->exit_reason != want) {
		diag("  KVM_RUN %d, exit %u (%s), want %u", r, run->exit_reason,
		     guest_exit_name(run->exit_reason), want);
		return false;
	}
	guest_get_regs(g, &regs);
	if (run->msr.index != msr || run->msr.reason != reason ||
	    run->msr.data != data || run->msr.error ||
	    regs.rip != (write ? GPA_OF(msrx_wr) : GPA_OF(msrx_rd))) {
		diag("  index %#x reason %u data %#llx error %u rip %#llx",
		     run->msr.index, run->msr.reason,
		     (unsigned long long)run->msr.data, run->msr.error,
		     (unsigned long long)regs.rip);
		return false;
	}
	return true;
}

/* Answer the exit (@error, @data), run on: as access_result(). */
static int complete(struct guest *g, bool write, u8 error, u64 data,
		    u64 *value)
{
	int r;

	g->run->msr.error = error;
	g->run->msr.data = data;
	r = guest_run(g);
	if (r || g->run->exit_reason != KVM_EXIT_HLT) {
		diag("  completion: KVM_RUN %d, exit %s", r,
		     guest_exit_name(g->run->exit_reason));
		return -1;
	}
	return access_result(g, write, value);
}

/* KVM_GET_MSRS or KVM_SET_MSRS of one MSR: the number done, or -errno. */
static long host_msr(struct guest *g, bool set, u32 msr, u64 *value)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e = { .index = msr, .data = *value } };
	long r = vmmu_ioctl(g->vcpu_fd, set ? KVM_SET_MSRS : KVM_GET_MSRS,
			    (unsigned long)&m);

	*value = m.e.data;
	return r;
}

static void test_caps(int sys_fd, struct guest *g)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR };

	is_int(vmmu_check_extension(sys_fd, KVM_CAP_X86_USER_SPACE_MSR), 1,
	       "KVM_CAP_X86_USER_SPACE_MSR is 1");
	is_int(vmmu_check_extension(sys_fd, KVM_CAP_X86_MSR_FILTER), 1,
	       "KVM_CAP_X86_MSR_FILTER is 1");
	ok(vmmu_check_extension(g->vm_fd, KVM_CAP_X86_USER_SPACE_MSR) == 1 &&
	   vmmu_check_extension(g->vm_fd, KVM_CAP_X86_MSR_FILTER) == 1,
	   "both are 1 on the VM fd too");
	is_errno(enable_user_msr(g, ALL_REASONS << 1), EINVAL,
		 "KVM_ENABLE_CAP(USER_SPACE_MSR) with an unknown reason bit: EINVAL");
	is_errno(enable_user_msr(g, 1ULL << 32), EINVAL,
		 "... with bit 32: EINVAL");
	cap.flags = 1;
	cap.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN;
	is_errno(vmmu_ioctl(g->vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap),
		 EINVAL, "... with flags 1: EINVAL");
	cap.flags = 0;
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_ENABLE_CAP, (unsigned long)&cap),
		 EINVAL, "... on the vCPU fd: EINVAL");
	is_errno(enable_user_msr(g, ALL_REASONS), 0, "... with all three reasons: 0");
	is_errno(enable_user_msr(g, 0), 0, "... with none: 0");
}

/* RDMSR and WRMSR of an MSR vmmu does not know (reason UNKNOWN). */
static void test_unknown(struct guest *g)
{
	u64 v = 0;
	int r;

	enable_user_msr(g, 0);
	is_int(kernel_access(g, false, MSR_UNKNOWN, &v), 1,
	       "without the capability: RDMSR of an unknown MSR is #GP");
	enable_user_msr(g, KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER);
	is_int(kernel_access(g, false, MSR_UNKNOWN, &v), 1,
	       "INVAL|FILTER asked: RDMSR of an unknown MSR is still #GP");
	enable_user_msr(g, KVM_MSR_EXIT_REASON_UNKNOWN);
	r = start_access(g, false, MSR_UNKNOWN, 0);
	ok(is_msr_exit(g, r, false, MSR_UNKNOWN, KVM_MSR_EXIT_REASON_UNKNOWN, 0),
	   "UNKNOWN asked: RDMSR exits (KVM_EXIT_X86_RDMSR, reason UNKNOWN, data 0, RIP on it)");
	r = complete(g, false, 0, 0x1122334455667788ULL, &v);
	ok(!r && v == 0x1122334455667788ULL,
	   "completion: EDX:EAX = kvm_run.msr.data, RIP past it (%d, %#llx)",
	   r, (unsigned long long)v);

	r = start_access(g, false, MSR_UNKNOWN, 0);
	is_msr_exit(g, r, false, MSR_UNKNOWN, KVM_MSR_EXIT_REASON_UNKNOWN, 0);
	r = complete(g, false, 1, 0x1122334455667788ULL, &v);
	ok(r == 1 && v == 0xddddddddaaaaaaaaULL,
	   "completion with error: #GP, EDX:EAX untouched (%d, %#llx)", r,
	   (unsigned long long)v);

	r = start_access(g, true, MSR_UNKNOWN, 0xfedcba9876543210ULL);
	ok(is_msr_exit(g, r, true, MSR_UNKNOWN, KVM_MSR_EXIT_REASON_UNKNOWN,
		       0xfedcba9876543210ULL),
	   "WRMSR exits (KVM_EXIT_X86_WRMSR, reason UNKNOWN, data = EDX:EAX)");
	r = complete(g, true, 0, 0, &v);
	is_int(r, 0, "completion: RIP past the WRMSR");
	r = start_access(g, true, MSR_UNKNOWN, 1);
	is_msr_exit(g, r, true, MSR_UNKNOWN, KVM_MSR_EXIT_REASON_UNKNOWN, 1);
	r = complete(g, true, 0x80, 0, &v);
	is_int(r, 1, "WRMSR completion with error 0x80 (any non-zero): #GP");
}

/* A value vmmu refuses (reason INVAL). */
static void test_inval(struct guest *g)
{
	u64 v = NONCANONICAL;
	int r;

	enable_user_msr(g, KVM_MSR_EXIT_REASON_UNKNOWN);
	is_int(kernel_access(g, true, MSR_LSTAR, &v), 1,
	       "UNKNOWN asked: non-canonical LSTAR is #GP, no exit");
	enable_user_msr(g, KVM_MSR_EXIT_REASON_INVAL);
	r = start_access(g, true, MSR_LSTAR, NONCANONICAL);
	ok(is_msr_exit(g, r, true, MSR_LSTAR, KVM_MSR_EXIT_REASON_INVAL,
		       NONCANONICAL),
	   "INVAL asked: non-canonical LSTAR exits with reason INVAL");
	complete(g, true, 0, 0, &v);
	v = 0;
	r = host_msr(g, false, MSR_LSTAR, &v);
	ok(r == 1 && v != NONCANONICAL,
	   "completed without error, LSTAR still keeps its value (%#llx)",
	   (unsigned long long)v);
	v = 0;
	is_int(kernel_access(g, false, MSR_UNKNOWN, &v), 1,
	       "INVAL asked: RDMSR of an unknown MSR is #GP");
}

/* Completion details: a moved RIP drops it, immediate_exit completes it. */
static void test_completion(struct guest *g)
{
	struct kvm_regs regs;
	int r;

	enable_user_msr(g, KVM_MSR_EXIT_REASON_UNKNOWN);
	r = start_access(g, false, MSR_UNKNOWN, 0);
	is_msr_exit(g, r, false, MSR_UNKNOWN, KVM_MSR_EXIT_REASON_UNKNOWN, 0);
	guest_get_regs(g, &regs);
	regs.rip = GPA_OF(msrx_other);
	guest_set_regs(g, &regs);
	g->run->msr.data = 0x1234;
	r = guest_run(g);
	guest_get_regs(g, &regs);
	ok(!r && g->run->exit_reason == KVM_EXIT_HLT &&
	   regs.rip == GPA_OF(msrx_other) + 1 && (u32)regs.rax == 0xaaaaaaaa,
	   "RIP moved by KVM_SET_REGS: the RDMSR is dropped (rip %#llx, rax %#llx)",
	   (unsigned long long)regs.rip, (unsigned long long)regs.rax);

	r = start_access(g, false, MSR_UNKNOWN, 0);
	is_msr_exit(g, r, false, MSR_UNKNOWN, KVM_MSR_EXIT_REASON_UNKNOWN, 0);
	g->run->msr.data = 0x55aa;
	g->run->immediate_exit = 1;
	r = guest_run(g);
	g->run->immediate_exit = 0;
	guest_get_regs(g, &regs);
	ok(r == -EINTR && regs.rip == GPA_OF(msrx_rd_end) && regs.rax == 0x55aa,
	   "immediate_exit: EINTR with the RDMSR completed (%d, rip %#llx, rax %#llx)",
	   r, (unsigned long long)regs.rip, (unsigned long long)regs.rax);
}

/* A filter with one range on @msr: @flags decide, bit 0 = @allow. */
static struct kvm_msr_filter one_range(u32 default_flags, u32 flags,
				       u32 msr, u8 *bitmap)
{
	struct kvm_msr_filter f = {
		.flags = default_flags,
		.ranges[0] = { .flags = flags, .nmsrs = 1, .base = msr,
			       .bitmap = bitmap },
	};

	return f;
}

static void test_filter(struct guest *g)
{
	u64 deny = 0, allow = ~0ULL, v;
	struct kvm_msr_filter f;
	int r;

	enable_user_msr(g, KVM_MSR_EXIT_REASON_FILTER);
	v = 0x1000;
	host_msr(g, true, MSR_STAR, &v);
	f = one_range(KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_READ,
		      MSR_STAR, (u8 *)&deny);
	is_errno(set_filter(g, &f), 0, "filter: deny reads of STAR: 0");
	r = start_access(g, false, MSR_STAR, 0);
	ok(is_msr_exit(g, r, false, MSR_STAR, KVM_MSR_EXIT_REASON_FILTER, 0),
	   "RDMSR of STAR exits with reason FILTER");
	r = complete(g, false, 0, 0x77, &v);
	ok(!r && v == 0x77, "completed with userspace's value (%#llx)",
	   (unsigned long long)v);
	v = 0x2000;
	r = kernel_access(g, true, MSR_STAR, &v);
	v = 0;
	ok(!r && host_msr(g, false, MSR_STAR, &v) == 1 && v == 0x2000,
	   "WRMSR of STAR (range for reads only) reaches the kernel");
	v = 0;
	is_int(kernel_access(g, false, MSR_SYSCALL_MASK, &v), 0,
	       "RDMSR of SFMASK (outside the range, default allow) in the kernel");

	f = one_range(KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_WRITE,
		      MSR_STAR, (u8 *)&deny);
	set_filter(g, &f);
	r = start_access(g, true, MSR_STAR, 0x3000);
	ok(is_msr_exit(g, r, true, MSR_STAR, KVM_MSR_EXIT_REASON_FILTER, 0x3000),
	   "range for writes: WRMSR of STAR exits with reason FILTER");
	complete(g, true, 0, 0, &v);
	v = 0;
	r = kernel_access(g, false, MSR_STAR, &v);
	ok(!r && v == 0x2000,
	   "... its RDMSR reaches the kernel, which did not see the write (%#llx)",
	   (unsigned long long)v);

	f = one_range(KVM_MSR_FILTER_DEFAULT_DENY,
		      KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, MSR_STAR,
		      (u8 *)&allow);
	is_errno(set_filter(g, &f), 0, "filter: default deny, STAR allowed: 0");
	v = 0;
	is_int(kernel_access(g, false, MSR_STAR, &v), 0,
	       "RDMSR of STAR (allowed) in the kernel");
	r = start_access(g, false, MSR_SYSCALL_MASK, 0);
	ok(is_msr_exit(g, r, false, MSR_SYSCALL_MASK,
		       KVM_MSR_EXIT_REASON_FILTER, 0),
	   "RDMSR of SFMASK (default deny) exits with reason FILTER");
	complete(g, false, 1, 0, &v);
	v = 0;
	ok(host_msr(g, false, MSR_SYSCALL_MASK, &v) == 1 &&
	   (v = 0x4700, host_msr(g, true, MSR_SYSCALL_MASK, &v)) == 1,
	   "KVM_GET_MSRS and KVM_SET_MSRS of SFMASK are not filtered");
	enable_user_msr(g, ALL_REASONS);
	r = start_access(g, false, MSR_X2APIC_VERSION, 0);
	ok(is_msr_exit(g, r, false, MSR_X2APIC_VERSION,
		       KVM_MSR_EXIT_REASON_UNKNOWN, 0),
	   "x2APIC MSR 0x803 under default deny: not filtered (reason UNKNOWN)");
	complete(g, false, 1, 0, &v);
	enable_user_msr(g, KVM_MSR_EXIT_REASON_UNKNOWN);
	v = 0;
	is_int(kernel_access(g, false, MSR_SYSCALL_MASK, &v), 1,
	       "FILTER not asked: the denied RDMSR is #GP");

	/* base + nmsrs wraps: KVM's range decides nothing. */
	{
		static u64 zeros[4];

		f = (struct kvm_msr_filter){
			.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
			.ranges[0] = { .flags = KVM_MSR_FILTER_READ,
				       .nmsrs = 256, .base = MSR_TOP,
				       .bitmap = (u8 *)zeros },
		};
		is_errno(set_filter(g, &f), 0,
			 "filter: a deny range that wraps past 2^32: 0");
		r = start_access(g, false, MSR_TOP, 0);
		ok(is_msr_exit(g, r, false, MSR_TOP,
			       KVM_MSR_EXIT_REASON_UNKNOWN, 0),
		   "... decides nothing, as in KVM: RDMSR %#x is UNKNOWN, not FILTER",
		   MSR_TOP);
		complete(g, false, 1, 0, &v);
	}
	clear_filter(g);
	enable_user_msr(g, KVM_MSR_EXIT_REASON_FILTER);
	v = 0;
	is_int(kernel_access(g, false, MSR_SYSCALL_MASK, &v), 0,
	       "a filter without ranges, default allow: nothing filtered");
}

/* Bad filters: KVM's errnos, and the old filter stays. */
static void test_bad_filters(struct guest *g)
{
	u64 deny = 0, v;
	struct kvm_msr_filter f, good;
	size_t pg = getpagesize();
	u8 *two, *bitmap;
	int r;

	enable_user_msr(g, KVM_MSR_EXIT_REASON_FILTER);
	good = one_range(KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_READ,
			 MSR_STAR, (u8 *)&deny);
	set_filter(g, &good);
	f = good;
	f.flags = 2;
	is_errno(set_filter(g, &f), EINVAL, "filter flags 2: EINVAL");
	f = (struct kvm_msr_filter){ .flags = KVM_MSR_FILTER_DEFAULT_DENY };
	is_errno(set_filter(g, &f), EINVAL, "default deny without a range: EINVAL");
	f = good;
	f.ranges[0].flags = 0;
	is_errno(set_filter(g, &f), EINVAL, "a range without flags: EINVAL");
	f = good;
	f.ranges[0].flags = 4;
	is_errno(set_filter(g, &f), EINVAL, "a range with flag 4: EINVAL");
	f = good;
	f.ranges[1] = (struct kvm_msr_filter_range){ .flags = 0xff, .nmsrs = 0 };
	is_errno(set_filter(g, &f), 0,
		 "an empty range with bad flags is skipped, as in KVM: 0");
	bitmap = calloc(1, KVM_MSR_FILTER_MAX_BITMAP_SIZE);
	f = good;
	f.ranges[0].bitmap = bitmap;
	f.ranges[0].nmsrs = KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8;
	is_errno(set_filter(g, &f), 0, "a bitmap of KVM_MSR_FILTER_MAX_BITMAP_SIZE: 0");
	f.ranges[0].nmsrs = KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8 + 1;
	is_errno(set_filter(g, &f), EINVAL, "one MSR more: EINVAL");
	f.ranges[0].nmsrs = 0xffffffff;
	is_errno(set_filter(g, &f), EINVAL, "nmsrs 0xffffffff: EINVAL");
	f = good;
	f.ranges[3] = good.ranges[0];
	f.ranges[3].bitmap = NULL;
	is_errno(set_filter(g, &f), EFAULT, "a NULL bitmap in range 3: EFAULT");
	is_errno(vmmu_ioctl(g->vm_fd, KVM_X86_SET_MSR_FILTER, 8), EFAULT,
		 "the filter itself unreadable: EFAULT");
	/* nmsrs 1 reads a whole long, as KVM: the last byte before a hole. */
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(two + pg, pg);
	f = good;
	f.ranges[0].bitmap = two + pg - 1;
	is_errno(set_filter(g, &f), EFAULT,
		 "nmsrs 1 with its byte before an unmapped page: EFAULT (a long is read)");
	f.ranges[0].bitmap = two + pg - sizeof(long);
	is_errno(set_filter(g, &f), 0, "... with a long before it: 0");
	munmap(two, pg);
	free(bitmap);
	set_filter(g, &good);
	f = good;
	f.ranges[0].flags = 0;
	set_filter(g, &f);
	r = start_access(g, false, MSR_STAR, 0);
	ok(is_msr_exit(g, r, false, MSR_STAR, KVM_MSR_EXIT_REASON_FILTER, 0),
	   "after a refused filter the old one still applies");
	complete(g, false, 1, 0, &v);
	clear_filter(g);
}

/*
 * Allocation failures (debug kernel), swept as fail_sweep does: the n-th
 * allocation of the ioctl fails, for n = 1, 2 ... until none is injected.
 * Each call either fails with ENOMEM and leaves the old filter (STAR's
 * reads still exit), or succeeds because something absorbed the failure
 * and installed the new filter (STAR's reads reach the kernel).
 *
 * The debug kernel allocates in the same thread for itself (kmemleak's
 * objects, KASAN's stack depot, new slab pages with their higher-order
 * attempt first), and how often depends on the state other CPUs left: the
 * n-th allocation is not the same one from call to call, so how many steps
 * fail with ENOMEM varies (2 to 7 were seen in one boot, for the 5 kmallocs
 * of a filter with 4 ranges).  The sweep is run SWEEPS times; every step
 * of every sweep must be clean, and the ioctl's own failures must have been
 * reached (some ENOMEM).
 */
#define SWEEPS	3

static bool sweep_step_clean(struct guest *g, long r)
{
	u64 v = 0;
	int e;

	if (r == 0)
		return kernel_access(g, false, MSR_STAR, &v) == 0;
	if (r != -ENOMEM)
		return false;
	e = start_access(g, false, MSR_STAR, 0);
	if (!is_msr_exit(g, e, false, MSR_STAR, KVM_MSR_EXIT_REASON_FILTER, 0))
		return false;
	return complete(g, false, 1, 0, &v) == 1;
}

static void test_alloc_failures(struct guest *g)
{
	static u8 bitmaps[4][KVM_MSR_FILTER_MAX_BITMAP_SIZE];
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
	unsigned int n, sweep, steps = 0, bad = 0, enomem = 0, absorbed = 0;
	bool ended = true;
	struct kvm_msr_filter keep;
	u64 deny = 0;
	long r;
	int i;

	if (!fail_available() || fail_setup()) {
		skip(1, "no allocation-failure injection in this kernel");
		return;
	}
	/* Populated now: the ioctl's copies must not fault pages in. */
	memset(bitmaps, 0xff, sizeof(bitmaps));
	for (i = 0; i < 4; i++)
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_WRITE, .base = i << 16,
			.nmsrs = KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8,
			.bitmap = bitmaps[i] };
	keep = one_range(KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_READ,
			 MSR_STAR, (u8 *)&deny);
	enable_user_msr(g, KVM_MSR_EXIT_REASON_FILTER);
	for (sweep = 0; sweep < SWEEPS; sweep++) {
		/* E: ENOMEM, a: absorbed; one letter per step. */
		char seen[64] = "";

		for (n = 1; n < 1000; n++) {
			bool fired;

			set_filter(g, &keep);
			fail_arm(n);
			r = set_filter(g, &f);
			fired = fail_disarm();
			if (!sweep_step_clean(g, r)) {
				diag("  sweep %u, failure %u: %ld", sweep, n, r);
				bad++;
			}
			if (!fired)
				break;
			steps++;
			if (r)
				enomem++;
			else
				absorbed++;
			if (n < sizeof(seen))
				seen[n - 1] = r ? 'E' : 'a';
		}
		ended &= n < 1000;
		diag("sweep %u: %s", sweep, seen);
	}
	fail_restore();
	clear_filter(g);
	ok(!bad && ended && enomem,
	   "KVM_X86_SET_MSR_FILTER, %u sweeps: %u allocations failed, %u ENOMEM with the old filter kept, %u absorbed with the new one",
	   SWEEPS, steps, enomem, absorbed);
}

struct stress {
	struct guest *g;
	unsigned int rounds;
	atomic_bool done;
	long errors;
};

/* Replace the filter in a loop: deny STAR, no filter, default deny. */
static void *stress_filter_thread(void *arg)
{
	struct stress *s = arg;
	u64 deny = 0, allow = ~0ULL;
	struct kvm_msr_filter f[3] = {
		one_range(KVM_MSR_FILTER_DEFAULT_ALLOW,
			  KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, MSR_STAR,
			  (u8 *)&deny),
		{ .flags = KVM_MSR_FILTER_DEFAULT_ALLOW },
		one_range(KVM_MSR_FILTER_DEFAULT_DENY, KVM_MSR_FILTER_READ,
			  MSR_STAR, (u8 *)&allow),
	};
	unsigned int i;

	for (i = 0; i < s->rounds; i++)
		if (set_filter(s->g, &f[i % 3]))
			s->errors++;
	atomic_store(&s->done, true);
	return NULL;
}

/*
 * The vCPU writes and reads STAR in a loop while another thread replaces
 * the filter.  Invariants: every exit is the guest's port write or a
 * filtered access of STAR with the value the guest wrote; the guest reads
 * either what it wrote or userspace's answer; KVM_GET_MSRS is never
 * filtered; the guest's count of rounds equals the port exits.
 */
static void test_stress(struct guest *g)
{
	struct stress s = { .g = g, .rounds = guest_slow_emulator() ? 20 : 1000 };
	unsigned long rounds = 0, user_rd = 0, user_wr = 0, bad = 0, host = 0;
	struct kvm_run *run = g->run;
	struct kvm_regs regs;
	pthread_t t;
	u64 v = STRESS_VALUE;

	enable_user_msr(g, KVM_MSR_EXIT_REASON_FILTER);
	host_msr(g, true, MSR_STAR, &v);
	guest_get_regs(g, &regs);
	regs.rip = GPA_OF(msrx_stress);
	regs.rcx = MSR_STAR;
	regs.r8 = STRESS_VALUE;
	regs.r10 = STRESS_MAGIC;
	regs.r14 = 0;
	regs.r15 = 0;
	guest_set_regs(g, &regs);
	if (pthread_create(&t, NULL, stress_filter_thread, &s))
		bail_out("pthread_create");
	while (!atomic_load(&s.done) && !bad) {
		if (guest_run(g)) {
			bad++;
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			rounds++;
			if (!(rounds % 64)) {
				v = 0;
				if (host_msr(g, false, MSR_STAR, &v) != 1 ||
				    v != STRESS_VALUE)
					bad++;
				host++;
			}
			break;
		case KVM_EXIT_X86_RDMSR:
			user_rd++;
			bad += run->msr.index != MSR_STAR ||
			       run->msr.reason != KVM_MSR_EXIT_REASON_FILTER;
			run->msr.data = STRESS_MAGIC;
			break;
		case KVM_EXIT_X86_WRMSR:
			user_wr++;
			bad += run->msr.index != MSR_STAR ||
			       run->msr.reason != KVM_MSR_EXIT_REASON_FILTER ||
			       run->msr.data != STRESS_VALUE;
			break;
		default:
			guest_exit_diag(g);
			bad++;
		}
	}
	pthread_join(t, NULL);
	guest_get_regs(g, &regs);
	diag("stress: %u filter replacements, %lu guest rounds (WRMSR + RDMSR),",
	     s.rounds, rounds);
	diag("  %lu RDMSR and %lu WRMSR exits to userspace, %lu KVM_GET_MSRS",
	     user_rd, user_wr, host);
	ok(!bad && !s.errors && regs.r14 == rounds,
	   "stress: every exit and value as expected while the filter changes (bad %lu, ioctl errors %ld, guest rounds %llu)",
	   bad, s.errors, (unsigned long long)regs.r14);
	clear_filter(g);
}

int main(void)
{
	struct guest g;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	setup_guest(&g, sys_fd);
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	test_caps(sys_fd, &g);
	test_unknown(&g);
	test_inval(&g);
	test_completion(&g);
	test_filter(&g);
	test_bad_filters(&g);
	test_alloc_failures(&g);
	test_stress(&g);
	guest_destroy(&g);
	close(sys_fd);
	return tap_finish();
}
