// SPDX-License-Identifier: GPL-2.0
/*
 * VMX on and off: <debugfs>/vmmu/vmx shows CR4.VMXE of every online CPU as
 * the CPU has it, and whether vmmu set it.
 *
 * VMX is off while no VM has VMX vCPUs, on every CPU from the first such VM
 * (VMMU_SET_MMU) until the last one is gone, whether it goes by close or by
 * switching back to software vCPUs.  A new VM defaults to VMX vCPUs with
 * 4-level EPT.  A CPU taken offline and brought back while such a VM exists
 * comes back with VMX on, and a guest runs on it; without such a VM it comes
 * back with VMX off.  A process killed while its vCPU spins in the guest
 * leaves nothing behind.  Finally the module is unloaded and loaded again:
 * the new instance finds CR4.VMXE clear on every CPU (the old one left
 * nothing on), and can turn VMX on again.
 *
 * Skipped where vmmu has no VMX backend (the QEMU lanes).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_TESTS	30
#define VMX_STATE	"/sys/kernel/debug/vmmu/vmx"
#define CPU1_ONLINE	"/sys/devices/system/cpu/cpu1/online"
#define MODULE_PATH	"/vmmu.ko"
#define MEM_SIZE	BIT_ULL(20)
#define CODE_GPA	0x1000ULL

GUEST_CODE(rm_spin, ".code16",
	   "1:	jmp 1b\n");

GUEST_CODE(rm_out, ".code16",
	   "	mov $0x42, %al\n"
	   "	out %al, $0x80\n"
	   "	hlt\n");

/* What <debugfs>/vmmu/vmx says. */
struct vmx_state {
	int enabled;		/* vmmu has VMX on */
	int cpus;		/* online CPUs listed */
	int vmxe;		/* of which CR4.VMXE is set */
	int vmmu;		/* of which vmmu turned it on */
	bool cpu1;		/* CPU 1 is listed */
};

static int vmx_state_read(struct vmx_state *st)
{
	char line[128];
	unsigned int cpu;
	int vmxe, vmmu;
	FILE *f = fopen(VMX_STATE, "r");

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
		st->cpu1 |= cpu == 1;
	}
	fclose(f);
	return 0;
}

static void vmx_state_diag(const struct vmx_state *st)
{
	diag("  enabled %d, %d CPUs listed, VMXE on %d, by vmmu on %d",
	     st->enabled, st->cpus, st->vmxe, st->vmmu);
}

/* One test: VMX is on (@on) or off on every one of @cpus online CPUs. */
static bool ok_vmx_everywhere(bool on, int cpus, const char *what)
{
	struct vmx_state st;
	int want = on ? cpus : 0;
	bool cond;

	cond = !vmx_state_read(&st) && st.enabled == on && st.cpus == cpus &&
	       st.vmxe == want && st.vmmu == want;
	if (!ok(cond, "%s: VMX is %s, all %d CPUs", what, on ? "on" : "off",
		cpus))
		vmx_state_diag(&st);
	return cond;
}

static int guest_set_vmx(int vm_fd)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_EPT,
		.vcpu_kind = VMMU_VCPU_VMX,
	};

	return mmu_set_mmu(vm_fd, &cfg);
}

/* Can vmmu run VMX vCPUs here?  Also makes guest_create() use them. */
static int guest_vmx_available(int sys_fd)
{
	setenv("VMMU_GUEST_KIND", "vmx", 1);
	return guest_hw_available(sys_fd);
}

static int online_cpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

static int new_vmx_vm(int sys_fd)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int r = guest_set_vmx(vm_fd);

	if (r)
		bail_out("VMMU_SET_MMU with VMX vCPUs: %s", errno_name(-r));
	return vm_fd;
}

/*
 * A new VM's default: VMX vCPUs, EPT with 4 levels; VMX itself waits for
 * the first vCPU.
 */
static void test_default(int sys_fd, int ncpus)
{
	struct vmmu_mmu_config cfg;
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int vcpu_fd;

	is_errno(mmu_get_mmu(vm_fd, &cfg), 0, "VMMU_GET_MMU on a new VM");
	ok(cfg.vcpu_kind == VMMU_VCPU_VMX && cfg.format == VMMU_MMU_FORMAT_EPT &&
	   cfg.levels == 4, "it reports VMX vCPUs, EPT, 4 levels (kind %u, format %u, levels %u)",
	   cfg.vcpu_kind, cfg.format, cfg.levels);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	ok(vcpu_fd >= 0, "its first vCPU is created");
	ok_vmx_everywhere(true, ncpus, "a default VM with a vCPU");
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	close(vm_fd);
}

static void test_vm_lifetime(int sys_fd)
{
	struct vmmu_mmu_config sw = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	int ncpus = online_cpus();
	int a, b;

	ok_vmx_everywhere(false, ncpus, "before any VMX VM");
	test_default(sys_fd, ncpus);
	a = new_vmx_vm(sys_fd);
	ok_vmx_everywhere(true, ncpus, "one VM with VMX vCPUs");
	b = new_vmx_vm(sys_fd);
	close(a);
	ok_vmx_everywhere(true, ncpus, "the first of two such VMs closed");
	is_errno(mmu_set_mmu(b, &sw), 0,
		 "the second switches to software vCPUs");
	ok_vmx_everywhere(false, ncpus, "no VM with VMX vCPUs left");
	is_errno(guest_set_vmx(b), 0, "and back to VMX vCPUs");
	ok_vmx_everywhere(true, ncpus, "VMX VM again");
	close(b);
	ok_vmx_everywhere(false, ncpus, "after the last close");
}

/* A guest on CPU @cpu does OUT and HLT; the vCPU thread is pinned there. */
static bool run_guest_on(struct guest *g, int cpu)
{
	cpu_set_t set;
	int r;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return false;
	guest_load(g, CODE_GPA, rm_out, GUEST_CODE_SIZE(rm_out));
	guest_setup_real_mode(g, CODE_GPA);
	r = guest_run(g);
	if (r || g->run->exit_reason != KVM_EXIT_IO)
		return false;
	r = guest_run(g);
	return !r && g->run->exit_reason == KVM_EXIT_HLT &&
	       sched_getcpu() == cpu;
}

static int cpu1_set_online(bool online)
{
	int fd = open(CPU1_ONLINE, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, online ? "1" : "0", 1);
	close(fd);
	return n == 1 ? 0 : -errno;
}

static void unpin(void)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void test_hotplug(int sys_fd)
{
	int ncpus = online_cpus();
	struct vmx_state st;
	struct guest g;

	if (ncpus < 2 || access(CPU1_ONLINE, W_OK) || cpu1_set_online(false)) {
		skip(8, "CPU 1 cannot be taken offline here");
		return;
	}
	cpu1_set_online(true);
	guest_create(&g, sys_fd, MEM_SIZE);
	is_errno(cpu1_set_online(false), 0, "CPU 1 offline with a VMX VM");
	vmx_state_read(&st);
	ok(!st.cpu1 && st.cpus == ncpus - 1 && st.vmxe == st.cpus &&
	   st.vmmu == st.cpus, "VMX stays on the other CPUs");
	is_errno(cpu1_set_online(true), 0, "CPU 1 back online");
	ok_vmx_everywhere(true, ncpus, "CPU 1 back online with the VM");
	ok(run_guest_on(&g, 1), "a guest runs on CPU 1 after it came back");
	unpin();
	guest_destroy(&g);
	ok_vmx_everywhere(false, ncpus, "VM closed");
	cpu1_set_online(false);
	is_errno(cpu1_set_online(true), 0,
		 "CPU 1 offline and online without a VMX VM");
	ok_vmx_everywhere(false, ncpus, "CPU 1 came back with VMX off");
}

/* A child runs a guest that never exits by itself; SIGKILL ends it. */
static void test_killed(int sys_fd)
{
	struct vmmu_objects before;
	int fds[2], status = 0;
	struct guest g;
	char c = 0;
	pid_t pid;

	vmmu_objects_read_or_die(&before);
	if (pipe(fds))
		bail_out("pipe");
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (!pid) {
		guest_create(&g, sys_fd, MEM_SIZE);
		guest_load(&g, CODE_GPA, rm_spin, GUEST_CODE_SIZE(rm_spin));
		guest_setup_real_mode(&g, CODE_GPA);
		if (write(fds[1], &c, 1) != 1)
			_exit(1);
		guest_run(&g);
		_exit(2);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		bail_out("the child did not get to run its guest");
	close(fds[0]);
	usleep(200000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "a process whose vCPU spins in the guest dies by SIGKILL");
	ok_objects(&before, "its VM and vCPU are gone");
	ok_vmx_everywhere(false, online_cpus(), "after the kill");
}

static int load_module(void)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, "", 0);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Unload after use, load again: the new instance finds VMX off. */
static void test_reload(int sys_fd)
{
	int ncpus = online_cpus();
	struct guest g;

	guest_create(&g, sys_fd, MEM_SIZE);
	ok(run_guest_on(&g, 0), "a guest ran before the unload");
	unpin();
	guest_destroy(&g);
	close(sys_fd);
	if (access(MODULE_PATH, R_OK)) {
		skip(5, "%s is not here to load again", MODULE_PATH);
		return;
	}
	if (!is_errno(vmmu_try_unload(), 0, "vmmu unloads after use")) {
		skip(4, "vmmu is still loaded");
		return;
	}
	ok(access(VMX_STATE, F_OK) && errno == ENOENT,
	   "its debugfs files are gone");
	if (!is_errno(load_module(), 0, "vmmu loads again"))
		bail_out("vmmu could not be loaded again");
	ok_vmx_everywhere(false, ncpus,
			  "the new instance finds CR4.VMXE clear (the old one left VMX)");
	sys_fd = vmmu_open();
	is_errno(guest_vmx_available(sys_fd), 0,
		 "and enables it for a VM again (CR4.VMXE was free)");
	close(sys_fd);
}

int main(void)
{
	int sys_fd, r;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	r = guest_vmx_available(sys_fd);
	if (r) {
		skip(NR_TESTS, "no VMX vCPUs here: %s", errno_name(-r));
		return tap_finish();
	}
	ok(!access(VMX_STATE, R_OK), "%s is readable", VMX_STATE);
	test_vm_lifetime(sys_fd);
	test_hotplug(sys_fd);
	test_killed(sys_fd);
	test_reload(sys_fd);
	return tap_finish();
}
