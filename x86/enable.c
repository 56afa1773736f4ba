// SPDX-License-Identifier: GPL-2.0
/*
 * Turning a vendor's virtualization on and off on every CPU, whatever the
 * vendor: a CPU hotplug state whose callbacks enable it on each online
 * CPU (and on every CPU that comes online later) and disable it when a CPU
 * goes away, and the kernel's emergency callback, which turns it off on a
 * crash or an emergency reboot.  The vendor gives the three callbacks
 * (svm/enable.c: EFER.SVME and the host save area; vmx/enable.c: VMXON
 * and VMXOFF).
 *
 * The emergency callback has one slot, which KVM uses too: it is taken
 * only once every CPU has virtualization on, and given back first.
 */
#include <linux/cpuhotplug.h>
#include <asm/reboot.h>

#include <vmmu/x86.h>

/**
 * vmmu_x86_hw_enable() - enable @hw on every CPU, now and hotplugged
 * @hw: the vendor's callbacks; @hw->cpuhp_state is set
 *
 * Called by the vendor's hardware_enable, under dev/'s lock.  If a CPU
 * fails (its callback returns an error: another hypervisor owns it, or
 * memory), the CPUs that succeeded are turned off again.
 *
 * Return: 0, or the first CPU's error (-EBUSY, -ENOMEM ...).
 */
int vmmu_x86_hw_enable(struct vmmu_x86_hw *hw)
{
	int r;

	r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, hw->cpuhp_name,
			      hw->cpu_online, hw->cpu_offline);
	if (r < 0)
		return r;
	WRITE_ONCE(hw->cpuhp_state, r);
	/* Only now is the single slot ours to take. */
	cpu_emergency_register_virt_callback(hw->emergency_disable);
	return 0;
}

/**
 * vmmu_x86_hw_disable() - turn @hw off on every CPU
 * @hw: what vmmu_x86_hw_enable() enabled
 *
 * Called by the vendor's hardware_disable, under dev/'s lock, when no vCPU
 * of the vendor is left.
 */
void vmmu_x86_hw_disable(struct vmmu_x86_hw *hw)
{
	cpu_emergency_unregister_virt_callback(hw->emergency_disable);
	cpuhp_remove_state(hw->cpuhp_state);
	WRITE_ONCE(hw->cpuhp_state, 0);
}
