// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_ENABLE_CAP on VM and vCPU fds, and the MMU page limit
 * (KVM_SET_NR_MMU_PAGES / KVM_GET_NR_MMU_PAGES), with KVM's errnos and
 * KVM's values:
 *
 * - the struct is copied in (EFAULT), a capability vmmu cannot enable is
 *   EINVAL, flags and args are checked per capability, and a refused call
 *   changes nothing;
 * - KVM_CAP_MAX_VCPU_ID bounds the ids of later vCPUs, once;
 * - the page limit is at least 64 (EINVAL below); until set it is KVM's
 *   default: 0 before the first memslot update, then one page per 50
 *   memslot pages and at least 64; once set it stays.
 *
 * Software vCPUs only, so it runs in every lane.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "tap.h"
#include "vmmu_util.h"

#define MAX_VCPU_IDS	64	/* KVM_CAP_MAX_VCPU_ID */
#define MIN_MMU_PAGES	64	/* KVM_MIN_ALLOC_MMU_PAGES */
#define MIB		(1024ULL * 1024)

static int enable_cap(int fd, u32 cap, u32 flags, u64 arg0)
{
	struct kvm_enable_cap ec = {
		.cap = cap,
		.flags = flags,
		.args = { arg0 },
	};

	return vmmu_ioctl(fd, KVM_ENABLE_CAP, (unsigned long)&ec);
}

static int software_vm(int sys_fd)
{
	static const struct mmu_cfg npt = { VMMU_MMU_FORMAT_NPT, 0 };
	struct mmu_vm vm;

	mmu_vm_create(sys_fd, &npt, &vm);
	return vm.vm_fd;
}

/* A buffer no process may read: unmapped. */
static void *unmapped_page(void)
{
	void *p = mmap(NULL, PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bail_out("mmap: %m");
	munmap(p, PAGE_SIZE);
	return p;
}

struct refused_cap {
	const char *name;
	u32 cap;
};

#define CAP(c)	{ #c, c }

/*
 * Capabilities KVM can enable on a VM fd that vmmu does not implement: each
 * is EINVAL whatever its args, and reported 0 by KVM_CHECK_EXTENSION.
 */
static const struct refused_cap vm_refused[] = {
	CAP(KVM_CAP_HALT_POLL),
	CAP(KVM_CAP_SPLIT_IRQCHIP),
	CAP(KVM_CAP_X86_DISABLE_EXITS),
	CAP(KVM_CAP_DISABLE_QUIRKS),
	CAP(KVM_CAP_EXIT_ON_EMULATION_FAILURE),
	CAP(KVM_CAP_X86_BUS_LOCK_EXIT),
	{ "capability 0", 0 },
	{ "capability 0xffff", 0xffff },
	{ "capability 0xffffffff", 0xffffffff },
};

/* The same for the vCPU capabilities of KVM's x86 vCPU fd. */
static const struct refused_cap vcpu_refused[] = {
	CAP(KVM_CAP_HYPERV_SYNIC),
	CAP(KVM_CAP_HYPERV_SYNIC2),
	CAP(KVM_CAP_HYPERV_ENFORCE_CPUID),
	CAP(KVM_CAP_ENFORCE_PV_FEATURE_CPUID),
	/* A VM capability is not a vCPU capability. */
	CAP(KVM_CAP_MAX_VCPU_ID),
	CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2),
	CAP(KVM_CAP_DIRTY_LOG_RING),
	{ "capability 0", 0 },
	{ "capability 0xffff", 0xffff },
};

#define NR_EXTENSION_TESTS	6
static void test_extensions(int sys_fd, int vm_fd)
{
	static const struct refused_cap caps[] = {
		CAP(KVM_CAP_ENABLE_CAP),
		CAP(KVM_CAP_ENABLE_CAP_VM),
		CAP(KVM_CAP_MMU_SHADOW_CACHE_CONTROL),
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		is_int(vmmu_check_extension(sys_fd, caps[i].cap), 1,
		       "/dev/vmmu: %s is 1", caps[i].name);
		is_int(vmmu_check_extension(vm_fd, caps[i].cap), 1,
		       "VM fd: %s is 1", caps[i].name);
	}
}

#define NR_VM_REFUSED_TESTS	(4 + 3 * ARRAY_SIZE(vm_refused))
static void test_vm_refused(int vm_fd)
{
	unsigned int i;

	is_errno(vmmu_ioctl(vm_fd, KVM_ENABLE_CAP, 0), EFAULT,
		 "VM KVM_ENABLE_CAP with a NULL argument: EFAULT");
	is_errno(vmmu_ioctl(vm_fd, KVM_ENABLE_CAP,
			    (unsigned long)unmapped_page()), EFAULT,
		 "VM KVM_ENABLE_CAP with an unmapped argument: EFAULT");
	/* A kernel address is no user buffer either. */
	is_errno(vmmu_ioctl(vm_fd, KVM_ENABLE_CAP, ~0UL), EFAULT,
		 "VM KVM_ENABLE_CAP with a kernel address: EFAULT");
	for (i = 0; i < ARRAY_SIZE(vm_refused); i++) {
		const struct refused_cap *c = &vm_refused[i];

		is_errno(enable_cap(vm_fd, c->cap, 0, 0), EINVAL,
			 "VM: %s (not implemented): EINVAL", c->name);
		is_errno(enable_cap(vm_fd, c->cap, 0, 1), EINVAL,
			 "VM: %s with args[0] 1: EINVAL", c->name);
		is_int(vmmu_check_extension(vm_fd, c->cap), 0,
		       "VM: %s: KVM_CHECK_EXTENSION 0", c->name);
	}
	/* The VM is still usable. */
	is_int(vmmu_ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY), 1,
	       "VM fd answers after the refused calls");
}

#define NR_MAX_VCPU_ID_TESTS	17
static void test_max_vcpu_id(int sys_fd)
{
	int vm_fd = software_vm(sys_fd);
	int early, fd3, fd0;

	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 1, 4), EINVAL,
		 "MAX_VCPU_ID with flags 1: EINVAL");
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, MAX_VCPU_IDS + 1),
		 EINVAL, "MAX_VCPU_ID %d (above KVM_CAP_MAX_VCPU_ID): EINVAL",
		 MAX_VCPU_IDS + 1);
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 1ULL << 32),
		 EINVAL, "MAX_VCPU_ID 2^32: EINVAL");
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 0), 0,
		 "MAX_VCPU_ID 0 while none is set: 0, nothing set");
	/* A vCPU created before the limit keeps its id. */
	early = mmu_create_vcpu(vm_fd, 10);
	ok(early >= 0, "vCPU 10 created before any limit");
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 4), 0,
		 "MAX_VCPU_ID 4 after vCPU 10 exists: 0 (as KVM 6.1)");
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 4), 0,
		 "MAX_VCPU_ID 4 again: 0");
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 8), EINVAL,
		 "MAX_VCPU_ID 8 once 4 is set: EINVAL");
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 0), EINVAL,
		 "MAX_VCPU_ID 0 once 4 is set: EINVAL");
	is_int(vmmu_check_extension(vm_fd, KVM_CAP_MAX_VCPU_ID), MAX_VCPU_IDS,
	       "KVM_CHECK_EXTENSION(MAX_VCPU_ID) still %d (as KVM)",
	       MAX_VCPU_IDS);
	is_errno(mmu_create_vcpu(vm_fd, 4), EINVAL, "vCPU 4: EINVAL");
	is_errno(mmu_create_vcpu(vm_fd, 63), EINVAL, "vCPU 63: EINVAL");
	/* The limit comes before the duplicate check, as in KVM. */
	is_errno(mmu_create_vcpu(vm_fd, 10), EINVAL,
		 "vCPU 10 again (taken, above the limit): EINVAL");
	fd3 = mmu_create_vcpu(vm_fd, 3);
	ok(fd3 >= 0, "vCPU 3: created");
	is_errno(mmu_create_vcpu(vm_fd, 3), EEXIST, "vCPU 3 again: EEXIST");
	fd0 = mmu_create_vcpu(vm_fd, 0);
	ok(fd0 >= 0, "vCPU 0: created");
	/* vCPU 10 still works: an ioctl it answers with a result. */
	is_errno(enable_cap(early, 0xffff, 0, 0), EINVAL,
		 "vCPU 10 still answers ioctls");
	close(vm_fd);
	close(early);
	close(fd3);
	close(fd0);
}

#define NR_VCPU_TESTS	(5 + 3 * ARRAY_SIZE(vcpu_refused))
static void test_vcpu(int sys_fd)
{
	int vm_fd = software_vm(sys_fd);
	int vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	unsigned int i;

	is_errno(vmmu_ioctl(vcpu_fd, KVM_ENABLE_CAP, 0), EFAULT,
		 "vCPU KVM_ENABLE_CAP with a NULL argument: EFAULT");
	is_errno(vmmu_ioctl(vcpu_fd, KVM_ENABLE_CAP,
			    (unsigned long)unmapped_page()), EFAULT,
		 "vCPU KVM_ENABLE_CAP with an unmapped argument: EFAULT");
	is_errno(enable_cap(vcpu_fd, 0xffff, 1, 0), EINVAL,
		 "vCPU: unknown capability with flags 1: EINVAL");
	is_errno(enable_cap(vcpu_fd, KVM_CAP_HYPERV_SYNIC, 1, 0), EINVAL,
		 "vCPU: KVM_CAP_HYPERV_SYNIC with flags 1: EINVAL");
	for (i = 0; i < ARRAY_SIZE(vcpu_refused); i++) {
		const struct refused_cap *c = &vcpu_refused[i];

		is_errno(enable_cap(vcpu_fd, c->cap, 0, 0), EINVAL,
			 "vCPU: %s (not implemented): EINVAL", c->name);
		is_errno(enable_cap(vcpu_fd, c->cap, 0, 1), EINVAL,
			 "vCPU: %s with args[0] 1: EINVAL", c->name);
		if (c->cap == KVM_CAP_MAX_VCPU_ID)
			is_int(vmmu_check_extension(vm_fd, c->cap),
			       MAX_VCPU_IDS, "%s is a VM capability", c->name);
		else if (c->cap == KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)
			is_int(vmmu_check_extension(vm_fd, c->cap), 3,
			       "%s is a VM capability", c->name);
		else if (c->cap == KVM_CAP_DIRTY_LOG_RING)
			is_int(vmmu_check_extension(vm_fd, c->cap), 1 << 20,
			       "%s is a VM capability", c->name);
		else
			is_int(vmmu_check_extension(vm_fd, c->cap), 0,
			       "%s: KVM_CHECK_EXTENSION 0", c->name);
	}
	/* KVM_CAP_MAX_VCPU_ID on the vCPU fd set nothing on the VM. */
	is_errno(enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 2), 0,
		 "the VM still takes MAX_VCPU_ID 2");
	close(vcpu_fd);
	close(vm_fd);
}

static long get_pages(int vm_fd)
{
	return vmmu_ioctl(vm_fd, KVM_GET_NR_MMU_PAGES, 0);
}

static long set_pages(int vm_fd, unsigned long nr)
{
	return vmmu_ioctl(vm_fd, KVM_SET_NR_MMU_PAGES, nr);
}

/* KVM's default: one page per 50 memslot pages, at least 64. */
static long default_pages(u64 bytes)
{
	u64 nr = bytes / PAGE_SIZE / 50;

	return nr < MIN_MMU_PAGES ? MIN_MMU_PAGES : (long)nr;
}

#define NR_MMU_PAGES_TESTS	23
static void test_mmu_pages(int sys_fd)
{
	/* Slots need not be backed: reserve address space only. */
	const u64 big = 1024 * MIB, small = 8 * MIB;
	int vm_fd = software_vm(sys_fd);
	char *mem;

	mem = mmap(NULL, big + small, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		bail_out("mmap: %m");

	is_int(get_pages(vm_fd), 0, "new VM: GET_NR_MMU_PAGES 0 (as KVM)");
	is_errno(set_pages(vm_fd, 0), EINVAL, "SET_NR_MMU_PAGES 0: EINVAL");
	is_errno(set_pages(vm_fd, 1), EINVAL, "SET_NR_MMU_PAGES 1: EINVAL");
	is_errno(set_pages(vm_fd, MIN_MMU_PAGES - 1), EINVAL,
		 "SET_NR_MMU_PAGES %d: EINVAL", MIN_MMU_PAGES - 1);
	is_int(get_pages(vm_fd), 0, "still 0 after the refused sets");

	is_errno(vmmu_set_region(vm_fd, 0, 0, 0, small, (u64)mem), 0,
		 "slot 0: 8 MiB");
	is_int(get_pages(vm_fd), MIN_MMU_PAGES, "8 MiB of slots: 64");
	is_errno(vmmu_set_region(vm_fd, 1, 0, 4 * big, big,
				 (u64)(mem + small)), 0, "slot 1: 1 GiB");
	is_int(get_pages(vm_fd), default_pages(big + small),
	       "1 GiB + 8 MiB of slots: %ld", default_pages(big + small));
	is_errno(vmmu_set_region(vm_fd, 1, 0, 8 * big, big,
				 (u64)(mem + small)), 0, "slot 1 moved");
	is_int(get_pages(vm_fd), default_pages(big + small),
	       "after the move: the same");
	is_errno(vmmu_delete_region(vm_fd, 1), 0, "slot 1 deleted");
	is_int(get_pages(vm_fd), MIN_MMU_PAGES, "8 MiB of slots again: 64");
	is_errno(vmmu_delete_region(vm_fd, 0), 0, "slot 0 deleted");
	is_int(get_pages(vm_fd), MIN_MMU_PAGES,
	       "no slot left: 64 (the default, once slots changed)");

	is_errno(set_pages(vm_fd, MIN_MMU_PAGES), 0,
		 "SET_NR_MMU_PAGES %d: 0", MIN_MMU_PAGES);
	is_errno(set_pages(vm_fd, 1000), 0, "SET_NR_MMU_PAGES 1000: 0");
	is_errno(vmmu_set_region(vm_fd, 1, 0, 4 * big, big,
				 (u64)(mem + small)), 0, "slot 1: 1 GiB");
	is_int(get_pages(vm_fd), 1000, "a set limit ignores memslots: 1000");
	is_errno(set_pages(vm_fd, MIN_MMU_PAGES - 1), EINVAL,
		 "SET_NR_MMU_PAGES %d once 1000 is set: EINVAL",
		 MIN_MMU_PAGES - 1);
	is_int(get_pages(vm_fd), 1000, "still 1000");
	/* Read back in an int, as from KVM. */
	is_errno(set_pages(vm_fd, (1UL << 32) + 100), 0,
		 "SET_NR_MMU_PAGES 2^32 + 100: 0");
	is_int(get_pages(vm_fd), 100,
	       "GET_NR_MMU_PAGES reads 100: the value as an int, as KVM's");
	close(vm_fd);
	munmap(mem, big + small);
}

/* From another process (mm), every one of these ioctls is EIO. */
#define NR_OTHER_MM_TESTS	1
static void test_other_mm(int sys_fd)
{
	int vm_fd = software_vm(sys_fd);
	int vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		bail_out("fork: %m");
	if (!pid) {
		int bad = 0;

		bad |= enable_cap(vm_fd, KVM_CAP_MAX_VCPU_ID, 0, 4) != -EIO;
		bad |= (enable_cap(vcpu_fd, 0xffff, 0, 0) != -EIO) << 1;
		bad |= (set_pages(vm_fd, 100) != -EIO) << 2;
		bad |= (get_pages(vm_fd) != -EIO) << 3;
		_exit(bad);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "from another mm: VM and vCPU KVM_ENABLE_CAP, SET and GET_NR_MMU_PAGES are EIO (status %#x)",
	   status);
	close(vcpu_fd);
	close(vm_fd);
}

int main(void)
{
	struct vmmu_objects baseline;
	int sys_fd, vm_fd;

	tap_plan(NR_EXTENSION_TESTS + NR_VM_REFUSED_TESTS +
		 NR_MAX_VCPU_ID_TESTS + NR_VCPU_TESTS + NR_MMU_PAGES_TESTS +
		 NR_OTHER_MM_TESTS + 1);
	vmmu_objects_read_or_die(&baseline);
	sys_fd = vmmu_open();
	vm_fd = software_vm(sys_fd);
	test_extensions(sys_fd, vm_fd);
	test_vm_refused(vm_fd);
	close(vm_fd);
	test_max_vcpu_id(sys_fd);
	test_vcpu(sys_fd);
	test_mmu_pages(sys_fd);
	test_other_mm(sys_fd);
	close(sys_fd);
	ok_objects(&baseline, "module objects back at baseline after close");
	return tap_finish();
}
