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
#include <linux/signal.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/backend.h>
#include <vmmu/cpuid.h>
#include <vmmu/mmu.h>
#include <vmmu/pfncache.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>

#include "dev.h"

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
	if (!vmmu_gpa_range_in_reach(&vcpu->vm->fmt, acc.gpa, acc.len))
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
	if (!vmmu_gpa_range_in_reach(&vcpu->vm->fmt, tr.gpa, 0))
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

/**
 * vmmu_cpuid_to_user() - copy a CPUID table out as KVM does
 * @table: the table
 * @ucpuid: the user's struct kvm_cpuid2; its nent is the room it has
 *
 * Writes the number of entries to @ucpuid->nent, also when there is not
 * room for them all (then nothing else is written).
 *
 * Return: 0, -E2BIG (too little room) or -EFAULT.
 */
int vmmu_cpuid_to_user(const struct vmmu_cpuid *table,
		       struct kvm_cpuid2 __user *ucpuid)
{
	u32 room;
	int r = 0;

	if (get_user(room, &ucpuid->nent))
		return -EFAULT;
	if (room < table->nent)
		r = -E2BIG;
	else if (copy_to_user(ucpuid->entries, table->entries,
			      array_size(table->nent, sizeof(table->entries[0]))))
		return -EFAULT;
	if (put_user(table->nent, &ucpuid->nent))
		return -EFAULT;
	return r;
}

/* KVM_SET_CPUID2: the table the guest's CPUID is answered from. */
static int vmmu_vcpu_set_cpuid2(struct vmmu_vcpu *vcpu,
				struct kvm_cpuid2 __user *ucpuid)
{
	struct vmmu_cpuid *table;
	u32 nent;
	int r;

	if (!vcpu->vm->backend)
		return -EINVAL;
	if (get_user(nent, &ucpuid->nent))
		return -EFAULT;
	if (nent > VMMU_MAX_CPUID_ENTRIES)
		return -E2BIG;
	table = vmmu_cpuid_alloc(nent);
	if (!table)
		return -ENOMEM;
	r = -EFAULT;
	if (copy_from_user(table->entries, ucpuid->entries,
			   array_size(nent, sizeof(table->entries[0]))))
		goto err_free;
	r = vmmu_cpuid_check(table);
	if (r)
		goto err_free;
	/*
	 * Once the vCPU has run, only the same table again (a VMM that reuses
	 * a vCPU for CPU hotplug sets it again), as in KVM: the guest and
	 * vmmu's checks of MSR values have used the old one.
	 */
	if (vcpu->x86.entered) {
		r = vmmu_cpuid_equal(table, vmmu_vcpu_cpuid(vcpu)) ? 0 : -EINVAL;
		goto err_free;
	}
	vmmu_vcpu_set_cpuid(vcpu, table);
	return 0;

err_free:
	vmmu_cpuid_free(table);
	return r;
}

/*
 * KVM_GET_MP_STATE and KVM_SET_MP_STATE, as KVM has them for a vCPU
 * without an in-kernel local APIC: such a vCPU is always RUNNABLE (a HLT
 * exits to userspace, KVM_EXIT_HLT), and every other state needs the APIC
 * that delivers INIT and SIPI or wakes a halted CPU: -EINVAL.  Software
 * vCPUs: -EINVAL, as for the other register ioctls.
 */
static int vmmu_vcpu_mp_state(struct vmmu_vcpu *vcpu, unsigned int ioctl,
			      struct kvm_mp_state __user *ump)
{
	struct kvm_mp_state mp;

	if (!vcpu->vm->backend)
		return -EINVAL;
	if (ioctl == KVM_GET_MP_STATE) {
		mp.mp_state = KVM_MP_STATE_RUNNABLE;
		return copy_to_user(ump, &mp, sizeof(mp)) ? -EFAULT : 0;
	}
	if (copy_from_user(&mp, ump, sizeof(mp)))
		return -EFAULT;
	return mp.mp_state == KVM_MP_STATE_RUNNABLE ? 0 : -EINVAL;
}

/* VMMU_VCPU_SET_RUNSTATE: hardware vCPUs only. */
static int vmmu_vcpu_set_runstate(struct vmmu_vcpu *vcpu,
				  struct vmmu_runstate_config __user *ucfg)
{
	struct vmmu_runstate_config cfg;

	if (!vcpu->vm->backend)
		return -EINVAL;
	if (copy_from_user(&cfg, ucfg, sizeof(cfg)))
		return -EFAULT;
	if (cfg.pad)
		return -EINVAL;
	return vmmu_runstate_set(vcpu, cfg.gpa, cfg.flags);
}

/*
 * KVM_SET_SIGNAL_MASK: the signals to block while the thread is in
 * KVM_RUN (a NULL argument: the thread's own mask).  A VMM leaves a signal
 * blocked outside KVM_RUN and unblocked inside it to kick a vCPU out of the
 * guest without a signal handler racing with the ioctl.  KVM's checks:
 * len must be the kernel's sigset_t size; SIGKILL and SIGSTOP are never
 * blocked.
 */
static int vmmu_vcpu_set_sigmask(struct vmmu_vcpu *vcpu,
				 struct kvm_signal_mask __user *umask)
{
	struct kvm_signal_mask mask;
	sigset_t set;

	if (!umask) {
		vcpu->sigset_active = false;
		return 0;
	}
	if (copy_from_user(&mask, umask, sizeof(mask)))
		return -EFAULT;
	if (mask.len != sizeof(set))
		return -EINVAL;
	if (copy_from_user(&set, umask->sigset, sizeof(set)))
		return -EFAULT;
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	vcpu->sigset = set;
	vcpu->sigset_active = true;
	return 0;
}

/*
 * KVM_INTERRUPT: an external interrupt from the VMM's interrupt controller
 * (there is none in the kernel).  Hardware vCPUs only.
 */
static long vmmu_vcpu_interrupt(struct vmmu_vcpu *vcpu, void __user *argp)
{
	struct kvm_interrupt irq;

	if (!vcpu->vm->backend)
		return -EINVAL;
	if (copy_from_user(&irq, argp, sizeof(irq)))
		return -EFAULT;
	return vmmu_x86_interrupt(vcpu, irq.irq);
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
		if (arg) {
			r = -EINVAL;
			break;
		}
		vmmu_runstate_run_start(vcpu);
		r = vmmu_vcpu_run(vcpu);
		break;
	case VMMU_VCPU_SET_RUNSTATE:
		r = vmmu_vcpu_set_runstate(vcpu, argp);
		break;
	case KVM_GET_REGS:
	case KVM_SET_REGS:
	case KVM_GET_SREGS:
	case KVM_SET_SREGS:
		r = vmmu_vcpu_regs_ioctl(vcpu, ioctl, argp);
		break;
	case KVM_SET_CPUID2:
		r = vmmu_vcpu_set_cpuid2(vcpu, argp);
		break;
	case KVM_GET_CPUID2:
		r = vcpu->vm->backend ?
		    vmmu_cpuid_to_user(vmmu_vcpu_cpuid(vcpu), argp) : -EINVAL;
		break;
	case KVM_GET_MP_STATE:
	case KVM_SET_MP_STATE:
		r = vmmu_vcpu_mp_state(vcpu, ioctl, argp);
		break;
	case KVM_ENABLE_CAP:
		r = vmmu_vcpu_enable_cap(vcpu, argp);
		break;
	case KVM_SET_SIGNAL_MASK:
		r = vmmu_vcpu_set_sigmask(vcpu, argp);
		break;
	case KVM_INTERRUPT:
		r = vmmu_vcpu_interrupt(vcpu, argp);
		break;
	case KVM_NMI:
		r = vcpu->vm->backend ? vmmu_x86_nmi(vcpu) : -EINVAL;
		break;
	case KVM_GET_FPU:
	case KVM_SET_FPU:
		r = vcpu->vm->backend ?
		    vmmu_x86_fpu_ioctl(vcpu, ioctl == KVM_SET_FPU, argp) :
		    -EINVAL;
		break;
	case KVM_GET_MSRS:
	case KVM_SET_MSRS:
		r = vcpu->vm->backend ?
		    vmmu_x86_msrs_ioctl(vcpu, ioctl == KVM_SET_MSRS, argp) :
		    -EINVAL;
		break;
	case KVM_GET_VCPU_EVENTS:
	case KVM_SET_VCPU_EVENTS:
		r = vcpu->vm->backend ?
		    vmmu_x86_vcpu_events_ioctl(vcpu,
					       ioctl == KVM_SET_VCPU_EVENTS,
					       argp) :
		    -EINVAL;
		break;
	case KVM_HAS_DEVICE_ATTR:
	case KVM_GET_DEVICE_ATTR:
	case KVM_SET_DEVICE_ATTR:
		/* A software vCPU has no TSC: no attribute. */
		r = vcpu->vm->backend ?
		    vmmu_x86_tsc_attr_ioctl(vcpu, ioctl, argp) : -ENXIO;
		break;
	case KVM_GET_STATS_FD:
		r = vmmu_vcpu_get_stats_fd(vcpu);
		break;
	case KVM_X86_SETUP_MCE:
	case KVM_X86_SET_MCE:
		r = vcpu->vm->backend ? vmmu_x86_mce_ioctl(vcpu, ioctl, argp) :
		    -EINVAL;
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
	vmmu_runstate_init(vcpu);
	fd = vmmu_vcpu_hw_init(vcpu);
	if (!fd && vm->dirty_ring_size)
		fd = vmmu_dirty_ring_alloc(&vcpu->dirty_ring,
					   vm->dirty_ring_size);
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
	vmmu_vcpu_debugfs_create(vcpu);
	vmmu_vm_get(vm);
	fd_install(fd, file);
	return fd;

err_free:
	vmmu_runstate_destroy(vcpu);
	vmmu_vcpu_hw_destroy(vcpu);
	vmmu_vcpu_free(vcpu);
	return fd;
}

/*
 * Does the VM still need a backend for its vCPU kind?  Only a VM that kept
 * the default kind, before its first vCPU: VMMU_SET_MMU enables the backend
 * of the kind it chooses at once.  vm->lock is held.
 */
static bool vmmu_vm_needs_backend(struct vmmu_vm *vm)
{
	lockdep_assert_held(&vm->lock);
	return !vm->backend && vm->vcpu_kind != VMMU_VCPU_SOFTWARE;
}

/*
 * Install @backend, enabled by the caller, if the VM still needs it; vm->lock
 * is held.  Return: true if the VM took it (else the caller puts it).
 */
static bool vmmu_vm_install_backend(struct vmmu_vm *vm,
				    const struct vmmu_backend_ops *backend)
{
	if (!backend || !vmmu_vm_needs_backend(vm) ||
	    backend != vmmu_backend_find(vm->vcpu_kind))
		return false;
	/* No vCPU exists yet: nothing reads it concurrently but this peek. */
	WRITE_ONCE(vm->backend, backend);
	return true;
}

/**
 * vmmu_vm_create_vcpu() - KVM_CREATE_VCPU
 * @vm: the VM
 * @id: the vCPU id, below VMMU_MAX_VCPU_IDS
 *
 * The VM's configuration is fixed from here on.  The first vCPU of a VM
 * that kept the default (hardware) kind enables the backend, before the
 * VM's locks are taken (enabling may take CPU hotplug locks).
 *
 * Return: the vCPU fd, or -EINVAL (bad id, too many vCPUs, an id at or
 * above the KVM_CAP_MAX_VCPU_ID the VMM enabled), -EEXIST (id in use),
 * -EBUSY (another hypervisor owns the CPUs), -ENOMEM, -EMFILE.
 */
int vmmu_vm_create_vcpu(struct vmmu_vm *vm, unsigned long id)
{
	const struct vmmu_backend_ops *backend = NULL;
	int r;

	if (id >= VMMU_MAX_VCPU_IDS)
		return -EINVAL;
retry:
	if (!READ_ONCE(vm->backend)) {
		backend = vmmu_vm_get_backend(READ_ONCE(vm->vcpu_kind));
		if (IS_ERR(backend))
			return PTR_ERR(backend);
	}
	mutex_lock(&vm->lock);
	if (vmmu_vm_install_backend(vm, backend))
		backend = NULL;
	if (vmmu_vm_needs_backend(vm))
		r = -EAGAIN;	/* the kind changed meanwhile */
	else if (atomic_read(&vm->online_vcpus) >= VMMU_MAX_VCPUS)
		r = -EINVAL;
	else if (vm->max_vcpu_ids && id >= vm->max_vcpu_ids)
		r = -EINVAL;	/* KVM_CAP_MAX_VCPU_ID */
	else if (vmmu_vcpu_id_taken(vm, id))
		r = -EEXIST;
	else
		r = vmmu_vm_install_vcpu(vm, id);
	mutex_unlock(&vm->lock);
	/* Another thread's vCPU enabled it first, or software vCPUs now. */
	if (backend)
		vmmu_backend_put(backend);
	backend = NULL;
	if (r == -EAGAIN)
		goto retry;
	return r;
}
