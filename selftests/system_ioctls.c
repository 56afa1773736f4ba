// SPDX-License-Identifier: GPL-2.0
/*
 * System ioctls on /dev/vmmu and the VM fd: KVM_GET_API_VERSION,
 * KVM_CHECK_EXTENSION, KVM_CREATE_VM, and the errnos KVM gives to ioctls it
 * does not know (-EINVAL on /dev/kvm, -ENOTTY on a VM fd).
 */
#include <fcntl.h>
#include <unistd.h>

#include "tap.h"
#include "vmmu_util.h"

#define VMMU_NR_MEMSLOTS	512

#define ANY		(-1)	/* any value >= 0, the same on every fd */

struct cap_case {
	const char *name;
	long cap;
	long expected;	/* or ANY */
};

#define CAP(c, v)	{ #c, c, v }

static const struct cap_case caps[] = {
	/* The memslot uAPI. */
	CAP(KVM_CAP_USER_MEMORY, 1),
	CAP(KVM_CAP_NR_MEMSLOTS, VMMU_NR_MEMSLOTS),
	CAP(KVM_CAP_CHECK_EXTENSION_VM, 1),
	CAP(KVM_CAP_READONLY_MEM, 1),
	CAP(KVM_CAP_DESTROY_MEMORY_REGION_WORKS, 1),
	CAP(KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, 1),
	/*
	 * Dirty logging: the KVM_DIRTY_LOG_* flags KVM_ENABLE_CAP takes; the
	 * largest dirty ring in bytes.
	 */
	CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 3),
	CAP(KVM_CAP_DIRTY_LOG_RING, 1 << 20),
	CAP(KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 1 << 20),
	CAP(KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 1),
	/*
	 * Not implemented: an honest 0.  One address space only (as_id must
	 * be 0), no in-kernel irqchip.
	 */
	CAP(KVM_CAP_MULTI_ADDRESS_SPACE, 0),
	CAP(KVM_CAP_IRQCHIP, 0),
	{ "unknown capability 0xffff", 0xffff, 0 },
	{ "capability -1", -1, 0 },
	/* The MMU follows the host mm; vCPUs exist (software at least). */
	CAP(KVM_CAP_SYNC_MMU, 1),
	CAP(KVM_CAP_PRE_FAULT_MEMORY, 1),
	CAP(KVM_CAP_MAX_VCPUS, 64),
	CAP(KVM_CAP_MAX_VCPU_ID, 64),
	/* min(online CPUs, KVM_CAP_MAX_VCPUS); the VM fd must agree. */
	CAP(KVM_CAP_NR_VCPUS, ANY),
};

/* What /dev/vmmu answered, for the ANY capabilities. */
static long dev_answer[ARRAY_SIZE(caps)];

static const unsigned long bad_vm_types[] = {
	1, 2, 0x100, 0xffffffffUL, ~0UL,
};

struct unknown_case {
	const char *name;
	unsigned long request;
	int expected;
};

/* KVM's x86 /dev/kvm returns -EINVAL for every ioctl it does not know. */
static const struct unknown_case dev_unknown[] = {
	{ "unused KVM ioctl number _IO(KVMIO, 0xff)",
	  _IO(KVMIO, 0xff), EINVAL },
	{ "unused KVM ioctl number _IOW(KVMIO, 0xfe, __u64)",
	  _IOW(KVMIO, 0xfe, __u64), EINVAL },
	{ "foreign ioctl type _IO('Z', 0x42)", _IO('Z', 0x42), EINVAL },
	{ "KVM_SET_USER_MEMORY_REGION (a VM ioctl)",
	  KVM_SET_USER_MEMORY_REGION, EINVAL },
	{ "VMMU_GET_MEMSLOTS (a vmmu VM ioctl)", VMMU_GET_MEMSLOTS, EINVAL },
	{ "unused vmmu ioctl number _IO(VMMUIO, 0x7f)",
	  _IO(VMMUIO, 0x7f), EINVAL },
};

/* KVM's x86 VM fd returns -ENOTTY for every ioctl it does not know. */
static const struct unknown_case vm_unknown[] = {
	{ "unused KVM ioctl number _IO(KVMIO, 0xff)",
	  _IO(KVMIO, 0xff), ENOTTY },
	{ "unused KVM ioctl number _IOW(KVMIO, 0xfe, __u64)",
	  _IOW(KVMIO, 0xfe, __u64), ENOTTY },
	{ "foreign ioctl type _IO('Z', 0x42)", _IO('Z', 0x42), ENOTTY },
	{ "KVM_GET_API_VERSION (a system ioctl)", KVM_GET_API_VERSION, ENOTTY },
	{ "KVM_CREATE_VM (a system ioctl)", KVM_CREATE_VM, ENOTTY },
	{ "unused vmmu ioctl number _IO(VMMUIO, 0x7f)",
	  _IO(VMMUIO, 0x7f), ENOTTY },
};

/* Argument for ioctls that might read or write it: zeroed and large. */
static u64 scratch[512];

static void test_api_version(int sys_fd)
{
	is_int(vmmu_ioctl(sys_fd, KVM_GET_API_VERSION, 0), KVM_API_VERSION,
	       "KVM_GET_API_VERSION is %d", KVM_API_VERSION);
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_API_VERSION, 1), EINVAL,
		 "KVM_GET_API_VERSION with arg 1: EINVAL");
	is_errno(vmmu_ioctl(sys_fd, KVM_GET_API_VERSION, ~0UL), EINVAL,
		 "KVM_GET_API_VERSION with arg ~0: EINVAL");
}

static void test_caps(int fd, bool vm_fd)
{
	const char *fd_name = vm_fd ? "VM fd" : "/dev/vmmu";
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		const struct cap_case *c = &caps[i];
		long r = vmmu_check_extension(fd, c->cap);

		if (c->expected != ANY) {
			is_int(r, c->expected, "%s: %s is %ld", fd_name,
			       c->name, c->expected);
		} else if (!vm_fd) {
			dev_answer[i] = r;
			ok(r >= 0, "%s: %s is %ld", fd_name, c->name, r);
		} else {
			is_int(r, dev_answer[i], "%s: %s as on /dev/vmmu",
			       fd_name, c->name);
		}
	}
}

/* The recommended vCPU count: the online CPUs, at most the maximum. */
static void test_vcpu_caps(int fd)
{
	long nr = vmmu_check_extension(fd, KVM_CAP_NR_VCPUS);
	long max = vmmu_check_extension(fd, KVM_CAP_MAX_VCPUS);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	is_int(nr, cpus < max ? cpus : max,
	       "KVM_CAP_NR_VCPUS is min(online CPUs, KVM_CAP_MAX_VCPUS)");
}

static void test_bad_vm_types(int sys_fd)
{
	struct vmmu_objects before;
	unsigned int i;

	vmmu_objects_read_or_die(&before);
	for (i = 0; i < ARRAY_SIZE(bad_vm_types); i++) {
		long r = vmmu_ioctl(sys_fd, KVM_CREATE_VM, bad_vm_types[i]);

		is_errno(r, EINVAL, "KVM_CREATE_VM type %#lx: EINVAL",
			 bad_vm_types[i]);
		if (r >= 0)
			close(r);
	}
	ok_objects(&before, "failed KVM_CREATE_VM leaves no object behind");
}

static void test_unknown(int fd, const char *fd_name,
			 const struct unknown_case *cases, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		is_errno(vmmu_ioctl(fd, cases[i].request,
				    (unsigned long)scratch),
			 cases[i].expected, "%s: %s: %s", fd_name,
			 cases[i].name, errno_name(cases[i].expected));
}

int main(void)
{
	int sys_fd, vm_fd, fd_flags;

	tap_plan(3 + 2 * ARRAY_SIZE(caps) + 1 + 2 + ARRAY_SIZE(bad_vm_types) + 1 +
		 ARRAY_SIZE(dev_unknown) + ARRAY_SIZE(vm_unknown));

	sys_fd = vmmu_open();
	test_api_version(sys_fd);
	test_caps(sys_fd, false);
	test_vcpu_caps(sys_fd);

	vm_fd = vmmu_create_vm(sys_fd);
	if (!is_errno(vm_fd, 0, "KVM_CREATE_VM type 0 gives a VM fd"))
		bail_out("no VM fd, nothing else can be tested");
	fd_flags = fcntl(vm_fd, F_GETFD);
	ok(fd_flags >= 0 && (fd_flags & FD_CLOEXEC),
	   "the VM fd is close-on-exec");
	test_caps(vm_fd, true);

	test_bad_vm_types(sys_fd);
	test_unknown(sys_fd, "/dev/vmmu", dev_unknown, ARRAY_SIZE(dev_unknown));
	test_unknown(vm_fd, "VM fd", vm_unknown, ARRAY_SIZE(vm_unknown));

	close(vm_fd);
	close(sys_fd);
	return tap_finish();
}
