// SPDX-License-Identifier: GPL-2.0
/*
 * SVM on and off: <debugfs>/vmmu/svm shows EFER.SVME of every online CPU
 * as the CPU has it.
 *
 * SVM is off while no VM has SVM vCPUs, on every CPU from the first such VM
 * (VMMU_SET_MMU) until the last one is gone, whether it goes by close or by
 * switching back to software vCPUs.  A CPU taken offline and brought back
 * while such a VM exists comes back with SVM on, and a guest runs on it;
 * without such a VM it comes back with SVM off.  A process killed while its
 * vCPU spins in the guest leaves nothing behind.  Finally the module is
 * unloaded and loaded again: the new instance finds SVM off on every CPU
 * (the old one left nothing on), and can turn it on again.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_TESTS	26
#define SVM_STATE	"/sys/kernel/debug/vmmu/svm"
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

/* What <debugfs>/vmmu/svm says. */
struct svm_state {
	int enabled;		/* vmmu has SVM on */
	int cpus;		/* online CPUs listed */
	int svme;		/* of which EFER.SVME is set */
	int vmmu;		/* of which vmmu turned it on */
	bool cpu1;		/* CPU 1 is listed */
};

static int svm_state_read(struct svm_state *st)
{
	char line[128];
	unsigned int cpu;
	int svme, vmmu;
	FILE *f = fopen(SVM_STATE, "r");

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
		st->cpu1 |= cpu == 1;
	}
	fclose(f);
	return 0;
}

static void svm_state_diag(const struct svm_state *st)
{
	diag("  enabled %d, %d CPUs listed, SVME on %d, by vmmu on %d",
	     st->enabled, st->cpus, st->svme, st->vmmu);
}

/* One test: SVM is on (@on) or off on every one of @cpus online CPUs. */
static bool ok_svm_everywhere(bool on, int cpus, const char *what)
{
	struct svm_state st;
	int want = on ? cpus : 0;
	bool cond;

	cond = !svm_state_read(&st) && st.enabled == on && st.cpus == cpus &&
	       st.svme == want && st.vmmu == want;
	if (!ok(cond, "%s: SVM is %s, all %d CPUs", what, on ? "on" : "off",
		cpus))
		svm_state_diag(&st);
	return cond;
}

static int online_cpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

static int new_svm_vm(int sys_fd)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int r = guest_set_svm(vm_fd);

	if (r)
		bail_out("VMMU_SET_MMU with SVM vCPUs: %s", errno_name(-r));
	return vm_fd;
}

static void test_vm_lifetime(int sys_fd)
{
	struct vmmu_mmu_config sw = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	int ncpus = online_cpus();
	int a, b;

	ok_svm_everywhere(false, ncpus, "before any SVM VM");
	a = new_svm_vm(sys_fd);
	ok_svm_everywhere(true, ncpus, "one VM with SVM vCPUs");
	b = new_svm_vm(sys_fd);
	close(a);
	ok_svm_everywhere(true, ncpus, "the first of two such VMs closed");
	is_errno(mmu_set_mmu(b, &sw), 0,
		 "the second switches to software vCPUs");
	ok_svm_everywhere(false, ncpus, "no VM with SVM vCPUs left");
	is_errno(guest_set_svm(b), 0, "and back to SVM vCPUs");
	ok_svm_everywhere(true, ncpus, "SVM VM again");
	close(b);
	ok_svm_everywhere(false, ncpus, "after the last close");
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
	struct svm_state st;
	struct guest g;

	if (ncpus < 2 || access(CPU1_ONLINE, W_OK) || cpu1_set_online(false)) {
		skip(8, "CPU 1 cannot be taken offline here");
		return;
	}
	cpu1_set_online(true);
	guest_create(&g, sys_fd, MEM_SIZE);
	is_errno(cpu1_set_online(false), 0, "CPU 1 offline with an SVM VM");
	svm_state_read(&st);
	ok(!st.cpu1 && st.cpus == ncpus - 1 && st.svme == st.cpus &&
	   st.vmmu == st.cpus, "SVM stays on the other CPUs");
	is_errno(cpu1_set_online(true), 0, "CPU 1 back online");
	ok_svm_everywhere(true, ncpus, "CPU 1 back online with the VM");
	ok(run_guest_on(&g, 1), "a guest runs on CPU 1 after it came back");
	unpin();
	guest_destroy(&g);
	ok_svm_everywhere(false, ncpus, "VM closed");
	cpu1_set_online(false);
	is_errno(cpu1_set_online(true), 0,
		 "CPU 1 offline and online without an SVM VM");
	ok_svm_everywhere(false, ncpus, "CPU 1 came back with SVM off");
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
	ok_svm_everywhere(false, online_cpus(), "after the kill");
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

/* Unload after use, load again: the new instance finds SVM off. */
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
	ok(access(SVM_STATE, F_OK) && errno == ENOENT,
	   "its debugfs files are gone");
	if (!is_errno(load_module(), 0, "vmmu loads again"))
		bail_out("vmmu could not be loaded again");
	ok_svm_everywhere(false, ncpus,
			  "the new instance finds SVM off (the old one turned it off)");
	sys_fd = vmmu_open();
	is_errno(guest_svm_available(sys_fd), 0,
		 "and enables it for a VM again (EFER.SVME was free)");
	close(sys_fd);
}

int main(void)
{
	int sys_fd, r;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	r = guest_svm_available(sys_fd);
	if (r) {
		skip(NR_TESTS, "no SVM vCPUs here: %s", errno_name(-r));
		return tap_finish();
	}
	ok(!access(SVM_STATE, R_OK), "%s is readable", SVM_STATE);
	test_vm_lifetime(sys_fd);
	test_hotplug(sys_fd);
	test_killed(sys_fd);
	test_reload(sys_fd);
	return tap_finish();
}
