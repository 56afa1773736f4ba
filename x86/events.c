// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU's pending events (KVM_GET/SET_VCPU_EVENTS) and the registers
 * kvm_run carries across KVM_RUN (KVM_CAP_SYNC_REGS), whatever the vendor.
 *
 * What vmmu can hold of struct kvm_vcpu_events:
 *
 *   exception  the hardware exception in the vendor's injection fields, or
 *              else the #MC KVM_X86_SET_MCE raised (mce_pending); reported
 *              as injected, as KVM reports a pending one when
 *              KVM_CAP_EXCEPTION_PAYLOAD is off (vmmu does not offer it)
 *   interrupt  the external interrupt in the injection fields, or else
 *              the one KVM_INTERRUPT queued (irq_queued): both are what
 *              KVM calls an injected interrupt without an in-kernel APIC;
 *              and the STI / MOV SS interrupt shadow
 *   nmi        the NMI in the injection fields (or the one waiting to
 *              go right after an exception: nmi_reinject) is injected;
 *              pending counts those KVM_NMI raised (at most 2, 1 while
 *              one is being handled); masked: NMIs are blocked until the
 *              guest's IRET
 *   smi        vmmu has no SMM: always clear, and a KVM_SET_VCPU_EVENTS
 *              that sets it fails (-EINVAL) rather than lose it
 *
 * Sync regs: at the start of KVM_RUN the sets userspace marked dirty in
 * kvm_run.kvm_dirty_regs are loaded from kvm_run.s.regs as KVM_SET_REGS,
 * KVM_SET_SREGS and KVM_SET_VCPU_EVENTS load them (and checked as they
 * check them), each one's dirty bit cleared once it is in; on every return
 * from KVM_RUN, errors included, the sets of kvm_run.kvm_valid_regs are
 * stored there.  A VMM saves two ioctls per set per exit.
 */
#include <linux/kvm.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/trapnr.h>

#include <vmmu/backend.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>
#include <vmmu/x86.h>

/* The flags KVM_SET_VCPU_EVENTS knows; the last two need caps vmmu lacks. */
#define X86_EVENTS_FLAGS	(KVM_VCPUEVENT_VALID_NMI_PENDING | \
				 KVM_VCPUEVENT_VALID_SIPI_VECTOR | \
				 KVM_VCPUEVENT_VALID_SHADOW | \
				 KVM_VCPUEVENT_VALID_SMM | \
				 KVM_VCPUEVENT_VALID_PAYLOAD | \
				 KVM_VCPUEVENT_VALID_TRIPLE_FAULT)
#define X86_EVENTS_NEED_CAP	(KVM_VCPUEVENT_VALID_PAYLOAD | \
				 KVM_VCPUEVENT_VALID_TRIPLE_FAULT)
/* The highest exception vector. */
#define X86_EXCEPTION_MAX	31

static const struct vmmu_backend_ops *x86_ops(struct vmmu_vcpu *vcpu)
{
	return vcpu->vm->backend;
}

/*
 * #BP and #OF are software exceptions: delivering one again needs the
 * length of its INT3 or INTO, which struct kvm_vcpu_events has no room for.
 * KVM leaves them out (the instruction runs again); so does vmmu.
 */
static bool x86_exception_is_soft(unsigned int vector)
{
	return vector == X86_TRAP_BP || vector == X86_TRAP_OF;
}

static void x86_events_from_vendor(struct vmmu_vcpu *vcpu,
				   struct kvm_vcpu_events *events)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_event ev;
	bool pending = ops->get_event(vcpu, &ev);

	if (pending && !ev.irq && !ev.nmi) {
		events->exception.injected = !x86_exception_is_soft(ev.vector);
		events->exception.nr = ev.vector;
		events->exception.has_error_code = ev.has_error;
		events->exception.error_code = ev.error;
	} else if (vcpu->x86.mce_pending) {
		events->exception.injected = 1;
		events->exception.nr = X86_TRAP_MC;
	}
	if (pending && ev.irq) {
		events->interrupt.injected = 1;
		events->interrupt.nr = ev.vector;
	} else if (vcpu->x86.irq_queued) {
		events->interrupt.injected = 1;
		events->interrupt.nr = vcpu->x86.irq_vector;
	}
	events->interrupt.shadow = ops->get_interrupt_shadow(vcpu);
	vmmu_x86_process_nmi(vcpu);
	events->nmi.injected = (pending && ev.nmi) || vcpu->x86.nmi_reinject;
	events->nmi.pending = vcpu->x86.nmi_pending;
	events->nmi.masked = ops->get_nmi_mask(vcpu);
}

/**
 * vmmu_x86_get_vcpu_events() - KVM_GET_VCPU_EVENTS
 * @vcpu: the vCPU, not running (or loaded, at the end of KVM_RUN)
 * @events: filled in
 *
 * NMIs as KVM reports them: the NMIs KVM_NMI raised are counted into
 * nmi.pending first, as many as a CPU would keep.  No SMI pending, no SMM.
 * sipi_vector is 0, as in KVM.
 */
void vmmu_x86_get_vcpu_events(struct vmmu_vcpu *vcpu,
			      struct kvm_vcpu_events *events)
{
	memset(events, 0, sizeof(*events));
	vmmu_x86_state_get(vcpu);
	x86_events_from_vendor(vcpu, events);
	vmmu_x86_state_put(vcpu);
	events->flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
			KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
}

/*
 * KVM's checks, and what vmmu cannot hold.  Without
 * KVM_VCPUEVENT_VALID_PAYLOAD (which needs KVM_CAP_EXCEPTION_PAYLOAD)
 * KVM ignores exception.pending: so does vmmu.
 */
static bool x86_events_valid(const struct kvm_vcpu_events *events)
{
	u32 flags = events->flags;

	if (flags & ~X86_EVENTS_FLAGS || flags & X86_EVENTS_NEED_CAP)
		return false;
	if (events->exception.injected &&
	    (events->exception.nr > X86_EXCEPTION_MAX ||
	     events->exception.nr == X86_TRAP_NMI))
		return false;
	/* A software interrupt: its instruction's length is not known. */
	if (events->interrupt.injected && events->interrupt.soft)
		return false;
	return !((flags & KVM_VCPUEVENT_VALID_SMM) &&
		 (events->smi.smm || events->smi.pending));
}

/**
 * vmmu_x86_set_vcpu_events() - KVM_SET_VCPU_EVENTS
 * @vcpu: the vCPU, whose mutex is held
 * @events: the new events, in kernel memory
 *
 * Replaces every event the vCPU holds: an injected exception goes into the
 * vendor's injection fields for the next entry; an injected NMI too, or
 * right after the exception if there is one (KVM's order); an injected
 * interrupt is queued as KVM_INTERRUPT queues it (delivered once the guest
 * accepts interrupts).  NMIs are blocked or unblocked as nmi.masked says;
 * nmi.pending replaces the pending NMIs if KVM_VCPUEVENT_VALID_NMI_PENDING
 * (the next entry keeps at most what a CPU would: 2, or 1 while an NMI is
 * being handled); the interrupt shadow is set if
 * KVM_VCPUEVENT_VALID_SHADOW.
 * sipi_vector and smi.latched_init belong to an in-kernel local APIC: as
 * in KVM without one, they are ignored.
 *
 * Return: 0, or -EINVAL with nothing changed: an unknown flag, one whose
 * capability vmmu does not offer (PAYLOAD, TRIPLE_FAULT), an exception
 * vector above 31 or NMI's, or what vmmu cannot hold (a software interrupt,
 * SMM).
 */
int vmmu_x86_set_vcpu_events(struct vmmu_vcpu *vcpu,
			     const struct kvm_vcpu_events *events)
{
	const struct vmmu_backend_ops *ops = x86_ops(vcpu);
	struct vmmu_x86_vcpu *x86 = &vcpu->x86;

	if (!x86_events_valid(events))
		return -EINVAL;
	vmmu_x86_state_get(vcpu);
	ops->cancel_event(vcpu);
	x86->mce_pending = false;
	x86->irq_queued = false;
	x86->nmi_reinject = false;
	if (events->exception.injected)
		ops->inject_exception(vcpu, events->exception.nr,
				      events->exception.has_error_code,
				      events->exception.error_code);
	if (events->nmi.injected && events->exception.injected)
		x86->nmi_reinject = true;
	else if (events->nmi.injected)
		ops->inject_nmi(vcpu);
	if (events->flags & KVM_VCPUEVENT_VALID_NMI_PENDING) {
		x86->nmi_pending = 0;
		x86->nmi_queued = min_t(u8, events->nmi.pending, 2);
	}
	ops->set_nmi_mask(vcpu, events->nmi.masked);
	if (events->interrupt.injected) {
		x86->irq_vector = events->interrupt.nr;
		x86->irq_queued = true;
	}
	if (events->flags & KVM_VCPUEVENT_VALID_SHADOW)
		ops->set_interrupt_shadow(vcpu, events->interrupt.shadow);
	vmmu_x86_state_put(vcpu);
	return 0;
}

/**
 * vmmu_x86_vcpu_events_ioctl() - KVM_GET_VCPU_EVENTS and KVM_SET_VCPU_EVENTS
 * @vcpu: the vCPU, whose mutex is held
 * @set: KVM_SET_VCPU_EVENTS
 * @uevents: the user's struct kvm_vcpu_events
 *
 * Return: 0, -EFAULT, or vmmu_x86_set_vcpu_events()'s -EINVAL.
 */
int vmmu_x86_vcpu_events_ioctl(struct vmmu_vcpu *vcpu, bool set,
			       struct kvm_vcpu_events __user *uevents)
{
	struct kvm_vcpu_events events;

	if (!set) {
		vmmu_x86_get_vcpu_events(vcpu, &events);
		return copy_to_user(uevents, &events, sizeof(events)) ?
		       -EFAULT : 0;
	}
	if (copy_from_user(&events, uevents, sizeof(events)))
		return -EFAULT;
	return vmmu_x86_set_vcpu_events(vcpu, &events);
}

/*
 * The sregs and events are copied out of kvm_run before they are checked:
 * userspace may write the page while KVM_RUN reads it, and what is loaded
 * must be what was checked.
 */
static int x86_sync_sregs(struct vmmu_vcpu *vcpu)
{
	struct kvm_sregs sregs;

	memcpy(&sregs, &vcpu->run->s.regs.sregs, sizeof(sregs));
	return vmmu_x86_set_sregs(vcpu, &sregs);
}

static int x86_sync_events(struct vmmu_vcpu *vcpu)
{
	struct kvm_vcpu_events events;

	memcpy(&events, &vcpu->run->s.regs.events, sizeof(events));
	return vmmu_x86_set_vcpu_events(vcpu, &events);
}

/**
 * vmmu_x86_sync_regs_load() - the start of KVM_RUN: load what userspace
 *	changed in kvm_run.s.regs
 * @vcpu: the vCPU, loaded
 *
 * The general registers, then the special registers, then the events, each
 * if its bit is set in kvm_dirty_regs, which is cleared once the set is
 * loaded.  A set that fails its checks stops here: its bit stays set, and
 * what was loaded before it stays loaded.
 *
 * Return: 0, or -EINVAL: a bit vmmu does not know in kvm_valid_regs or
 * kvm_dirty_regs (nothing loaded), or sregs or events that
 * KVM_SET_SREGS or KVM_SET_VCPU_EVENTS would refuse.
 */
int vmmu_x86_sync_regs_load(struct vmmu_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u64 dirty = READ_ONCE(run->kvm_dirty_regs);

	if ((READ_ONCE(run->kvm_valid_regs) | dirty) & ~VMMU_X86_SYNC_REGS)
		return -EINVAL;
	if (dirty & KVM_SYNC_X86_REGS) {
		vmmu_x86_set_regs(vcpu, &run->s.regs.regs);
		run->kvm_dirty_regs &= ~KVM_SYNC_X86_REGS;
	}
	if (dirty & KVM_SYNC_X86_SREGS) {
		if (x86_sync_sregs(vcpu))
			return -EINVAL;
		run->kvm_dirty_regs &= ~KVM_SYNC_X86_SREGS;
	}
	if (dirty & KVM_SYNC_X86_EVENTS) {
		if (x86_sync_events(vcpu))
			return -EINVAL;
		run->kvm_dirty_regs &= ~KVM_SYNC_X86_EVENTS;
	}
	return 0;
}

/**
 * vmmu_x86_sync_regs_store() - the end of KVM_RUN: store the sets
 *	userspace asked for in kvm_run.s.regs
 * @vcpu: the vCPU, still loaded
 *
 * On every return, errors included (as KVM does).  A bit vmmu does not
 * know is ignored here: KVM_RUN has already failed for it.
 */
void vmmu_x86_sync_regs_store(struct vmmu_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u64 valid = READ_ONCE(run->kvm_valid_regs);

	if (valid & KVM_SYNC_X86_REGS)
		vmmu_x86_get_regs(vcpu, &run->s.regs.regs);
	if (valid & KVM_SYNC_X86_SREGS)
		x86_ops(vcpu)->get_sregs(vcpu, &run->s.regs.sregs);
	if (valid & KVM_SYNC_X86_EVENTS)
		vmmu_x86_get_vcpu_events(vcpu, &run->s.regs.events);
}
