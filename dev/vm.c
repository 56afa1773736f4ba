// SPDX-License-Identifier: GPL-2.0
/*
 * VM fds: creation and the VM ioctls.
 *
 * dev/ orchestrates: a memslot update is the core's prepare / commit / finish
 * with the MMU's work in between.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/memslot.h>
#include <vmmu/vm.h>

#include "dev.h"

static int vmmu_vm_set_memory_region(struct vmmu_vm *vm,
				     const struct kvm_userspace_memory_region *mem)
{
	struct vmmu_memslot_change chg;
	int r;

	mutex_lock(&vm->slots_lock);
	r = vmmu_memslot_prepare(vm, mem, &chg);
	if (!r && chg.kind != VMMU_MR_NONE) {
		vmmu_memslot_commit(vm, &chg);
		vmmu_memslot_finish(vm, &chg);
	}
	mutex_unlock(&vm->slots_lock);
	return r;
}

/* Snapshot the memslots under SRCU into @info; returns how many there are. */
static u32 vmmu_vm_read_memslots(struct vmmu_vm *vm,
				 struct vmmu_memslot_info *info, u64 *gen)
{
	struct vmmu_memslots *set;
	int idx, i, nr;

	idx = srcu_read_lock(&vm->srcu);
	set = vmmu_memslots(vm);
	*gen = READ_ONCE(set->generation) & ~VMMU_MEMSLOT_GEN_UPDATE_IN_PROGRESS;
	nr = set->nr;
	for (i = 0; i < nr; i++) {
		struct vmmu_memslot *slot = set->slots[i];

		info[i] = (struct vmmu_memslot_info) {
			.slot = slot->id,
			.flags = slot->flags,
			.guest_phys_addr = (u64)slot->base_gfn << PAGE_SHIFT,
			.memory_size = (u64)slot->npages << PAGE_SHIFT,
			.userspace_addr = slot->userspace_addr,
		};
	}
	srcu_read_unlock(&vm->srcu, idx);
	return nr;
}

static int vmmu_vm_get_memslots(struct vmmu_vm *vm,
				struct vmmu_memslot_list __user *ulist)
{
	struct vmmu_memslot_list list;
	struct vmmu_memslot_info *info;
	int r = 0;
	u32 nr;

	if (copy_from_user(&list, ulist, sizeof(list)))
		return -EFAULT;
	if (list.pad)
		return -EINVAL;

	info = kvmalloc_array(VMMU_NR_MEMSLOTS, sizeof(*info),
			      GFP_KERNEL_ACCOUNT);
	if (!info)
		return -ENOMEM;
	nr = vmmu_vm_read_memslots(vm, info, &list.generation);
	if (nr > list.nr) {
		r = -E2BIG;
	} else if (copy_to_user(ulist->entries, info, nr * sizeof(*info))) {
		r = -EFAULT;
		goto out;
	}
	list.nr = nr;
	if (copy_to_user(ulist, &list, sizeof(list)))
		r = -EFAULT;
out:
	kvfree(info);
	return r;
}

static long vmmu_vm_ioctl(struct file *filp, unsigned int ioctl,
			  unsigned long arg)
{
	struct vmmu_vm *vm = filp->private_data;
	void __user *argp = (void __user *)arg;

	/* A VM belongs to the address space that created it. */
	if (vm->mm != current->mm)
		return -EIO;

	switch (ioctl) {
	case KVM_CHECK_EXTENSION:
		return vmmu_check_extension(vm, arg);
	case KVM_SET_USER_MEMORY_REGION: {
		struct kvm_userspace_memory_region mem;

		if (copy_from_user(&mem, argp, sizeof(mem)))
			return -EFAULT;
		return vmmu_vm_set_memory_region(vm, &mem);
	}
	case VMMU_GET_MEMSLOTS:
		return vmmu_vm_get_memslots(vm, argp);
	default:
		/* KVM answers unknown VM ioctls with -ENOTTY. */
		return -ENOTTY;
	}
}

static int vmmu_vm_release(struct inode *inode, struct file *filp)
{
	vmmu_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations vmmu_vm_fops = {
	.owner = THIS_MODULE,
	.release = vmmu_vm_release,
	.unlocked_ioctl = vmmu_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/**
 * vmmu_dev_create_vm() - KVM_CREATE_VM
 * @type: the machine type; vmmu has only the default, 0
 *
 * Return: the new VM fd, or a negative errno.
 */
int vmmu_dev_create_vm(unsigned long type)
{
	struct vmmu_vm *vm;
	struct file *file;
	int fd;

	if (type)
		return -EINVAL;

	vm = vmmu_vm_create();
	if (IS_ERR(vm))
		return PTR_ERR(vm);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto err_put_vm;

	/* The file takes a module reference through the fops' owner. */
	file = anon_inode_getfile("vmmu-vm", &vmmu_vm_fops, vm, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_put_vm;
	}
	fd_install(fd, file);
	return fd;

err_put_vm:
	vmmu_vm_put(vm);
	return fd;
}
