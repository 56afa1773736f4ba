// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU objects, requests and remote TLB flushes.
 */
#include <linux/gfp.h>
#include <linux/processor.h>
#include <linux/slab.h>
#include <linux/smp.h>

#include <vmmu/backend.h>
#include <vmmu/stats.h>
#include <vmmu/trace.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

/**
 * vmmu_vcpu_alloc() - allocate a vCPU, not yet visible to anyone
 * @vm: the VM
 * @id: the vCPU id
 *
 * Return: the vCPU or NULL.
 */
struct vmmu_vcpu *vmmu_vcpu_alloc(struct vmmu_vm *vm, int id)
{
	struct vmmu_vcpu *vcpu;

	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return NULL;
	vcpu->bounce = (void *)__get_free_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->bounce) {
		kfree(vcpu);
		return NULL;
	}
	vcpu->vm = vm;
	vcpu->vcpu_id = id;
	vcpu->cpu = -1;
	vcpu->pt_cache.memcg = vm->memcg;
	vcpu->header_cache.memcg = vm->memcg;
	mutex_init(&vcpu->mutex);
	vmmu_object_inc(VMMU_OBJ_VCPU);
	return vcpu;
}

/**
 * vmmu_vcpu_free() - free a vCPU that holds no root
 * @vcpu: the vCPU; its backend state, if any, is already freed
 */
void vmmu_vcpu_free(struct vmmu_vcpu *vcpu)
{
	free_page((unsigned long)vcpu->run);
	free_page((unsigned long)vcpu->pio_data);
	vmmu_memcache_free(&vcpu->pt_cache);
	vmmu_memcache_free(&vcpu->header_cache);
	free_page((unsigned long)vcpu->bounce);
	vmmu_dirty_ring_free(&vcpu->dirty_ring);
	mutex_destroy(&vcpu->mutex);
	kfree(vcpu);
	vmmu_object_dec(VMMU_OBJ_VCPU);
}

/**
 * vmmu_vm_add_vcpu() - publish a vCPU in vm->vcpus
 * @vm: the VM; vm->lock is held
 * @vcpu: the new vCPU
 *
 * The caller checked that the VM has fewer than VMMU_MAX_VCPUS vCPUs.
 */
void vmmu_vm_add_vcpu(struct vmmu_vm *vm, struct vmmu_vcpu *vcpu)
{
	int idx = atomic_read(&vm->online_vcpus);

	lockdep_assert_held(&vm->lock);
	vcpu->vcpu_idx = idx;
	vm->vcpus[idx] = vcpu;
	/* Pairs with atomic_read_acquire() in vmmu_vm_nr_vcpus(). */
	atomic_inc_return_release(&vm->online_vcpus);
}

/**
 * vmmu_vcpu_enter_guest_mode() - start a section that uses translations
 * @vcpu: the vCPU, on its own thread, with preemption disabled; hardware
 *	vCPUs also have interrupts disabled, so that the IPI of a kick that
 *	finds them in guest mode stays pending until the guest runs, and makes
 *	it exit at once
 *
 * Return: true if the vCPU is now in guest mode; false if requests are
 * pending, in which case it is not, and the caller handles them first.
 */
bool vmmu_vcpu_enter_guest_mode(struct vmmu_vcpu *vcpu)
{
	WRITE_ONCE(vcpu->mode_seq, vcpu->mode_seq + 1);
	/*
	 * Pairs with smp_mb__after_atomic() in vmmu_make_all_vcpus_request():
	 * either the requester sees this vCPU in guest mode and waits for it,
	 * or this vCPU sees the request now.
	 */
	smp_mb();
	if (READ_ONCE(vcpu->requests)) {
		vmmu_vcpu_exit_guest_mode(vcpu);
		return false;
	}
	return true;
}

/**
 * vmmu_vcpu_exit_guest_mode() - end the section that uses translations
 * @vcpu: the vCPU
 */
void vmmu_vcpu_exit_guest_mode(struct vmmu_vcpu *vcpu)
{
	/*
	 * Pairs with smp_load_acquire() in vmmu_vcpu_wait_exit(): what the
	 * vCPU did in guest mode happens before its requester goes on to
	 * free pages or tables.
	 */
	smp_store_release(&vcpu->mode_seq, vcpu->mode_seq + 1);
}

/* Wait until @vcpu leaves the guest-mode section it may be in now. */
static void vmmu_vcpu_wait_exit(struct vmmu_vcpu *vcpu)
{
	unsigned long seq = READ_ONCE(vcpu->mode_seq);

	if (!(seq & 1))
		return;
	/*
	 * Guest-mode sections never sleep and run with preemption disabled,
	 * so this wait is short even with mmu_lock held.
	 */
	while (smp_load_acquire(&vcpu->mode_seq) == seq)
		cpu_relax();
}

static void vmmu_vcpu_kick_ipi(void *unused)
{
}

/*
 * A vCPU running guest code on hardware stays in guest mode until something
 * makes it exit.  Any host interrupt does (both vendors intercept them), so
 * an IPI to its CPU kicks it and requesters do not wait for the next timer
 * tick; one that arrives while the vCPU prepares its entry, interrupts off,
 * is taken as soon as the guest runs.  From contexts that cannot send an
 * IPI the vCPU exits at its next timer tick (SVM) or preemption timer
 * expiry (VMX) instead.  Software vCPUs leave guest mode by themselves,
 * after one access.
 */
static void vmmu_vcpu_kick(struct vmmu_vm *vm, struct vmmu_vcpu *vcpu)
{
	int cpu;

	if (!vm->backend || !vmmu_vcpu_in_guest_mode(vcpu))
		return;
	cpu = READ_ONCE(vcpu->cpu);
	if (cpu < 0 || !in_task() || irqs_disabled())
		return;
	smp_call_function_single(cpu, vmmu_vcpu_kick_ipi, NULL, 0);
}

/**
 * vmmu_make_all_vcpus_request() - post a request to every vCPU
 * @vm: the VM
 * @req: VMMU_REQ_*
 * @wait: wait until no vCPU is still in a guest-mode section that started
 *	before the request
 *
 * vCPUs in guest mode are kicked, so that they see the request soon.
 * Never sleeps; callable under mmu_lock.
 */
void vmmu_make_all_vcpus_request(struct vmmu_vm *vm, int req, bool wait)
{
	struct vmmu_vcpu *vcpu;
	int i;

	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++)
		vmmu_make_request(vcpu, req);
	/* Pairs with smp_mb() in vmmu_vcpu_enter_guest_mode(). */
	smp_mb__after_atomic();
	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++)
		vmmu_vcpu_kick(vm, vcpu);
	if (!wait)
		return;
	for (i = 0; (vcpu = vmmu_vm_vcpu(vm, i)); i++)
		vmmu_vcpu_wait_exit(vcpu);
}

/**
 * vmmu_flush_remote_tlbs() - flush every vCPU's TLB
 * @vm: the VM
 *
 * On return no vCPU uses a translation cached before the call: the caller
 * may free what those translations pointed to.
 */
void vmmu_flush_remote_tlbs(struct vmmu_vm *vm)
{
	u64 n;

#ifndef VMMU_TEST_SKIP_FLUSH
	vmmu_make_all_vcpus_request(vm, VMMU_REQ_TLB_FLUSH, true);
#endif
	n = atomic64_inc_return(vmmu_vm_stat(vm, remote_tlb_flush));
	trace_vmmu_remote_tlb_flush(n);
}
