// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vmmu: module init and exit, and the system ioctls.
 *
 * The system ioctls are KVM's, with KVM's numbers and errnos, so a program
 * written for /dev/kvm works on /dev/vmmu for the subset vmmu implements.
 */
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/backend.h>
#include <vmmu/cpuid.h>
#include <vmmu/dirty_log.h>
#include <vmmu/dirty_ring.h>
#include <vmmu/memslot.h>
#include <vmmu/stats.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>
#include <vmmu/x86_state.h>

#include "dev.h"

/**
 * vmmu_check_extension() - KVM_CHECK_EXTENSION, on /dev/vmmu or a VM fd
 * @vm: the VM, or NULL for /dev/vmmu
 * @cap: a KVM_CAP_* number
 *
 * The answer is honest: 0 for every capability vmmu does not implement.
 *
 * Return: the capability's value, 0 if it is not supported.
 */
long vmmu_check_extension(struct vmmu_vm *vm, unsigned long cap)
{
	switch (cap) {
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
	case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
	case KVM_CAP_CHECK_EXTENSION_VM:
	case KVM_CAP_READONLY_MEM:
		return 1;
	case KVM_CAP_NR_MEMSLOTS:
		return VMMU_NR_MEMSLOTS;
	case KVM_CAP_SYNC_MMU:
	case KVM_CAP_PRE_FAULT_MEMORY:
		return 1;
	case KVM_CAP_EXT_CPUID:
		/* KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2, KVM_GET_CPUID2. */
		return 1;
	case KVM_CAP_ENABLE_CAP:
	case KVM_CAP_ENABLE_CAP_VM:
		/*
		 * The ioctl exists on vCPU and VM fds with KVM's semantics;
		 * which capabilities it enables, each answers for itself
		 * (dev/caps.c).
		 */
		return 1;
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
		/* The KVM_DIRTY_LOG_* flags KVM_ENABLE_CAP accepts. */
		return VMMU_DIRTY_LOG_MANUAL_CAPS;
	case KVM_CAP_DIRTY_LOG_RING:
	case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
		/* The largest ring, in bytes. */
		return VMMU_DIRTY_RING_MAX_BYTES;
	case KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP:
		return 1;
	case KVM_CAP_MMU_SHADOW_CACHE_CONTROL:
		/* KVM_SET_NR_MMU_PAGES and KVM_GET_NR_MMU_PAGES. */
		return 1;
	case KVM_CAP_NR_VCPUS:
		return min_t(int, num_online_cpus(), VMMU_MAX_VCPUS);
	case KVM_CAP_MAX_VCPUS:
		return VMMU_MAX_VCPUS;
	case KVM_CAP_MAX_VCPU_ID:
		return VMMU_MAX_VCPU_IDS;
	case KVM_CAP_IMMEDIATE_EXIT:
		/* KVM_RUN exists only for hardware vCPUs. */
		return vmmu_backend_available();
	case KVM_CAP_SET_TSS_ADDR:
		/* Accepted and not needed: see vmmu_vm_set_tss_addr(). */
	case KVM_CAP_MP_STATE:
		/* KVM's semantics without an in-kernel local APIC (dev/vcpu.c). */
		return vmmu_backend_available();
	case KVM_CAP_VCPU_ATTRIBUTES:
	case KVM_CAP_SET_BOOT_CPU_ID:
	case KVM_CAP_MSR_PLATFORM_INFO:
	case KVM_CAP_GET_MSR_FEATURES:
	case KVM_CAP_VCPU_EVENTS:
		return vmmu_backend_available();
	case KVM_CAP_USER_NMI:
		/* KVM_NMI (x86/vcpu.c), NMI state in KVM_GET/SET_VCPU_EVENTS. */
		return vmmu_backend_available();
	case KVM_CAP_BINARY_STATS_FD:
		/* KVM_GET_STATS_FD on VM and vCPU fds (dev/stats.c). */
		return 1;
	case KVM_CAP_INTERNAL_ERROR_DATA:
		/*
		 * Every KVM_EXIT_INTERNAL_ERROR fills internal.ndata and
		 * data[] (emul/exit.c).  QEMU 10 requires it.
		 */
		return vmmu_backend_available();
	case KVM_CAP_SYNC_REGS:
		return vmmu_backend_available() ? VMMU_X86_SYNC_REGS : 0;
	case KVM_CAP_X86_USER_SPACE_MSR:
	case KVM_CAP_X86_MSR_FILTER:
		/* MSR exits to userspace, KVM_X86_SET_MSR_FILTER (x86/). */
		return vmmu_backend_available();
	case KVM_CAP_MCE:
		/* The most banks KVM_X86_SETUP_MCE gives; KVM's 32. */
		return vmmu_backend_available() ? VMMU_X86_MCE_BANKS : 0;
	case KVM_CAP_IRQ_ROUTING:
		/*
		 * KVM's answer, its route limit, although without an in-kernel
		 * interrupt controller KVM_SET_GSI_ROUTING fails with EINVAL
		 * there as here.  QEMU requires it even with
		 * kernel-irqchip=off.
		 */
		return VMMU_MAX_IRQ_ROUTES;
	default:
		return 0;
	}
}

static long vmmu_dev_ioctl(struct file *filp, unsigned int ioctl,
			   unsigned long arg)
{
	switch (ioctl) {
	case KVM_GET_API_VERSION:
		if (arg)
			return -EINVAL;
		return KVM_API_VERSION;
	case KVM_CHECK_EXTENSION:
		return vmmu_check_extension(NULL, arg);
	case KVM_CREATE_VM:
		return vmmu_dev_create_vm(arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		if (arg)
			return -EINVAL;
		return VMMU_VCPU_MMAP_PAGES * PAGE_SIZE;
	case KVM_GET_MSR_INDEX_LIST:
		return vmmu_backend_available() ?
		       vmmu_x86_msr_index_list((void __user *)arg) : -EINVAL;
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		return vmmu_backend_available() ?
		       vmmu_x86_msr_feature_index_list((void __user *)arg) :
		       -EINVAL;
	case KVM_GET_MSRS:
		/* On the system fd: the feature MSRs. */
		return vmmu_backend_available() ?
		       vmmu_x86_msr_features_ioctl((void __user *)arg) : -EINVAL;
	case KVM_X86_GET_MCE_CAP_SUPPORTED: {
		u64 cap = vmmu_x86_mce_cap_supported();

		if (!vmmu_backend_available())
			return -EINVAL;
		return copy_to_user((void __user *)arg, &cap, sizeof(cap)) ?
		       -EFAULT : 0;
	}
	case KVM_GET_SUPPORTED_CPUID:
		return vmmu_cpuid_to_user(vmmu_supported_cpuid(),
					  (struct kvm_cpuid2 __user *)arg);
	default:
		/* KVM answers unknown system ioctls with -EINVAL. */
		return -EINVAL;
	}
}

static const struct file_operations vmmu_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = vmmu_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice vmmu_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmmu",
	.fops = &vmmu_dev_fops,
};

static int __init vmmu_init(void)
{
	struct vmmu_spte_format fmt;
	int r;

	r = vmmu_tdp_mmu_module_init();
	if (r)
		return r;
	vmmu_x86_state_init();
	vmmu_stats_init();
	vmmu_backend_init();
	/*
	 * What a VM of the default configuration may map (its gpa_bits)
	 * bounds the physical-address width of the supported CPUID.
	 */
	vmmu_vm_default_format(&fmt);
	r = vmmu_cpuid_init(fmt.gpa_bits);
	if (r)
		goto err_backend;
	r = misc_register(&vmmu_dev);
	if (r) {
		pr_err("vmmu: cannot register /dev/vmmu: %d\n", r);
		vmmu_cpuid_exit();
		goto err_backend;
	}
	return 0;

err_backend:
	vmmu_backend_exit();
	vmmu_stats_exit();
	vmmu_tdp_mmu_module_exit();
	return r;
}

static void __exit vmmu_exit(void)
{
	misc_deregister(&vmmu_dev);
	/*
	 * Every fd holds a module reference, so no VM is left; wait for
	 * frees that were deferred to RCU callbacks before the code goes.
	 */
	rcu_barrier();
	vmmu_backend_exit();
	vmmu_stats_exit();
	vmmu_cpuid_exit();
	vmmu_tdp_mmu_module_exit();
}

module_init(vmmu_init);
module_exit(vmmu_exit);

MODULE_DESCRIPTION("vmmu: a KVM-compatible x86 virtualization MMU");
MODULE_LICENSE("GPL");
