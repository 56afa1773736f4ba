// SPDX-License-Identifier: GPL-2.0
/*
 * SVM on and off: the backend's probe, per-CPU enable and disable, CPU
 * hotplug, the emergency callback and <debugfs>/vmmu/svm.
 *
 * SVM is on (EFER.SVME set, a host save area in MSR_VM_HSAVE_PA) on every
 * online CPU exactly while at least one VM with SVM vCPUs exists: dev/ calls
 * vmmu_svm_hardware_enable() for the first such VM and
 * vmmu_svm_hardware_disable() when the last one is destroyed, and a CPU
 * hotplug state turns SVM on and off as CPUs come and go in between.  A CPU
 * whose EFER.SVME is already set belongs to another hypervisor (kvm_amd):
 * vmmu then refuses with -EBUSY and leaves every CPU as it found it.
 *
 * The emergency callback (one slot, shared with KVM) is registered only
 * while vmmu owns SVM: on a crash or an emergency reboot it sets GIF and
 * clears EFER.SVME, so that INIT is not blocked.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <asm/cpufeature.h>
#include <asm/fpu/xcr.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/reboot.h>

#include <vmmu/backend.h>
#include <vmmu/spte.h>
#include <vmmu/stats.h>
#include <vmmu/x86.h>
#include <linux/vmmu.h>

#include "svm.h"

/* The I/O permission map covers 64K ports plus one; the MSR map 8 KiB. */
#define VMMU_SVM_IOPM_ORDER	2
#define VMMU_SVM_MSRPM_ORDER	1

DEFINE_PER_CPU(struct vmmu_svm_cpu, vmmu_svm_cpu);

u32 vmmu_svm_max_asid;
unsigned long vmmu_svm_iopm_pa;
unsigned long vmmu_svm_msrpm_pa;
bool vmmu_svm_rebooting;

static struct page *vmmu_svm_iopm;
static struct page *vmmu_svm_msrpm;
static struct dentry *vmmu_svm_debugfs;

static void vmmu_svm_cpu_free(struct vmmu_svm_cpu *sc)
{
	if (sc->hsave)
		__free_page(sc->hsave);
	if (sc->host_save)
		__free_page(sc->host_save);
	sc->hsave = NULL;
	sc->host_save = NULL;
}

static int vmmu_svm_cpu_alloc(struct vmmu_svm_cpu *sc, unsigned int cpu)
{
	int node = cpu_to_node(cpu);

	sc->hsave = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO, 0);
	sc->host_save = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO, 0);
	if (!sc->hsave || !sc->host_save) {
		vmmu_svm_cpu_free(sc);
		return -ENOMEM;
	}
	sc->host_save_pa = page_to_phys(sc->host_save);
	return 0;
}

/* Hotplug startup: runs on @cpu, for every online CPU and new ones. */
static int vmmu_svm_cpu_online(unsigned int cpu)
{
	struct vmmu_svm_cpu *sc = per_cpu_ptr(&vmmu_svm_cpu, cpu);
	u64 efer;
	int r;

	r = vmmu_svm_cpu_alloc(sc, cpu);
	if (r)
		return r;
	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME) {
		pr_info("vmmu: SVM is already enabled on CPU %u: another hypervisor (kvm_amd?) owns it; SVM vCPUs are refused\n",
			cpu);
		vmmu_svm_cpu_free(sc);
		return -EBUSY;
	}
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(sc->hsave));
	wrmsrl(MSR_EFER, efer | EFER_SVME);
	/*
	 * Whoever used SVM here before may have left ASID-tagged entries in
	 * the TLB: the first vCPU to enter flushes every ASID.
	 */
	sc->asid_generation++;
	sc->next_asid = vmmu_svm_max_asid + 1;
	sc->enabled = true;
	return 0;
}

/* Hotplug teardown: runs on @cpu; no vCPU runs there any more. */
static int vmmu_svm_cpu_offline(unsigned int cpu)
{
	struct vmmu_svm_cpu *sc = per_cpu_ptr(&vmmu_svm_cpu, cpu);
	u64 efer;

	if (!sc->enabled)
		return 0;
	rdmsrl(MSR_EFER, efer);
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, 0);
	sc->enabled = false;
	vmmu_svm_cpu_free(sc);
	return 0;
}

/*
 * Crash or emergency reboot, on every CPU, possibly in NMI context: leave
 * SVM with GIF set, so that INIT works.  A VMRUN, VMLOAD or VMSAVE that
 * faults afterwards is then expected (see vmenter.S).
 */
static void vmmu_svm_emergency_disable(void)
{
	u64 efer;

	WRITE_ONCE(vmmu_svm_rebooting, true);
	rdmsrl(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	asm volatile("stgi" ::: "memory");
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
}

static struct vmmu_x86_hw vmmu_svm_hw = {
	.cpuhp_name = "vmmu/svm:online",
	.cpu_online = vmmu_svm_cpu_online,
	.cpu_offline = vmmu_svm_cpu_offline,
	.emergency_disable = vmmu_svm_emergency_disable,
};

/**
 * vmmu_svm_hardware_enable() - enable SVM on every CPU, now and hotplugged
 *
 * Called by dev/ for the first VM with SVM vCPUs, under its lock.  If a CPU
 * already has SVM on, every CPU is left as it was.
 *
 * Return: 0, -EBUSY (another hypervisor owns SVM) or -ENOMEM.
 */
int vmmu_svm_hardware_enable(void)
{
	return vmmu_x86_hw_enable(&vmmu_svm_hw);
}

/**
 * vmmu_svm_hardware_disable() - turn SVM off on every CPU
 *
 * Called by dev/ when the last VM with SVM vCPUs is destroyed, under its
 * lock; no vCPU runs any more.
 */
void vmmu_svm_hardware_disable(void)
{
	vmmu_x86_hw_disable(&vmmu_svm_hw);
}

/* <debugfs>/vmmu/svm: EFER.SVME of every online CPU, as the CPU has it. */
static int vmmu_svm_state_show(struct seq_file *m, void *unused)
{
	unsigned int cpu;

	cpus_read_lock();
	seq_printf(m, "enabled %d\n", READ_ONCE(vmmu_svm_hw.cpuhp_state) > 0);
	for_each_online_cpu(cpu) {
		u64 efer = 0;
		int svme = -1;

		if (!rdmsrl_on_cpu(cpu, MSR_EFER, &efer))
			svme = !!(efer & EFER_SVME);
		seq_printf(m, "cpu%u svme %d vmmu %d\n", cpu, svme,
			   READ_ONCE(per_cpu(vmmu_svm_cpu, cpu).enabled));
	}
	cpus_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_svm_state);

/* Why SVM cannot be used here, or NULL if it can. */
static const char *vmmu_svm_unusable(void)
{
	u64 vm_cr;

	if (!IS_ENABLED(CONFIG_X86_64) || !boot_cpu_has(X86_FEATURE_SVM))
		return "the CPU has no SVM";
	if (!boot_cpu_has(X86_FEATURE_NPT))
		return "the CPU has no nested paging";
	if (rdmsrl_safe(MSR_VM_CR, &vm_cr) ||
	    (vm_cr & SVM_VM_CR_SVM_DIS_MASK))
		return "SVM is disabled by the firmware (VM_CR.SVMDIS)";
	if (cpuid_ebx(SVM_CPUID_FUNC) < 2)
		return "the CPU has no ASID for guests";
	return NULL;
}

/* Permission maps with every bit set: every port and MSR is intercepted. */
static struct page *vmmu_svm_alloc_permission_map(int order)
{
	struct page *page = alloc_pages(GFP_KERNEL, order);

	if (page)
		memset(page_address(page), 0xff, PAGE_SIZE << order);
	return page;
}

/**
 * vmmu_svm_probe() - can vmmu run SVM vCPUs on this machine?
 *
 * Called once at module init.  SVM itself is turned on only when a VM asks
 * for SVM vCPUs.
 *
 * Return: the SVM backend, or NULL (the reason is logged).
 */
const struct vmmu_backend_ops *vmmu_svm_probe(void)
{
	const char *why = vmmu_svm_unusable();

	if (why) {
		pr_info("vmmu: no SVM backend: %s; software vCPUs only\n", why);
		return NULL;
	}
	vmmu_svm_iopm = vmmu_svm_alloc_permission_map(VMMU_SVM_IOPM_ORDER);
	vmmu_svm_msrpm = vmmu_svm_alloc_permission_map(VMMU_SVM_MSRPM_ORDER);
	if (!vmmu_svm_iopm || !vmmu_svm_msrpm) {
		pr_info("vmmu: no SVM backend: out of memory\n");
		vmmu_svm_exit();
		return NULL;
	}
	vmmu_svm_iopm_pa = page_to_phys(vmmu_svm_iopm);
	vmmu_svm_msrpm_pa = page_to_phys(vmmu_svm_msrpm);
	vmmu_svm_max_asid = cpuid_ebx(SVM_CPUID_FUNC) - 1;
	/* Nested tables are long-mode tables: 1 GiB leaves as in the host's. */
	vmmu_svm_ops.max_leaf_level = boot_cpu_has(X86_FEATURE_GBPAGES) ?
				      VMMU_PG_LEVEL_1G : VMMU_PG_LEVEL_2M;
	vmmu_svm_debugfs = debugfs_create_file("svm", 0444, vmmu_debugfs_root(),
					       NULL, &vmmu_svm_state_fops);
	pr_info("vmmu: SVM backend with nested paging, %u guest ASIDs%s\n",
		vmmu_svm_max_asid,
		boot_cpu_has(X86_FEATURE_NRIPS) ? "" : ", no NRIPS");
	return &vmmu_svm_ops;
}

/**
 * vmmu_svm_exit() - free what vmmu_svm_probe() set up
 *
 * Called at module exit, when no VM is left, so SVM is off everywhere.
 */
void vmmu_svm_exit(void)
{
	debugfs_remove(vmmu_svm_debugfs);
	vmmu_svm_debugfs = NULL;
	if (vmmu_svm_iopm)
		__free_pages(vmmu_svm_iopm, VMMU_SVM_IOPM_ORDER);
	if (vmmu_svm_msrpm)
		__free_pages(vmmu_svm_msrpm, VMMU_SVM_MSRPM_ORDER);
	vmmu_svm_iopm = NULL;
	vmmu_svm_msrpm = NULL;
}
