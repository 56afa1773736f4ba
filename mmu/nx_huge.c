// SPDX-License-Identifier: GPL-2.0
/*
 * The iTLB-multihit workaround (CVE-2018-12207): non-executable huge
 * leaves.
 *
 * On affected Intel CPUs, a guest that executes from a page whose size
 * changes under it (a huge leaf split into small ones while its
 * translation is in the instruction TLB) can make the CPU raise a machine
 * check, taking the host down.  As KVM's nx_huge_pages does: while the
 * workaround is on, huge leaves are mapped non-executable; an instruction
 * fetch from one faults, and the fault maps the page with a 4 KiB
 * executable leaf, splitting the huge leaf (its other pages stay mapped,
 * still non-executable).  The tables that exist only because of that are
 * listed per VM, and a worker zaps a share of them now and then, so that
 * memory the guest no longer executes from is mapped huge again at its next
 * fault.
 *
 * The setting is taken when a VM is created and holds for its life (KVM
 * applies a change to running VMs too, zapping everything): write the
 * parameter, then create the VM.
 */
#include <linux/cpu.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <asm/cpufeature.h>

#include <vmmu/nx_huge.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vm.h>

enum { NX_HUGE_OFF, NX_HUGE_ON, NX_HUGE_AUTO };

static int nx_huge_mode = NX_HUGE_AUTO;

/* Is the workaround on for VMs created now? */
bool vmmu_nx_huge_pages_enabled(void)
{
	switch (READ_ONCE(nx_huge_mode)) {
	case NX_HUGE_ON:
		return true;
	case NX_HUGE_AUTO:
		return boot_cpu_has_bug(X86_BUG_ITLB_MULTIHIT) &&
		       !cpu_mitigations_off();
	default:
		return false;
	}
}

/* "off", "on" or "force", "auto", or any boolean (KVM's values). */
static int nx_huge_param_set(const char *val, const struct kernel_param *kp)
{
	bool on;

	int mode;

	if (sysfs_streq(val, "off"))
		mode = NX_HUGE_OFF;
	else if (sysfs_streq(val, "force") || sysfs_streq(val, "on"))
		mode = NX_HUGE_ON;
	else if (sysfs_streq(val, "auto"))
		mode = NX_HUGE_AUTO;
	else if (!kstrtobool(val, &on))
		mode = on ? NX_HUGE_ON : NX_HUGE_OFF;
	else
		return -EINVAL;
	WRITE_ONCE(nx_huge_mode, mode);
	return 0;
}

/* Reads as Y or N: whether VMs created now get the workaround. */
static int nx_huge_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n", vmmu_nx_huge_pages_enabled() ? 'Y' : 'N');
}

static const struct kernel_param_ops nx_huge_param_ops = {
	.set = nx_huge_param_set,
	.get = nx_huge_param_get,
};

module_param_cb(nx_huge_pages, &nx_huge_param_ops, NULL, 0644);
MODULE_PARM_DESC(nx_huge_pages,
		 "non-executable huge mappings against iTLB multihit: off, on (force), auto (default: on where the CPU is affected)");

static uint nx_huge_pages_recovery_ratio = 60;
module_param(nx_huge_pages_recovery_ratio, uint, 0644);
MODULE_PARM_DESC(nx_huge_pages_recovery_ratio,
		 "zap 1/N of the tables split for instruction fetches every period (0: never)");

static uint nx_huge_pages_recovery_period_ms;
module_param(nx_huge_pages_recovery_period_ms, uint, 0644);
MODULE_PARM_DESC(nx_huge_pages_recovery_period_ms,
		 "period of that recovery in ms (0: one hour divided by the ratio, or a minute)");

static unsigned long vmmu_nx_recovery_period(void)
{
	uint ratio = READ_ONCE(nx_huge_pages_recovery_ratio);
	uint ms = READ_ONCE(nx_huge_pages_recovery_period_ms);

	if (!ms)
		ms = ratio ? 60 * 60 * 1000 / ratio : 60 * 1000;
	return msecs_to_jiffies(ms);
}

static void vmmu_nx_recovery_work(struct work_struct *work)
{
	struct vmmu_vm *vm = container_of(to_delayed_work(work), struct vmmu_vm,
					  nx_recovery_work);
	uint ratio = READ_ONCE(nx_huge_pages_recovery_ratio);

	if (ratio)
		vmmu_tdp_mmu_recover_nx(vm, ratio);
	queue_delayed_work(system_unbound_wq, &vm->nx_recovery_work,
			   vmmu_nx_recovery_period());
}

/**
 * vmmu_nx_huge_vm_init() - take the setting for a new VM
 * @vm: the VM, not yet visible to userspace
 *
 * With the workaround on, starts the VM's recovery worker.
 */
void vmmu_nx_huge_vm_init(struct vmmu_vm *vm)
{
	INIT_DELAYED_WORK(&vm->nx_recovery_work, vmmu_nx_recovery_work);
	vm->nx_huge_pages = vmmu_nx_huge_pages_enabled();
	if (vm->nx_huge_pages)
		queue_delayed_work(system_unbound_wq, &vm->nx_recovery_work,
				   vmmu_nx_recovery_period());
}

/**
 * vmmu_nx_huge_vm_destroy() - stop the VM's recovery worker
 * @vm: the VM being destroyed, before its roots go
 */
void vmmu_nx_huge_vm_destroy(struct vmmu_vm *vm)
{
	cancel_delayed_work_sync(&vm->nx_recovery_work);
}
