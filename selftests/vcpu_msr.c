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
 *
 * The MSRs that only hold what the guest wrote follow KVM's rules too:
 * MTRRs (8 variable ranges; valid memory types only, no reserved bits, none
 * at or above the guest's MAXPHYADDR), machine-check banks (32; MCi_CTL 0
 * or all ones but for bits 0 and 10, the guest may only clear MCi_STATUS,
 * no MCG_CTL), IA32_MISC_ENABLE (BTS and PEBS unavailable and read-only,
 * EMON ignored), the APIC base (no reserved bit, no x2APIC), the kvmclock
 * MSRs (not the guest's: vmmu offers no kvmclock).  The TSC the guest
 * reads with RDTSC and RDMSR is the one KVM_SET_MSRS or WRMSR gave it.
 * The platform MSRs guests read on the CPUs they know answer as KVM's do
 * (SYSCFG, PERF_STATUS, the legacy performance counters, the microcode
 * revision, HWCR with McStatusWrEn letting an AMD guest set MCi_STATUS).
 */
#include <cpuid.h>
#include <string.h>
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
#define MSR_TSC			0x10
#define MSR_MTRRCAP		0xfe
#define MSR_MCG_CAP		0x179
#define MSR_MCG_STATUS		0x17a
#define MSR_MCG_CTL		0x17b
#define MSR_MISC_ENABLE		0x1a0
#define MSR_MTRR_BASE0		0x200
#define MSR_MTRR_MASK0		0x201
#define MSR_MTRR_MASK7		0x20f
#define MSR_MTRR_FIX64K		0x250
#define MSR_MTRR_FIX16K_A0000	0x259
#define MSR_MTRR_FIX4K_F8000	0x26f
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_MC0_CTL		0x400
#define MSR_MC0_STATUS		0x401
#define MSR_MC4_CTL		0x410
#define MSR_MC31_ADDR		0x47e
#define MSR_UCODE_REV		0x8b
#define MSR_TSC_ADJUST		0x3b
#define MSR_MISC_FEATURES	0x140
#define MSR_PLATFORM_INFO	0xce
#define MSR_FSB_FREQ		0xcd
#define MSR_PLATFORM_ID		0x17
#define MSR_EBC_FREQUENCY_ID	0x2c
#define MSR_PERF_STATUS		0x198
#define MSR_POWER_CTL		0x1fc
#define MSR_K7_EVNTSEL0		0xc0010000
#define MSR_K7_PERFCTR0		0xc0010004
#define MSR_K7_HWCR		0xc0010015
#define MSR_FAM10H_MMIO_CONF	0xc0010058
#define MSR_SYSCFG		0xc0010010
#define HWCR_MCSTATUSWREN	BIT_ULL(18)
#define MSR_KVM_WALL_CLOCK	0x11
#define MSR_KVM_SYSTEM_TIME	0x12
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

/* IA32_MISC_ENABLE after RESET: BTS (11) and PEBS (12) unavailable. */
#define MISC_ENABLE_RESET	0x1800ULL
#define MISC_ENABLE_EMON	BIT_ULL(7)

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
	   "	hlt\n"
	   "tsc_rd:\n"
	   "	rdtsc\n"
	   "	hlt\n");
GUEST_LABEL(msr_wr);
GUEST_LABEL(msr_rd);
GUEST_LABEL(msr_gp);
GUEST_LABEL(tsc_rd);

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
	{ MSR_MTRR_DEF_TYPE, "MTRR_DEF_TYPE (on, fixed on, WB)", 0xc06 },
	{ MSR_MTRR_FIX64K, "MTRR_FIX64K_00000", 0x0606060606060606ULL },
	{ MSR_MTRR_FIX16K_A0000, "MTRR_FIX16K_A0000", 0x0101010100000000ULL },
	{ MSR_MTRR_FIX4K_F8000, "MTRR_FIX4K_F8000", 0x0504060605040606ULL },
	{ MSR_MTRR_BASE0, "MTRR_PHYSBASE0 (2 GiB, UC)", 0x80000000ULL },
	{ MSR_MTRR_MASK0, "MTRR_PHYSMASK0 (2 GiB, valid)", 0xf80000800ULL },
	{ MSR_MTRR_MASK7, "MTRR_PHYSMASK7", 0xfff000800ULL },
	{ MSR_MCG_STATUS, "MCG_STATUS", 0x4 },
	{ MSR_MC0_CTL, "MC0_CTL (all ones)", ~0ULL },
	{ MSR_MC4_CTL, "MC4_CTL (all ones but bit 10)", ~BIT_ULL(10) },
	{ MSR_MC0_STATUS, "MC0_STATUS (cleared)", 0 },
	{ MSR_MC31_ADDR, "MC31_ADDR", 0x12345000ULL },
	{ MSR_MISC_ENABLE, "MISC_ENABLE (fast strings)", MISC_ENABLE_RESET | 1 },
	{ MSR_POWER_CTL, "POWER_CTL", 0x40 },
	{ MSR_MISC_FEATURES, "MISC_FEATURES_ENABLES (CPUID faulting)", 1 },
	{ MSR_MISC_FEATURES, "MISC_FEATURES_ENABLES (off again)", 0 },
	{ MSR_FAM10H_MMIO_CONF, "FAM10H_MMIO_CONF_BASE (0 only)", 0 },
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
	{ MSR_APIC_BASE, "APIC_BASE in x2APIC mode", 0xfee00c00ULL },
	{ MSR_APIC_BASE, "APIC_BASE with reserved bit 0", 0xfee00901ULL },
	{ MSR_APIC_BASE, "APIC_BASE with bit 63", BIT_ULL(63) | 0xfee00900ULL },
	{ MSR_MTRRCAP, "MTRRCAP (read-only)", 0x508 },
	{ MSR_MTRR_DEF_TYPE, "MTRR_DEF_TYPE with reserved bit 9", 0xe06 },
	{ MSR_MTRR_DEF_TYPE, "MTRR_DEF_TYPE with memory type 2", 0xc02 },
	{ MSR_MTRR_FIX64K, "MTRR_FIX64K_00000 with a byte of type 7",
	  0x0606060706060606ULL },
	{ MSR_MTRR_BASE0, "MTRR_PHYSBASE0 with memory type 3", 0x80000003ULL },
	{ MSR_MTRR_BASE0, "MTRR_PHYSBASE0 with reserved bit 8", 0x80000106ULL },
	{ MSR_MTRR_MASK0, "MTRR_PHYSMASK0 with reserved bit 10", 0xf80000c00ULL },
	{ MSR_MTRR_MASK0, "MTRR_PHYSMASK0 with bit 63", BIT_ULL(63) | 0x800 },
	{ MSR_MCG_CAP, "MCG_CAP (read-only)", 0 },
	{ MSR_MC0_CTL, "MC0_CTL neither 0 nor all ones", 0xffULL },
	{ MSR_MC0_STATUS, "MC0_STATUS set by the guest", 1 },
	{ MSR_MISC_ENABLE, "MISC_ENABLE clearing BTS unavailable",
	  MISC_ENABLE_RESET & ~BIT_ULL(11) },
	{ MSR_PLATFORM_ID, "PLATFORM_ID (read-only)", 1 },
	{ MSR_FAM10H_MMIO_CONF, "FAM10H_MMIO_CONF_BASE non-zero", 0xe0000021 },
	{ MSR_K7_HWCR, "HWCR with bit 0", 1 },
	{ MSR_MISC_FEATURES, "MISC_FEATURES_ENABLES with bit 1", 2 },
	{ MSR_PLATFORM_INFO, "PLATFORM_INFO written by the guest", 0 },
};

/* What a RDMSR gives without a write before it. */
static const struct round_trip reads[] = {
	{ MSR_MTRRCAP, "MTRRCAP: 8 variable ranges, fixed ranges, WC", 0x508 },
	{ MSR_MCG_CAP, "MCG_CAP: 32 banks, nothing else", 32 },
	{ MSR_MTRR_DEF_TYPE, "MTRR_DEF_TYPE after RESET", 0 },
	{ MSR_MISC_ENABLE, "MISC_ENABLE after RESET: BTS and PEBS unavailable",
	  MISC_ENABLE_RESET },
	{ MSR_SYSCFG, "SYSCFG: 0", 0 },
	{ MSR_PLATFORM_ID, "PLATFORM_ID: 0", 0 },
	{ MSR_PERF_STATUS, "PERF_STATUS: 1000 a tick, multiplier 4",
	  1000 | (4ULL << 40) },
	{ MSR_FSB_FREQ, "FSB frequency: 3", 3 },
	{ MSR_EBC_FREQUENCY_ID, "EBC_FREQUENCY_ID: ratio 1", 1ULL << 24 },
	{ MSR_K7_PERFCTR0, "K7_PERFCTR0: 0 (no counters)", 0 },
	{ MSR_K7_HWCR, "HWCR after RESET: 0", 0 },
	{ MSR_PLATFORM_INFO, "PLATFORM_INFO: CPUID faulting offered",
	  1ULL << 31 },
	{ MSR_TSC_ADJUST, "TSC_ADJUST after creation: 0", 0 },
};

#define NR_TESTS	(ARRAY_SIZE(round_trips) + ARRAY_SIZE(refused) + \
			 ARRAY_SIZE(reads) + 16)

/* The GDT and an IDT whose #GP gate goes to msr_gp. */
static void setup_tables(struct guest *g)
{
	u64 *idt = (u64 *)(g->mem + IDT_GPA);

	guest_setup_gdt_idt(g, GDT_GPA, idt, IDT_GPA, 32);
	guest_set_gate(idt, GP_VECTOR,
		       CODE_GPA + GUEST_OFFSET(msr_code, msr_gp));
}

/*
 * Run the guest at @entry with ECX = @msr, EDX:EAX = *@value; EDX:EAX out.
 * Returns 1 if the guest took #GP, 0 if not, -1 if it did not halt.
 */
static int guest_at(struct guest *g, const u8 *entry, u32 msr, u64 *value)
{
	bool write = entry == msr_wr;
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
		diag("%s %#x: KVM_RUN %d, exit %s",
		     write ? "WRMSR" : entry == msr_rd ? "RDMSR" : "RDTSC",
		     msr, r, guest_exit_name(g->run->exit_reason));
		return -1;
	}
	guest_get_regs(g, &regs);
	if (!write)
		*value = (u64)(u32)regs.rdx << 32 | (u32)regs.rax;
	return regs.r15 == GP_VECTOR;
}

/* One WRMSR (@write) or RDMSR of @msr; as guest_at(). */
static int msr_access(struct guest *g, bool write, u32 msr, u64 *value)
{
	return guest_at(g, write ? msr_wr : msr_rd, msr, value);
}

static void test_read(struct guest *g, const struct round_trip *t)
{
	u64 v = 0;
	int r = msr_access(g, false, t->msr, &v);

	if (!ok(!r && v == t->value, "%s: RDMSR gives %#llx", t->name,
		(unsigned long long)t->value))
		diag("  read %d, value %#llx", r, (unsigned long long)v);
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

/* KVM_SET_MSRS of one MSR: the number of MSRs set. */
static int set_msr_host(struct guest *g, u32 msr, u64 value)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e = { .index = msr, .data = value } };

	return vmmu_ioctl(g->vcpu_fd, KVM_SET_MSRS, (unsigned long)&m);
}

static inline u64 host_tsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/*
 * The VMM sets the TSC to 2^@shift; the guest reads it with RDMSR or RDTSC
 * (@entry).  The guest's TSC runs with the host's: what it reads is at
 * least that and at most that plus the host's ticks from before the write
 * to after the guest's read.  (Each call writes another value: the same
 * value again within a second would keep the TSC running from the first
 * write, as in KVM.)
 */
static void test_tsc(struct guest *g, const u8 *entry, const char *how,
		     unsigned int shift)
{
	const u64 base = 1ULL << shift;
	u64 t0 = host_tsc(), v = 0, t1;
	int s = set_msr_host(g, MSR_TSC, base);
	int r = guest_at(g, entry, MSR_TSC, &v);

	t1 = host_tsc();
	if (!ok(s == 1 && !r && v >= base && v - base <= t1 - t0,
		"TSC set to 2^%u by KVM_SET_MSRS: %s reads it, plus the host's ticks at most",
		shift, how))
		diag("  set %d, read %d, value 2^%u + %lld, host ticks %llu",
		     s, r, shift, (long long)(v - base),
		     (unsigned long long)(t1 - t0));
}

/*
 * The guest may neither read nor write the kvmclock MSRs, nor MCG_CTL
 * (MCG_CAP has no MCG_CTL_P).
 */
static void test_kvmclock(struct guest *g)
{
	u64 v = 0;
	int r = msr_access(g, false, MSR_KVM_SYSTEM_TIME_NEW, &v);
	int w = msr_access(g, true, MSR_KVM_SYSTEM_TIME_NEW, &v);

	ok(r == 1 && w == 1, "RDMSR and WRMSR of KVM_SYSTEM_TIME_NEW: #GP (%d, %d)",
	   r, w);
	v = 0;
	r = msr_access(g, false, MSR_KVM_WALL_CLOCK, &v);
	w = msr_access(g, true, MSR_KVM_WALL_CLOCK, &v);
	ok(r == 1 && w == 1, "RDMSR and WRMSR of KVM_WALL_CLOCK: #GP (%d, %d)",
	   r, w);
	v = 0;
	r = msr_access(g, false, MSR_MCG_CTL, &v);
	w = msr_access(g, true, MSR_MCG_CTL, &v);
	ok(r == 1 && w == 1, "RDMSR and WRMSR of MCG_CTL (no MCG_CTL_P): #GP (%d, %d)",
	   r, w);
}

/* Is this an AMD or Hygon CPU (and so the guest's CPUID vendor)? */
static bool cpu_is_amd(void)
{
	unsigned int a, b, c, d;
	char v[13];

	__cpuid(0, a, b, c, d);
	memcpy(v, &b, 4);
	memcpy(v + 4, &d, 4);
	memcpy(v + 8, &c, 4);
	v[12] = 0;
	return !strcmp(v, "AuthenticAMD") || !strcmp(v, "HygonGenuine");
}

/*
 * MSRs whose writes are ignored (the legacy counters, HWCR's TLB-cache,
 * flush-filter and IGNNE bits, the guest's IA32_UCODE_REV), the microcode
 * revision after RESET (the vendor's, as KVM's) and after the VMM set it,
 * and HWCR.McStatusWrEn, which lets an AMD guest (only) set MCi_STATUS.
 */
static void test_platform(struct guest *g)
{
	u64 ucode = guest_is_svm() ? 0x01000065 : 0x100000000ULL;
	u64 v = 0x12345, back = 1;
	int w, r, s;

	w = msr_access(g, true, MSR_K7_EVNTSEL0, &v);
	r = msr_access(g, false, MSR_K7_EVNTSEL0, &back);
	ok(!w && !r && !back, "K7_EVNTSEL0: a write is ignored (%d, %d, %#llx)",
	   w, r, (unsigned long long)back);
	v = 0x48;
	w = msr_access(g, true, MSR_K7_HWCR, &v);
	r = msr_access(g, false, MSR_K7_HWCR, &back);
	ok(!w && !r && !back, "HWCR: TLB cache and flush filter bits ignored (%d, %d, %#llx)",
	   w, r, (unsigned long long)back);
	back = 0;
	r = msr_access(g, false, MSR_UCODE_REV, &back);
	ok(!r && back == ucode, "UCODE_REV after RESET: %#llx (%#llx)",
	   (unsigned long long)ucode, (unsigned long long)back);
	v = 0;
	w = msr_access(g, true, MSR_UCODE_REV, &v);
	r = msr_access(g, false, MSR_UCODE_REV, &back);
	ok(!w && !r && back == ucode, "UCODE_REV: the guest's write is ignored");
	s = set_msr_host(g, MSR_UCODE_REV, 0x1234ULL << 32);
	r = msr_access(g, false, MSR_UCODE_REV, &back);
	ok(s == 1 && !r && back == 0x1234ULL << 32,
	   "UCODE_REV: the VMM's write is what the guest reads (%#llx)",
	   (unsigned long long)back);

	v = HWCR_MCSTATUSWREN;
	w = msr_access(g, true, MSR_K7_HWCR, &v);
	v = 0x8000000000000000ULL;
	s = msr_access(g, true, MSR_MC0_STATUS, &v);
	back = 0;
	r = msr_access(g, false, MSR_MC0_STATUS, &back);
	if (cpu_is_amd())
		ok(!w && !s && !r && back == v,
		   "AMD guest with HWCR.McStatusWrEn sets MC0_STATUS (%d, %d, %#llx)",
		   w, s, (unsigned long long)back);
	else
		ok(!w && s == 1 && !r && !back,
		   "Intel guest: HWCR.McStatusWrEn does not let it set MC0_STATUS (%d, %d)",
		   w, s);
	v = 0;
	msr_access(g, true, MSR_MC0_STATUS, &v);
	msr_access(g, true, MSR_K7_HWCR, &v);
}

/*
 * TSC_ADJUST: the guest's write moves its TSC by the change (and shows in
 * RDMSR of the TSC); the guest's TSC write moves TSC_ADJUST by the change.
 */
static void test_tsc_adjust(struct guest *g)
{
	u64 t0 = 0, t1 = 0, adj = 1ULL << 40, back = 0, v;
	int r0, w, r1, r2;

	r0 = msr_access(g, false, MSR_TSC, &t0);
	w = msr_access(g, true, MSR_TSC_ADJUST, &adj);
	r1 = msr_access(g, false, MSR_TSC, &t1);
	r2 = msr_access(g, false, MSR_TSC_ADJUST, &back);
	ok(!r0 && !w && !r1 && !r2 && back == adj && t1 - t0 >= adj &&
	   t1 - t0 < adj + (1ULL << 36),
	   "the guest's TSC_ADJUST write of 2^40 moves its TSC by 2^40 (+%llu)",
	   (unsigned long long)(t1 - t0 - adj));
	v = t1 + (1ULL << 41);
	w = msr_access(g, true, MSR_TSC, &v);
	r2 = msr_access(g, false, MSR_TSC_ADJUST, &back);
	ok(!w && !r2 && back - adj >= (1ULL << 41) - (1ULL << 36) &&
	   back - adj <= (1ULL << 41),
	   "the guest's TSC write of 2^41 ahead moves TSC_ADJUST by about that");
}

/* The guest's writes of MISC_ENABLE's EMON bit are ignored. */
static void test_misc_enable_emon(struct guest *g)
{
	u64 v = MISC_ENABLE_RESET | MISC_ENABLE_EMON, back = 0;
	int w = msr_access(g, true, MSR_MISC_ENABLE, &v);
	int r = msr_access(g, false, MSR_MISC_ENABLE, &back);

	ok(!w && !r && !(back & MISC_ENABLE_EMON),
	   "MISC_ENABLE: a write of EMON is ignored (%d, %d, %#llx)", w, r,
	   (unsigned long long)back);
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
	for (i = 0; i < ARRAY_SIZE(reads); i++)
		test_read(&g, &reads[i]);
	for (i = 0; i < ARRAY_SIZE(round_trips); i++)
		test_round_trip(&g, &round_trips[i]);
	for (i = 0; i < ARRAY_SIZE(refused); i++)
		test_refused(&g, &refused[i]);
	is_int(msr_access(&g, false, MSR_UNKNOWN, &v), 1,
	       "RDMSR of an MSR vmmu does not know: #GP");
	is_int(msr_access(&g, true, MSR_UNKNOWN, &v), 1,
	       "WRMSR of an MSR vmmu does not know: #GP");
	test_kvmclock(&g);
	test_misc_enable_emon(&g);
	test_platform(&g);
	test_tsc_adjust(&g);
	test_tsc(&g, msr_rd, "RDMSR", 50);
	test_tsc(&g, tsc_rd, "RDTSC", 51);
	guest_destroy(&g);
	close(sys_fd);
	return tap_finish();
}
