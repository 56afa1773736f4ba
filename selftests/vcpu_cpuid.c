// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's CPUID, MP-state and IRQCHIP ioctls, and the default vCPU kind.
 *
 * KVM_GET_SUPPORTED_CPUID: -E2BIG with the number of entries written back
 * when the array is too small, -EFAULT for a bad array, a system ioctl only;
 * the table never offers SVM, VMX, x2APIC or counters, offers exactly the
 * host's XCR0, and as many physical-address bits as a VM of the default
 * configuration may use (its gpa_bits: what the root maps, at most the
 * host's MAXPHYADDR).
 * A guest's CPUID is answered from the table set with KVM_SET_CPUID2:
 * exact leaf and subleaf where the subleaf counts, the subleaf ignored where
 * it does not, zeros for a leaf missing inside the range, the highest basic
 * leaf above it for an Intel vendor and zeros for AMD, OSXSAVE from CR4;
 * without a table, from the supported one.  KVM_GET_CPUID2 returns what was
 * set; bad tables change nothing; once the vCPU ran, only the same table
 * again is taken.  KVM_GET/SET_MP_STATE know only RUNNABLE;
 * KVM_CREATE_IRQCHIP is a no-op with KVM's errnos while KVM_CAP_IRQCHIP is
 * 0.  A VM that chose no vCPU kind gets the machine's hardware vCPUs (SVM
 * or VMX); SVM is enabled only when its first vCPU is created (checked on
 * SVM only, through <debugfs>/vmmu/svm); software vCPUs can still be
 * chosen.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_TESTS	69
#define MEM_SIZE	BIT_ULL(20)
#define CODE_GPA	0x1000ULL
#define SVM_STATE	"/sys/kernel/debug/vmmu/svm"
#define MAX_ENTRIES	256

#define LEAF1_ECX_VMX		BIT(5)
#define LEAF1_ECX_X2APIC	BIT(21)
#define LEAF1_ECX_OSXSAVE	BIT(27)
#define LEAF1_ECX_HYPERVISOR	BIT(31)
#define EXT1_ECX_SVM		BIT(2)

GUEST_CODE(cpuid_hlt, ".code16",
	   "	cpuid\n"
	   "	hlt\n");

static struct kvm_cpuid2 *cpuid_alloc(u32 nent)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
	if (!c)
		bail_out("out of memory");
	c->nent = nent;
	return c;
}

static struct kvm_cpuid_entry2 *cpuid_entry(struct kvm_cpuid2 *c, u32 fn,
					    u32 index)
{
	u32 i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/* KVM_GET_SUPPORTED_CPUID with room for MAX_ENTRIES; bails out on failure. */
static struct kvm_cpuid2 *supported_cpuid(int sys_fd)
{
	struct kvm_cpuid2 *c = cpuid_alloc(MAX_ENTRIES);
	long r = vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)c);

	if (r)
		bail_out("KVM_GET_SUPPORTED_CPUID: %s", errno_name(-r));
	return c;
}

static void test_supported_errors(int sys_fd, u32 nent)
{
	long page = sysconf(_SC_PAGESIZE);
	struct kvm_cpuid2 *c = cpuid_alloc(MAX_ENTRIES);
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	u8 *two;

	c->nent = 0;
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)c),
		 E2BIG, "KVM_GET_SUPPORTED_CPUID with nent 0: E2BIG");
	is_int(c->nent, nent, "... and nent says how many entries there are");
	c->nent = nent - 1;
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)c),
		 E2BIG, "KVM_GET_SUPPORTED_CPUID one entry short: E2BIG");
	is_int(c->nent, nent, "... and nent is written back again");
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, 0), EFAULT,
		 "KVM_GET_SUPPORTED_CPUID with a NULL argument: EFAULT");

	/* The header at the end of a page, the entries in a PROT_NONE one. */
	two = mmu_map_anon(2 * page, NULL);
	mprotect(two + page, page, PROT_NONE);
	c = (struct kvm_cpuid2 *)(two + page - sizeof(*c));
	c->nent = MAX_ENTRIES;
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)c),
		 EFAULT, "KVM_GET_SUPPORTED_CPUID with unwritable entries: EFAULT");
	munmap(two, 2 * page);

	c = cpuid_alloc(MAX_ENTRIES);
	is_errno(vmmu_ioctl(vm_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)c),
		 ENOTTY, "KVM_GET_SUPPORTED_CPUID on a VM fd: ENOTTY (a system ioctl)");
	is_int(vmmu_check_extension(sys_fd, KVM_CAP_EXT_CPUID), 1,
	       "KVM_CAP_EXT_CPUID is 1");
	free(c);
	close(vm_fd);
}

static u32 host_phys_bits(void)
{
	unsigned int eax, ebx, ecx, edx;

	__cpuid(0x80000000, eax, ebx, ecx, edx);
	if (eax < 0x80000008)
		return 36;
	__cpuid(0x80000008, eax, ebx, ecx, edx);
	return eax & 0xff;
}

/* Leaf 0 and 0x80000000 name the highest leaf of their range. */
static bool max_leaves_consistent(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *basic = cpuid_entry(c, 0, 0);
	struct kvm_cpuid_entry2 *ext = cpuid_entry(c, 0x80000000, 0);
	u32 i, fn;

	if (!basic || !ext)
		return false;
	for (i = 0; i < c->nent; i++) {
		fn = c->entries[i].function;
		/* The hypervisor range is its own (0x40000000 names its top). */
		if ((fn >> 28) == 4)
			continue;
		if (fn < 0x80000000 ? fn > basic->eax : fn > ext->eax)
			return false;
	}
	return true;
}

static void test_supported_table(int sys_fd, struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *l1 = cpuid_entry(c, 1, 0);
	struct kvm_cpuid_entry2 *e7 = cpuid_entry(c, 7, 0);
	struct kvm_cpuid_entry2 *x1 = cpuid_entry(c, 0x80000001, 0);
	struct kvm_cpuid_entry2 *x8 = cpuid_entry(c, 0x80000008, 0);
	struct kvm_cpuid_entry2 *xd = cpuid_entry(c, 0xd, 0);
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	struct vmmu_mmu_config cfg;
	unsigned int eax, ebx, ecx, edx;
	u32 bits;

	ok(c->nent > 0 && c->nent <= 100,
	   "the supported table has %u entries, at most the 100 the KVM selftest library offers",
	   c->nent);
	if (mmu_get_mmu(vm_fd, &cfg))
		bail_out("VMMU_GET_MMU failed");
	bits = x8 ? x8->eax & 0xff : 0;
	ok(x8 && bits == cfg.gpa_bits && bits <= host_phys_bits(),
	   "0x80000008: %u physical-address bits, a default VM's gpa_bits %u (the CPU's %u)",
	   bits, cfg.gpa_bits, host_phys_bits());
	ok(x1 && !(x1->ecx & EXT1_ECX_SVM), "no SVM in 0x80000001 ECX");
	ok(l1 && !(l1->ecx & (LEAF1_ECX_VMX | LEAF1_ECX_X2APIC)),
	   "no VMX, no x2APIC in leaf 1 ECX");
	ok(l1 && (l1->ecx & LEAF1_ECX_HYPERVISOR) && !(l1->ecx & LEAF1_ECX_OSXSAVE),
	   "leaf 1 says hypervisor; OSXSAVE is left to the guest's CR4");
	ok(!cpuid_entry(c, 0xa, 0) && !cpuid_entry(c, 0x8000000a, 0),
	   "no leaf 0xa (counters), no leaf 0x8000000a (SVM)");
	ok(e7 && (e7->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
	   !(l1->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX),
	   "leaf 7 is indexed, leaf 1 is not");
	ok(max_leaves_consistent(c),
	   "leaves 0 and 0x80000000 cover every leaf of the table");
	__cpuid_count(1, 0, eax, ebx, ecx, edx);
	if (ecx & LEAF1_ECX_OSXSAVE) {
		u32 lo, hi;

		asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		ok(xd && xd->eax == lo && xd->edx == hi,
		   "leaf 0xd offers exactly the host's XCR0 %#llx",
		   (unsigned long long)hi << 32 | lo);
	} else {
		ok(!xd, "no XSAVE on the host: no leaf 0xd");
	}
	close(vm_fd);
}

/* Run "cpuid; hlt" with @fn and @index; the registers it returned. */
static bool guest_cpuid(struct guest *g, u32 fn, u32 index,
			struct kvm_regs *regs)
{
	int r;

	guest_get_regs(g, regs);
	regs->rip = CODE_GPA;
	regs->rax = fn;
	regs->rcx = index;
	guest_set_regs(g, regs);
	r = guest_run(g);
	if (r || g->run->exit_reason != KVM_EXIT_HLT) {
		diag("  CPUID %#x.%u: KVM_RUN %d, exit %s", fn, index, r,
		     guest_exit_name(g->run->exit_reason));
		return false;
	}
	guest_get_regs(g, regs);
	return true;
}

/* One test: the guest's CPUID @fn.@index gives these registers. */
static void ok_guest_cpuid(struct guest *g, u32 fn, u32 index, u32 eax,
			   u32 ebx, u32 ecx, u32 edx, const char *what)
{
	struct kvm_regs regs;
	bool cond = guest_cpuid(g, fn, index, &regs);

	cond = cond && regs.rax == eax && regs.rbx == ebx && regs.rcx == ecx &&
	       regs.rdx == edx;
	if (!ok(cond, "guest CPUID %#x.%u: %s", fn, index, what))
		diag("  got %llx %llx %llx %llx, want %x %x %x %x", regs.rax,
		     regs.rbx, regs.rcx, regs.rdx, eax, ebx, ecx, edx);
}

static void guest_create_cpuid(struct guest *g, int sys_fd)
{
	guest_create(g, sys_fd, MEM_SIZE);
	guest_load(g, CODE_GPA, cpuid_hlt, GUEST_CODE_SIZE(cpuid_hlt));
	guest_setup_real_mode(g, CODE_GPA);
}

static long set_cpuid(struct guest *g, struct kvm_cpuid2 *c)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_SET_CPUID2, (unsigned long)c);
}

static void test_guest_default(int sys_fd, struct kvm_cpuid2 *supported)
{
	struct kvm_cpuid_entry2 *l0 = cpuid_entry(supported, 0, 0);
	struct kvm_cpuid_entry2 *x1 = cpuid_entry(supported, 0x80000001, 0);
	struct kvm_cpuid2 *got = cpuid_alloc(MAX_ENTRIES);
	struct kvm_regs regs;
	struct guest g;

	guest_create_cpuid(&g, sys_fd);
	ok_guest_cpuid(&g, 0, 0, l0->eax, l0->ebx, l0->ecx, l0->edx,
		       "without KVM_SET_CPUID2, the supported table answers");
	ok(guest_cpuid(&g, 0x80000001, 0, &regs) && regs.rcx == x1->ecx &&
	   !(regs.rcx & EXT1_ECX_SVM), "... and the guest sees no SVM");
	ok(!vmmu_ioctl(g.vcpu_fd, KVM_GET_CPUID2, (unsigned long)got) &&
	   got->nent == supported->nent &&
	   !memcmp(got->entries, supported->entries,
		   got->nent * sizeof(got->entries[0])),
	   "KVM_GET_CPUID2 before any KVM_SET_CPUID2: the supported table");
	free(got);
	guest_destroy(&g);
}

/* A small table with vendor @vendor (12 characters) and max leaf 7. */
static struct kvm_cpuid2 *test_table(const char *vendor)
{
	struct kvm_cpuid2 *c = cpuid_alloc(6);
	struct kvm_cpuid_entry2 *e = c->entries;

	e[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 7 };
	memcpy(&e[0].ebx, vendor, 4);
	memcpy(&e[0].edx, vendor + 4, 4);
	memcpy(&e[0].ecx, vendor + 8, 4);
	e[1] = (struct kvm_cpuid_entry2){ .function = 1,
		.ecx = LEAF1_ECX_OSXSAVE | 0x100, .edx = 0x11 };
	e[2] = (struct kvm_cpuid_entry2){ .function = 2, .index = 5,
		.eax = 0x2222 };
	e[3] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 1,
		.ebx = 0x70 };
	e[4] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x71 };
	e[5] = (struct kvm_cpuid_entry2){ .function = 0x80000000,
		.eax = 0x80000000 };
	return c;
}

static void test_guest_table(int sys_fd)
{
	struct kvm_cpuid2 *intel = test_table("GenuineIntel");
	struct kvm_cpuid2 *amd = test_table("AuthenticAMD");
	struct kvm_cpuid2 *got = cpuid_alloc(MAX_ENTRIES);
	struct kvm_cpuid_entry2 *l0 = &intel->entries[0];
	struct guest g;

	guest_create_cpuid(&g, sys_fd);
	is_int(set_cpuid(&g, intel), 0, "KVM_SET_CPUID2 of a 6-entry table");
	ok_guest_cpuid(&g, 7, 0, 1, 0x70, 0, 0, "an indexed leaf, subleaf 0");
	ok_guest_cpuid(&g, 7, 1, 0x71, 0, 0, 0, "an indexed leaf, subleaf 1");
	ok_guest_cpuid(&g, 7, 2, 0, 0, 0, 0,
		       "a missing subleaf inside the range: zeros");
	ok_guest_cpuid(&g, 2, 9, 0x2222, 0, 0, 0,
		       "the subleaf does not count for a leaf that is not indexed");
	ok_guest_cpuid(&g, 5, 0, 0, 0, 0, 0,
		       "a missing leaf inside the range: zeros");
	ok_guest_cpuid(&g, 0x40, 1, 0x71, 0, 0, 0,
		       "above the range, Intel vendor: the highest basic leaf (7.1)");
	ok_guest_cpuid(&g, 0x80000001, 0, 1, 0x70, 0, 0,
		       "above the extended range, Intel vendor: leaf 7.0 for subleaf 0");
	ok_guest_cpuid(&g, 1, 0, 0, 0, 0x100, 0x11,
		       "OSXSAVE follows the guest's CR4 (clear), not the table");
	ok_guest_cpuid(&g, 0, 0, 7, l0->ebx, l0->ecx, l0->edx, "leaf 0 as set");

	got->nent = 5;
	is_errno(vmmu_ioctl(g.vcpu_fd, KVM_GET_CPUID2, (unsigned long)got),
		 E2BIG, "KVM_GET_CPUID2 with room for 5 of 6: E2BIG");
	is_int(got->nent, 6, "... and nent says 6");
	got->nent = MAX_ENTRIES;
	ok(!vmmu_ioctl(g.vcpu_fd, KVM_GET_CPUID2, (unsigned long)got) &&
	   got->nent == 6 &&
	   !memcmp(got->entries, intel->entries, 6 * sizeof(got->entries[0])),
	   "KVM_GET_CPUID2 returns the table that was set");

	is_errno(set_cpuid(&g, amd), EINVAL,
		 "KVM_SET_CPUID2 of another table after KVM_RUN (as KVM)");
	guest_destroy(&g);
	guest_create_cpuid(&g, sys_fd);
	is_int(set_cpuid(&g, amd), 0, "KVM_SET_CPUID2 with an AMD vendor");
	ok_guest_cpuid(&g, 0x40, 1, 0, 0, 0, 0,
		       "above the range, AMD vendor: zeros");
	ok_guest_cpuid(&g, 7, 1, 0x71, 0, 0, 0, "the new table answers");
	free(intel);
	free(amd);
	free(got);
	guest_destroy(&g);
}

/* One test: KVM_GET_CPUID2 still returns @want (@nent entries). */
static void ok_cpuid_unchanged(struct guest *g, struct kvm_cpuid2 *want,
			       const char *what)
{
	struct kvm_cpuid2 *got = cpuid_alloc(MAX_ENTRIES);

	ok(!vmmu_ioctl(g->vcpu_fd, KVM_GET_CPUID2, (unsigned long)got) &&
	   got->nent == want->nent &&
	   !memcmp(got->entries, want->entries,
		   want->nent * sizeof(want->entries[0])),
	   "%s: the table is unchanged", what);
	free(got);
}

static void test_set_errors(int sys_fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct kvm_cpuid2 *t = test_table("GenuineIntel");
	struct kvm_cpuid2 *big = cpuid_alloc(MAX_ENTRIES + 1);
	struct kvm_cpuid2 *bad, *empty = cpuid_alloc(0);
	struct kvm_cpuid_entry2 *x8;
	struct guest g;
	u8 *two;

	guest_create_cpuid(&g, sys_fd);
	is_int(set_cpuid(&g, t), 0, "KVM_SET_CPUID2 of the test table");
	is_errno(set_cpuid(&g, big), E2BIG, "KVM_SET_CPUID2 with 257 entries: E2BIG");
	ok_cpuid_unchanged(&g, t, "after E2BIG");
	is_errno(set_cpuid(&g, NULL), EFAULT, "KVM_SET_CPUID2 with NULL: EFAULT");

	two = mmu_map_anon(2 * page, NULL);
	mprotect(two + page, page, PROT_NONE);
	bad = (struct kvm_cpuid2 *)(two + page - sizeof(*bad));
	bad->nent = 1;
	is_errno(set_cpuid(&g, bad), EFAULT,
		 "KVM_SET_CPUID2 with unreadable entries: EFAULT");
	ok_cpuid_unchanged(&g, t, "after EFAULT");
	munmap(two, 2 * page);

	bad = cpuid_alloc(1);
	x8 = &bad->entries[0];
	x8->function = 0x80000008;
	x8->eax = 50 << 8 | 40;
	is_errno(set_cpuid(&g, bad), EINVAL,
		 "KVM_SET_CPUID2 with 50 linear-address bits: EINVAL");
	ok_cpuid_unchanged(&g, t, "after EINVAL");
	x8->eax = 57 << 8 | 40;
	is_int(set_cpuid(&g, bad), 0, "57 linear-address bits are accepted");

	is_int(set_cpuid(&g, empty), 0, "KVM_SET_CPUID2 of an empty table");
	ok_guest_cpuid(&g, 0, 0, 0, 0, 0, 0, "an empty table answers zeros");
	free(t);
	free(big);
	free(bad);
	free(empty);
	guest_destroy(&g);
}

static long mp_state(int vcpu_fd, unsigned long ioctl, u32 state, u32 *out)
{
	struct kvm_mp_state mp = { .mp_state = state };
	long r = vmmu_ioctl(vcpu_fd, ioctl, (unsigned long)&mp);

	if (out)
		*out = mp.mp_state;
	return r;
}

static void test_mp_state(int sys_fd)
{
	static const u32 refused[] = {
		KVM_MP_STATE_UNINITIALIZED, KVM_MP_STATE_INIT_RECEIVED,
		KVM_MP_STATE_HALTED, KVM_MP_STATE_SIPI_RECEIVED, 99,
	};
	bool all = true;
	struct guest g;
	unsigned int i;
	u32 state = 99;
	long r;

	guest_create_cpuid(&g, sys_fd);
	ok(!mp_state(g.vcpu_fd, KVM_GET_MP_STATE, 0, &state) &&
	   state == KVM_MP_STATE_RUNNABLE, "KVM_GET_MP_STATE: RUNNABLE");
	is_int(mp_state(g.vcpu_fd, KVM_SET_MP_STATE, KVM_MP_STATE_RUNNABLE, NULL),
	       0, "KVM_SET_MP_STATE RUNNABLE");
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		r = mp_state(g.vcpu_fd, KVM_SET_MP_STATE, refused[i], NULL);
		if (r != -EINVAL) {
			diag("  state %u: %s", refused[i], errno_name(-r));
			all = false;
		}
	}
	ok(all, "KVM_SET_MP_STATE of the states that need an APIC, and of 99: EINVAL");
	ok(!mp_state(g.vcpu_fd, KVM_GET_MP_STATE, 0, &state) &&
	   state == KVM_MP_STATE_RUNNABLE, "... and the vCPU is still RUNNABLE");
	is_errno(vmmu_ioctl(g.vcpu_fd, KVM_SET_MP_STATE, 0), EFAULT,
		 "KVM_SET_MP_STATE with NULL: EFAULT");
	is_errno(vmmu_ioctl(g.vcpu_fd, KVM_GET_MP_STATE, 0), EFAULT,
		 "KVM_GET_MP_STATE with NULL: EFAULT");
	guest_destroy(&g);
}

static void test_irqchip(int sys_fd)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd), vcpu_fd;

	is_int(vmmu_check_extension(sys_fd, KVM_CAP_IRQCHIP), 0,
	       "KVM_CAP_IRQCHIP is 0 on /dev/vmmu");
	is_int(vmmu_check_extension(vm_fd, KVM_CAP_IRQCHIP), 0,
	       "KVM_CAP_IRQCHIP is 0 on a VM fd");
	is_int(vmmu_ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0), 0,
	       "KVM_CREATE_IRQCHIP: accepted");
	is_errno(vmmu_ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0), EEXIST,
		 "a second KVM_CREATE_IRQCHIP: EEXIST");
	close(vm_fd);

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	is_errno(vmmu_ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0), EINVAL,
		 "KVM_CREATE_IRQCHIP after a vCPU: EINVAL");
	close(vcpu_fd);
	close(vm_fd);
}

/* "enabled N" of <debugfs>/vmmu/svm, -1 if it cannot be read. */
static int svm_enabled(void)
{
	FILE *f = fopen(SVM_STATE, "r");
	int enabled = -1;

	if (f) {
		if (fscanf(f, "enabled %d", &enabled) != 1)
			enabled = -1;
		fclose(f);
	}
	return enabled;
}

/* One test: <debugfs>/vmmu/svm says "enabled @want"; SVM only. */
static void is_svm_enabled(int want, const char *what)
{
	if (!guest_is_svm()) {
		skip(1, "%s: <debugfs>/vmmu/svm is SVM's", what);
		return;
	}
	is_int(svm_enabled(), want, "%s", what);
}

static void test_default_kind(int sys_fd)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_NPT, .vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	struct kvm_cpuid2 *empty = cpuid_alloc(0);
	struct kvm_regs regs;
	int vm_fd, vcpu_fd;
	u8 byte = 0;

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	ok(!mmu_get_mmu(vm_fd, &cfg) && cfg.vcpu_kind == guest_hw->vcpu_kind &&
	   cfg.format == guest_hw->format,
	   "a new VM reports %s vCPUs with %s (VMMU_GET_MMU)", guest_hw->name,
	   guest_hw->tables);
	is_svm_enabled(0, "... and SVM is not on yet");
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	is_svm_enabled(1, "its first vCPU turns SVM on");
	is_int(vmmu_ioctl(vcpu_fd, KVM_GET_REGS, (unsigned long)&regs), 0,
	       "... and is a %s vCPU: KVM_GET_REGS works", guest_hw->name);
	close(vcpu_fd);
	close(vm_fd);
	is_svm_enabled(0, "SVM is off again once the VM is gone");

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	cfg = (struct vmmu_mmu_config){
		.format = VMMU_MMU_FORMAT_NPT, .vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	is_int(mmu_set_mmu(vm_fd, &cfg), 0, "VMMU_SET_MMU can still choose software vCPUs");
	mmu_set_region_or_die(vm_fd, 0, 0, 0, MEM_SIZE,
			      vmmu_alloc_guest_memory(MEM_SIZE));
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	ok(!mmu_get_mmu(vm_fd, &cfg) && cfg.vcpu_kind == VMMU_VCPU_SOFTWARE &&
	   (!guest_is_svm() || svm_enabled() == 0),
	   "... VMMU_GET_MMU says so%s", guest_is_svm() ? ", and SVM stays off" : "");
	is_int(mmu_access(vcpu_fd, VMMU_ACCESS_READ, 0, &byte, 1, NULL), 0,
	       "the software vCPU accesses memory (VMMU_VCPU_ACCESS)");
	is_errno(vmmu_ioctl(vcpu_fd, KVM_SET_CPUID2, (unsigned long)empty),
		 EINVAL, "KVM_SET_CPUID2 on a software vCPU: EINVAL");
	is_errno(mp_state(vcpu_fd, KVM_GET_MP_STATE, 0, NULL), EINVAL,
		 "KVM_GET_MP_STATE on a software vCPU: EINVAL");
	free(empty);
	close(vcpu_fd);
	close(vm_fd);
}

int main(void)
{
	struct kvm_cpuid2 *supported;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	supported = supported_cpuid(sys_fd);
	test_supported_errors(sys_fd, supported->nent);
	test_supported_table(sys_fd, supported);
	test_guest_default(sys_fd, supported);
	test_guest_table(sys_fd);
	test_set_errors(sys_fd);
	test_mp_state(sys_fd);
	test_irqchip(sys_fd);
	test_default_kind(sys_fd);
	free(supported);
	close(sys_fd);
	return tap_finish();
}
