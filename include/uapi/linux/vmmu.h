/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmmu-only ioctls.
 *
 * vmmu speaks a subset of KVM's x86 uAPI (<linux/kvm.h>) on /dev/vmmu.  The
 * ioctls here are vmmu's own: they use their own ioctl type so that they can
 * never collide with a KVM ioctl, and they are accepted only on vmmu's fds.
 */
#ifndef _UAPI_LINUX_VMMU_H
#define _UAPI_LINUX_VMMU_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VMMU_DEVICE_PATH	"/dev/vmmu"

/* vmmu's ioctl type; KVM's is 0xAE. */
#define VMMUIO			0xB2

/**
 * struct vmmu_memslot_info - one memslot as the VM sees it
 * @slot: address space id << 16 | slot id, as in kvm_userspace_memory_region
 * @flags: KVM_MEM_* flags
 * @guest_phys_addr: first guest-physical address of the slot
 * @memory_size: size in bytes
 * @userspace_addr: host virtual address backing the first byte
 */
struct vmmu_memslot_info {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
};

/**
 * struct vmmu_memslot_list - argument of VMMU_GET_MEMSLOTS
 * @nr: in: capacity of @entries; out: number of memslots in the VM
 * @pad: must be zero
 * @generation: out: generation of the memslot set that was read
 * @entries: out: the memslots, in ascending guest-physical address order
 *
 * If @nr is smaller than the number of memslots, the ioctl fails with E2BIG
 * and writes the number needed to @nr.
 */
struct vmmu_memslot_list {
	__u32 nr;
	__u32 pad;
	__u64 generation;
	struct vmmu_memslot_info entries[];
};

/* VM fd: read the current memslot set. */
#define VMMU_GET_MEMSLOTS	_IOWR(VMMUIO, 0x00, struct vmmu_memslot_list)

#endif /* _UAPI_LINUX_VMMU_H */
