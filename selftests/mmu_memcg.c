// SPDX-License-Identifier: GPL-2.0
/*
 * Page tables are charged to the memory cgroup of the VM's owner.
 *
 * The guest memory (a memfd) is populated from one cgroup, "a"; a child
 * process creates the VM in cgroup "b", then moves to cgroup "c" and faults
 * all of the memory in through a software vCPU.  Every page-table page vmmu
 * allocated must be charged to b, where the VM's owner was when it created
 * the VM (sec_pagetables in its memory.stat), none to a or c; after the VM
 * is closed, b's charge must drop back to zero.
 *
 * memory.stat is flushed lazily by the kernel (every few seconds), so the
 * test polls for the exact value, up to a generous bound; the outcome never
 * depends on how long the flush takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"
#include "mmu_util.h"
#include "tap.h"
#include "vmmu_util.h"

#define GUEST_SIZE	(64UL << 20)
#define NR_TESTS	6

static char base[CG_PATH_MAX];

struct child_result {
	int error;		/* -errno of the first failing step, or 0 */
	long pt_pages;		/* vmmu's page-table pages while mapped */
	long owner;		/* b's sec_pagetables while mapped */
	long memory_cg;		/* a's sec_pagetables while mapped */
	long faulter;		/* c's sec_pagetables while mapped */
	long after;		/* b's sec_pagetables after the VM closed */
};

/* Create the VM in cgroup b, fault the memfd in from c, measure, close. */
static void child(int mfd, const char *a, const char *b, const char *c,
		  struct child_result *res)
{
	struct kvm_pre_fault_memory range = { .size = GUEST_SIZE };
	struct vmmu_objects objs;
	struct mmu_vm vm;
	int sys_fd, vcpu;
	void *hva;

	res->error = cg_enter(b);
	if (res->error)
		return;
	hva = mmu_map_fd(mfd, GUEST_SIZE, 0, NULL);
	sys_fd = vmmu_open();
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	mmu_set_region_or_die(vm.vm_fd, 0, 0, 0, GUEST_SIZE, hva);
	vcpu = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	res->error = cg_enter(c);
	if (res->error)
		return;
	/* Map every page of the guest memory into the vCPU's root. */
	if (ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range) || range.size) {
		res->error = range.size ? -EIO : -errno;
		return;
	}
	res->error = vmmu_objects_read(&objs);
	if (res->error)
		return;
	res->pt_pages = objs.pt_pages;
	res->owner = cg_wait_stat(b, "sec_pagetables", objs.pt_pages * 4096);
	res->memory_cg = cg_wait_stat(a, "sec_pagetables", 0);
	res->faulter = cg_wait_stat(c, "sec_pagetables", 0);
	close(vcpu);
	mmu_vm_close(&vm);
	close(sys_fd);
	res->after = cg_wait_stat(b, "sec_pagetables", 0);
}

static void run(void)
{
	struct child_result res = { .error = -EIO };
	char a[CG_PATH_MAX + 32], b[CG_PATH_MAX + 32], c[CG_PATH_MAX + 32];
	int pipefd[2], status, mfd;
	void *mem;
	pid_t pid;

	snprintf(a, sizeof(a), "%s/mmu_memcg-a", base);
	snprintf(b, sizeof(b), "%s/mmu_memcg-b", base);
	snprintf(c, sizeof(c), "%s/mmu_memcg-c", base);
	if ((mkdir(a, 0755) && errno != EEXIST) ||
	    (mkdir(b, 0755) && errno != EEXIST) ||
	    (mkdir(c, 0755) && errno != EEXIST))
		bail_out("cannot create cgroups under %s: %s", base,
			 strerror(errno));
	/* No process may stay in base once it hands memory to children. */
	if (cg_enter(a) || cg_write(base, "cgroup.subtree_control", "+memory"))
		bail_out("cannot enable the memory controller under %s", base);

	/* Guest memory, charged to a. */
	mfd = mmu_memfd("guest", GUEST_SIZE);
	mem = mmu_map_fd(mfd, GUEST_SIZE, 0, NULL);
	memset(mem, 0x5a, GUEST_SIZE);

	if (pipe(pipefd))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		child(mfd, a, b, c, &res);
		if (write(pipefd[1], &res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &res, sizeof(res)) != sizeof(res))
		res.error = -EPIPE;
	waitpid(pid, &status, 0);

	is_int(res.error, 0, "the VM owner faulted %lu MiB of guest memory in",
	       GUEST_SIZE >> 20);
	ok(res.pt_pages > 0, "vmmu holds %ld page-table pages", res.pt_pages);
	is_int(res.owner, res.pt_pages * 4096,
	       "all of them are charged to the cgroup the VM was created in");
	is_int(res.faulter, 0,
	       "none to the cgroup the faulting process moved to");
	is_int(res.memory_cg, 0,
	       "none to the cgroup that holds the guest memory");
	is_int(res.after, 0, "the owner's charge is gone once the VM is closed");

	munmap(mem, GUEST_SIZE);
	close(mfd);
	rmdir(b);
	rmdir(c);
	cg_write(base, "cgroup.subtree_control", "-memory");
	cg_enter(base);
	rmdir(a);
}

int main(void)
{
	tap_plan(NR_TESTS);
	if (cg_find_base(base)) {
		skip(NR_TESTS, "no cgroup2 hierarchy");
		return tap_finish();
	}
	run();
	return tap_finish();
}
