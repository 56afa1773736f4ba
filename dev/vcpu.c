// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU fds: creation and the vCPU ioctls.
 */
#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/mmu.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#include "dev.h"

/* Is [gpa, gpa + len) inside what the VM's root can map? */
static bool vmmu_gpa_range_ok(struct vmmu_vm *vm, u64 gpa, u64 len)
{
	u64 limit = 1ULL << vmmu_gpa_bits(vm->fmt.root_level);

	return gpa < limit && len <= limit - gpa;
}

static int vmmu_vcpu_access(struct vmmu_vcpu *vcpu,
			    struct vmmu_access __user *uacc)
{
	struct vmmu_access acc;
	int r;

	/* Hardware vCPUs access memory by running guest code. */
	if (vcpu->vm->backend)
		return -EINVAL;
	if (copy_from_user(&acc, uacc, sizeof(acc)))
		return -EFAULT;
	if (acc.flags || acc.pad || acc.kind > VMMU_ACCESS_FETCH)
		return -EINVAL;
	if (!vmmu_gpa_range_ok(vcpu->vm, acc.gpa, acc.len))
		return -EINVAL;
	r = vmmu_sw_vcpu_access(vcpu, &acc);
	if (r)
		return r;
	return copy_to_user(uacc, &acc, sizeof(acc)) ? -EFAULT : 0;
}

static int vmmu_vcpu_translate_ioctl(struct vmmu_vcpu *vcpu,
				     struct vmmu_translation __user *utr)
{
	struct vmmu_translation tr;

	if (copy_from_user(&tr, utr, sizeof(tr)))
		return -EFAULT;
	if (!vmmu_gpa_range_ok(vcpu->vm, tr.gpa, 1))
		return -EINVAL;
	/* Host pfns are for the privileged only, as in /proc/pid/pagemap. */
	vmmu_vcpu_translate(vcpu, &tr, capable(CAP_SYS_ADMIN));
	return copy_to_user(utr, &tr, sizeof(tr)) ? -EFAULT : 0;
}

static int vmmu_vcpu_pre_fault(struct vmmu_vcpu *vcpu,
			       struct kvm_pre_fault_memory __user *urange)
{
	struct kvm_pre_fault_memory range;
	int r;

	if (copy_from_user(&range, urange, sizeof(range)))
		return -EFAULT;
	r = vmmu_pre_fault_memory(vcpu, &range);
	/* What is left of the range goes back, as KVM does. */
	if (copy_to_user(urange, &range, sizeof(range)))
		r = -EFAULT;
	return r;
}

static long vmmu_vcpu_ioctl(struct file *filp, unsigned int ioctl,
			    unsigned long arg)
{
	struct vmmu_vcpu *vcpu = filp->private_data;
	void __user *argp = (void __user *)arg;
	long r;

	if (vcpu->vm->mm != current->mm)
		return -EIO;
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	switch (ioctl) {
	case VMMU_VCPU_ACCESS:
		r = vmmu_vcpu_access(vcpu, argp);
		break;
	case VMMU_VCPU_TRANSLATE:
		r = vmmu_vcpu_translate_ioctl(vcpu, argp);
		break;
	case KVM_PRE_FAULT_MEMORY:
		r = vmmu_vcpu_pre_fault(vcpu, argp);
		break;
	case KVM_RUN:
		r = arg ? -EINVAL : vmmu_vcpu_run(vcpu);
		break;
	case KVM_GET_REGS:
	case KVM_SET_REGS:
	case KVM_GET_SREGS:
	case KVM_SET_SREGS:
		r = vmmu_vcpu_regs_ioctl(vcpu, ioctl, argp);
		break;
	default:
		/* KVM answers unknown vCPU ioctls with -EINVAL. */
		r = -EINVAL;
	}
	mutex_unlock(&vcpu->mutex);
	return r;
}

static int vmmu_vcpu_release(struct inode *inode, struct file *filp)
{
	struct vmmu_vcpu *vcpu = filp->private_data;

	/* The vCPU itself lives until the VM goes. */
	vmmu_dev_vm_put(vcpu->vm);
	return 0;
}

static const struct file_operations vmmu_vcpu_fops = {
	.owner = THIS_MODULE,
	.release = vmmu_vcpu_release,
	.unlocked_ioctl = vmmu_vcpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = vmmu_vcpu_mmap,
	.llseek = noop_llseek,
};

static bool vmmu_vcpu_id_taken(struct vmmu_vm *vm, unsigned long id)
{
	struct vmmu_vcpu *vcpu;
	int i;

	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++)
		if (vcpu->vcpu_id == id)
			return true;
	return false;
}

/* Allocate, publish and hand out a vCPU; vm->lock is held. */
static int vmmu_vm_install_vcpu(struct vmmu_vm *vm, unsigned long id)
{
	struct vmmu_vcpu *vcpu;
	struct file *file;
	char name[24];
	int fd;

	vcpu = vmmu_vcpu_alloc(vm, id);
	if (!vcpu)
		return -ENOMEM;
	vcpu->header_cache.kmem = vmmu_tdp_mmu_header_cache();
	fd = vmmu_vcpu_hw_init(vcpu);
	if (fd)
		goto err_free;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto err_free;
	snprintf(name, sizeof(name), "vmmu-vcpu:%lu", id);
	file = anon_inode_getfile(name, &vmmu_vcpu_fops, vcpu, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_free;
	}
	/* Published before userspace can use it, so flushes reach it. */
	vmmu_vm_add_vcpu(vm, vcpu);
	vmmu_vm_get(vm);
	fd_install(fd, file);
	return fd;

err_free:
	vmmu_vcpu_hw_destroy(vcpu);
	vmmu_vcpu_free(vcpu);
	return fd;
}

/**
 * vmmu_vm_create_vcpu() - KVM_CREATE_VCPU
 * @vm: the VM
 * @id: the vCPU id, below VMMU_MAX_VCPU_IDS
 *
 * Return: the vCPU fd, or -EINVAL (bad id, too many vCPUs), -EEXIST (id in
 * use), -ENOMEM, -EMFILE.
 */
int vmmu_vm_create_vcpu(struct vmmu_vm *vm, unsigned long id)
{
	int r;

	if (id >= VMMU_MAX_VCPU_IDS)
		return -EINVAL;
	mutex_lock(&vm->lock);
	if (atomic_read(&vm->online_vcpus) >= VMMU_MAX_VCPUS)
		r = -EINVAL;
	else if (vmmu_vcpu_id_taken(vm, id))
		r = -EEXIST;
	else
		r = vmmu_vm_install_vcpu(vm, id);
	mutex_unlock(&vm->lock);
	return r;
}
