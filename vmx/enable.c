// SPDX-License-Identifier: GPL-2.0
/*
 * VMX on and off: the backend's probe (capabilities from the VMX MSRs),
 * VMXON and VMXOFF per CPU, CPU hotplug, the emergency callback, VPIDs and
 * <debugfs>/vmmu/vmx.
 *
 * VMX is on (CR4.VMXE set, VMXON done with a per-CPU VMXON region) on every
 * online CPU exactly while at least one VM with VMX vCPUs exists: dev/ calls
 * vmmu_vmx_hardware_enable() for the first such VM and
 * vmmu_vmx_hardware_disable() when the last one is destroyed, and a CPU
 * hotplug state turns VMX on and off as CPUs come and go in between.  A CPU
 * whose CR4.VMXE is already set belongs to another hypervisor (kvm_intel),
 * and one whose IA32_FEATURE_CONTROL forbids VMXON was locked so by the
 * firmware: vmmu then refuses with -EBUSY and leaves every CPU as it found
 * it.  Before VMXOFF, every VMCS still active on the CPU is cleared.
 *
 * The emergency callback (one slot, shared with KVM) is registered only
 * while vmmu owns VMX: on a crash or an emergency reboot it clears the
 * active VMCSs and leaves VMX, so that INIT is not blocked.  kvm_intel of
 * Debian's 6.1 holds that slot for as long as it is loaded, so VMX is
 * refused with -EBUSY while kvm_intel is loaded at all.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/idr.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <asm/cpufeature.h>
#include <asm/fpu/xcr.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/reboot.h>
#include <asm/tlbflush.h>

#include <vmmu/backend.h>
#include <vmmu/spte.h>
#include <vmmu/stats.h>
#include <vmmu/x86.h>
#include <linux/vmmu.h>

#include "vmx.h"

/* IA32_VMX_BASIC */
#define VMX_BASIC_REVISION_MASK		GENMASK_ULL(30, 0)
#define VMX_BASIC_SIZE_SHIFT		32
#define VMX_BASIC_SIZE_MASK		GENMASK_ULL(44, 32)
#define VMX_BASIC_MEMTYPE_SHIFT		50
#define VMX_BASIC_MEMTYPE_WB		6ULL
#define VMX_BASIC_HAS_TRUE_CTLS		BIT_ULL(55)
/* IA32_VMX_MISC: the preemption timer counts every 2^n TSC ticks. */
#define VMX_MISC_TIMER_RATE_MASK	GENMASK_ULL(4, 0)

DEFINE_PER_CPU(struct vmmu_vmx_cpu, vmmu_vmx_cpu);

struct vmmu_vmx_caps vmmu_vmx_caps;
bool vmmu_vmx_rebooting;

static struct dentry *vmmu_vmx_debugfs;
/* VPIDs 1..VMMU_VMX_MAX_VPID; 0 is the host's. */
#define VMMU_VMX_MAX_VPID	0xffff
static DEFINE_IDA(vmmu_vmx_vpids);

static void vmmu_cr4_set_vmxe(void)
{
	unsigned long flags;

	local_irq_save(flags);
	cr4_set_bits_irqsoff(X86_CR4_VMXE);
	local_irq_restore(flags);
}

static void vmmu_cr4_clear_vmxe(void)
{
	unsigned long flags;

	local_irq_save(flags);
	cr4_clear_bits_irqsoff(X86_CR4_VMXE);
	local_irq_restore(flags);
}

/*
 * A VMX instruction with a memory operand (a physical address): 0, or -EIO
 * if it failed (VMfail) or faulted (VMX is off after the emergency
 * callback); a fault resumes after the instruction with @fail still 1.
 */
#define VMX_PA_INSN(insn, pa)						\
({									\
	u8 __fail;							\
	asm volatile("1: " insn " %[addr]\n\t"				\
		     "setna %[fail]\n\t"					\
		     "2:\n\t"						\
		     _ASM_EXTABLE(1b, 2b)					\
		     : [fail] "=q" (__fail)					\
		     : [addr] "m" (pa), "0" ((u8)1)				\
		     : "cc", "memory");					\
	__fail ? -EIO : 0;						\
})

/* VMXON; 0, or -EIO if it failed or faulted. */
static int vmmu_vmxon(unsigned long pa)
{
	return VMX_PA_INSN("vmxon", pa);
}

/* VMXOFF; a fault is ignored (the emergency callback may have run). */
static void vmmu_vmxoff(void)
{
	asm volatile("1: vmxoff\n\t"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : : : "cc", "memory");
}

/**
 * vmmu_vmclear() - VMCLEAR: write a VMCS back and make it inactive
 * @pa: its physical address
 *
 * Return: 0, or -EIO if the instruction failed or faulted.
 */
int vmmu_vmclear(unsigned long pa)
{
	return VMX_PA_INSN("vmclear", pa);
}

/**
 * vmmu_vmptrld() - VMPTRLD: make a VMCS the current one of this CPU
 * @pa: its physical address
 *
 * Return: 0, or -EIO if the instruction failed or faulted.
 */
int vmmu_vmptrld(unsigned long pa)
{
	return VMX_PA_INSN("vmptrld", pa);
}

/* Why this CPU's VMX cannot be turned on by vmmu, or NULL. */
static const char *vmmu_vmx_cpu_busy(void)
{
	u64 fc;

	if (cr4_read_shadow() & X86_CR4_VMXE)
		return "CR4.VMXE is already set: another hypervisor (kvm_intel?) owns VMX";
	if (rdmsrl_safe(MSR_IA32_FEAT_CTL, &fc) ||
	    !(fc & FEAT_CTL_LOCKED) ||
	    !(fc & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX))
		return "IA32_FEATURE_CONTROL does not allow VMXON (firmware)";
	return NULL;
}

static void vmmu_vmx_cpu_free(struct vmmu_vmx_cpu *vc)
{
	if (vc->vmxon)
		__free_page(vc->vmxon);
	vc->vmxon = NULL;
}

/* Hotplug startup: runs on @cpu, for every online CPU and new ones. */
static int vmmu_vmx_cpu_online(unsigned int cpu)
{
	struct vmmu_vmx_cpu *vc = per_cpu_ptr(&vmmu_vmx_cpu, cpu);
	const char *busy;
	int r;

	busy = vmmu_vmx_cpu_busy();
	if (busy) {
		pr_info("vmmu: CPU %u: %s; VMX vCPUs are refused\n", cpu, busy);
		return -EBUSY;
	}
	vc->vmxon = alloc_pages_node(cpu_to_node(cpu), GFP_KERNEL | __GFP_ZERO, 0);
	if (!vc->vmxon)
		return -ENOMEM;
	*(u32 *)page_address(vc->vmxon) = vmmu_vmx_caps.revision;
	INIT_LIST_HEAD(&vc->loaded);
	vc->current_vmcs = NULL;
	vmmu_cr4_set_vmxe();
	r = vmmu_vmxon(page_to_phys(vc->vmxon));
	if (r) {
		vmmu_cr4_clear_vmxe();
		vmmu_vmx_cpu_free(vc);
		pr_info("vmmu: CPU %u: VMXON failed; VMX vCPUs are refused\n", cpu);
		return -EBUSY;
	}
	/*
	 * Whoever used VMX here before may have left EPT- and VPID-tagged
	 * translations: drop them all.
	 */
	if (vmmu_vmx_caps.ept_vpid & VMX_EPT_EXTENT_GLOBAL_BIT) {
		struct { u64 eptp, gpa; } desc = {};

		asm volatile("invept %0, %1" : : "m" (desc),
			     "r" ((unsigned long)VMX_EPT_EXTENT_GLOBAL)
			     : "cc", "memory");
	}
	vc->enabled = true;
	return 0;
}

/* Hotplug teardown: runs on @cpu; no vCPU runs there any more. */
static int vmmu_vmx_cpu_offline(unsigned int cpu)
{
	struct vmmu_vmx_cpu *vc = per_cpu_ptr(&vmmu_vmx_cpu, cpu);

	if (!vc->enabled)
		return 0;
	vmmu_vmx_clear_cpu();
	vmmu_vmxoff();
	vmmu_cr4_clear_vmxe();
	vc->enabled = false;
	vmmu_vmx_cpu_free(vc);
	return 0;
}

/*
 * Crash or emergency reboot, on every CPU, possibly in NMI context: write
 * the active VMCSs back and leave VMX, so that INIT works.  A VMX
 * instruction that faults afterwards is then expected (see vmenter.S).
 */
static void vmmu_vmx_emergency_disable(void)
{
	struct vmmu_vmx_cpu *vc = this_cpu_ptr(&vmmu_vmx_cpu);
	struct vmmu_vmx_vcpu *vmx;

	WRITE_ONCE(vmmu_vmx_rebooting, true);
	if (!(__read_cr4() & X86_CR4_VMXE))
		return;
	if (vc->enabled)
		list_for_each_entry(vmx, &vc->loaded, loaded_link)
			vmmu_vmclear(vmx->vmcs_pa);
	vmmu_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

static struct vmmu_x86_hw vmmu_vmx_hw = {
	.cpuhp_name = "vmmu/vmx:online",
	.cpu_online = vmmu_vmx_cpu_online,
	.cpu_offline = vmmu_vmx_cpu_offline,
	.emergency_disable = vmmu_vmx_emergency_disable,
};

/*
 * kvm_intel of some kernels (Debian's 6.1) takes the emergency callback's
 * single slot when it loads, not when it turns VMX on: while it is loaded,
 * VMX is not vmmu's to take even where no CPU has CR4.VMXE set.  A loaded
 * module has a kobject in the same kset as vmmu's own (/sys/module).
 */
static bool vmmu_vmx_kvm_loaded(void)
{
	struct kobject *kobj;

	kobj = kset_find_obj(THIS_MODULE->mkobj.kobj.kset, "kvm_intel");
	if (!kobj)
		return false;
	kobject_put(kobj);
	return true;
}

/**
 * vmmu_vmx_hardware_enable() - VMXON on every CPU, now and hotplugged
 *
 * Called by dev/ for the first VM with VMX vCPUs, under its lock.  If a CPU
 * cannot enter VMX operation, every CPU is left as it was.
 *
 * Return: 0, -EBUSY (another hypervisor or the firmware owns VMX) or
 * -ENOMEM.
 */
int vmmu_vmx_hardware_enable(void)
{
	if (vmmu_vmx_kvm_loaded()) {
		pr_info("vmmu: kvm_intel is loaded: another hypervisor holds VMX's emergency callback; VMX vCPUs are refused\n");
		return -EBUSY;
	}
	return vmmu_x86_hw_enable(&vmmu_vmx_hw);
}

/**
 * vmmu_vmx_hardware_disable() - VMXOFF on every CPU
 *
 * Called by dev/ when the last VM with VMX vCPUs is destroyed, under its
 * lock; no vCPU exists any more, so no VMCS is active.
 */
void vmmu_vmx_hardware_disable(void)
{
	vmmu_x86_hw_disable(&vmmu_vmx_hw);
}

/**
 * vmmu_vmx_vpid_alloc() - a VPID for a new vCPU
 *
 * Return: the VPID, or 0 (share the host's tag, flushed at every entry)
 * when VPIDs are not in use or all are taken.
 */
int vmmu_vmx_vpid_alloc(void)
{
	int vpid;

	if (!vmmu_vmx_caps.vpid)
		return 0;
	vpid = ida_alloc_range(&vmmu_vmx_vpids, 1, VMMU_VMX_MAX_VPID,
			       GFP_KERNEL_ACCOUNT);
	return vpid < 0 ? 0 : vpid;
}

/**
 * vmmu_vmx_vpid_free() - give a VPID back
 * @vpid: from vmmu_vmx_vpid_alloc(); 0 is ignored
 */
void vmmu_vmx_vpid_free(int vpid)
{
	if (vpid)
		ida_free(&vmmu_vmx_vpids, vpid);
}

static void vmmu_vmx_read_cr4(void *data)
{
	*(unsigned long *)data = __read_cr4();
}

/*
 * <debugfs>/vmmu/vmx: whether vmmu has VMX on, the EPT features in use, and
 * CR4.VMXE of every online CPU with whether vmmu set it.
 */
static int vmmu_vmx_state_show(struct seq_file *m, void *unused)
{
	unsigned int cpu;

	cpus_read_lock();
	seq_printf(m, "enabled %d\n", READ_ONCE(vmmu_vmx_hw.cpuhp_state) > 0);
	seq_printf(m, "ept_ad %d\nept_5level %d\nvpid %d\n",
		   vmmu_vmx_caps.ept_ad, vmmu_vmx_caps.ept_5level,
		   vmmu_vmx_caps.vpid);
	for_each_online_cpu(cpu) {
		unsigned long cr4 = 0;
		int vmxe = -1;

		if (!smp_call_function_single(cpu, vmmu_vmx_read_cr4, &cr4, 1))
			vmxe = !!(cr4 & X86_CR4_VMXE);
		seq_printf(m, "cpu%u vmxe %d vmmu %d\n", cpu, vmxe,
			   READ_ONCE(per_cpu(vmmu_vmx_cpu, cpu).enabled));
	}
	cpus_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_vmx_state);

/*
 * A control word from a capability MSR: allowed-0 settings in the low half
 * (bits that must be 1), allowed-1 settings in the high half.  Returns
 * false if a bit of @need cannot be 1.
 */
static bool vmx_ctl(u32 msr, u32 need, u32 want, u32 *ctl)
{
	u64 cap;

	if (rdmsrl_safe(msr, &cap))
		return false;
	if (need & ~(u32)(cap >> 32))
		return false;
	*ctl = ((need | want) & (u32)(cap >> 32)) | (u32)cap;
	return true;
}

#define VMX_PIN_NEED	(PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | \
			 PIN_BASED_VIRTUAL_NMIS | \
			 PIN_BASED_VMX_PREEMPTION_TIMER)
/*
 * CR8 load and store exiting: without a TPR shadow, a guest's MOV to or from
 * CR8 would reach the host's own local APIC TPR.  Interrupt-window and
 * NMI-window exiting are checked here and turned on per entry when needed
 * (NMI windows need virtual NMIs, a pin-based control).  TSC offsetting: the
 * guest's TSC is its own (x86/msr.c).
 */
#define VMX_PROC_NEED	(CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING | \
			 CPU_BASED_ACTIVATE_SECONDARY_CONTROLS | \
			 CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING | \
			 CPU_BASED_RDPMC_EXITING | CPU_BASED_CR8_LOAD_EXITING | \
			 CPU_BASED_CR8_STORE_EXITING | \
			 CPU_BASED_INTR_WINDOW_EXITING | \
			 CPU_BASED_NMI_WINDOW_EXITING | \
			 CPU_BASED_USE_TSC_OFFSETTING)
#define VMX_PROC2_NEED	(SECONDARY_EXEC_ENABLE_EPT | \
			 SECONDARY_EXEC_UNRESTRICTED_GUEST)
#define VMX_EXIT_NEED	(VM_EXIT_HOST_ADDR_SPACE_SIZE | \
			 VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_IA32_EFER | \
			 VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_IA32_PAT)
#define VMX_ENTRY_NEED	(VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT)

/* Fill vmmu_vmx_caps; returns why VMX cannot be used, or NULL. */
static const char *vmmu_vmx_read_caps(void)
{
	struct vmmu_vmx_caps *c = &vmmu_vmx_caps;
	u32 pin_msr = MSR_IA32_VMX_PINBASED_CTLS;
	u32 proc_msr = MSR_IA32_VMX_PROCBASED_CTLS;
	u32 exit_msr = MSR_IA32_VMX_EXIT_CTLS;
	u32 entry_msr = MSR_IA32_VMX_ENTRY_CTLS;
	u64 basic, misc;

	if (rdmsrl_safe(MSR_IA32_VMX_BASIC, &basic))
		return "IA32_VMX_BASIC cannot be read";
	if (((basic & VMX_BASIC_SIZE_MASK) >> VMX_BASIC_SIZE_SHIFT) > PAGE_SIZE ||
	    ((basic >> VMX_BASIC_MEMTYPE_SHIFT) & 0xf) != VMX_BASIC_MEMTYPE_WB)
		return "unsupported VMCS size or memory type";
	c->revision = basic & VMX_BASIC_REVISION_MASK;
	if (basic & VMX_BASIC_HAS_TRUE_CTLS) {
		pin_msr = MSR_IA32_VMX_TRUE_PINBASED_CTLS;
		proc_msr = MSR_IA32_VMX_TRUE_PROCBASED_CTLS;
		exit_msr = MSR_IA32_VMX_TRUE_EXIT_CTLS;
		entry_msr = MSR_IA32_VMX_TRUE_ENTRY_CTLS;
	}
	if (!vmx_ctl(pin_msr, VMX_PIN_NEED, 0, &c->pin))
		return "no NMI, virtual-NMI, interrupt or preemption-timer exiting";
	if (!vmx_ctl(proc_msr, VMX_PROC_NEED, 0, &c->proc))
		return "missing processor-based controls (CR8, IRQ/NMI windows, TSC offset)";
	/* CR3 accesses and INVLPG are the guest's: EPT is on. */
	c->proc &= ~(CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING |
		     CPU_BASED_INVLPG_EXITING | CPU_BASED_INTR_WINDOW_EXITING |
		     CPU_BASED_NMI_WINDOW_EXITING);
	if (!vmx_ctl(MSR_IA32_VMX_PROCBASED_CTLS2, VMX_PROC2_NEED,
		     SECONDARY_EXEC_ENABLE_VPID, &c->proc2))
		return "no EPT or unrestricted guest";
	/* The guest's DR7 and DEBUGCTL through the VMCS where the CPU can. */
	if (!vmx_ctl(exit_msr, VMX_EXIT_NEED, VM_EXIT_SAVE_DEBUG_CONTROLS,
		     &c->exit))
		return "missing VM-exit controls";
	/* Interrupts stay pending until the host enables them. */
	c->exit &= ~VM_EXIT_ACK_INTR_ON_EXIT;
	if (!vmx_ctl(entry_msr, VMX_ENTRY_NEED, VM_ENTRY_LOAD_DEBUG_CONTROLS,
		     &c->entry))
		return "missing VM-entry controls";
	c->entry &= ~VM_ENTRY_IA32E_MODE;
	if (rdmsrl_safe(MSR_IA32_VMX_EPT_VPID_CAP, &c->ept_vpid))
		return "IA32_VMX_EPT_VPID_CAP cannot be read";
	if (!(c->ept_vpid & VMX_EPT_PAGE_WALK_4_BIT) ||
	    !(c->ept_vpid & VMX_EPTP_WB_BIT))
		return "no 4-level write-back EPT";
	if (!(c->ept_vpid & VMX_EPT_INVEPT_BIT) ||
	    !(c->ept_vpid & (VMX_EPT_EXTENT_CONTEXT_BIT |
			     VMX_EPT_EXTENT_GLOBAL_BIT)))
		return "no INVEPT";
	c->ept_5level = c->ept_vpid & VMX_EPT_PAGE_WALK_5_BIT;
	c->ept_ad = c->ept_vpid & VMX_EPT_AD_BIT;
	c->vpid = (c->proc2 & SECONDARY_EXEC_ENABLE_VPID) &&
		  (c->ept_vpid & VMX_VPID_INVVPID_BIT << 32) &&
		  (c->ept_vpid & (VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT |
				  VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT) << 32);
	if (!c->vpid)
		c->proc2 &= ~SECONDARY_EXEC_ENABLE_VPID;
	rdmsrl(MSR_IA32_VMX_MISC, misc);
	c->timer_rate = misc & VMX_MISC_TIMER_RATE_MASK;
	rdmsrl(MSR_IA32_VMX_CR0_FIXED0, c->cr0_fixed0);
	rdmsrl(MSR_IA32_VMX_CR0_FIXED1, c->cr0_fixed1);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED0, c->cr4_fixed0);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED1, c->cr4_fixed1);
	return NULL;
}

/* Why VMX cannot be used here, or NULL if it can. */
static const char *vmmu_vmx_unusable(void)
{
	if (!IS_ENABLED(CONFIG_X86_64) || !boot_cpu_has(X86_FEATURE_VMX))
		return "the CPU has no VMX, or the firmware disabled it";
	if (!tsc_khz)
		return "the TSC frequency is unknown (preemption timer)";
	return vmmu_vmx_read_caps();
}

/**
 * vmmu_vmx_probe() - can vmmu run VMX vCPUs on this machine?
 *
 * Called once at module init.  VMX itself is turned on only when a VM asks
 * for VMX vCPUs.
 *
 * Return: the VMX backend, or NULL (the reason is logged).
 */
const struct vmmu_backend_ops *vmmu_vmx_probe(void)
{
	const struct vmmu_vmx_caps *c = &vmmu_vmx_caps;
	const char *why;

	/* Silent on CPUs of the other vendor: SVM's probe speaks there. */
	if (!boot_cpu_has(X86_FEATURE_VMX))
		return NULL;
	why = vmmu_vmx_unusable();
	if (why) {
		pr_info("vmmu: no VMX backend: %s\n", why);
		return NULL;
	}
	vmmu_vmx_ops.max_root_level = c->ept_5level ? 5 : 4;
	vmmu_vmx_ops.max_leaf_level =
		c->ept_vpid & VMX_EPT_1GB_PAGE_BIT ? VMMU_PG_LEVEL_1G :
		c->ept_vpid & VMX_EPT_2MB_PAGE_BIT ? VMMU_PG_LEVEL_2M :
		VMMU_PG_LEVEL_4K;
	vmmu_vmx_debugfs = debugfs_create_file("vmx", 0444, vmmu_debugfs_root(),
					       NULL, &vmmu_vmx_state_fops);
	pr_info("vmmu: VMX backend with EPT%s%s%s%s%s\n",
		c->ept_5level ? ", 5-level" : "",
		c->ept_vpid & VMX_EPT_2MB_PAGE_BIT ? ", 2M" : "",
		c->ept_vpid & VMX_EPT_1GB_PAGE_BIT ? ", 1G" : "",
		c->ept_ad ? ", A/D" : "", c->vpid ? ", VPID" : "");
	return &vmmu_vmx_ops;
}

/**
 * vmmu_vmx_exit() - undo vmmu_vmx_probe()
 *
 * Called at module exit, when no VM is left, so VMX is off everywhere.
 */
void vmmu_vmx_exit(void)
{
	debugfs_remove(vmmu_vmx_debugfs);
	vmmu_vmx_debugfs = NULL;
	ida_destroy(&vmmu_vmx_vpids);
}
