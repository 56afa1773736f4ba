// SPDX-License-Identifier: GPL-2.0
/*
 * VM fds: creation, destruction and the VM ioctls.
 *
 * dev/ owns the order in which a VM's parts are set up and torn down, and
 * orchestrates: a memslot update is the core's prepare / commit / finish
 * with the MMU's zap in between.
 */
#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/backend.h>
#include <vmmu/dirty_log.h>
#include <vmmu/memslot.h>
#include <vmmu/notifier.h>
#include <vmmu/nx_huge.h>
#include <vmmu/pfncache.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/trace.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#include "dev.h"

/*
 * Where new VMs start their invalidation sequence: a test knob to run the
 * wrap-around of the sequence (e.g. just below 2^32 or ULONG_MAX).
 */
static ulong invalidate_seq_start;
module_param(invalidate_seq_start, ulong, 0644);
MODULE_PARM_DESC(invalidate_seq_start,
		 "first mmu_invalidate_seq value of new VMs (testing)");

/* The published change, for the vmmu_memslot tracepoint. */
static void vmmu_trace_memslot(const struct vmmu_memslot_change *chg)
{
	const struct vmmu_memslot *slot = chg->new ?: chg->old;

	if (slot)
		trace_vmmu_memslot(chg->kind, slot->id, slot->base_gfn,
				   slot->npages, slot->flags,
				   slot->userspace_addr);
}

static int vmmu_vm_set_memory_region(struct vmmu_vm *vm,
				     const struct kvm_userspace_memory_region *mem)
{
	struct vmmu_memslot_change chg;
	int r;

	mutex_lock(&vm->slots_lock);
	r = vmmu_memslot_prepare(vm, mem, &chg);
	if (r || chg.kind == VMMU_MR_NONE)
		goto out;
	if (chg.kind == VMMU_MR_DELETE || chg.kind == VMMU_MR_MOVE) {
		/*
		 * Faults on the slot retry from here on, while invalidations
		 * of its host range still find it.  Then drop and flush
		 * everything mapped through it, before the slot disappears:
		 * vCPUs start over on a new root.
		 */
		vmmu_memslot_commit_invalid(vm, &chg);
		vmmu_tdp_mmu_invalidate_all_roots(vm);
	}
	vmmu_memslot_commit(vm, &chg);
	vmmu_trace_memslot(&chg);
	if (chg.kind == VMMU_MR_FLAGS_ONLY)
		vmmu_dirty_log_slot_changed(vm, chg.old, chg.new);
	vmmu_memslot_finish(vm, &chg);
out:
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

/**
 * vmmu_host_levels() - the host's paging depth, which NPT roots must have
 *
 * Return: 4 or 5.
 */
int vmmu_host_levels(void)
{
	return pgtable_l5_enabled() ? 5 : 4;
}

static void vmmu_vm_mmu_config(struct vmmu_vm *vm, struct vmmu_mmu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = vm->fmt.kind == VMMU_SPTE_EPT ? VMMU_MMU_FORMAT_EPT :
						      VMMU_MMU_FORMAT_NPT;
	cfg->levels = vm->fmt.root_level;
	cfg->vcpu_kind = vm->vcpu_kind;
	cfg->gpa_bits = vm->fmt.gpa_bits;
}

/* Check a requested configuration; returns the root level or -EINVAL. */
static int vmmu_mmu_config_levels(const struct vmmu_mmu_config *cfg)
{
	int levels = cfg->levels;

	if (cfg->pad || cfg->pad2)
		return -EINVAL;
	if (cfg->vcpu_kind != VMMU_VCPU_SOFTWARE &&
	    cfg->vcpu_kind != VMMU_VCPU_SVM &&
	    cfg->vcpu_kind != VMMU_VCPU_VMX)
		return -EINVAL;
	if (cfg->format != VMMU_MMU_FORMAT_EPT &&
	    cfg->format != VMMU_MMU_FORMAT_NPT)
		return -EINVAL;
	/* SVM walks NPT tables, VMX EPT tables, nothing else. */
	if (cfg->vcpu_kind == VMMU_VCPU_SVM &&
	    cfg->format != VMMU_MMU_FORMAT_NPT)
		return -EINVAL;
	if (cfg->vcpu_kind == VMMU_VCPU_VMX &&
	    cfg->format != VMMU_MMU_FORMAT_EPT)
		return -EINVAL;
	if (!levels)
		levels = cfg->format == VMMU_MMU_FORMAT_NPT ? vmmu_host_levels() : 4;
	if (levels != 4 && levels != 5)
		return -EINVAL;
	/* NPT walks with the host's paging depth. */
	if (cfg->format == VMMU_MMU_FORMAT_NPT && levels != vmmu_host_levels())
		return -EINVAL;
	return levels;
}

/**
 * vmmu_vm_get_backend() - enable the backend of a vCPU kind for a VM
 * @vcpu_kind: VMMU_VCPU_*
 *
 * Called without VM locks: enabling may take CPU hotplug locks.
 *
 * Return: the backend, NULL for software vCPUs, or an ERR_PTR: -ENODEV
 * (no such backend here), -EBUSY (another hypervisor owns the CPUs).
 */
const struct vmmu_backend_ops *vmmu_vm_get_backend(u32 vcpu_kind)
{
	const struct vmmu_backend_ops *ops;
	int r;

	if (vcpu_kind == VMMU_VCPU_SOFTWARE)
		return NULL;
	ops = vmmu_backend_find(vcpu_kind);
	if (!ops)
		return ERR_PTR(-ENODEV);
	r = vmmu_backend_get(ops);
	return r ? ERR_PTR(r) : ops;
}

static int vmmu_vm_set_mmu(struct vmmu_vm *vm,
			   struct vmmu_mmu_config __user *ucfg)
{
	const struct vmmu_backend_ops *backend;
	struct vmmu_mmu_config cfg;
	int levels, r = 0;

	if (copy_from_user(&cfg, ucfg, sizeof(cfg)))
		return -EFAULT;
	levels = vmmu_mmu_config_levels(&cfg);
	if (levels < 0)
		return levels;
	/* Enabled before the VM's locks: it may take CPU hotplug locks. */
	/* A root deeper than the hardware walks (4-level-only EPT). */
	backend = vmmu_backend_find(cfg.vcpu_kind);
	if (backend && backend->max_root_level &&
	    levels > backend->max_root_level)
		return -EINVAL;
	backend = vmmu_vm_get_backend(cfg.vcpu_kind);
	if (IS_ERR(backend))
		return PTR_ERR(backend);

	mutex_lock(&vm->lock);
	mutex_lock(&vm->slots_lock);
	/* Tables and vCPUs are built for one format: only before either. */
	if (atomic_read(&vm->online_vcpus) || vmmu_memslots(vm)->generation) {
		r = -EBUSY;
	} else {
		vmmu_spte_format_init(&vm->fmt, cfg.format == VMMU_MMU_FORMAT_EPT ?
				      VMMU_SPTE_EPT : VMMU_SPTE_NPT, levels);
		if (backend)
			vmmu_spte_format_limit_leaf(&vm->fmt,
						    backend->max_leaf_level);
		vm->vcpu_kind = cfg.vcpu_kind;
		swap(vm->backend, backend);
		vmmu_vm_mmu_config(vm, &cfg);
	}
	mutex_unlock(&vm->slots_lock);
	mutex_unlock(&vm->lock);
	/* The previous backend, or the new one if it was refused. */
	if (backend)
		vmmu_backend_put(backend);
	if (!r && copy_to_user(ucfg, &cfg, sizeof(cfg)))
		r = -EFAULT;
	return r;
}

static int vmmu_vm_get_mmu(struct vmmu_vm *vm,
			   struct vmmu_mmu_config __user *ucfg)
{
	struct vmmu_mmu_config cfg;

	mutex_lock(&vm->lock);
	vmmu_vm_mmu_config(vm, &cfg);
	mutex_unlock(&vm->lock);
	return copy_to_user(ucfg, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

/*
 * KVM_CREATE_IRQCHIP: accepted and ignored, with KVM's errnos for a second
 * call (-EEXIST) and for a call after the first vCPU (-EINVAL).  vmmu has no
 * interrupt controller and KVM_CAP_IRQCHIP stays 0; the call is accepted
 * only because the x86 library of upstream KVM selftests makes it for
 * every VM and gives up if it fails.  Nothing pretends to deliver
 * interrupts afterwards.
 */
static int vmmu_vm_create_irqchip(struct vmmu_vm *vm)
{
	int r = 0;

	mutex_lock(&vm->lock);
	if (vm->irqchip_created)
		r = -EEXIST;
	else if (atomic_read(&vm->online_vcpus))
		r = -EINVAL;
	else
		vm->irqchip_created = true;
	mutex_unlock(&vm->lock);
	return r;
}

/*
 * The test hooks reach into the MMU's and the caches' internals: they are
 * for the privileged only, like the host pfns of VMMU_VCPU_TRANSLATE.
 */
static bool vmmu_vm_ioctl_is_test_hook(unsigned int ioctl)
{
	return ioctl == VMMU_ZAP_ALL || ioctl == VMMU_TEST_PFNCACHE;
}

/*
 * KVM_SET_TSS_ADDR: where KVM puts the three pages of a real-mode TSS for
 * VMX without unrestricted guest.  vmmu's vCPUs never need them (SVM, and
 * VMX only with unrestricted guest), so, as KVM does for those, the address
 * is checked and nothing else happens.  VMMs call it before their first
 * vCPU runs (QEMU refuses to start without KVM_CAP_SET_TSS_ADDR).
 */
static long vmmu_vm_set_tss_addr(struct vmmu_vm *vm, unsigned long addr)
{
	if (addr > (unsigned int)(-3 * PAGE_SIZE))
		return -EINVAL;
	return vm->backend || vmmu_backend_available() ? 0 : -EINVAL;
}

/*
 * KVM_SET_BOOT_CPU_ID: which vCPU is the bootstrap processor (the BSP bit
 * of its APIC base after RESET), as in KVM only before the first vCPU:
 * -EBUSY after.  Any id is taken, also one no vCPU will have.
 */
static long vmmu_vm_set_boot_cpu_id(struct vmmu_vm *vm, unsigned long id)
{
	long r = 0;

	mutex_lock(&vm->lock);
	if (atomic_read(&vm->online_vcpus))
		r = -EBUSY;
	else
		WRITE_ONCE(vm->x86.bsp_vcpu_id, id);
	mutex_unlock(&vm->lock);
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
	if (vmmu_vm_ioctl_is_test_hook(ioctl) && !capable(CAP_SYS_ADMIN))
		return -EPERM;

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
	case KVM_GET_DIRTY_LOG: {
		struct kvm_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return vmmu_get_dirty_log(vm, &log);
	}
	case KVM_RESET_DIRTY_RINGS:
		return vmmu_reset_dirty_rings(vm);
	case KVM_CLEAR_DIRTY_LOG: {
		struct kvm_clear_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return vmmu_clear_dirty_log(vm, &log);
	}
	case KVM_CREATE_VCPU:
		return vmmu_vm_create_vcpu(vm, arg);
	case VMMU_SET_MMU:
		return vmmu_vm_set_mmu(vm, argp);
	case VMMU_GET_MMU:
		return vmmu_vm_get_mmu(vm, argp);
	case VMMU_ZAP_ALL:
		vmmu_tdp_mmu_invalidate_all_roots(vm);
		return 0;
	case KVM_CREATE_IRQCHIP:
		return vmmu_vm_create_irqchip(vm);
	case KVM_ENABLE_CAP:
		return vmmu_vm_enable_cap(vm, argp);
	case KVM_SET_TSS_ADDR:
		return vmmu_vm_set_tss_addr(vm, arg);
	case KVM_SET_BOOT_CPU_ID:
		return vmmu_vm_set_boot_cpu_id(vm, arg);
	case KVM_X86_SET_MSR_FILTER:
		/* An unknown ioctl where KVM_CHECK_EXTENSION says 0. */
		if (!vmmu_backend_available())
			return -ENOTTY;
		return vmmu_x86_set_msr_filter(vm, argp);
	case KVM_SET_GSI_ROUTING:
		/* As in KVM without an in-kernel interrupt controller. */
		return -EINVAL;
	case KVM_SET_NR_MMU_PAGES:
		return vmmu_vm_set_nr_mmu_pages(vm, arg);
	case KVM_GET_NR_MMU_PAGES:
		return vmmu_vm_get_nr_mmu_pages(vm);
	case VMMU_TEST_PFNCACHE:
		return vmmu_pfncache_test_ioctl(vm, argp);
	case KVM_GET_STATS_FD:
		return vmmu_vm_get_stats_fd(vm);
	case VMMU_GET_STATS: {
		struct vmmu_stats st;

		vmmu_vm_fill_stats(vm, &st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	}
	default:
		/* KVM answers unknown VM ioctls with -ENOTTY. */
		return -ENOTTY;
	}
}

static int vmmu_vm_release(struct inode *inode, struct file *filp)
{
	vmmu_dev_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations vmmu_vm_fops = {
	.owner = THIS_MODULE,
	.release = vmmu_vm_release,
	.unlocked_ioctl = vmmu_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Tear down in the reverse order of creation; no fd refers to the VM. */
static void vmmu_dev_vm_destroy(struct vmmu_vm *vm)
{
	struct vmmu_vcpu *vcpu;
	int i;

	vmmu_vm_debugfs_remove(vm);
	/*
	 * Every gfn->pfn cache goes while the notifier still invalidates
	 * caches: a test cache's timer or refresh work running after the
	 * notifier went away could publish a page nothing would invalidate.
	 */
	vmmu_pfncache_test_destroy(vm);
	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++)
		vmmu_runstate_destroy(vcpu);
	/* After this no notifier callback runs. */
	vmmu_notifier_unregister(vm);
	vmmu_nx_huge_vm_destroy(vm);
	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++) {
		if (vcpu->root)
			vmmu_tdp_mmu_put_root(vm, vcpu->root);
		vcpu->root = NULL;
	}
	vmmu_tdp_mmu_destroy_vm(vm);
	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++) {
		vmmu_vcpu_hw_destroy(vcpu);
		vmmu_vcpu_free(vcpu);
	}
	vmmu_x86_msr_filter_destroy(vm);
	/* The last VM with hardware vCPUs turns virtualization off. */
	if (vm->backend)
		vmmu_backend_put(vm->backend);
	vmmu_vm_free(vm);
}

/**
 * vmmu_dev_vm_put() - drop a VM reference held by an fd
 * @vm: the VM
 *
 * The last reference destroys the VM.  Called from a file's release (the
 * last close of an fd, or process exit), so the VM is gone before close()
 * returns to the process that closed it last.
 */
void vmmu_dev_vm_put(struct vmmu_vm *vm)
{
	if (refcount_dec_and_test(&vm->users))
		vmmu_dev_vm_destroy(vm);
}

/**
 * vmmu_vm_default_format() - the page-table format of a VM that chose none
 * @fmt: filled in: 4-level EPT for the VMX backend, else NPT at the host's
 *	paging depth
 *
 * Called after vmmu_backend_init().
 */
void vmmu_vm_default_format(struct vmmu_spte_format *fmt)
{
	u32 kind = vmmu_backend_default_kind();
	const struct vmmu_backend_ops *backend = vmmu_backend_find(kind);

	if (kind == VMMU_VCPU_VMX)
		vmmu_spte_format_init(fmt, VMMU_SPTE_EPT, 4);
	else
		vmmu_spte_format_init(fmt, VMMU_SPTE_NPT, vmmu_host_levels());
	if (backend)
		vmmu_spte_format_limit_leaf(fmt, backend->max_leaf_level);
}

/* Set a new VM up: MMU state, default format, notifier. */
static struct vmmu_vm *vmmu_dev_vm_new(void)
{
	struct vmmu_vm *vm = vmmu_vm_alloc();
	int r;

	if (IS_ERR(vm))
		return vm;
	vmmu_tdp_mmu_init_vm(vm);
	vmmu_pfncache_vm_init(vm);
	/* The backend itself is enabled by the first KVM_CREATE_VCPU. */
	vm->vcpu_kind = vmmu_backend_default_kind();
	vmmu_vm_default_format(&vm->fmt);
	vm->mmu_invalidate_seq = invalidate_seq_start;
	r = vmmu_notifier_register(vm);
	if (r) {
		vmmu_vm_free(vm);
		return ERR_PTR(r);
	}
	/* Last: nothing after it fails, so only the teardown stops it. */
	vmmu_nx_huge_vm_init(vm);
	vmmu_vm_debugfs_create(vm);
	return vm;
}

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

	vm = vmmu_dev_vm_new();
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
	vmmu_dev_vm_put(vm);
	return fd;
}
