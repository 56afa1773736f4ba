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
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_TESTS	21
#define KVM_DEVICE	"/dev/kvm"
#define MODULE_PATH	"/vmmu.ko"
#define SVM_STATE	"/sys/kernel/debug/vmmu/svm"
#define MEM_SIZE	BIT_ULL(20)
#define CODE_GPA	0x1000ULL
#define DATA_GPA	0x3000ULL
#define MARK		"svm_busy: vmmu against kvm_amd"
#define SYSLOG_READ_ALL	3
#define SYSLOG_SIZE	10

GUEST_CODE(rm_out, ".code16",
	   "	mov $0x42, %al\n"
	   "	out %al, $0x80\n"
	   "	hlt\n");

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

/* /dev/vmmu, once devtmpfs made it (bounded wait), or -errno. */
static int open_vmmu(void)
{
	int fd, n;

	for (n = 0; n < 500; n++) {
		fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd < 0 ? -errno : fd;
		usleep(10000);
	}
	return -ENOENT;
}

/* The kernel log after the last MARK line, malloc()ed, or NULL. */
static char *log_since_mark(void)
{
	int size = klogctl(SYSLOG_SIZE, NULL, 0);
	char *buf, *p, *last = NULL;
	int n;

	if (size <= 0)
		return NULL;
	buf = malloc(size + 1);
	if (!buf)
		return NULL;
	n = klogctl(SYSLOG_READ_ALL, buf, size);
	buf[n > 0 ? n : 0] = 0;
	for (p = strstr(buf, MARK); p; p = strstr(p + 1, MARK))
		last = p;
	if (!last) {
		free(buf);
		return NULL;
	}
	memmove(buf, last, strlen(last) + 1);
	return buf;
}

static void mark_log(void)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, MARK "\n", strlen(MARK) + 1) < 0)
		bail_out("cannot write to /dev/kmsg: %s", strerror(errno));
	close(fd);
}

/* The kernel log since the mark: vmmu's reason, and no splat. */
static void test_log(void)
{
	static const char * const bad[] = {
		"WARNING:", "BUG:", "Call Trace", "Oops", "lockdep",
	};
	char *log = log_since_mark();
	const char *why = NULL, *splat = NULL;
	unsigned int i;
	char *line;

	for (line = log ? strtok(log, "\n") : NULL; line;
	     line = strtok(NULL, "\n")) {
		if (strstr(line, "vmmu: ") && strstr(line, "SVM") &&
		    strstr(line, "another hypervisor") && !why)
			why = line;
		for (i = 0; i < ARRAY_SIZE(bad) && !splat; i++)
			if (strstr(line, bad[i]))
				splat = line;
	}
	if (why)
		diag("  %s", why);
	ok(why, "the kernel log says why vmmu refused SVM");
	if (!ok(log && !splat, "and holds no WARN or other splat"))
		diag("  %s", splat ? splat : "the kernel log cannot be read");
	free(log);
}

/* A VM of software vCPUs: a write through the vCPU reaches memory. */
static void test_software_vm(int sys_fd)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	u64 word = 0x5eed0f5aULL, back = 0;
	int vm_fd, vcpu_fd, r;
	u8 *mem;

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	is_errno(mmu_set_mmu(vm_fd, &cfg), 0,
		 "a VM with software vCPUs meanwhile: VMMU_SET_MMU");
	mem = vmmu_alloc_guest_memory(MEM_SIZE);
	mmu_set_region_or_die(vm_fd, 0, 0, 0, MEM_SIZE, mem);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	r = mmu_write(vcpu_fd, DATA_GPA, &word, sizeof(word));
	if (!r)
		r = mmu_read(vcpu_fd, DATA_GPA, &back, sizeof(back));
	ok(r == VMMU_ACCESS_DONE && back == word &&
	   *(u64 *)(mem + DATA_GPA) == word,
	   "its software vCPU writes and reads guest memory (%s)",
	   mmu_result_name(r));
	close(vcpu_fd);
	close(vm_fd);
	munmap(mem, MEM_SIZE);
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

/*
 * A VM on @sys_fd (/dev/kvm or /dev/vmmu; an SVM VM for vmmu) with one
 * vCPU in real mode at the OUT-and-HLT guest: 0 or -errno of the VM.
 */
static int tiny_guest_create(struct guest *g, int sys_fd, bool vmmu)
{
	long size;
	int r;

	memset(g, 0, sizeof(*g));
	g->sys_fd = sys_fd;
	g->vm_fd = vmmu_create_vm(sys_fd);
	if (g->vm_fd < 0)
		return g->vm_fd;
	r = vmmu ? guest_set_svm(g->vm_fd) : 0;
	if (r) {
		close(g->vm_fd);
		return r;
	}
	g->mem = vmmu_alloc_guest_memory(MEM_SIZE);
	g->mem_size = MEM_SIZE;
	r = vmmu_set_region(g->vm_fd, 0, 0, 0, MEM_SIZE, (u64)g->mem);
	if (r)
		bail_out("KVM_SET_USER_MEMORY_REGION: %s", errno_name(-r));
	g->vcpu_fd = mmu_create_vcpu_or_die(g->vm_fd, 0);
	size = vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (long)sizeof(struct kvm_run))
		bail_out("KVM_GET_VCPU_MMAP_SIZE: %ld", size);
	g->mmap_size = size;
	g->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->vcpu_fd, 0);
	if (g->run == MAP_FAILED)
		bail_out("mmap of the vCPU fd: %s", strerror(errno));
	guest_load(g, CODE_GPA, rm_out, GUEST_CODE_SIZE(rm_out));
	guest_setup_real_mode(g, CODE_GPA);
	return 0;
}

/* Three tests: the VM is created, the guest does OUT, then HLT. */
static void test_tiny_guest(int sys_fd, bool vmmu, const char *who)
{
	struct guest g;
	int r;

	r = tiny_guest_create(&g, sys_fd, vmmu);
	if (!is_errno(r, 0, "%s: a VM with a vCPU", who)) {
		skip(2, "no VM");
		return;
	}
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, 0x80, 0x42,
		    "%s: the guest runs: OUT 0x42 to port 0x80", who);
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "%s: then HLT", who);
	guest_destroy(&g);
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
	test_tiny_guest(sys_fd, true, "vmmu, SVM free again");
	r = tiny_guest_create(&g, sys_fd, true);
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
	    access(MODULE_PATH, R_OK)) {
		skip(NR_TESTS, "needs kvm loaded, vmmu not, and %s (kvm-ref.sh)",
		     MODULE_PATH);
		return tap_finish();
	}
	kvm_vm = vmmu_create_vm(kvm_fd);
	if (!is_errno(kvm_vm, 0, "KVM_CREATE_VM on /dev/kvm (kvm_amd turns SVM on)"))
		bail_out("no KVM VM");

	mark_log();
	if (!is_errno(load_module(), 0, "vmmu loads while kvm_amd holds SVM"))
		bail_out("vmmu did not load");
	sys_fd = open_vmmu();
	if (!is_errno(sys_fd, 0, "%s is there", VMMU_DEVICE_PATH))
		bail_out("no %s", VMMU_DEVICE_PATH);
	test_refused(sys_fd);
	test_log();
	test_software_vm(sys_fd);

	close(kvm_vm);
	test_vmmu_owns(sys_fd, kvm_fd);

	close(sys_fd);
	if (!is_errno(vmmu_try_unload(), 0, "vmmu unloads"))
		bail_out("vmmu is still loaded");
	test_tiny_guest(kvm_fd, false, "KVM after vmmu is gone");
	close(kvm_fd);
	return tap_finish();
}
