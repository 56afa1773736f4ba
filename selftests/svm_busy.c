// SPDX-License-Identifier: GPL-2.0
/*
 * SVM belongs to one hypervisor at a time: vmmu against Debian's kvm_amd.
 *
 * Runs in the kvm lane (selftests/vm/kvm-ref.sh) after kvm and kvm_amd were
 * loaded, with vmmu not loaded; elsewhere it skips.  A KVM VM on /dev/kvm
 * makes kvm_amd turn SVM on (at KVM_CREATE_VM on 6.1).  The test then loads
 * /vmmu.ko itself:
 *
 * - SVM vCPUs are refused with EBUSY (VMMU_SET_MMU with VMMU_VCPU_SVM, and
 *   KVM_CREATE_VCPU of a VM that kept the default kind if that kind is
 *   SVM), the refused configuration is not taken, vmmu leaves EFER.SVME of
 *   every CPU as kvm_amd has it, and says why in the kernel log, without a
 *   WARN;
 * - a VM with software vCPUs works meanwhile;
 * - once the KVM VM is closed (kvm_amd turns SVM off) vmmu's SVM VM works
 *   and runs a guest, and kvm_amd in turn refuses a VM with EBUSY;
 * - after vmmu is unloaded a KVM VM runs a guest again: kvm_amd found
 *   EFER.SVME clear on every CPU, which it requires.
 *
 * Kernels whose kvm keeps SVM on while it is loaded (6.12 with
 * enable_virt_at_load) skip the part that needs it off.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hv_util.h"
#include "mmu_util.h"

#define NR_TESTS	21
#define KVM_DEVICE	"/dev/kvm"
#define SVM_STATE	"/sys/kernel/debug/vmmu/svm"
#define MARK		"svm_busy: vmmu against kvm_amd"

/* What <debugfs>/vmmu/svm says: CPUs listed, with EFER.SVME, by vmmu. */
struct svm_cpus {
	int enabled;
	int cpus;
	int svme;
	int vmmu;
};

static int svm_cpus_read(struct svm_cpus *st)
{
	FILE *f = fopen(SVM_STATE, "re");
	int svme, vmmu;
	unsigned int cpu;
	char line[128];

	memset(st, 0, sizeof(*st));
	st->enabled = -1;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "enabled %d", &st->enabled) == 1)
			continue;
		if (sscanf(line, "cpu%u svme %d vmmu %d", &cpu, &svme,
			   &vmmu) != 3)
			continue;
		st->cpus++;
		st->svme += svme == 1;
		st->vmmu += vmmu == 1;
	}
	fclose(f);
	return 0;
}

/* One test: EFER.SVME is @svme on every CPU, set by vmmu iff @by_vmmu. */
static bool ok_svm_cpus(bool svme, bool by_vmmu, const char *what)
{
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct svm_cpus st;
	bool cond;

	cond = !svm_cpus_read(&st) && st.cpus == ncpus &&
	       st.svme == (svme ? ncpus : 0) &&
	       st.vmmu == (by_vmmu ? ncpus : 0) && st.enabled == by_vmmu;
	if (!ok(cond, "%s: EFER.SVME %s on all %d CPUs, %s", what,
		svme ? "set" : "clear", ncpus,
		by_vmmu ? "by vmmu" : "not by vmmu"))
		diag("  enabled %d, %d CPUs listed, SVME on %d, by vmmu on %d",
		     st.enabled, st.cpus, st.svme, st.vmmu);
	return cond;
}

/* EFER.SVME is set on every CPU (or -1 if vmmu's file is unreadable). */
static int svme_everywhere(void)
{
	struct svm_cpus st;

	if (svm_cpus_read(&st))
		return -1;
	return st.cpus && st.svme == st.cpus;
}

/* SVM vCPUs refused while kvm_amd holds SVM. */
static void test_refused(int sys_fd)
{
	struct vmmu_mmu_config cfg, after;
	int vm_fd, vcpu_fd;

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	mmu_get_mmu(vm_fd, &cfg);
	is_errno(guest_set_svm(vm_fd), EBUSY,
		 "VMMU_SET_MMU with SVM vCPUs while kvm_amd holds SVM: EBUSY");
	memset(&after, 0, sizeof(after));
	mmu_get_mmu(vm_fd, &after);
	ok(!memcmp(&cfg, &after, sizeof(cfg)),
	   "the refused configuration was not taken (VMMU_GET_MMU)");
	close(vm_fd);

	/* A VM that keeps the default kind: SVM is refused at the vCPU. */
	vm_fd = vmmu_create_vm_or_die(sys_fd);
	mmu_get_mmu(vm_fd, &cfg);
	vcpu_fd = mmu_create_vcpu(vm_fd, 0);
	if (cfg.vcpu_kind == VMMU_VCPU_SVM)
		is_errno(vcpu_fd, EBUSY,
			 "KVM_CREATE_VCPU with the default kind (SVM): EBUSY");
	else
		is_errno(vcpu_fd, 0,
			 "KVM_CREATE_VCPU with the default kind (%u, not SVM) works",
			 cfg.vcpu_kind);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	close(vm_fd);
	ok_svm_cpus(true, false, "vmmu left the CPUs as kvm_amd has them");
}

/* kvm_amd has let SVM go: vmmu's SVM VM works, and now kvm_amd waits. */
static void test_vmmu_owns(int sys_fd, int kvm_fd)
{
	struct guest g;
	int r;

	if (svme_everywhere()) {
		skip(6, "kvm keeps SVM on while it is loaded (enable_virt_at_load)");
		return;
	}
	hv_test_tiny_guest(sys_fd, guest_set_svm, "vmmu, SVM free again");
	r = hv_tiny_guest_create(&g, sys_fd, guest_set_svm);
	if (r)
		bail_out("a second SVM VM: %s", errno_name(-r));
	ok_svm_cpus(true, true, "with an SVM VM of vmmu");
	r = vmmu_create_vm(kvm_fd);
	is_errno(r, EBUSY, "KVM_CREATE_VM on /dev/kvm meanwhile: EBUSY");
	if (r >= 0)
		close(r);
	guest_destroy(&g);
	ok_svm_cpus(false, false, "the SVM VM closed");
}

int main(void)
{
	int kvm_fd, kvm_vm, sys_fd;

	tap_plan(NR_TESTS);
	kvm_fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0 || !access("/sys/module/vmmu", F_OK) ||
	    access(HV_VMMU_MODULE, R_OK)) {
		skip(NR_TESTS, "needs kvm loaded, vmmu not, and %s (kvm-ref.sh)",
		     HV_VMMU_MODULE);
		return tap_finish();
	}
	kvm_vm = vmmu_create_vm(kvm_fd);
	if (!is_errno(kvm_vm, 0, "KVM_CREATE_VM on /dev/kvm (kvm_amd turns SVM on)"))
		bail_out("no KVM VM");

	hv_mark_log(MARK);
	if (!is_errno(hv_load_module(HV_VMMU_MODULE), 0, "vmmu loads while kvm_amd holds SVM"))
		bail_out("vmmu did not load");
	sys_fd = hv_open_vmmu();
	if (!is_errno(sys_fd, 0, "%s is there", VMMU_DEVICE_PATH))
		bail_out("no %s", VMMU_DEVICE_PATH);
	test_refused(sys_fd);
	hv_test_log(MARK, "SVM");
	hv_test_software_vm(sys_fd);

	close(kvm_vm);
	test_vmmu_owns(sys_fd, kvm_fd);

	close(sys_fd);
	if (!is_errno(vmmu_try_unload(), 0, "vmmu unloads"))
		bail_out("vmmu is still loaded");
	hv_test_tiny_guest(kvm_fd, NULL, "KVM after vmmu is gone");
	close(kvm_fd);
	return tap_finish();
}
