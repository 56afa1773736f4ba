// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID tables: the supported one (the host's CPUID filtered to what vmmu
 * virtualizes), each vCPU's, and the lookup that answers a guest's CPUID.
 *
 * The filter is data.  vmmu_cpuid_rules lists every leaf a guest may see
 * and, per register, the bits of the host's value it keeps; everything
 * else is zero.  A feature is kept only if the guest can use it as the CPU
 * defines it with what vmmu does: its instructions run natively or are
 * handled, its MSRs are among those x86/msr.c virtualizes (EFER, PAT, the
 * SYSCALL and SYSENTER MSRs, FS/GS bases, the TSC, MTRRs, machine-check
 * banks), its control bits may be set.  The local APIC bit is KVM's answer
 * without an in-kernel APIC: the VMM emulates it, the guest reaches it by
 * MMIO.  Out therefore: SVM and VMX, what needs the APIC in the kernel
 * (x2APIC, TSC deadline, CR8 in 32-bit mode, topology leaves with x2APIC
 * ids), performance counters (no leaf 0xa), MONITOR/MWAIT, RDTSCP and RDPID
 * (TSC_AUX is the host's), speculation-control MSRs, XSAVES, CET, SGX,
 * debug stores and tracing.
 *
 * The guest runs with the host's XCR0 and may set XCR0 to exactly that, so
 * leaf 0xd offers the host's XCR0, and a feature whose state needs a
 * component the host's XCR0 lacks is dropped (vmmu_cpuid_xfeature_rules).
 */
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <asm/cpufeature.h>
#include <asm/fpu/types.h>
#include <asm/fpu/xcr.h>
#include <asm/processor-flags.h>

#include <vmmu/cpuid.h>
#include <vmmu/vcpu.h>
#include <vmmu/x86_state.h>

enum vmmu_cpuid_reg {
	VMMU_CPUID_EAX,
	VMMU_CPUID_EBX,
	VMMU_CPUID_ECX,
	VMMU_CPUID_EDX,
	VMMU_CPUID_NR_REGS
};

/*
 * The bit of feature @name, which the kernel files in word @word of its
 * feature words (asm/cpufeatures.h); the build checks it is that word, so a
 * bit cannot land in the wrong register.  Words used here: 0 = 1.EDX,
 * 1 = 0x80000001.EDX, 4 = 1.ECX, 6 = 0x80000001.ECX, 9 = 7.0.EBX,
 * 10 = 0xd.1.EAX, 13 = 0x80000008.EBX, 16 = 7.0.ECX, 18 = 7.0.EDX.
 */
#define F(word, name)	(BIT(X86_FEATURE_##name & 31) + \
			 BUILD_BUG_ON_ZERO(X86_FEATURE_##name / 32 != (word)))

#define ALL		0xffffffffU

#define LEAF1_EDX	(F(0, FPU) | F(0, VME) | F(0, DE) | F(0, PSE) | \
			 F(0, TSC) | F(0, MSR) | F(0, PAE) | F(0, MCE) | \
			 F(0, CX8) | F(0, APIC) | F(0, SEP) | F(0, MTRR) | \
			 F(0, PGE) | F(0, MCA) | F(0, CMOV) | \
			 F(0, PAT) | F(0, PSE36) | F(0, CLFLUSH) | \
			 F(0, MMX) | F(0, FXSR) | F(0, XMM) | F(0, XMM2) | \
			 F(0, SELFSNOOP))
#define LEAF1_ECX	(F(4, XMM3) | F(4, PCLMULQDQ) | F(4, SSSE3) | \
			 F(4, FMA) | F(4, CX16) | F(4, PCID) | F(4, XMM4_1) | \
			 F(4, XMM4_2) | F(4, MOVBE) | F(4, POPCNT) | \
			 F(4, AES) | F(4, XSAVE) | F(4, AVX) | F(4, F16C) | \
			 F(4, RDRAND))
/* Brand index and CLFLUSH line size; not the APIC id or thread count. */
#define LEAF1_EBX	0x0000ffffU

#define LEAF7_EBX	(F(9, FSGSBASE) | F(9, BMI1) | F(9, HLE) | \
			 F(9, AVX2) | F(9, FDP_EXCPTN_ONLY) | F(9, SMEP) | \
			 F(9, BMI2) | F(9, ERMS) | F(9, INVPCID) | F(9, RTM) | \
			 F(9, ZERO_FCS_FDS) | F(9, AVX512F) | \
			 F(9, AVX512DQ) | F(9, RDSEED) | F(9, ADX) | \
			 F(9, SMAP) | F(9, AVX512IFMA) | F(9, CLFLUSHOPT) | \
			 F(9, CLWB) | F(9, AVX512PF) | F(9, AVX512ER) | \
			 F(9, AVX512CD) | F(9, SHA_NI) | F(9, AVX512BW) | \
			 F(9, AVX512VL))
#define LEAF7_ECX	(F(16, AVX512VBMI) | F(16, UMIP) | F(16, PKU) | \
			 F(16, AVX512_VBMI2) | F(16, GFNI) | F(16, VAES) | \
			 F(16, VPCLMULQDQ) | F(16, AVX512_VNNI) | \
			 F(16, AVX512_BITALG) | F(16, AVX512_VPOPCNTDQ) | \
			 F(16, LA57) | F(16, CLDEMOTE) | F(16, MOVDIRI) | \
			 F(16, MOVDIR64B))
#define LEAF7_EDX	(F(18, AVX512_4VNNIW) | F(18, AVX512_4FMAPS) | \
			 F(18, FSRM) | F(18, AVX512_VP2INTERSECT) | \
			 F(18, MD_CLEAR) | F(18, SERIALIZE) | \
			 F(18, TSXLDTRK) | F(18, AVX512_FP16))

/* 0xd.1: the XSAVE variants that need no MSR (not XSAVES: IA32_XSS). */
#define LEAFD1_EAX	(F(10, XSAVEOPT) | F(10, XSAVEC) | F(10, XGETBV1))

/* AMD repeats these leaf 1 EDX bits in 0x80000001 EDX. */
#define EXT1_EDX_AMD_COPY	0x0183f3ffU
#define EXT1_EDX	((LEAF1_EDX & EXT1_EDX_AMD_COPY) | F(1, SYSCALL) | \
			 F(1, NX) | F(1, MMXEXT) | F(1, GBPAGES) | F(1, LM) | \
			 F(1, 3DNOWEXT) | F(1, 3DNOW))
#define EXT1_ECX	(F(6, LAHF_LM) | F(6, ABM) | F(6, SSE4A) | \
			 F(6, MISALIGNSSE) | F(6, 3DNOWPREFETCH) | \
			 F(6, XOP) | F(6, FMA4) | F(6, TBM))
/* 0x80000007 EDX bit 8: the TSC is invariant (the guest reads the host's). */
#define EXT7_EDX	BIT(8)
/* 0x80000008 EAX: physical and linear address bits (clamped below). */
#define EXT8_EAX	0x0000ffffU
#define EXT8_EBX	(F(13, CLZERO) | F(13, XSAVEERPTR) | F(13, WBNOINVD))

/**
 * struct vmmu_cpuid_rule - one leaf the guest may see
 * @function: the leaf
 * @index: the subleaf; ignored for leaves 4 and 0xd, whose subleaves are
 *	enumerated from the host's
 * @keep: per register (EAX, EBX, ECX, EDX), the host's bits kept
 */
struct vmmu_cpuid_rule {
	u32 function;
	u32 index;
	u32 keep[VMMU_CPUID_NR_REGS];
};

static const struct vmmu_cpuid_rule vmmu_cpuid_rules[] = {
	/* leaf       index  EAX         EBX        ECX        EDX */
	{ 0x0,        0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x1,        0, { ALL,        LEAF1_EBX, LEAF1_ECX, LEAF1_EDX } },
	{ 0x2,        0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x4,        0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x7,        0, { 0,          LEAF7_EBX, LEAF7_ECX, LEAF7_EDX } },
	{ 0xd,        0, { ALL,        ALL,       0,         ALL } },
	{ 0xd,        1, { LEAFD1_EAX, 0,         0,         0 } },
	{ 0x80000000, 0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x80000001, 0, { ALL,        0,         EXT1_ECX,  EXT1_EDX } },
	{ 0x80000002, 0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x80000003, 0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x80000004, 0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x80000005, 0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x80000006, 0, { ALL,        ALL,       ALL,       ALL } },
	{ 0x80000007, 0, { 0,          0,         0,         EXT7_EDX } },
	{ 0x80000008, 0, { EXT8_EAX,   EXT8_EBX,  0,         0 } },
};

/**
 * struct vmmu_cpuid_xfeature_rule - bits that need XSAVE state components
 * @xfeatures: the components (XFEATURE_MASK_*), all needed in the host's XCR0
 * @function: the leaf (subleaf 0)
 * @reg: the register
 * @bits: the feature bits dropped when a component is missing
 */
struct vmmu_cpuid_xfeature_rule {
	u64 xfeatures;
	u32 function;
	enum vmmu_cpuid_reg reg;
	u32 bits;
};

#define AVX512_STATE	(XFEATURE_MASK_OPMASK | XFEATURE_MASK_ZMM_Hi256 | \
			 XFEATURE_MASK_Hi16_ZMM)

static const struct vmmu_cpuid_xfeature_rule vmmu_cpuid_xfeature_rules[] = {
	{ XFEATURE_MASK_FP | XFEATURE_MASK_SSE, 0x1, VMMU_CPUID_ECX, F(4, XSAVE) },
	{ XFEATURE_MASK_YMM, 0x1, VMMU_CPUID_ECX, F(4, AVX) | F(4, FMA) | F(4, F16C) },
	{ XFEATURE_MASK_YMM, 0x7, VMMU_CPUID_EBX, F(9, AVX2) },
	{ XFEATURE_MASK_YMM, 0x7, VMMU_CPUID_ECX, F(16, VAES) | F(16, VPCLMULQDQ) },
	{ XFEATURE_MASK_YMM, 0x80000001, VMMU_CPUID_ECX, F(6, XOP) | F(6, FMA4) },
	{ AVX512_STATE, 0x7, VMMU_CPUID_EBX,
	  F(9, AVX512F) | F(9, AVX512DQ) | F(9, AVX512IFMA) | F(9, AVX512PF) |
	  F(9, AVX512ER) | F(9, AVX512CD) | F(9, AVX512BW) | F(9, AVX512VL) },
	{ AVX512_STATE, 0x7, VMMU_CPUID_ECX,
	  F(16, AVX512VBMI) | F(16, AVX512_VBMI2) | F(16, AVX512_VNNI) |
	  F(16, AVX512_BITALG) | F(16, AVX512_VPOPCNTDQ) },
	{ AVX512_STATE, 0x7, VMMU_CPUID_EDX,
	  F(18, AVX512_4VNNIW) | F(18, AVX512_4FMAPS) |
	  F(18, AVX512_VP2INTERSECT) | F(18, AVX512_FP16) },
	{ XFEATURE_MASK_PKRU, 0x7, VMMU_CPUID_ECX, F(16, PKU) },
};

/*
 * Room for the rules, leaf 4's caches and leaf 0xd's components; below the
 * 100 entries the 6.1 KVM selftest library offers KVM_GET_SUPPORTED_CPUID.
 */
#define VMMU_SUPPORTED_CPUID_MAX	96

/* Built at module init, never changed afterwards. */
static struct vmmu_cpuid *vmmu_supported;

static u32 *cpuid_reg(struct kvm_cpuid_entry2 *e, enum vmmu_cpuid_reg reg)
{
	switch (reg) {
	case VMMU_CPUID_EAX:
		return &e->eax;
	case VMMU_CPUID_EBX:
		return &e->ebx;
	case VMMU_CPUID_ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

/* Subleaves count for these leaves (KVM_CPUID_FLAG_SIGNIFCANT_INDEX). */
static bool cpuid_leaf_indexed(u32 function)
{
	return function == 0x4 || function == 0x7 || function == 0xd;
}

static struct kvm_cpuid_entry2 *cpuid_find(const struct vmmu_cpuid *table,
					   u32 function, u32 index)
{
	u32 i;

	for (i = 0; i < table->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &table->entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		    e->index == index)
			return (struct kvm_cpuid_entry2 *)e;
	}
	return NULL;
}

/* Append the host's @function.@index, filtered by @keep. */
static void cpuid_add(struct vmmu_cpuid *table, const u32 *keep,
		      u32 function, u32 index)
{
	struct kvm_cpuid_entry2 *e;
	int reg;

	/* Never with a real CPU: too many caches or XSAVE components. */
	if (WARN_ON_ONCE(table->nent >= VMMU_SUPPORTED_CPUID_MAX))
		return;
	e = &table->entries[table->nent++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	if (cpuid_leaf_indexed(function))
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	cpuid_count(function, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
	for (reg = 0; reg < VMMU_CPUID_NR_REGS; reg++)
		*cpuid_reg(e, reg) &= keep[reg];
}

/* Leaf 4: one subleaf per cache, up to the first of type 0 (none). */
static void cpuid_add_caches(struct vmmu_cpuid *table,
			     const struct vmmu_cpuid_rule *rule)
{
	u32 index, eax, ebx, ecx, edx;

	for (index = 0; index < 32; index++) {
		cpuid_count(0x4, index, &eax, &ebx, &ecx, &edx);
		if (!(eax & 0x1f))
			break;
		cpuid_add(table, rule->keep, 0x4, index);
	}
}

/*
 * Leaf 0xd: subleaf 0 offers exactly the host's XCR0 (the only value the
 * guest may set), and its sizes are those of that XCR0; subleaf 1 the
 * XSAVE variants; one subleaf per component of XCR0 above SSE.
 */
static void cpuid_add_xsave(struct vmmu_cpuid *table,
			    const struct vmmu_cpuid_rule *rule, u64 xcr0)
{
	static const u32 component[VMMU_CPUID_NR_REGS] = { ALL, ALL, ALL, 0 };
	struct kvm_cpuid_entry2 *e;
	u32 index;

	if (!xcr0)
		return;
	cpuid_add(table, rule->keep, 0xd, rule->index);
	e = &table->entries[table->nent - 1];
	if (rule->index == 0) {
		e->eax = lower_32_bits(xcr0);
		e->edx = upper_32_bits(xcr0);
		e->ecx = e->ebx;
		return;
	}
	for (index = 2; index < 64; index++)
		if (xcr0 & BIT_ULL(index))
			cpuid_add(table, component, 0xd, index);
}

/*
 * The hypervisor leaves, as KVM's: 0x40000000 names the highest of them
 * and the KVM paravirtual interface ("KVMKVMKVM"), 0x40000001 its
 * features, none here (no kvmclock, no PV EOI, no async page faults ...):
 * a guest knows it runs on a KVM-compatible hypervisor and uses nothing
 * paravirtual.
 */
static void cpuid_add_hypervisor(struct vmmu_cpuid *table)
{
	struct kvm_cpuid_entry2 *e;

	if (WARN_ON_ONCE(table->nent + 2 > VMMU_SUPPORTED_CPUID_MAX))
		return;
	e = &table->entries[table->nent++];
	memset(e, 0, sizeof(*e));
	e->function = 0x40000000;
	e->eax = 0x40000001;
	e->ebx = 0x4b4d564b;	/* "KVMK" */
	e->ecx = 0x564b4d56;	/* "VMKV" */
	e->edx = 0x4d;		/* "M\0\0\0" */
	e = &table->entries[table->nent++];
	memset(e, 0, sizeof(*e));
	e->function = 0x40000001;
}

/*
 * Leaves 0 and 0x80000000 name the highest leaf of their range (the
 * hypervisor leaves have their own, 0x40000000).
 */
static void cpuid_fix_max_leaves(struct vmmu_cpuid *table)
{
	struct kvm_cpuid_entry2 *basic = cpuid_find(table, 0, 0);
	struct kvm_cpuid_entry2 *ext = cpuid_find(table, 0x80000000, 0);
	u32 i, fn;

	if (basic)
		basic->eax = 0;
	if (ext)
		ext->eax = 0x80000000;
	for (i = 0; i < table->nent; i++) {
		fn = table->entries[i].function;
		if (basic && fn < 0x40000000)
			basic->eax = max(basic->eax, fn);
		if (ext && fn >= 0x80000000)
			ext->eax = max(ext->eax, fn);
	}
}

static void cpuid_apply_fixups(struct vmmu_cpuid *table, u64 xcr0,
			       unsigned int gpa_bits)
{
	const struct vmmu_cpuid_xfeature_rule *x;
	struct kvm_cpuid_entry2 *e;

	for (x = vmmu_cpuid_xfeature_rules;
	     x < vmmu_cpuid_xfeature_rules + ARRAY_SIZE(vmmu_cpuid_xfeature_rules);
	     x++) {
		e = cpuid_find(table, x->function, 0);
		if (e && (xcr0 & x->xfeatures) != x->xfeatures)
			*cpuid_reg(e, x->reg) &= ~x->bits;
	}
	/* The guest may know it runs under a hypervisor. */
	e = cpuid_find(table, 0x1, 0);
	if (e)
		e->ecx |= F(4, HYPERVISOR);
	/* IA32_TSC_ADJUST is x86/msr.c's whatever the host has, as in KVM. */
	e = cpuid_find(table, 0x7, 0);
	if (e)
		e->ebx |= F(9, TSC_ADJUST);
	/*
	 * The guest's physical addresses must be ones a VM may map: within
	 * its root and the CPU's own physical-address width (the VM's
	 * gpa_bits; memslots end below 2^gpa_bits).  Bits 23:16, the guest
	 * physical width for nested paging, are 0: the same as bits 7:0.
	 */
	e = cpuid_find(table, 0x80000008, 0);
	if (e && (e->eax & 0xff) > gpa_bits)
		e->eax = (e->eax & ~0xffU) | gpa_bits;
	cpuid_fix_max_leaves(table);
}

/**
 * vmmu_cpuid_init() - build the supported CPUID table
 * @gpa_bits: the guest-physical address bits a VM of the default
 *	configuration may use (VMMU_GET_MMU's gpa_bits); the table never
 *	offers more
 *
 * Called once at module init.
 *
 * Return: 0 or -ENOMEM.
 */
int vmmu_cpuid_init(unsigned int gpa_bits)
{
	u32 max_basic = cpuid_eax(0), max_ext = cpuid_eax(0x80000000);
	const struct vmmu_cpuid_rule *rule;
	u64 xcr0 = vmmu_host_xcr0;
	struct vmmu_cpuid *table;

	table = kzalloc(struct_size(table, entries, VMMU_SUPPORTED_CPUID_MAX),
			GFP_KERNEL);
	if (!table)
		return -ENOMEM;
	for (rule = vmmu_cpuid_rules;
	     rule < vmmu_cpuid_rules + ARRAY_SIZE(vmmu_cpuid_rules); rule++) {
		if (rule->function > (rule->function < 0x80000000 ?
				      max_basic : max_ext))
			continue;
		if (rule->function == 0x4)
			cpuid_add_caches(table, rule);
		else if (rule->function == 0xd)
			cpuid_add_xsave(table, rule, xcr0);
		else
			cpuid_add(table, rule->keep, rule->function, rule->index);
	}
	cpuid_add_hypervisor(table);
	cpuid_apply_fixups(table, xcr0, gpa_bits);
	vmmu_supported = table;
	return 0;
}

/**
 * vmmu_cpuid_exit() - free the supported table; no vCPU is left
 */
void vmmu_cpuid_exit(void)
{
	kfree(vmmu_supported);
	vmmu_supported = NULL;
}

/**
 * vmmu_supported_cpuid() - the supported table (KVM_GET_SUPPORTED_CPUID)
 *
 * Return: the table; it does not change after module init.
 */
const struct vmmu_cpuid *vmmu_supported_cpuid(void)
{
	return vmmu_supported;
}

/**
 * vmmu_cpuid_alloc() - allocate a table of @nent entries
 * @nent: at most VMMU_MAX_CPUID_ENTRIES
 *
 * Return: the table with @nent set and the entries uninitialized, or NULL.
 */
struct vmmu_cpuid *vmmu_cpuid_alloc(u32 nent)
{
	struct vmmu_cpuid *table;

	if (WARN_ON_ONCE(nent > VMMU_MAX_CPUID_ENTRIES))
		return NULL;
	table = kvmalloc(struct_size(table, entries, nent), GFP_KERNEL_ACCOUNT);
	if (table)
		table->nent = nent;
	return table;
}

/**
 * vmmu_cpuid_free() - free a table from vmmu_cpuid_alloc()
 * @table: the table, or NULL
 */
void vmmu_cpuid_free(struct vmmu_cpuid *table)
{
	kvfree(table);
}

/**
 * vmmu_cpuid_check() - can a vCPU take @table?
 * @table: a table from userspace
 *
 * As KVM: leaf 0x80000008, if present, gives 48 or 57 linear-address bits
 * (or 0).  Anything else is the VMM's choice.
 *
 * Return: 0 or -EINVAL.
 */
int vmmu_cpuid_check(const struct vmmu_cpuid *table)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(table, 0x80000008, 0);
	u32 va_bits = e ? (e->eax >> 8) & 0xff : 0;

	if (va_bits && va_bits != 48 && va_bits != 57)
		return -EINVAL;
	return 0;
}

/**
 * vmmu_vcpu_cpuid() - the table a vCPU answers CPUID from
 * @vcpu: the vCPU, whose mutex is held
 *
 * Return: the table set with KVM_SET_CPUID2, or the supported table if
 * none was set.
 */
const struct vmmu_cpuid *vmmu_vcpu_cpuid(struct vmmu_vcpu *vcpu)
{
	lockdep_assert_held(&vcpu->mutex);
	return vcpu->cpuid ? vcpu->cpuid : vmmu_supported_cpuid();
}

/**
 * vmmu_vcpu_set_cpuid() - give a vCPU a new table
 * @vcpu: the vCPU, whose mutex is held: nothing reads its table meanwhile
 *	(CPUID exits happen inside KVM_RUN, which holds the mutex too)
 * @table: the new table, from vmmu_cpuid_alloc(); the vCPU owns it now
 */
void vmmu_vcpu_set_cpuid(struct vmmu_vcpu *vcpu, struct vmmu_cpuid *table)
{
	lockdep_assert_held(&vcpu->mutex);
	vmmu_cpuid_free(vcpu->cpuid);
	vcpu->cpuid = table;
}

/* The architecture's MAXPHYADDR where CPUID does not say, and its limit. */
#define VMMU_CPUID_PHYS_BITS_DEFAULT	36
#define VMMU_CPUID_PHYS_BITS_MAX	52

/**
 * vmmu_vcpu_phys_bits() - the guest's MAXPHYADDR
 * @vcpu: the vCPU, whose mutex is held
 *
 * As KVM: EAX[7:0] of leaf 0x80000008 in the vCPU's table, 36 if the table
 * has no such leaf.  Bits from there up are reserved in the guest-physical
 * addresses a guest writes to MSRs (APIC base, variable MTRRs).
 *
 * Return: the number of guest-physical address bits.
 */
unsigned int vmmu_vcpu_phys_bits(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_cpuid *table = vmmu_vcpu_cpuid(vcpu);
	const struct kvm_cpuid_entry2 *max = cpuid_find(table, 0x80000000, 0);
	const struct kvm_cpuid_entry2 *e = cpuid_find(table, 0x80000008, 0);

	if (!max || max->eax < 0x80000008 || !e || !(e->eax & 0xff))
		return VMMU_CPUID_PHYS_BITS_DEFAULT;
	return min_t(unsigned int, e->eax & 0xff, VMMU_CPUID_PHYS_BITS_MAX);
}

/**
 * vmmu_vcpu_free_cpuid() - free a vCPU's table
 * @vcpu: the vCPU, which never runs again
 */
void vmmu_vcpu_free_cpuid(struct vmmu_vcpu *vcpu)
{
	vmmu_cpuid_free(vcpu->cpuid);
	vcpu->cpuid = NULL;
}

static bool cpuid_vendor_amd(const struct kvm_cpuid_entry2 *basic)
{
	/* "AuthenticAMD" and "HygonGenuine", in EBX, EDX, ECX order. */
	return (basic->ebx == 0x68747541 && basic->edx == 0x69746e65 &&
		basic->ecx == 0x444d4163) ||
	       (basic->ebx == 0x6f677948 && basic->edx == 0x6e65476e &&
		basic->ecx == 0x656e6975);
}

/**
 * vmmu_vcpu_has_tsc_adjust() - does the vCPU's CPUID offer IA32_TSC_ADJUST?
 * @vcpu: the vCPU, whose mutex is held
 *
 * Return: true if leaf 7.0 EBX of its table has TSC_ADJUST.
 */
bool vmmu_vcpu_has_tsc_adjust(struct vmmu_vcpu *vcpu)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(vmmu_vcpu_cpuid(vcpu),
						      0x7, 0);

	return e && (e->ebx & F(9, TSC_ADJUST));
}

/**
 * vmmu_cpuid_equal() - do two tables hold the same entries, in order?
 * @a: a table
 * @b: another
 *
 * As KVM compares a vCPU's table with one given again after KVM_RUN:
 * leaf, subleaf, flags and the four registers of every entry.
 *
 * Return: true if they are the same.
 */
bool vmmu_cpuid_equal(const struct vmmu_cpuid *a, const struct vmmu_cpuid *b)
{
	const struct kvm_cpuid_entry2 *x, *y;
	u32 i;

	if (a->nent != b->nent)
		return false;
	for (i = 0; i < a->nent; i++) {
		x = &a->entries[i];
		y = &b->entries[i];
		if (x->function != y->function || x->index != y->index ||
		    x->flags != y->flags || x->eax != y->eax ||
		    x->ebx != y->ebx || x->ecx != y->ecx || x->edx != y->edx)
			return false;
	}
	return true;
}

/**
 * vmmu_vcpu_cpuid_is_amd() - does the vCPU's CPUID name AMD (or Hygon)?
 * @vcpu: the vCPU, whose mutex is held
 *
 * Return: true if leaf 0 of its table has an AMD-compatible vendor.
 */
bool vmmu_vcpu_cpuid_is_amd(struct vmmu_vcpu *vcpu)
{
	const struct kvm_cpuid_entry2 *basic = cpuid_find(vmmu_vcpu_cpuid(vcpu),
							  0, 0);

	return basic && cpuid_vendor_amd(basic);
}

/*
 * A leaf the table lacks.  Above the highest leaf of its range (basic,
 * extended ...), Intel CPUs answer with the highest basic leaf, AMD CPUs
 * with zeros; the table's vendor decides, as with KVM.  Inside the range:
 * zeros.
 */
static struct kvm_cpuid_entry2 *cpuid_find_out_of_range(const struct vmmu_cpuid *table,
							u32 function, u32 index)
{
	struct kvm_cpuid_entry2 *basic = cpuid_find(table, 0, 0);
	struct kvm_cpuid_entry2 *range;

	if (!basic || cpuid_vendor_amd(basic))
		return NULL;
	if (function >= 0x40000000 && function < 0x50000000)
		range = cpuid_find(table, function & 0xffffff00, 0);
	else if (function >= 0xc0000000)
		range = cpuid_find(table, 0xc0000000, 0);
	else
		range = cpuid_find(table, function & 0x80000000, 0);
	if (range && function <= range->eax)
		return NULL;
	return cpuid_find(table, basic->eax, index);
}

/* Bits that follow the guest's CR4, as on a CPU. */
static void cpuid_dynamic_bits(const struct kvm_cpuid_entry2 *e, u64 cr4,
			       u32 *ecx)
{
	if (e->function == 0x1)
		*ecx = (*ecx & ~F(4, OSXSAVE)) |
		       (cr4 & X86_CR4_OSXSAVE ? F(4, OSXSAVE) : 0);
	else if (e->function == 0x7 && e->index == 0)
		*ecx = (*ecx & ~F(16, OSPKE)) |
		       (cr4 & X86_CR4_PKE ? F(16, OSPKE) : 0);
}

/**
 * vmmu_cpuid() - answer a guest's CPUID
 * @vcpu: the vCPU, whose mutex is held
 * @cr4: the guest's CR4 (OSXSAVE and OSPKE reflect it)
 * @eax: in: the leaf; out: EAX
 * @ebx: out: EBX
 * @ecx: in: the subleaf; out: ECX
 * @edx: out: EDX
 *
 * The entry with the same leaf, and the same subleaf where it counts
 * (KVM_CPUID_FLAG_SIGNIFCANT_INDEX); a missing leaf reads as zeros, or
 * above the table's range for a non-AMD vendor as the highest basic leaf.
 * For leaves 0xb and 0x1f (topology) a missing subleaf still gives its
 * number in ECX[7:0] and the x2APIC id of subleaf 1 in EDX, as on a CPU.
 */
void vmmu_cpuid(struct vmmu_vcpu *vcpu, u64 cr4, u32 *eax, u32 *ebx,
		u32 *ecx, u32 *edx)
{
	const struct vmmu_cpuid *table = vmmu_vcpu_cpuid(vcpu);
	u32 function = *eax, index = *ecx;
	const struct kvm_cpuid_entry2 *e;

	e = cpuid_find(table, function, index);
	if (!e)
		e = cpuid_find_out_of_range(table, function, index);
	*eax = *ebx = *ecx = *edx = 0;
	if (e) {
		*eax = e->eax;
		*ebx = e->ebx;
		*ecx = e->ecx;
		*edx = e->edx;
		cpuid_dynamic_bits(e, cr4, ecx);
	} else if (function == 0xb || function == 0x1f) {
		e = cpuid_find(table, function, 1);
		if (e) {
			*ecx = index & 0xff;
			*edx = e->edx;
		}
	}
}
