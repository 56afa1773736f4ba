// SPDX-License-Identifier: GPL-2.0
/*
 * MSR accesses that userspace decides: the filter of KVM_X86_SET_MSR_FILTER
 * and the KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR exits of
 * KVM_CAP_X86_USER_SPACE_MSR, with KVM's semantics.
 *
 * A guest RDMSR or WRMSR (x86/exit.c) first asks the filter; one it denies
 * is refused without reaching x86/msr.c.  A refused access, for the filter
 * or because vmmu does not know the MSR or refuses the value, exits to
 * userspace if the VMM asked for that reason, and raises #GP otherwise.
 * The next KVM_RUN completes the exit (vmmu_x86_complete_msr()).
 *
 * The filter is copied from user memory into one allocation per range plus
 * the filter itself, and never changes once published.  The ioctl swaps
 * the VM's pointer under vm->lock and frees the old filter only after an
 * RCU grace period: vCPUs look it up under rcu_read_lock(), so none can
 * still be reading it then.  Every MSR exit of SVM and VMX reaches the
 * handlers here (SVM's MSR permission map intercepts every MSR, VMX runs
 * without MSR bitmaps), so a new filter needs no vendor update.
 */
#include <linux/bitops.h>
#include <linux/kvm.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/kvm_vcpu_regs.h>
#include <asm/trapnr.h>

#include <vmmu/backend.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>

/* The x2APIC MSRs, which KVM never filters. */
#define X86_MSR_X2APIC_FIRST	0x800
#define X86_MSR_X2APIC_LAST	0x8ff

/* The length the handlers know for RDMSR and WRMSR (0f 32, 0f 30). */
#define X86_MSR_INSN_LEN	2

/**
 * struct vmmu_x86_msr_range - one range of a filter
 * @flags: KVM_MSR_FILTER_READ and/or KVM_MSR_FILTER_WRITE: the accesses
 *	the range decides
 * @base: the first MSR
 * @nmsrs: the number of MSRs, at most KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8
 * @bitmap: a set bit allows MSR @base + bit; at least @nmsrs bits
 */
struct vmmu_x86_msr_range {
	u32 flags;
	u32 base;
	u32 nmsrs;
	unsigned long *bitmap;
};

/**
 * struct vmmu_x86_msr_filter - a filter as KVM_X86_SET_MSR_FILTER gave it
 * @default_allow: what an MSR no range decides gets
 * @nr_ranges: the ranges with MSRs, in the order userspace gave them
 * @ranges: the first range that decides an access decides it
 */
struct vmmu_x86_msr_filter {
	bool default_allow;
	unsigned int nr_ranges;
	struct vmmu_x86_msr_range ranges[KVM_MSR_FILTER_MAX_RANGES];
};

static const struct vmmu_backend_ops *x86_ops(struct vmmu_vcpu *vcpu)
{
	return vcpu->vm->backend;
}

static bool x86_msr_filter_allows(const struct vmmu_x86_msr_filter *f,
				  u32 msr, u32 type)
{
	unsigned int i;

	for (i = 0; i < f->nr_ranges; i++) {
		const struct vmmu_x86_msr_range *r = &f->ranges[i];
		/*
		 * KVM computes the end in 32 bits, so a range that runs past
		 * 0xffffffff wraps and decides nothing; so does this.  The
		 * bit number is below @nmsrs either way.
		 */
		u32 end = r->base + r->nmsrs;

		if (!(r->flags & type) || msr < r->base || msr >= end)
			continue;
		return test_bit(array_index_nospec(msr - r->base, r->nmsrs),
				r->bitmap);
	}
	return f->default_allow;
}

/**
 * vmmu_x86_msr_allowed() - may the guest's RDMSR or WRMSR reach vmmu?
 * @vcpu: the vCPU
 * @msr: the MSR
 * @type: KVM_MSR_FILTER_READ or KVM_MSR_FILTER_WRITE
 *
 * Only the guest's accesses are filtered, never KVM_GET/SET_MSRS.  A filter
 * replaced meanwhile may answer for one more access: as in KVM, an access
 * sees the old filter or the new one, and once the ioctl returned, only the
 * new one.
 *
 * Return: false if the VM's filter denies it.
 */
bool vmmu_x86_msr_allowed(struct vmmu_vcpu *vcpu, u32 msr, u32 type)
{
	const struct vmmu_x86_msr_filter *f;
	bool allowed = true;

	if (msr >= X86_MSR_X2APIC_FIRST && msr <= X86_MSR_X2APIC_LAST)
		return true;
	rcu_read_lock();
	f = rcu_dereference(vcpu->vm->x86.msr_filter);
	if (f)
		allowed = x86_msr_filter_allows(f, msr, type);
	rcu_read_unlock();
	return allowed;
}

/*
 * Why an access vmmu refused was refused, as kvm_run.msr.reason says it:
 * KVM's "unknown" MSR is one it has no code for, and vmmu's one that not
 * even the VMM can read (KVM_GET_MSRS); any other refusal is a value, a
 * read-only MSR or one the guest may not use (the kvmclock MSRs, MCG_CTL).
 */
static u32 x86_msr_reason(struct vmmu_vcpu *vcpu, u32 msr, bool filtered)
{
	u64 data;

	if (filtered)
		return KVM_MSR_EXIT_REASON_FILTER;
	if (!vmmu_x86_get_msr(vcpu, msr, &data, true))
		return KVM_MSR_EXIT_REASON_UNKNOWN;
	return KVM_MSR_EXIT_REASON_INVAL;
}

/**
 * vmmu_x86_msr_refused() - a guest RDMSR or WRMSR that would raise #GP
 * @vcpu: the vCPU, loaded
 * @msr: the MSR (ECX)
 * @data: the value of a WRMSR (EDX:EAX), 0 for a RDMSR
 * @write: WRMSR
 * @filtered: the filter denied it
 *
 * If KVM_CAP_X86_USER_SPACE_MSR asked for the reason, the access exits to
 * userspace with RIP still on the instruction and the next KVM_RUN
 * completes it; otherwise #GP.
 *
 * Return: 0 (KVM_EXIT_X86_RDMSR or KVM_EXIT_X86_WRMSR), or 1 (#GP).
 */
int vmmu_x86_msr_refused(struct vmmu_vcpu *vcpu, u32 msr, u64 data,
			 bool write, bool filtered)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_msr_exit *e = &vcpu->x86.msr_exit;
	u32 reason = x86_msr_reason(vcpu, msr, filtered);
	struct kvm_run *run = vcpu->run;

	if (!(READ_ONCE(vcpu->vm->x86.user_msr_mask) & reason))
		return vmmu_x86_inject_gp(vcpu);
	e->write = write;
	e->rip = ops->get_rip(vcpu);
	e->next_rip = e->rip + ops->insn_len(vcpu, X86_MSR_INSN_LEN);
	if (!ops->in_64bit_code(vcpu))
		e->next_rip = (u32)e->next_rip;
	e->pending = true;
	run->exit_reason = write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
	run->msr.error = 0;
	memset(run->msr.pad, 0, sizeof(run->msr.pad));
	run->msr.reason = reason;
	run->msr.index = msr;
	run->msr.data = data;
	return 0;
}

/**
 * vmmu_x86_complete_msr() - complete the RDMSR or WRMSR of the last exit
 * @vcpu: the vCPU, loaded, at the start of KVM_RUN
 *
 * kvm_run.msr.error set: #GP.  Otherwise a RDMSR loads EDX:EAX from
 * kvm_run.msr.data, and RIP moves past the instruction.  Userspace may
 * write kvm_run at any time, also while this runs: each field is read once,
 * and nothing else in kvm_run is read back (the MSR and the direction are
 * the kernel's).  If userspace moved RIP meanwhile, the access is dropped,
 * as a port or MMIO read is.
 */
void vmmu_x86_complete_msr(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_msr_exit *e = &vcpu->x86.msr_exit;
	u64 data;
	u8 error;

	if (!e->pending)
		return;
	e->pending = false;
	error = READ_ONCE(vcpu->run->msr.error);
	data = READ_ONCE(vcpu->run->msr.data);
	if (ops->get_rip(vcpu) != e->rip)
		return;
	if (error) {
		ops->inject_exception(vcpu, X86_TRAP_GP, true, 0);
		return;
	}
	if (!e->write) {
		ops->write_gpr(vcpu, __VCPU_REGS_RAX, (u32)data);
		ops->write_gpr(vcpu, __VCPU_REGS_RDX, data >> 32);
	}
	ops->set_rip(vcpu, e->next_rip);
	/* A completed instruction ends an STI or MOV SS interrupt shadow. */
	ops->clear_interrupt_shadow(vcpu);
}

static void x86_msr_filter_free(struct vmmu_x86_msr_filter *f)
{
	unsigned int i;

	if (!f)
		return;
	for (i = 0; i < f->nr_ranges; i++)
		kfree(f->ranges[i].bitmap);
	kfree(f);
}

/*
 * Check one user range and copy its bitmap: KVM's checks in KVM's order.
 * The bitmap is read in whole longs, as KVM reads it.
 */
static int x86_msr_range_copy(struct vmmu_x86_msr_range *r,
			      const struct kvm_msr_filter_range *ur)
{
	u32 all = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
	size_t bytes;

	if (!ur->flags || (ur->flags & ~all))
		return -EINVAL;
	/* In 64 bits: nmsrs near 2^32 must not wrap to a small size. */
	bytes = DIV_ROUND_UP((u64)ur->nmsrs, BITS_PER_LONG) * sizeof(long);
	if (bytes > KVM_MSR_FILTER_MAX_BITMAP_SIZE)
		return -EINVAL;
	r->bitmap = kmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!r->bitmap)
		return -ENOMEM;
	if (copy_from_user(r->bitmap,
			   u64_to_user_ptr((u64)(unsigned long)ur->bitmap),
			   bytes)) {
		kfree(r->bitmap);
		r->bitmap = NULL;
		return -EFAULT;
	}
	r->flags = ur->flags;
	r->base = ur->base;
	r->nmsrs = ur->nmsrs;
	return 0;
}

/* The kernel's copy of @uf, which was checked for its flags. */
static struct vmmu_x86_msr_filter *
x86_msr_filter_copy(const struct kvm_msr_filter *uf)
{
	struct vmmu_x86_msr_filter *f;
	unsigned int i;
	int r;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return ERR_PTR(-ENOMEM);
	f->default_allow = !(uf->flags & KVM_MSR_FILTER_DEFAULT_DENY);
	for (i = 0; i < ARRAY_SIZE(uf->ranges); i++) {
		/* KVM skips an empty range without looking at its flags. */
		if (!uf->ranges[i].nmsrs)
			continue;
		r = x86_msr_range_copy(&f->ranges[f->nr_ranges], &uf->ranges[i]);
		if (r) {
			x86_msr_filter_free(f);
			return ERR_PTR(r);
		}
		f->nr_ranges++;
	}
	return f;
}

/**
 * vmmu_x86_set_msr_filter() - KVM_X86_SET_MSR_FILTER
 * @vm: the VM
 * @ufilter: the user's struct kvm_msr_filter
 *
 * Replaces the VM's filter by a copy of @ufilter; vCPUs may be running.  A
 * filter without ranges and KVM_MSR_FILTER_DEFAULT_ALLOW filters nothing.
 * When this returns, no vCPU uses the old filter any more.
 *
 * Return: 0; -EFAULT (@ufilter or a bitmap cannot be read); -EINVAL (flags
 * other than KVM_MSR_FILTER_DEFAULT_DENY; default deny without a range; a
 * range with MSRs but without flags or with others than READ and WRITE, or
 * with a bitmap above KVM_MSR_FILTER_MAX_BITMAP_SIZE); -ENOMEM.  On error
 * the old filter stays.
 */
int vmmu_x86_set_msr_filter(struct vmmu_vm *vm,
			    const struct kvm_msr_filter __user *ufilter)
{
	struct vmmu_x86_msr_filter *new, *old;
	struct kvm_msr_filter uf;
	bool empty = true;
	unsigned int i;

	if (copy_from_user(&uf, ufilter, sizeof(uf)))
		return -EFAULT;
	if (uf.flags & ~KVM_MSR_FILTER_DEFAULT_DENY)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(uf.ranges); i++)
		empty &= !uf.ranges[i].nmsrs;
	if (empty && (uf.flags & KVM_MSR_FILTER_DEFAULT_DENY))
		return -EINVAL;
	new = x86_msr_filter_copy(&uf);
	if (IS_ERR(new))
		return PTR_ERR(new);
	mutex_lock(&vm->lock);
	old = rcu_replace_pointer(vm->x86.msr_filter, new,
				  lockdep_is_held(&vm->lock));
	mutex_unlock(&vm->lock);
	/*
	 * Pairs with the rcu_read_lock() section of vmmu_x86_msr_allowed():
	 * a vCPU that found @old is done with it after the grace period.
	 */
	synchronize_rcu();
	x86_msr_filter_free(old);
	return 0;
}

/**
 * vmmu_x86_msr_filter_destroy() - free the VM's filter
 * @vm: the VM, which no fd refers to any more: no vCPU runs
 */
void vmmu_x86_msr_filter_destroy(struct vmmu_vm *vm)
{
	x86_msr_filter_free(rcu_dereference_protected(vm->x86.msr_filter,
						      true));
	RCU_INIT_POINTER(vm->x86.msr_filter, NULL);
}
