// SPDX-License-Identifier: GPL-2.0
/*
 * VMX belongs to one hypervisor at a time: vmmu against Debian's kvm_intel.
 *
 * Runs in the Bochs lane, which carries Debian's irqbypass, kvm and
 * kvm_intel modules of the lane's kernel in /kvm-intel/; elsewhere it
 * skips.  The test unloads vmmu if it is loaded, loads those modules, and
 * opens a KVM VM on /dev/kvm, at which kvm_intel turns VMX on (on 6.1).
 * It then loads /vmmu.ko again:
 *
 * - VMX vCPUs are refused with EBUSY (VMMU_SET_MMU with VMMU_VCPU_VMX and
 *   EPT, and KVM_CREATE_VCPU of a VM that kept the default kind if that
 *   kind is VMX), the refused configuration is not taken, vmmu leaves
 *   CR4.VMXE of every CPU as kvm_intel has it, and says why in the kernel
 *   log, without a WARN;
 * - a VM with software vCPUs works meanwhile;
 * - once the KVM VM is closed (kvm_intel turns VMX off) vmmu still refuses
 *   VMX: kvm_intel holds the emergency callback's single slot for as long
 *   as it is loaded (6.1), and vmmu must not take it over;
 * - once kvm_intel, kvm and irqbypass are unloaded, vmmu's VMX VM works and
 *   runs a guest;
 * - after vmmu is unloaded, kvm_intel is loaded again and a KVM VM runs a
 *   guest: kvm_intel found CR4.VMXE clear on every CPU, which it requires.
 *
 * Finally the kvm modules are unloaded and vmmu is loaded again if it was
 * loaded before, for the programs that run after this one; the kernel log
 * since vmmu was loaded must hold no WARN.
 * Kernels whose kvm keeps VMX on while it is loaded (6.12 with
 * enable_virt_at_load) skip the part that needs it off.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hv_util.h"
#include "mmu_util.h"

#define NR_TESTS	28
#define KVM_DEVICE	"/dev/kvm"
#define KVM_MODULES	"/kvm-intel"
#define VMX_STATE	"/sys/kernel/debug/vmmu/vmx"
#define MARK		"vmx_busy: vmmu against kvm_intel"

/* Debian's modules, each after those it depends on (modinfo -F depends). */
static const char * const kvm_modules[] = { "irqbypass", "kvm", "kvm_intel" };
static const char * const kvm_files[] = {
	KVM_MODULES "/irqbypass.ko", KVM_MODULES "/kvm.ko",
	KVM_MODULES "/kvm-intel.ko",
};

/* What <debugfs>/vmmu/vmx says: CPUs listed, with CR4.VMXE, by vmmu. */
struct vmx_cpus {
	int enabled;
	int cpus;
	int vmxe;
	int vmmu;
};

static int vmx_cpus_read(struct vmx_cpus *st)
{
	FILE *f = fopen(VMX_STATE, "re");
	int vmxe, vmmu;
	unsigned int cpu;
	char line[128];

	memset(st, 0, sizeof(*st));
	st->enabled = -1;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "enabled %d", &st->enabled) == 1)
			continue;
		if (sscanf(line, "cpu%u vmxe %d vmmu %d", &cpu, &vmxe,
			   &vmmu) != 3)
			continue;
		st->cpus++;
		st->vmxe += vmxe == 1;
		st->vmmu += vmmu == 1;
	}
	fclose(f);
	return 0;
}

/* One test: CR4.VMXE is @vmxe on every CPU, set by vmmu iff @by_vmmu. */
static bool ok_vmx_cpus(bool vmxe, bool by_vmmu, const char *what)
{
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct vmx_cpus st;
	bool cond;

	cond = !vmx_cpus_read(&st) && st.cpus == ncpus &&
	       st.vmxe == (vmxe ? ncpus : 0) &&
	       st.vmmu == (by_vmmu ? ncpus : 0) && st.enabled == by_vmmu;
	if (!ok(cond, "%s: CR4.VMXE %s on all %d CPUs, %s", what,
		vmxe ? "set" : "clear", ncpus,
		by_vmmu ? "by vmmu" : "not by vmmu"))
		diag("  enabled %d, %d CPUs listed, VMXE on %d, by vmmu on %d",
		     st.enabled, st.cpus, st.vmxe, st.vmmu);
	return cond;
}

/* CR4.VMXE is set on every CPU (or -1 if vmmu's file is unreadable). */
static int vmxe_everywhere(void)
{
	struct vmx_cpus st;

	if (vmx_cpus_read(&st))
		return -1;
	return st.cpus && st.vmxe == st.cpus;
}

static int guest_set_vmx(int vm_fd)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_EPT,
		.vcpu_kind = VMMU_VCPU_VMX,
	};

	return mmu_set_mmu(vm_fd, &cfg);
}

static bool module_loaded(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return !access(path, F_OK);
}

/* Load kvm_intel and what it needs: 0 or the first -errno. */
static int kvm_load(void)
{
	unsigned int i;
	int r;

	for (i = 0; i < ARRAY_SIZE(kvm_files); i++) {
		r = hv_load_module(kvm_files[i]);
		if (r && r != -EEXIST) {
			diag("  %s: %s", kvm_files[i], errno_name(-r));
			return r;
		}
	}
	return 0;
}

/* Unload kvm_intel, kvm and irqbypass: 0 or the first -errno. */
static int kvm_unload(void)
{
	int i, r, first = 0;

	for (i = ARRAY_SIZE(kvm_modules) - 1; i >= 0; i--) {
		r = hv_unload_module(kvm_modules[i]);
		if (r && r != -ENOENT && !first) {
			diag("  %s: %s", kvm_modules[i], errno_name(-r));
			first = r;
		}
	}
	return first;
}

/* VMX vCPUs refused while kvm_intel holds VMX. */
static void test_refused(int sys_fd)
{
	struct vmmu_mmu_config cfg, after;
	int vm_fd, vcpu_fd;

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	mmu_get_mmu(vm_fd, &cfg);
	is_errno(guest_set_vmx(vm_fd), EBUSY,
		 "VMMU_SET_MMU with VMX vCPUs and EPT while kvm_intel holds VMX: EBUSY");
	memset(&after, 0, sizeof(after));
	mmu_get_mmu(vm_fd, &after);
	ok(!memcmp(&cfg, &after, sizeof(cfg)),
	   "the refused configuration was not taken (VMMU_GET_MMU)");
	close(vm_fd);

	/* A VM that keeps the default kind: VMX is refused at the vCPU. */
	vm_fd = vmmu_create_vm_or_die(sys_fd);
	mmu_get_mmu(vm_fd, &cfg);
	vcpu_fd = mmu_create_vcpu(vm_fd, 0);
	if (cfg.vcpu_kind == VMMU_VCPU_VMX)
		is_errno(vcpu_fd, EBUSY,
			 "KVM_CREATE_VCPU with the default kind (VMX): EBUSY");
	else
		is_errno(vcpu_fd, 0,
			 "KVM_CREATE_VCPU with the default kind (%u, not VMX) works",
			 cfg.vcpu_kind);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	close(vm_fd);
	ok_vmx_cpus(true, false, "vmmu left the CPUs as kvm_intel has them");
}

/* kvm_intel is gone: vmmu's VMX VM works, and VMX is off again after it. */
static void test_vmmu_owns(int sys_fd)
{
	struct guest g;
	int r;

	hv_test_tiny_guest(sys_fd, guest_set_vmx, "vmmu, kvm_intel unloaded");
	r = hv_tiny_guest_create(&g, sys_fd, guest_set_vmx);
	if (r)
		bail_out("a second VMX VM: %s", errno_name(-r));
	ok_vmx_cpus(true, true, "with a VMX VM of vmmu");
	guest_destroy(&g);
	ok_vmx_cpus(false, false, "the VMX VM closed");
}

int main(void)
{
	int kvm_fd, kvm_vm, sys_fd, vm;
	bool had_vmmu;

	tap_plan(NR_TESTS);
	if (access(kvm_files[ARRAY_SIZE(kvm_files) - 1], R_OK) ||
	    access(HV_VMMU_MODULE, R_OK) || module_loaded("kvm")) {
		skip(NR_TESTS, "needs %s/ (the Bochs lane), %s, and kvm not loaded",
		     KVM_MODULES, HV_VMMU_MODULE);
		return tap_finish();
	}
	had_vmmu = module_loaded("vmmu");
	if (had_vmmu && vmmu_try_unload())
		bail_out("vmmu cannot be unloaded to make room");
	ok(!module_loaded("vmmu"), "vmmu is not loaded to begin with");
	if (!is_errno(kvm_load(), 0, "kvm_intel loads, with kvm and irqbypass"))
		bail_out("no kvm_intel");
	kvm_fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		bail_out("%s: %s", KVM_DEVICE, strerror(errno));
	kvm_vm = vmmu_create_vm(kvm_fd);
	if (!is_errno(kvm_vm, 0, "KVM_CREATE_VM on /dev/kvm (kvm_intel turns VMX on)"))
		bail_out("no KVM VM");

	hv_mark_log(MARK);
	if (!is_errno(hv_load_module(HV_VMMU_MODULE), 0,
		      "vmmu loads while kvm_intel holds VMX"))
		bail_out("vmmu did not load");
	sys_fd = hv_open_vmmu();
	if (!is_errno(sys_fd, 0, "%s is there", VMMU_DEVICE_PATH))
		bail_out("no %s", VMMU_DEVICE_PATH);
	test_refused(sys_fd);
	hv_test_log(MARK, "VMX");
	hv_test_software_vm(sys_fd);

	close(kvm_vm);
	if (vmxe_everywhere()) {
		skip(1, "kvm keeps VMX on while it is loaded (enable_virt_at_load)");
	} else {
		vm = vmmu_create_vm_or_die(sys_fd);
		is_errno(guest_set_vmx(vm), EBUSY,
			 "VMX still refused while kvm_intel is loaded, without VMs (it holds the emergency callback)");
		close(vm);
	}
	close(kvm_fd);
	if (!is_errno(kvm_unload(), 0, "kvm_intel, kvm and irqbypass unload"))
		bail_out("kvm is still loaded");
	test_vmmu_owns(sys_fd);

	close(sys_fd);
	if (!is_errno(vmmu_try_unload(), 0, "vmmu unloads"))
		bail_out("vmmu is still loaded");
	if (!is_errno(kvm_load(), 0, "kvm_intel loads again"))
		bail_out("no kvm_intel");
	kvm_fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		bail_out("%s: %s", KVM_DEVICE, strerror(errno));
	hv_test_tiny_guest(kvm_fd, NULL, "KVM after vmmu is gone");
	close(kvm_fd);

	is_errno(kvm_unload(), 0, "kvm_intel, kvm and irqbypass unload again");
	if (had_vmmu)
		is_errno(hv_load_module(HV_VMMU_MODULE), 0,
			 "vmmu loads again for the programs after this one");
	else
		skip(1, "vmmu was not loaded before");
	hv_test_log_clean(MARK, "no WARN or other splat since vmmu was loaded");
	return tap_finish();
}
