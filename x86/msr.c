// SPDX-License-Identifier: GPL-2.0
/*
 * The MSRs a guest may read and write, whatever the vendor.
 *
 * What a value may be is checked here, once (KVM's checks: EFER's bits and
 * LME under paging, a valid PAT, canonical addresses, the APIC base's and
 * the MTRRs' reserved bits, machine-check control values); where the value
 * lives is either the vendor's (a field of its control block, or an MSR it
 * switches around the guest run: ops->get_msr, ops->set_msr) or memory
 * here (struct vmmu_x86_msrs: MSRs that only hold what the guest wrote),
 * or, for the platform MSRs guests read on the CPUs they know, KVM's
 * answers (x86_get_platform_msr()).
 * EFER goes through ops->set_efer, which adds what the vendor needs (SVM's
 * SVME, VMX's IA-32e entry control); the TSC is the host's plus an offset
 * the vendor adds (ops->set_tsc_offset).  Every other MSR is refused: RDMSR
 * and WRMSR of it raise #GP, KVM_GET_MSRS and KVM_SET_MSRS stop at it.
 *
 * A VMM (@host) may write what the guest may not: state it restores
 * (EFER.LME under paging, an MCi_STATUS, kvmclock MSRs that are off).
 */
#include <linux/kvm.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/kvm_para.h>
#include <asm/mce.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/tsc.h>

#include <vmmu/backend.h>
#include <vmmu/cpuid.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>
#include <vmmu/x86_state.h>

/* IA32_MTRRCAP: the variable-range count, fixed ranges (8), WC (10). */
#define X86_MTRR_CAP		(VMMU_X86_MTRR_VAR | BIT_ULL(8) | BIT_ULL(10))
/* IA32_MTRR_DEF_TYPE: the type (7:0), fixed ranges on (10), MTRRs on (11). */
#define X86_MTRR_DEF_TYPE_BITS	0xcffULL
/* Reserved in a variable range's base (11:8) and mask (10:0). */
#define X86_MTRR_BASE_RSVD	0xf00ULL
#define X86_MTRR_MASK_RSVD	0x7ffULL
/* IA32_MTRR_FIX64K_00000, IA32_MTRR_FIX16K_80000, IA32_MTRR_FIX4K_C0000. */
#define X86_MTRR_FIX64K		0x250
#define X86_MTRR_FIX16K		0x258
#define X86_MTRR_FIX4K		0x268
#define X86_MTRR_FIX4K_LAST	0x26f
#define X86_MTRR_VAR_FIRST	0x200
#define X86_MTRR_VAR_LAST	(X86_MTRR_VAR_FIRST + 2 * VMMU_X86_MTRR_VAR - 1)

/* IA32_MISC_ENABLE after RESET: no BTS, no PEBS (both bits read-only). */
#define X86_MISC_ENABLE_RESET	(MSR_IA32_MISC_ENABLE_BTS_UNAVAIL | \
				 MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL)
/* HWCR: McStatusWrEn, the one bit a guest may set. */
#define X86_HWCR_MCSTATUSWREN	BIT_ULL(18)
/* HWCR bits whose writes are ignored: TLB cache, flush filter, IGNNE. */
#define X86_HWCR_IGNORED	(BIT_ULL(3) | BIT_ULL(6) | BIT_ULL(8))
/* MSR_PLATFORM_INFO and MSR_MISC_FEATURES_ENABLES: CPUID faulting. */
#define X86_PLATFORM_INFO_CPUID_FAULT	BIT_ULL(31)
#define X86_MISC_FEATURES_CPUID_FAULT	VMMU_X86_CPUID_FAULTING
/* The FSB frequency MSR of old Intel CPUs: KVM's value. */
#define X86_MSR_FSB_FREQ	0xcd

/* APIC base: reserved below the base's bits; x2APIC mode is not offered. */
#define X86_APIC_BASE_RSVD	(0x2ffULL | X2APIC_ENABLE)

static const struct vmmu_backend_ops *x86_ops(struct vmmu_vcpu *vcpu)
{
	return vcpu->vm->backend;
}

static bool x86_set_efer(struct vmmu_vcpu *vcpu, u64 efer, bool host)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	u64 old = ops->get_efer(vcpu);

	if (efer & ~VMMU_GUEST_EFER_VALID)
		return false;
	/*
	 * LME cannot change while paging is on (the VMM restoring a state may
	 * change it); LMA is the CPU's.
	 */
	if (!host && (ops->get_cr0(vcpu) & X86_CR0_PG) && ((efer ^ old) & EFER_LME))
		return false;
	ops->set_efer(vcpu, (efer & ~EFER_LMA) | (old & EFER_LMA));
	return true;
}

/* Guest-physical address bits the guest's MAXPHYADDR reserves. */
static u64 x86_gpa_rsvd(struct vmmu_vcpu *vcpu)
{
	return GENMASK_ULL(63, vmmu_vcpu_phys_bits(vcpu));
}

/**
 * vmmu_x86_apic_base_valid() - may IA32_APIC_BASE take @data?
 * @vcpu: the vCPU, whose mutex is held
 * @data: the value, from WRMSR, KVM_SET_MSRS or KVM_SET_SREGS
 *
 * KVM's check: no bit of the guest's MAXPHYADDR and above, none of 7:0 and
 * 9, and no x2APIC mode, which vmmu does not offer (without an in-kernel
 * local APIC, the VMM's APIC is reached by MMIO only).
 *
 * Return: true if it may.
 */
bool vmmu_x86_apic_base_valid(struct vmmu_vcpu *vcpu, u64 data)
{
	return !(data & (X86_APIC_BASE_RSVD | x86_gpa_rsvd(vcpu)));
}

/* The memory types an MTRR may name: UC, WC, WT, WP, WB. */
static bool x86_mtrr_type_valid(u64 type)
{
	return type < 8 && (BIT(type) & 0x73);
}

static u64 *x86_mtrr_fixed(struct vmmu_x86_msrs *m, u32 msr)
{
	switch (msr) {
	case X86_MTRR_FIX64K:
		return &m->mtrr_fixed[0];
	case X86_MTRR_FIX16K:
	case X86_MTRR_FIX16K + 1:
		return &m->mtrr_fixed[1 + msr - X86_MTRR_FIX16K];
	case X86_MTRR_FIX4K ... X86_MTRR_FIX4K_LAST:
		return &m->mtrr_fixed[3 + array_index_nospec(msr - X86_MTRR_FIX4K,
							     8)];
	default:
		return NULL;
	}
}

/* Each byte of a fixed-range MTRR is the type of one range. */
static bool x86_mtrr_fixed_valid(u64 data)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		if (!x86_mtrr_type_valid((data >> (8 * i)) & 0xff))
			return false;
	return true;
}

static bool x86_mtrr_var_valid(struct vmmu_vcpu *vcpu, u32 msr, u64 data)
{
	bool mask = (msr - X86_MTRR_VAR_FIRST) & 1;

	if (mask)
		return !(data & (X86_MTRR_MASK_RSVD | x86_gpa_rsvd(vcpu)));
	return x86_mtrr_type_valid(data & 0xff) &&
	       !(data & (X86_MTRR_BASE_RSVD | x86_gpa_rsvd(vcpu)));
}

/* The slot of an MCi_* MSR of a bank the vCPU has, or NULL. */
static u64 *x86_mce_bank_msr(struct vmmu_x86_msrs *m, u32 msr)
{
	u32 n = (m->mcg_cap & 0xff) * VMMU_X86_MCE_BANK_MSRS;

	if (msr < MSR_IA32_MC0_CTL || msr - MSR_IA32_MC0_CTL >= n)
		return NULL;
	return &m->mce_banks[array_index_nospec(msr - MSR_IA32_MC0_CTL, n)];
}

/*
 * KVM's rules: MCG_CTL exists with MCG_CTL_P (a VMM may write 0 anyway)
 * and is 0 or all ones; MCi_CTL is 0 or all ones but for bits 0 and 10,
 * which guests clear for old errata; the guest may only clear MCi_STATUS,
 * unless it is an AMD guest that set HWCR.McStatusWrEn.
 */
static bool x86_set_mce(struct vmmu_vcpu *vcpu, u32 msr, u64 data, bool host)
{
	struct vmmu_x86_msrs *m = &vcpu->x86.msr;
	u64 *bank;

	switch (msr) {
	case MSR_IA32_MCG_STATUS:
		m->mcg_status = data;
		return true;
	case MSR_IA32_MCG_CTL:
		if (!(m->mcg_cap & MCG_CTL_P) && (data || !host))
			return false;
		if (data && data != ~0ULL)
			return false;
		m->mcg_ctl = data;
		return true;
	}
	bank = x86_mce_bank_msr(m, msr);
	if (!bank)
		return false;
	switch ((msr - MSR_IA32_MC0_CTL) % VMMU_X86_MCE_BANK_MSRS) {
	case 0:
		if (data && (data | BIT_ULL(10) | BIT_ULL(0)) != ~0ULL)
			return false;
		break;
	case 1:
		/* AMD lets HWCR.McStatusWrEn allow any value. */
		if (data && !host && !((m->hwcr & X86_HWCR_MCSTATUSWREN) &&
				       vmmu_vcpu_cpuid_is_amd(vcpu)))
			return false;
		break;
	}
	*bank = data;
	return true;
}

static bool x86_get_mce(struct vmmu_x86_msrs *m, u32 msr, u64 *data, bool host)
{
	u64 *bank;

	switch (msr) {
	case MSR_IA32_MCG_CAP:
		*data = m->mcg_cap;
		return true;
	case MSR_IA32_MCG_STATUS:
		*data = m->mcg_status;
		return true;
	case MSR_IA32_MCG_CTL:
		if (!(m->mcg_cap & MCG_CTL_P) && !host)
			return false;
		*data = m->mcg_ctl;
		return true;
	}
	bank = x86_mce_bank_msr(m, msr);
	if (bank)
		*data = *bank;
	return bank;
}

/* What KVM_X86_SETUP_MCE may ask for besides the bank count: KVM's. */
#define X86_MCG_CAP_SUPPORTED	(MCG_CTL_P | MCG_SER_P)
/* MCG_CAP's bank count (7:0) and extended-MSR count (23:16). */
#define X86_MCG_CAP_COUNTS	0xff00ffULL

/**
 * vmmu_x86_mce_cap_supported() - KVM_X86_GET_MCE_CAP_SUPPORTED
 *
 * Return: the MCG_CAP bits KVM_X86_SETUP_MCE accepts (KVM_CAP_MCE is the
 * largest bank count).
 */
u64 vmmu_x86_mce_cap_supported(void)
{
	return X86_MCG_CAP_SUPPORTED;
}

/*
 * KVM_X86_SETUP_MCE
 * @vcpu: the vCPU, whose mutex is held
 * @mcg_cap: the MCG_CAP the VMM wants: 1 to 32 banks, supported bits only
 *
 * As KVM: MCG_CTL (with MCG_CTL_P) and every bank's MCi_CTL become all
 * ones, reporting every error; the rest stays.
 *
 * Return: 0 or -EINVAL (nothing changed).
 */
static int x86_setup_mce(struct vmmu_vcpu *vcpu, u64 mcg_cap)
{
	struct vmmu_x86_msrs *m = &vcpu->x86.msr;
	unsigned int bank, banks = mcg_cap & 0xff;

	if (!banks || banks > VMMU_X86_MCE_BANKS ||
	    (mcg_cap & ~(X86_MCG_CAP_SUPPORTED | X86_MCG_CAP_COUNTS)))
		return -EINVAL;
	m->mcg_cap = mcg_cap;
	if (mcg_cap & MCG_CTL_P)
		m->mcg_ctl = ~0ULL;
	for (bank = 0; bank < banks; bank++)
		m->mce_banks[bank * VMMU_X86_MCE_BANK_MSRS] = ~0ULL;
	return 0;
}

/*
 * An uncorrected error without the signs of one that must be handled now
 * (no MCG_STATUS, no PCC, S or AR): recorded, not signalled (it would be a
 * CMCI, which vmmu does not offer).
 */
static bool x86_mce_is_ucna(const struct kvm_x86_mce *mce)
{
	return !mce->mcg_status &&
	       !(mce->status & (MCI_STATUS_PCC | MCI_STATUS_S | MCI_STATUS_AR)) &&
	       (mce->status & MCI_STATUS_UC);
}

/*
 * KVM_X86_SET_MCE: a machine check for the guest
 * @vcpu: the vCPU, whose mutex is held; between vmmu_x86_state_get() and
 *	vmmu_x86_state_put()
 * @mce: the error (a VMM reports memory the host found poisoned so)
 *
 * KVM's semantics: a corrected error is written to its bank (OVER if the
 * bank held one, and a held uncorrected error stays); an uncorrected one
 * is dropped if MCG_CTL or its MCi_CTL does not report it, else written to
 * its bank with MCG_STATUS and raised as #MC at the next entry, or, with
 * CR4.MCE clear or a machine check in progress (MCG_STATUS.MCIP), shuts
 * the vCPU down as the CPU would (KVM_EXIT_SHUTDOWN at the next KVM_RUN).
 *
 * Return: 0, or -EINVAL for a bank the vCPU does not have or a status
 * without VAL.
 */
static int x86_set_mce_event(struct vmmu_vcpu *vcpu, struct kvm_x86_mce *mce)
{
	struct vmmu_x86_msrs *m = &vcpu->x86.msr;
	unsigned int banks = m->mcg_cap & 0xff;
	u64 *bank;

	if (mce->bank >= banks || !(mce->status & MCI_STATUS_VAL))
		return -EINVAL;
	bank = &m->mce_banks[array_index_nospec(mce->bank * VMMU_X86_MCE_BANK_MSRS,
						banks * VMMU_X86_MCE_BANK_MSRS)];
	if (x86_mce_is_ucna(mce)) {
		m->mcg_status = mce->mcg_status;
	} else if (mce->status & MCI_STATUS_UC) {
		if (((m->mcg_cap & MCG_CTL_P) && m->mcg_ctl != ~0ULL) ||
		    bank[0] != ~0ULL)
			return 0;
		if ((m->mcg_status & MCG_STATUS_MCIP) ||
		    !(x86_ops(vcpu)->get_cr4(vcpu) & X86_CR4_MCE)) {
			vcpu->x86.shutdown_pending = true;
			return 0;
		}
		if (bank[1] & MCI_STATUS_VAL)
			mce->status |= MCI_STATUS_OVER;
		m->mcg_status = mce->mcg_status;
		vcpu->x86.mce_pending = true;
	} else if ((bank[1] & (MCI_STATUS_VAL | MCI_STATUS_UC)) ==
		   (MCI_STATUS_VAL | MCI_STATUS_UC)) {
		bank[1] |= MCI_STATUS_OVER;
		return 0;
	} else if (bank[1] & MCI_STATUS_VAL) {
		mce->status |= MCI_STATUS_OVER;
	}
	bank[1] = mce->status;
	bank[2] = mce->addr;
	bank[3] = mce->misc;
	return 0;
}

/**
 * vmmu_x86_mce_ioctl() - KVM_X86_SETUP_MCE and KVM_X86_SET_MCE
 * @vcpu: the vCPU, whose mutex is held
 * @ioctl: which
 * @argp: the user's u64 MCG_CAP, or struct kvm_x86_mce
 *
 * Return: 0, -EFAULT or -EINVAL (nothing changed).
 */
int vmmu_x86_mce_ioctl(struct vmmu_vcpu *vcpu, unsigned int ioctl,
		       void __user *argp)
{
	struct kvm_x86_mce mce;
	u64 mcg_cap;
	int r;

	if (ioctl == KVM_X86_SETUP_MCE) {
		if (copy_from_user(&mcg_cap, argp, sizeof(mcg_cap)))
			return -EFAULT;
		return x86_setup_mce(vcpu, mcg_cap);
	}
	if (copy_from_user(&mce, argp, sizeof(mce)))
		return -EFAULT;
	vmmu_x86_state_get(vcpu);
	r = x86_set_mce_event(vcpu, &mce);
	vmmu_x86_state_put(vcpu);
	return r;
}

static void x86_set_tsc_offset(struct vmmu_vcpu *vcpu, u64 offset)
{
	vcpu->x86.tsc_offset = offset;
	x86_ops(vcpu)->set_tsc_offset(vcpu, offset);
}

/*
 * The offset for a TSC value a VMM writes (vCPU creation writes 0).  As in
 * KVM, vCPUs of one VM keep equal TSCs: a write of 0, or of a value within
 * a second of where the VM's last such write would have brought the TSC by
 * now, takes that write's offset; any other starts a new one.  A VMM
 * resetting or restoring its vCPUs one after the other writes the same
 * value to each, microseconds apart.
 */
static u64 x86_tsc_sync_offset(struct vmmu_vm *vm, u64 data)
{
	struct vmmu_x86_vm *vx = &vm->x86;
	u64 host = rdtsc(), ns = ktime_get_boottime_ns();
	u64 offset = data - host, hz = (u64)tsc_khz * 1000;

	spin_lock(&vx->tsc_lock);
	if (vx->tsc_valid) {
		u64 expect = vx->tsc_written +
			     mul_u64_u32_div(ns - vx->tsc_ns, tsc_khz, 1000000);
		u64 diff = data > expect ? data - expect : expect - data;

		if (!data || diff < hz)
			offset = vx->tsc_offset;
	}
	vx->tsc_offset = offset;
	vx->tsc_written = host + offset;
	vx->tsc_ns = ns;
	vx->tsc_valid = true;
	spin_unlock(&vx->tsc_lock);
	return offset;
}

/*
 * KVM_VCPU_TSC_OFFSET set by the VMM: the vCPU's offset, and the VM's
 * synchronization point (a later write of a nearby value matches it), as
 * KVM records it.
 */
static void x86_tsc_set_offset_attr(struct vmmu_vcpu *vcpu, u64 offset)
{
	struct vmmu_x86_vm *vx = &vcpu->vm->x86;

	spin_lock(&vx->tsc_lock);
	vx->tsc_offset = offset;
	vx->tsc_written = rdtsc() + offset;
	vx->tsc_ns = ktime_get_boottime_ns();
	vx->tsc_valid = true;
	spin_unlock(&vx->tsc_lock);
	x86_set_tsc_offset(vcpu, offset);
}

/**
 * vmmu_x86_tsc_attr_ioctl() - KVM_HAS/GET/SET_DEVICE_ATTR on a vCPU fd
 * @vcpu: the vCPU, whose mutex is held
 * @ioctl: which of the three
 * @uattr: the user's struct kvm_device_attr
 *
 * The one vCPU attribute vmmu has, KVM's group KVM_VCPU_TSC_CTRL attribute
 * KVM_VCPU_TSC_OFFSET: the guest's TSC minus the host's (a VMM migrating a
 * guest keeps its TSC with it).
 *
 * Return: 0; -ENXIO for another group or attribute, -EFAULT.
 */
int vmmu_x86_tsc_attr_ioctl(struct vmmu_vcpu *vcpu, unsigned int ioctl,
			    struct kvm_device_attr __user *uattr)
{
	struct kvm_device_attr attr;
	u64 __user *uaddr;
	u64 offset;

	if (copy_from_user(&attr, uattr, sizeof(attr)))
		return -EFAULT;
	if (attr.group != KVM_VCPU_TSC_CTRL || attr.attr != KVM_VCPU_TSC_OFFSET)
		return -ENXIO;
	if (ioctl == KVM_HAS_DEVICE_ATTR)
		return 0;
	uaddr = u64_to_user_ptr(attr.addr);
	if (ioctl == KVM_GET_DEVICE_ATTR)
		return put_user(vcpu->x86.tsc_offset, uaddr) ? -EFAULT : 0;
	if (get_user(offset, uaddr))
		return -EFAULT;
	vmmu_x86_state_get(vcpu);
	x86_tsc_set_offset_attr(vcpu, offset);
	vmmu_x86_state_put(vcpu);
	return 0;
}

/**
 * vmmu_x86_msr_create() - the MSRs of a new vCPU, before its first RESET
 * @vcpu: the vCPU, not yet visible to userspace
 *
 * KVM's: every machine-check bank (until KVM_X86_SETUP_MCE), CPUID
 * faulting offered in MSR_PLATFORM_INFO, the TSC at 0 (or equal to the TSCs of
 * the VM's other vCPUs, see x86_tsc_sync_offset()); the MTRRs are 0.
 */
void vmmu_x86_msr_create(struct vmmu_vcpu *vcpu)
{
	vcpu->x86.msr.mcg_cap = VMMU_X86_MCE_BANKS;
	vcpu->x86.msr.platform_info = X86_PLATFORM_INFO_CPUID_FAULT;
	vcpu->x86.tsc_offset = x86_tsc_sync_offset(vcpu->vm, 0);
}

/**
 * vmmu_x86_msr_reset() - the MSRs after RESET
 * @vcpu: the vCPU, not running (or handling its triple fault)
 *
 * MISC_ENABLE and the microcode revision (the vendor's, as KVM's).  The
 * vendor's RESET cleared its control block's TSC offset: the vCPU's own
 * comes back (RESET does not change the TSC).
 */
void vmmu_x86_msr_reset(struct vmmu_vcpu *vcpu)
{
	vcpu->x86.msr.misc_enable = X86_MISC_ENABLE_RESET;
	vcpu->x86.msr.ucode_rev = x86_ops(vcpu)->ucode_rev;
	vcpu->x86.msr.misc_features = 0;
	vmmu_x86_state_get(vcpu);
	x86_set_tsc_offset(vcpu, vcpu->x86.tsc_offset);
	vmmu_x86_state_put(vcpu);
}

/*
 * The platform's model-specific MSRs that guests' kernels and firmware read
 * on the CPUs they know, answered as KVM answers them: nothing stands
 * behind them (no performance counters, no power management, no cache
 * control), but a guest that reads them without expecting #GP keeps
 * working.  Return: 1 handled, 0 not such an MSR.
 */
static int x86_get_platform_msr(struct vmmu_x86_msrs *m, u32 msr, u64 *data)
{
	switch (msr) {
	case MSR_IA32_PLATFORM_ID:
	case MSR_IA32_EBL_CR_POWERON:
	case MSR_IA32_LASTBRANCHFROMIP:
	case MSR_IA32_LASTBRANCHTOIP:
	case MSR_IA32_LASTINTFROMIP:
	case MSR_IA32_LASTINTTOIP:
	case MSR_AMD64_SYSCFG:
	case MSR_K8_TSEG_ADDR:
	case MSR_K8_TSEG_MASK:
	case MSR_VM_HSAVE_PA:
	case MSR_K8_INT_PENDING_MSG:
	case MSR_AMD64_NB_CFG:
	case MSR_FAM10H_MMIO_CONF_BASE:
	case MSR_AMD64_BU_CFG2:
	case MSR_IA32_PERF_CTL:
	case MSR_AMD64_DC_CFG:
	case MSR_AMD64_TW_CFG:
	case MSR_F15H_EX_CFG:
	case MSR_RAPL_POWER_UNIT:
	case MSR_PP0_ENERGY_STATUS:
	case MSR_PP1_ENERGY_STATUS:
	case MSR_PKG_ENERGY_STATUS:
	case MSR_DRAM_ENERGY_STATUS:
	case MSR_K7_EVNTSEL0 ... MSR_K7_EVNTSEL3:
	case MSR_K7_PERFCTR0 ... MSR_K7_PERFCTR3:
	case MSR_P6_PERFCTR0 ... MSR_P6_PERFCTR1:
	case MSR_P6_EVNTSEL0 ... MSR_P6_EVNTSEL1:
	case MSR_IA32_P5_MC_ADDR:
	case MSR_IA32_P5_MC_TYPE:
		*data = 0;
		return 1;
	case MSR_IA32_UCODE_REV:
		*data = m->ucode_rev;
		return 1;
	case X86_MSR_FSB_FREQ:
		*data = 3;
		return 1;
	case MSR_EBC_FREQUENCY_ID:
		/* A core-to-bus ratio of 1: guests divide by it. */
		*data = 1ULL << 24;
		return 1;
	case MSR_IA32_PERF_STATUS:
		/* A TSC increment of 1000 per tick, a multiplier of 4. */
		*data = 1000ULL | (4ULL << 40);
		return 1;
	case MSR_K7_CLK_CTL:
		/* The ramp-up count K7 guests expect. */
		*data = 0x20000000;
		return 1;
	case MSR_IA32_BBL_CR_CTL3:
		/* An L2 cache control word that describes a configured cache. */
		*data = 0xbe702111;
		return 1;
	case MSR_IA32_POWER_CTL:
		*data = m->power_ctl;
		return 1;
	case MSR_K7_HWCR:
		*data = m->hwcr;
		return 1;
	default:
		return 0;
	}
}

/* Return: 1 written (or ignored), 0 refused (#GP), -1 not such an MSR. */
static int x86_set_platform_msr(struct vmmu_x86_msrs *m, u32 msr, u64 data,
				bool host)
{
	switch (msr) {
	case MSR_AMD64_NB_CFG:
	case MSR_IA32_UCODE_WRITE:
	case MSR_VM_HSAVE_PA:
	case MSR_AMD64_PATCH_LOADER:
	case MSR_AMD64_BU_CFG2:
	case MSR_AMD64_DC_CFG:
	case MSR_AMD64_TW_CFG:
	case MSR_F15H_EX_CFG:
	case MSR_K7_EVNTSEL0 ... MSR_K7_EVNTSEL3:
	case MSR_K7_PERFCTR0 ... MSR_K7_PERFCTR3:
	case MSR_P6_PERFCTR0 ... MSR_P6_PERFCTR1:
	case MSR_P6_EVNTSEL0 ... MSR_P6_EVNTSEL1:
	case MSR_K7_CLK_CTL:
	case MSR_IA32_BBL_CR_CTL3:
		/* Ignored: nothing stands behind them. */
		return 1;
	case MSR_IA32_UCODE_REV:
		/* The guest's write is a request to load microcode: ignored. */
		if (host)
			m->ucode_rev = data;
		return 1;
	case MSR_IA32_POWER_CTL:
		m->power_ctl = data;
		return 1;
	case MSR_FAM10H_MMIO_CONF_BASE:
		return !data;
	case MSR_K7_HWCR:
		data &= ~X86_HWCR_IGNORED;
		if (data && data != X86_HWCR_MCSTATUSWREN)
			return 0;
		m->hwcr = data;
		return 1;
	default:
		return -1;
	}
}

/* Does @msr hold a linear address, which must be canonical? */
static bool x86_msr_is_address(u32 msr)
{
	switch (msr) {
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		return true;
	default:
		return false;
	}
}

/**
 * vmmu_x86_get_msr() - RDMSR of what vmmu virtualizes
 * @vcpu: the vCPU, loaded
 * @msr: the MSR
 * @data: its value
 * @host: the VMM asks (KVM_GET_MSRS), not the guest
 *
 * Return: false if the guest's RDMSR must raise #GP (KVM_GET_MSRS stops).
 */
bool vmmu_x86_get_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 *data, bool host)
{
	struct vmmu_x86_msrs *m = &vcpu->x86.msr;
	u64 *fixed = x86_mtrr_fixed(m, msr);

	if (fixed) {
		*data = *fixed;
		return true;
	}
	switch (msr) {
	case MSR_EFER:
		*data = x86_ops(vcpu)->get_efer(vcpu);
		return true;
	case MSR_IA32_APICBASE:
		*data = vcpu->x86.apic_base;
		return true;
	case MSR_IA32_TSC:
		*data = rdtsc() + vcpu->x86.tsc_offset;
		return true;
	case MSR_IA32_TSC_ADJUST:
		*data = m->tsc_adjust;
		return true;
	case MSR_PLATFORM_INFO:
		if (!host && !READ_ONCE(vcpu->vm->x86.platform_info_readable))
			return false;
		*data = m->platform_info;
		return true;
	case MSR_MISC_FEATURES_ENABLES:
		*data = m->misc_features;
		return true;
	case MSR_IA32_MISC_ENABLE:
		*data = m->misc_enable;
		return true;
	case MSR_MTRRcap:
		*data = X86_MTRR_CAP;
		return true;
	case MSR_MTRRdefType:
		*data = m->mtrr_def_type;
		return true;
	case X86_MTRR_VAR_FIRST ... X86_MTRR_VAR_LAST:
		*data = m->mtrr_var[array_index_nospec(msr - X86_MTRR_VAR_FIRST,
						       2 * VMMU_X86_MTRR_VAR)];
		return true;
	case MSR_IA32_MCG_CAP:
	case MSR_IA32_MCG_STATUS:
	case MSR_IA32_MCG_CTL:
	case MSR_IA32_MC0_CTL ... MSR_IA32_MCx_CTL(VMMU_X86_MCE_BANKS) - 1:
		return x86_get_mce(m, msr, data, host);
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		*data = m->kvm_system_time;
		return host;
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		*data = m->kvm_wall_clock;
		return host;
	default:
		if (x86_get_platform_msr(m, msr, data))
			return true;
		return x86_ops(vcpu)->get_msr(vcpu, msr, data);
	}
}

/*
 * The kvmclock MSRs exist for VMMs that save and restore them whatever the
 * guest's CPUID (QEMU writes them at every reset): a VMM may write the
 * values of kvmclock off.  vmmu has no kvmclock and offers none in CPUID,
 * so the guest may not touch them and nothing turns one on.
 */
static bool x86_set_kvmclock(struct vmmu_x86_msrs *m, u32 msr, u64 data,
			     bool host)
{
	if (!host)
		return false;
	if (msr == MSR_KVM_SYSTEM_TIME || msr == MSR_KVM_SYSTEM_TIME_NEW) {
		if (data & KVM_MSR_ENABLED)
			return false;
		m->kvm_system_time = data;
		return true;
	}
	if (data)
		return false;
	m->kvm_wall_clock = data;
	return true;
}

/*
 * IA32_MISC_ENABLE: the guest may not change the read-only BTS and PEBS
 * bits, and its writes to the EMON bit are ignored (KVM's rules).
 */
static bool x86_set_misc_enable(struct vmmu_x86_msrs *m, u64 data, bool host)
{
	u64 ro = MSR_IA32_MISC_ENABLE_BTS_UNAVAIL |
		 MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL;

	if (!host) {
		if ((data ^ m->misc_enable) & ro)
			return false;
		data = (data & ~MSR_IA32_MISC_ENABLE_EMON) |
		       (m->misc_enable & MSR_IA32_MISC_ENABLE_EMON);
	}
	m->misc_enable = data;
	return true;
}

/**
 * vmmu_x86_set_msr() - WRMSR of what vmmu virtualizes
 * @vcpu: the vCPU, loaded
 * @msr: the MSR
 * @data: the value
 * @host: the VMM sets it (KVM_SET_MSRS), not the guest
 *
 * Return: false if the guest's WRMSR must raise #GP (nothing changed; and
 * KVM_SET_MSRS stops).
 */
bool vmmu_x86_set_msr(struct vmmu_vcpu *vcpu, u32 msr, u64 data, bool host)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_msrs *m = &vcpu->x86.msr;
	u64 *fixed = x86_mtrr_fixed(m, msr);
	int r;

	if (fixed) {
		if (!x86_mtrr_fixed_valid(data))
			return false;
		*fixed = data;
		return true;
	}
	switch (msr) {
	case MSR_EFER:
		return x86_set_efer(vcpu, data, host);
	case MSR_IA32_APICBASE:
		if (!vmmu_x86_apic_base_valid(vcpu, data))
			return false;
		vcpu->x86.apic_base = data;
		return true;
	case MSR_IA32_TSC:
		if (host) {
			x86_set_tsc_offset(vcpu, x86_tsc_sync_offset(vcpu->vm, data));
		} else {
			u64 adj = data - rdtsc() - vcpu->x86.tsc_offset;

			x86_set_tsc_offset(vcpu, vcpu->x86.tsc_offset + adj);
			m->tsc_adjust += adj;
		}
		return true;
	case MSR_IA32_TSC_ADJUST:
		/*
		 * The guest's write moves its TSC by the change; the VMM's only
		 * sets the value.  Without the CPUID bit writes are dropped.
		 */
		if (!vmmu_vcpu_has_tsc_adjust(vcpu))
			return true;
		if (!host)
			x86_set_tsc_offset(vcpu, vcpu->x86.tsc_offset +
					   (data - m->tsc_adjust));
		m->tsc_adjust = data;
		return true;
	case MSR_PLATFORM_INFO:
		/* The VMM's; it may not take CPUID faulting away while on. */
		if (!host || (!(data & X86_PLATFORM_INFO_CPUID_FAULT) &&
			      (m->misc_features & X86_MISC_FEATURES_CPUID_FAULT)))
			return false;
		m->platform_info = data;
		return true;
	case MSR_MISC_FEATURES_ENABLES:
		if ((data & ~X86_MISC_FEATURES_CPUID_FAULT) ||
		    ((data & X86_MISC_FEATURES_CPUID_FAULT) &&
		     !(m->platform_info & X86_PLATFORM_INFO_CPUID_FAULT)))
			return false;
		m->misc_features = data;
		return true;
	case MSR_IA32_MISC_ENABLE:
		return x86_set_misc_enable(m, data, host);
	case MSR_MTRRdefType:
		if ((data & ~X86_MTRR_DEF_TYPE_BITS) ||
		    !x86_mtrr_type_valid(data & 0xff))
			return false;
		m->mtrr_def_type = data;
		return true;
	case X86_MTRR_VAR_FIRST ... X86_MTRR_VAR_LAST:
		if (!x86_mtrr_var_valid(vcpu, msr, data))
			return false;
		m->mtrr_var[array_index_nospec(msr - X86_MTRR_VAR_FIRST,
					       2 * VMMU_X86_MTRR_VAR)] = data;
		return true;
	case MSR_IA32_MCG_STATUS:
	case MSR_IA32_MCG_CTL:
	case MSR_IA32_MC0_CTL ... MSR_IA32_MCx_CTL(VMMU_X86_MCE_BANKS) - 1:
		return x86_set_mce(vcpu, msr, data, host);
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		return x86_set_kvmclock(m, msr, data, host);
	case MSR_IA32_CR_PAT:
		if (!vmmu_pat_valid(data))
			return false;
		break;
	default:
		r = x86_set_platform_msr(m, msr, data, host);
		if (r >= 0)
			return r;
	}
	if (x86_msr_is_address(msr) && !vmmu_canonical(data, ops->get_cr4(vcpu)))
		return false;
	return ops->set_msr(vcpu, msr, data);
}

/*
 * What KVM_GET_MSR_INDEX_LIST reports: the MSRs a VMM saves and restores
 * with KVM_GET_MSRS and KVM_SET_MSRS (EFER, APIC_BASE and the FS/GS bases
 * travel with the special registers, as in KVM).
 */
static const u32 x86_msrs_to_save[] = {
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_STAR, MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR,
	MSR_IA32_CR_PAT, MSR_IA32_TSC, MSR_IA32_TSC_ADJUST, MSR_IA32_MISC_ENABLE,
	MSR_IA32_UCODE_REV, MSR_PLATFORM_INFO, MSR_MISC_FEATURES_ENABLES,
	MSR_IA32_MCG_STATUS, MSR_IA32_MCG_CTL,
	MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK,
	MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW,
};

/* Write @n MSR indices to the user's struct kvm_msr_list. */
static int x86_msr_list_to_user(struct kvm_msr_list __user *ulist,
				const u32 *indices, u32 n)
{
	u32 room;

	if (get_user(room, &ulist->nmsrs) || put_user(n, &ulist->nmsrs))
		return -EFAULT;
	if (room < n)
		return -E2BIG;
	if (copy_to_user(ulist->indices, indices, n * sizeof(*indices)))
		return -EFAULT;
	return 0;
}

/**
 * vmmu_x86_msr_index_list() - KVM_GET_MSR_INDEX_LIST
 * @ulist: the user's struct kvm_msr_list; nmsrs is the room it has
 *
 * Writes the number of MSRs to nmsrs, also when there is not room for them.
 *
 * Return: 0, -E2BIG (too little room; only nmsrs written) or -EFAULT.
 */
int vmmu_x86_msr_index_list(struct kvm_msr_list __user *ulist)
{
	return x86_msr_list_to_user(ulist, x86_msrs_to_save,
				    ARRAY_SIZE(x86_msrs_to_save));
}

/* KVM's bound on the entries of one KVM_GET_MSRS or KVM_SET_MSRS. */
#define VMMU_X86_MAX_IO_MSRS	256

/*
 * The entries of a KVM_GET_MSRS or KVM_SET_MSRS, copied in (*@n of them),
 * or an ERR_PTR: -E2BIG for 256 or more, -EFAULT, -ENOMEM.
 */
static struct kvm_msr_entry *x86_msrs_in(struct kvm_msrs __user *umsrs,
					 u32 *n)
{
	struct kvm_msrs msrs;

	if (copy_from_user(&msrs, umsrs, sizeof(msrs)))
		return ERR_PTR(-EFAULT);
	if (msrs.nmsrs >= VMMU_X86_MAX_IO_MSRS)
		return ERR_PTR(-E2BIG);
	*n = msrs.nmsrs;
	return memdup_user(umsrs->entries, array_size(*n, sizeof(struct kvm_msr_entry)));
}

/*
 * The end of a KVM_GET_MSRS (@read: the first @done entries go back) or
 * KVM_SET_MSRS: frees @entries.  Return: @done or -EFAULT.
 */
static int x86_msrs_out(struct kvm_msrs __user *umsrs,
			struct kvm_msr_entry *entries, u32 done, bool read)
{
	int r = done;

	if (read && copy_to_user(umsrs->entries, entries,
				 done * sizeof(*entries)))
		r = -EFAULT;
	kfree(entries);
	return r;
}

/**
 * vmmu_x86_msrs_ioctl() - KVM_GET_MSRS and KVM_SET_MSRS
 * @vcpu: the vCPU, whose mutex is held
 * @set: KVM_SET_MSRS
 * @umsrs: the user's struct kvm_msrs
 *
 * As in KVM, the entries are processed in order and the first MSR that
 * cannot be read or written ends the ioctl; what was done stays done.
 *
 * Return: the number of entries processed, -E2BIG (256 or more entries),
 * -EFAULT or -ENOMEM.
 */
int vmmu_x86_msrs_ioctl(struct vmmu_vcpu *vcpu, bool set,
			struct kvm_msrs __user *umsrs)
{
	struct kvm_msr_entry *entries, *e;
	u32 i, n;

	entries = x86_msrs_in(umsrs, &n);
	if (IS_ERR(entries))
		return PTR_ERR(entries);
	vmmu_x86_state_get(vcpu);
	for (i = 0; i < n; i++) {
		e = &entries[i];
		if (set ? !vmmu_x86_set_msr(vcpu, e->index, e->data, true) :
			  !vmmu_x86_get_msr(vcpu, e->index, &e->data, true))
			break;
	}
	vmmu_x86_state_put(vcpu);
	return x86_msrs_out(umsrs, entries, i, !set);
}

/*
 * The feature MSRs (KVM_CAP_GET_MSR_FEATURES): what the host offers a
 * vCPU model, read on the system fd.  Only the microcode revision, which
 * KVM gives as the host's; vmmu offers no ARCH_CAPABILITIES,
 * PERF_CAPABILITIES or nested VMX.
 */
static const u32 x86_feature_msrs[] = {
	MSR_IA32_UCODE_REV,
};

/**
 * vmmu_x86_msr_feature_index_list() - KVM_GET_MSR_FEATURE_INDEX_LIST
 * @ulist: the user's struct kvm_msr_list; nmsrs is the room it has
 *
 * Return: 0, -E2BIG (too little room; nmsrs says how much is needed) or
 * -EFAULT.
 */
int vmmu_x86_msr_feature_index_list(struct kvm_msr_list __user *ulist)
{
	return x86_msr_list_to_user(ulist, x86_feature_msrs,
				    ARRAY_SIZE(x86_feature_msrs));
}

/**
 * vmmu_x86_msr_features_ioctl() - KVM_GET_MSRS on the system fd
 * @umsrs: the user's struct kvm_msrs of feature MSRs
 *
 * As KVM_GET_MSRS on a vCPU: the number of MSRs read, stopping at the
 * first that is not a feature MSR.
 *
 * Return: that number, -E2BIG (256 entries or more), -EFAULT or -ENOMEM.
 */
int vmmu_x86_msr_features_ioctl(struct kvm_msrs __user *umsrs)
{
	struct kvm_msr_entry *entries;
	u32 i, n;

	entries = x86_msrs_in(umsrs, &n);
	if (IS_ERR(entries))
		return PTR_ERR(entries);
	for (i = 0; i < n; i++) {
		if (entries[i].index != MSR_IA32_UCODE_REV ||
		    rdmsrl_safe(MSR_IA32_UCODE_REV, &entries[i].data))
			break;
	}
	return x86_msrs_out(umsrs, entries, i, true);
}
