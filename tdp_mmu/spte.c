// SPDX-License-Identifier: GPL-2.0
/*
 * SPTE formats: the two encodings vmmu builds tables in.
 */
#include <linux/minmax.h>
#include <asm/processor.h>

#include <vmmu/spte.h>

/**
 * vmmu_host_phys_bits() - the host's MAXPHYADDR, which bounds guest-physical
 *	addresses as it does in KVM (kvm_mmu_max_gfn())
 *
 * The CPU's width from CPUID 0x80000008, not boot_cpu_data.x86_phys_bits:
 * memory encryption (SME, MKTME) lowers the latter by the bits it takes
 * for keys, which are still valid address bits.  The two are the same on
 * every other CPU.
 *
 * Return: the number of physical-address bits, at most 52.
 */
int vmmu_host_phys_bits(void)
{
	int bits = boot_cpu_data.x86_phys_bits;

	if (boot_cpu_data.extended_cpuid_level >= 0x80000008)
		bits = cpuid_eax(0x80000008) & 0xff;
	return min(bits, 52);
}

/**
 * vmmu_spte_format_init() - describe EPT or NPT entries
 * @fmt: filled in
 * @kind: VMMU_SPTE_EPT or VMMU_SPTE_NPT
 * @root_level: 4 or 5
 *
 * Accessed and dirty bits are always in use: the software vCPU sets them,
 * and hardware does when the backend enables them.  @fmt->gpa_bits is the
 * smaller of the root's reach and the host's MAXPHYADDR.
 */
void vmmu_spte_format_init(struct vmmu_spte_format *fmt,
			   enum vmmu_spte_kind kind, int root_level)
{
	fmt->kind = kind;
	fmt->root_level = root_level;
	fmt->gpa_bits = min(vmmu_gpa_bits(root_level), vmmu_host_phys_bits());
	fmt->max_leaf_level = VMMU_PG_LEVEL_1G;
	if (kind == VMMU_SPTE_EPT) {
		fmt->present = EPT_READABLE | EPT_WRITABLE | EPT_EXECUTABLE;
		fmt->writable = EPT_WRITABLE;
		fmt->exec = EPT_EXECUTABLE;
		fmt->nx = 0;
		fmt->accessed = EPT_ACCESSED;
		fmt->dirty = EPT_DIRTY;
		fmt->large = EPT_LARGE;
		fmt->leaf_base = EPT_READABLE | EPT_MT_WB | EPT_IGNORE_PAT;
		fmt->table_base = EPT_READABLE | EPT_WRITABLE | EPT_EXECUTABLE;
	} else {
		fmt->present = NPT_PRESENT;
		fmt->writable = NPT_WRITABLE;
		fmt->exec = 0;
		fmt->nx = NPT_NX;
		fmt->accessed = NPT_ACCESSED;
		fmt->dirty = NPT_DIRTY;
		fmt->large = NPT_LARGE;
		/* Nested walks are user accesses: U on every level. */
		fmt->leaf_base = NPT_PRESENT | NPT_USER;
		fmt->table_base = NPT_PRESENT | NPT_WRITABLE | NPT_USER;
	}
}

/**
 * vmmu_spte_format_limit_leaf() - the vCPUs' walker takes no larger leaves
 * @fmt: the VM's format
 * @max_leaf_level: the largest leaf level the hardware walks (EPT caps,
 *	NPT with or without 1 GiB pages); 0 for no limit of its own
 */
void vmmu_spte_format_limit_leaf(struct vmmu_spte_format *fmt,
				 int max_leaf_level)
{
	if (max_leaf_level)
		fmt->max_leaf_level = min(fmt->max_leaf_level, max_leaf_level);
}
