// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware vCPUs on the vCPU fd: KVM_RUN, the kvm_run mapping, the register
 * ioctls, and which backend runs them.
 *
 * The backend (include/vmmu/backend.h) is chosen at module init.  A VM
 * whose vCPU kind is the backend's holds it enabled (vmmu_backend_get()), so
 * the CPUs are in the vendor's virtualization mode exactly while such a VM
 * exists.
 *
 * KVM_RUN is a loop around the backend's vcpu_run(): before every entry it
 * returns to userspace on a signal (-EINTR, KVM_EXIT_INTR), reschedules if
 * needed, and handles requests (a TLB flush, a new root).  While the ioctl
 * runs, the vCPU is "loaded": preemption notifiers tell the backend when the
 * thread leaves its CPU and where it comes back.
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/backend.h>
#include <vmmu/cpuid.h>
#include <vmmu/mmu.h>
#include <vmmu/pfncache.h>
#include <vmmu/trace.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>

#include "dev.h"

/*
 * Userspace may change the field at any time: it is read once.  Newer
 * kernels (6.10) give it another name inside the kernel, to make that clear.
 */
#ifdef HINT_UNSAFE_IN_KVM
#define vmmu_run_immediate_exit(run) \
	READ_ONCE((run)->HINT_UNSAFE_IN_KVM(immediate_exit))
#else
#define vmmu_run_immediate_exit(run)	READ_ONCE((run)->immediate_exit)
#endif

static const struct vmmu_backend_ops *vmmu_hw_backend;
/* Protects vmmu_backend_users; taken with no VM lock held. */
static DEFINE_MUTEX(vmmu_backend_lock);
static unsigned int vmmu_backend_users;

/**
 * vmmu_backend_init() - find out which hardware vCPUs this machine can run
 *
 * Called once at module init, after debugfs is set up.
 */
void vmmu_backend_init(void)
{
	/* A CPU has one vendor's extension, if any. */
	vmmu_hw_backend = vmmu_vmx_probe();
	if (!vmmu_hw_backend)
		vmmu_hw_backend = vmmu_svm_probe();
#ifdef CONFIG_PREEMPT_NOTIFIERS
	/*
	 * Before any vCPU registers a notifier.  Held while the module is
	 * loaded, not per VM: each change of the static key patches the
	 * scheduler's text (text_poke), which per VM is a needless cost and,
	 * under QEMU TCG on 6.12, once ended in an int3 Oops in __schedule().
	 */
	if (vmmu_hw_backend)
		preempt_notifier_inc();
#endif
}

/**
 * vmmu_backend_exit() - undo vmmu_backend_init(); no VM is left
 */
void vmmu_backend_exit(void)
{
	if (!vmmu_hw_backend)
		return;
#ifdef CONFIG_PREEMPT_NOTIFIERS
	preempt_notifier_dec();
#endif
	vmmu_svm_exit();
	vmmu_vmx_exit();
	vmmu_hw_backend = NULL;
}

/**
 * vmmu_backend_available() - can vCPUs run guest code here?
 *
 * Return: true if a hardware backend was found at module init.
 */
bool vmmu_backend_available(void)
{
	return vmmu_hw_backend;
}

/**
 * vmmu_backend_default_kind() - the vCPU kind of a VM that chose none
 *
 * Return: the hardware backend's kind where there is one, else
 * VMMU_VCPU_SOFTWARE.
 */
u32 vmmu_backend_default_kind(void)
{
	return vmmu_hw_backend ? vmmu_hw_backend->vcpu_kind : VMMU_VCPU_SOFTWARE;
}

/**
 * vmmu_backend_find() - the backend for a vCPU kind
 * @vcpu_kind: VMMU_VCPU_*
 *
 * Return: the backend, or NULL if this machine has none for @vcpu_kind.
 */
const struct vmmu_backend_ops *vmmu_backend_find(u32 vcpu_kind)
{
	if (vmmu_hw_backend && vmmu_hw_backend->vcpu_kind == vcpu_kind)
		return vmmu_hw_backend;
	return NULL;
}

/**
 * vmmu_backend_get() - a VM starts using @ops: enable it if it is the first
 * @ops: the backend
 *
 * May sleep.  Called without VM locks.
 *
 * Return: 0, or the error of the backend's hardware_enable() (-EBUSY when
 * another hypervisor owns the CPUs).
 */
int vmmu_backend_get(const struct vmmu_backend_ops *ops)
{
	int r = 0;

	mutex_lock(&vmmu_backend_lock);
	if (!vmmu_backend_users)
		r = ops->hardware_enable();
	if (!r)
		vmmu_backend_users++;
	mutex_unlock(&vmmu_backend_lock);
	return r;
}

/**
 * vmmu_backend_put() - a VM stops using @ops: disable it if it was the last
 * @ops: the backend; no vCPU of the VM runs any more
 */
void vmmu_backend_put(const struct vmmu_backend_ops *ops)
{
	mutex_lock(&vmmu_backend_lock);
	if (!--vmmu_backend_users)
		ops->hardware_disable();
	mutex_unlock(&vmmu_backend_lock);
}

#ifdef CONFIG_PREEMPT_NOTIFIERS
static struct vmmu_vcpu *preempt_notifier_to_vcpu(struct preempt_notifier *pn)
{
	return container_of(pn, struct vmmu_vcpu, preempt_notifier);
}

static void vmmu_vcpu_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct vmmu_vcpu *vcpu = preempt_notifier_to_vcpu(pn);

	vmmu_x86_vcpu_load(vcpu, cpu);
}

static void vmmu_vcpu_sched_out(struct preempt_notifier *pn,
				struct task_struct *next)
{
	struct vmmu_vcpu *vcpu = preempt_notifier_to_vcpu(pn);

	vmmu_x86_vcpu_put(vcpu);
}

static struct preempt_ops vmmu_vcpu_preempt_ops = {
	.sched_in = vmmu_vcpu_sched_in,
	.sched_out = vmmu_vcpu_sched_out,
};

/* The vCPU's thread is about to run it; the backend learns the CPU. */
static void vmmu_vcpu_load(struct vmmu_vcpu *vcpu)
{
	int cpu = get_cpu();

	preempt_notifier_register(&vcpu->preempt_notifier);
	vmmu_x86_vcpu_load(vcpu, cpu);
	put_cpu();
}

static void vmmu_vcpu_put(struct vmmu_vcpu *vcpu)
{
	preempt_disable();
	vmmu_x86_vcpu_put(vcpu);
	preempt_notifier_unregister(&vcpu->preempt_notifier);
	preempt_enable();
}
#endif

/**
 * vmmu_vcpu_hw_init() - the hardware part of a new vCPU
 * @vcpu: the vCPU, not yet visible; its VM's backend is set (or NULL for a
 *	software vCPU, which needs nothing)
 *
 * On failure the caller frees the vCPU with vmmu_vcpu_hw_destroy() and
 * vmmu_vcpu_free(), which release whatever was allocated.
 *
 * Return: 0 or -ENOMEM.
 */
int vmmu_vcpu_hw_init(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;

	if (!ops)
		return 0;
	vcpu->run = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vcpu->pio_data = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->run || !vcpu->pio_data)
		return -ENOMEM;
#ifdef CONFIG_PREEMPT_NOTIFIERS
	preempt_notifier_init(&vcpu->preempt_notifier, &vmmu_vcpu_preempt_ops);
#endif
	return vmmu_x86_vcpu_create(vcpu);
}

/**
 * vmmu_vcpu_hw_destroy() - free the backend's part of a vCPU
 * @vcpu: the vCPU; it never runs again
 */
void vmmu_vcpu_hw_destroy(struct vmmu_vcpu *vcpu)
{
	if (vcpu->vm->backend)
		vmmu_x86_vcpu_free(vcpu);
	vmmu_vcpu_free_cpuid(vcpu);
}

/*
 * The kvm_run page at offset 0, the port I/O data page after it (hardware
 * vCPUs), the dirty ring from page KVM_DIRTY_LOG_PAGE_OFFSET (any vCPU of a
 * VM with rings).
 */
static vm_fault_t vmmu_vcpu_fault(struct vm_fault *vmf)
{
	struct vmmu_vcpu *vcpu = vmf->vma->vm_file->private_data;
	struct page *page = NULL;

	if (vmf->pgoff == 0 && vcpu->run)
		page = virt_to_page(vcpu->run);
	else if (vmf->pgoff == VMMU_RUN_PIO_PAGE && vcpu->pio_data)
		page = virt_to_page(vcpu->pio_data);
	else if (vmf->pgoff >= KVM_DIRTY_LOG_PAGE_OFFSET)
		page = vmmu_dirty_ring_page(&vcpu->dirty_ring,
					    vmf->pgoff - KVM_DIRTY_LOG_PAGE_OFFSET);
	if (!page)
		return VM_FAULT_SIGBUS;
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct vmmu_vcpu_vm_ops = {
	.fault = vmmu_vcpu_fault,
};

/* Does [@pgoff, @pgoff + @pages) touch the dirty ring's pages? */
static bool vmmu_vcpu_mmap_in_ring(struct vmmu_vcpu *vcpu,
				   unsigned long pgoff, unsigned long pages)
{
	unsigned long first = KVM_DIRTY_LOG_PAGE_OFFSET;
	unsigned long end = first + vcpu->dirty_ring.size *
				    sizeof(struct kvm_dirty_gfn) / PAGE_SIZE;

	return vcpu->dirty_ring.size && pgoff < end && pgoff + pages > first;
}

/**
 * vmmu_vcpu_mmap() - mmap of a vCPU fd: struct kvm_run, the I/O page and the
 *	dirty ring
 * @file: the vCPU file
 * @vma: the new mapping
 *
 * The ring may be mapped only shared and not executable, as in KVM: the
 * VMM writes the entries' flags, and a private copy would never reach vmmu.
 * Pages are inserted at fault time; an offset that maps nothing gives
 * SIGBUS there.
 *
 * Return: 0; -EINVAL (the ring mapped private or executable); -ENODEV (a
 * software vCPU of a VM without rings: nothing to map).
 */
int vmmu_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vmmu_vcpu *vcpu = file->private_data;

	if (vmmu_vcpu_mmap_in_ring(vcpu, vma->vm_pgoff, vma_pages(vma)) &&
	    ((vma->vm_flags & VM_EXEC) || !(vma->vm_flags & VM_SHARED)))
		return -EINVAL;
	if (!vcpu->run && !vcpu->dirty_ring.size)
		return -ENODEV;
	vma->vm_ops = &vmmu_vcpu_vm_ops;
	return 0;
}

static int vmmu_vcpu_run_loop(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;
	int r;

	for (;;) {
		if (signal_pending(current)) {
			vcpu->run->exit_reason = KVM_EXIT_INTR;
			atomic64_inc(vmmu_vcpu_stat(vcpu, signal_exits));
			return -EINTR;
		}
		cond_resched();
		if (vmmu_check_request(vcpu, VMMU_REQ_RUNSTATE))
			vmmu_runstate_request(vcpu);
		r = vmmu_vcpu_mmu_requests(vcpu, ops->flush_tlb);
		if (r)
			return r;
		/*
		 * Before every entry: one entry and exit log at most a few
		 * pages (a fault, the run-state page), well within the
		 * reserve above the soft limit.
		 */
		if (vmmu_dirty_ring_soft_full(&vcpu->dirty_ring)) {
			vcpu->run->exit_reason = KVM_EXIT_DIRTY_RING_FULL;
			atomic64_inc(vmmu_vcpu_stat(vcpu, dirty_ring_full_exits));
			return 0;
		}
		r = vmmu_x86_vcpu_run(vcpu);
		if (r <= 0)
			return r;
	}
}

/*
 * The mask of KVM_SET_SIGNAL_MASK replaces the thread's for the length of
 * KVM_RUN; the thread's own is kept in real_blocked, as KVM keeps it, which
 * only the thread itself changes.  A signal that arrives during KVM_RUN and
 * is blocked again afterwards stays pending for the VMM to take.
 */
static void vmmu_sigset_activate(struct vmmu_vcpu *vcpu)
{
	if (vcpu->sigset_active)
		sigprocmask(SIG_SETMASK, &vcpu->sigset, &current->real_blocked);
}

static void vmmu_sigset_deactivate(struct vmmu_vcpu *vcpu)
{
	if (!vcpu->sigset_active)
		return;
	sigprocmask(SIG_SETMASK, &current->real_blocked, NULL);
	sigemptyset(&current->real_blocked);
}

/**
 * vmmu_vcpu_run() - KVM_RUN
 * @vcpu: the vCPU, whose mutex is held
 *
 * Runs with the signal mask of KVM_SET_SIGNAL_MASK, if one was set.  First
 * completes what userspace handled at the last exit (the data of a
 * port read); then, unless kvm_run.immediate_exit is set, runs the guest
 * until an exit userspace must see.
 *
 * Return: 0 (see kvm_run.exit_reason), -EINTR (a signal, or
 * immediate_exit), -EINVAL (a software vCPU), -EFAULT (guest memory the
 * host cannot map), -ENOMEM.
 */
int vmmu_vcpu_run(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;
	int r;

	lockdep_assert_held(&vcpu->mutex);
	if (!ops)
		return -EINVAL;
#ifdef CONFIG_PREEMPT_NOTIFIERS
	vmmu_sigset_activate(vcpu);
	vcpu->run->flags = 0;
	vmmu_vcpu_load(vcpu);
	r = vmmu_x86_vcpu_run_begin(vcpu);
	if (r > 0 && vmmu_run_immediate_exit(vcpu->run))
		r = -EINTR;
	else if (r > 0)
		r = vmmu_vcpu_run_loop(vcpu);
	vmmu_x86_vcpu_run_end(vcpu);
	if (!r && trace_vmmu_userspace_exit_enabled())
		trace_vmmu_userspace_exit(vcpu->vcpu_id,
					  vcpu->run->exit_reason,
					  ops->get_rip(vcpu));
	vmmu_vcpu_put(vcpu);
	vmmu_sigset_deactivate(vcpu);
#else
	r = -EINVAL;
#endif
	return r;
}

/**
 * vmmu_vcpu_regs_ioctl() - KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS and
 * KVM_SET_SREGS
 * @vcpu: the vCPU, whose mutex is held
 * @ioctl: which one
 * @argp: the user's struct kvm_regs or kvm_sregs
 *
 * Return: 0, -EFAULT, -EINVAL (a software vCPU, or KVM_SET_SREGS with a
 * state the vCPU cannot enter).
 */
long vmmu_vcpu_regs_ioctl(struct vmmu_vcpu *vcpu, unsigned int ioctl,
			  void __user *argp)
{
	const struct vmmu_backend_ops *ops = vcpu->vm->backend;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	lockdep_assert_held(&vcpu->mutex);
	if (!ops)
		return -EINVAL;
	switch (ioctl) {
	case KVM_GET_REGS:
		memset(&regs, 0, sizeof(regs));
		vmmu_x86_get_regs(vcpu, &regs);
		return copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
	case KVM_SET_REGS:
		if (copy_from_user(&regs, argp, sizeof(regs)))
			return -EFAULT;
		vmmu_x86_set_regs(vcpu, &regs);
		return 0;
	case KVM_GET_SREGS:
		ops->get_sregs(vcpu, &sregs);
		return copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
	case KVM_SET_SREGS:
		if (copy_from_user(&sregs, argp, sizeof(sregs)))
			return -EFAULT;
		return vmmu_x86_set_sregs(vcpu, &sregs);
	default:
		return -EINVAL;
	}
}
