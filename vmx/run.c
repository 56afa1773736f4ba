// SPDX-License-Identifier: GPL-2.0
/*
 * One guest entry on VMX, and the VMCS's life on the CPUs.
 *
 * A VMCS is active on at most one CPU.  vmmu_vmx_vcpu_load() (start of
 * KVM_RUN, and every time the scheduler brings the vCPU's thread back)
 * makes it current on the CPU that runs the thread: if it was active on
 * another CPU, that CPU clears it first (VMCLEAR by IPI), and the next
 * entry is a VMLAUNCH with the translations of the EPTP and VPID flushed
 * on the new CPU.  The register ioctls do the same for the duration of the
 * access (vmmu_vmx_vmcs_get()).  Each CPU keeps a list of the VMCSs active
 * on it, so that VMXOFF (CPU going offline, last VM gone) and the
 * emergency callback clear them all first.
 *
 * The world switch x86/vcpu.c calls with interrupts disabled, the vCPU in
 * guest mode and the guest's FPU and PKRU loaded:
 *
 *   CR2 and syscall MSRs -> host CR3/CR4/FS/GS into the VMCS -> EPTP,
 *   INVEPT/INVVPID -> preemption timer -> vmenter.S -> host segments,
 *   descriptor tables, MSRs, breakpoints
 *
 * then, still with interrupts off, a host NMI that made the guest exit is
 * handed to the host (vmmu_vmx_handle_nmi()); the interrupt that made the
 * guest exit is still pending ("acknowledge interrupt on exit" is off) and
 * is taken when x86/ turns interrupts back on.
 *
 * The VMX preemption timer bounds every guest run, so that the loop sees
 * signals and requests even where external interrupts do not make the
 * guest exit (Bochs, with the guest's RFLAGS.IF clear).
 */
#include <linux/hw_breakpoint.h>
#include <linux/preempt.h>
#include <linux/smp.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/msr.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>

#include <vmmu/spte.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#include "vmx.h"

/* vmenter.S writes HOST_RSP by its encoding. */
static_assert(HOST_RSP == 0x6c14);

/* Longest guest run between two looks at signals and requests. */
#define VMMU_VMX_RUN_NS		(NSEC_PER_SEC / 1000)

/* Clear @arg's VMCS if it is active on this CPU; interrupts are off. */
static void vmx_clear_local(void *arg)
{
	struct vmmu_vmx_vcpu *vmx = arg;
	struct vmmu_vmx_cpu *vc = this_cpu_ptr(&vmmu_vmx_cpu);

	if (vmx->loaded_cpu != smp_processor_id())
		return;
	vmmu_vmclear(vmx->vmcs_pa);
	if (vc->current_vmcs == vmx->vmcs)
		vc->current_vmcs = NULL;
	list_del_init(&vmx->loaded_link);
	vmx->launched = false;
	/* The list and the VMCS are done with before another CPU loads it. */
	smp_wmb();
	WRITE_ONCE(vmx->loaded_cpu, -1);
}

/**
 * vmmu_vmx_clear_cpu() - clear every VMCS active on this CPU
 *
 * Before VMXOFF.  The vCPUs load them again, wherever they run next.
 */
void vmmu_vmx_clear_cpu(void)
{
	struct vmmu_vmx_cpu *vc = this_cpu_ptr(&vmmu_vmx_cpu);
	struct vmmu_vmx_vcpu *vmx, *tmp;
	unsigned long flags;

	local_irq_save(flags);
	list_for_each_entry_safe(vmx, tmp, &vc->loaded, loaded_link)
		vmx_clear_local(vmx);
	local_irq_restore(flags);
}

/**
 * vmmu_vmx_vcpu_clear() - clear the vCPU's VMCS wherever it is active
 * @vcpu: the vCPU; it does not run
 */
void vmmu_vmx_vcpu_clear(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	int cpu;

	cpus_read_lock();
	cpu = READ_ONCE(vmx->loaded_cpu);
	if (cpu >= 0)
		smp_call_function_single(cpu, vmx_clear_local, vmx, 1);
	cpus_read_unlock();
}

/* This CPU's TSS base, from its descriptor in the GDT. */
static unsigned long vmx_host_tr_base(unsigned long gdt)
{
	const struct ldttss_desc *d = (const void *)(gdt + GDT_ENTRY_TSS * 8);

	return d->base0 | (unsigned long)d->base1 << 16 |
	       (unsigned long)d->base2 << 24 | (unsigned long)d->base3 << 32;
}

/* The host fields that differ per CPU. */
static void vmx_set_host_cpu_state(void)
{
	struct desc_ptr gdt, idt;
	u64 esp;

	native_store_gdt(&gdt);
	store_idt(&idt);
	vmcs_write(HOST_GDTR_BASE, gdt.address);
	vmcs_write(HOST_IDTR_BASE, idt.address);
	vmcs_write(HOST_TR_BASE, vmx_host_tr_base(gdt.address));
	rdmsrl(MSR_IA32_SYSENTER_ESP, esp);
	vmcs_write(HOST_IA32_SYSENTER_ESP, esp);
}

/* Make the VMCS current on @cpu, the CPU running this; preemption off. */
static void vmx_vmcs_activate(struct vmmu_vmx_vcpu *vmx, int cpu)
{
	struct vmmu_vmx_cpu *vc = this_cpu_ptr(&vmmu_vmx_cpu);
	int old = READ_ONCE(vmx->loaded_cpu);
	bool moved = old != cpu;
	unsigned long flags;

	if (moved) {
		if (old >= 0)
			smp_call_function_single(old, vmx_clear_local, vmx, 1);
		/* Pairs with the smp_wmb() in vmx_clear_local(). */
		smp_rmb();
		local_irq_save(flags);
		list_add(&vmx->loaded_link, &vc->loaded);
		WRITE_ONCE(vmx->loaded_cpu, cpu);
		local_irq_restore(flags);
		/* This CPU may hold stale translations of the EPTP and VPID. */
		vmx->need_invept = true;
		vmx->need_invvpid = true;
	}
	if (vc->current_vmcs != vmx->vmcs) {
		vmmu_vmptrld(vmx->vmcs_pa);
		vc->current_vmcs = vmx->vmcs;
	}
	if (moved)
		vmx_set_host_cpu_state();
}

/**
 * vmmu_vmx_vmcs_get() - make the vCPU's VMCS current for VMREAD/VMWRITE
 * @vcpu: the vCPU, whose mutex is held
 *
 * Disables preemption until vmmu_vmx_vmcs_put().
 */
void vmmu_vmx_vmcs_get(struct vmmu_vcpu *vcpu)
{
	vmx_vmcs_activate(to_vmx(vcpu), get_cpu());
}

/**
 * vmmu_vmx_vmcs_put() - end of a vmmu_vmx_vmcs_get() section
 * @vcpu: the vCPU
 */
void vmmu_vmx_vmcs_put(struct vmmu_vcpu *vcpu)
{
	put_cpu();
}

/**
 * vmmu_vmx_vcpu_load() - the vCPU's thread runs on @cpu now
 * @vcpu: the vCPU
 * @cpu: the current CPU; preemption is disabled
 */
void vmmu_vmx_vcpu_load(struct vmmu_vcpu *vcpu, int cpu)
{
	vmx_vmcs_activate(to_vmx(vcpu), cpu);
}

/**
 * vmmu_vmx_flush_tlb() - drop the vCPU's translations at the next entry
 * @vcpu: the vCPU, on its own thread
 *
 * INVEPT single-context on the vCPU's EPTP: guest-physical and combined
 * translations of the root, for every VPID.
 */
void vmmu_vmx_flush_tlb(struct vmmu_vcpu *vcpu)
{
	to_vmx(vcpu)->need_invept = true;
}

static void vmx_invept(unsigned long type, u64 eptp)
{
	struct { u64 eptp, gpa; } desc = { eptp, 0 };

	asm volatile("invept %0, %1" : : "m" (desc), "r" (type)
		     : "cc", "memory");
}

static void vmx_invvpid(unsigned long type, u16 vpid)
{
	struct { u64 vpid, gla; } desc = { vpid, 0 };

	asm volatile("invvpid %0, %1" : : "m" (desc), "r" (type)
		     : "cc", "memory");
}

/* The EPTP of the vCPU's root: write-back, its levels, A/D if enabled. */
static u64 vmx_eptp(struct vmmu_vcpu *vcpu)
{
	u64 eptp = __pa(vcpu->root->spt) | VMX_EPTP_MT_WB |
		   (u64)(vcpu->vm->fmt.root_level - 1) << 3;

	if (vmmu_vmx_caps.ept_ad)
		eptp |= VMX_EPTP_AD_ENABLE_BIT;
	return eptp;
}

/* A new root, a flush request or a new CPU: drop what may be stale. */
static void vmx_flush(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 caps = vmmu_vmx_caps.ept_vpid;
	u64 eptp = vmx_eptp(vcpu);

	if (eptp != vmx->eptp) {
		vmx->eptp = eptp;
		vmcs_write(EPT_POINTER, eptp);
		vmx->need_invept = true;
	}
	if (vmx->need_invept) {
		if (caps & VMX_EPT_EXTENT_CONTEXT_BIT)
			vmx_invept(VMX_EPT_EXTENT_CONTEXT, eptp);
		else
			vmx_invept(VMX_EPT_EXTENT_GLOBAL, 0);
		/* Combined translations went with it, for every VPID. */
		vmx->need_invept = false;
		vmx->need_invvpid = false;
	}
	if (vmx->need_invvpid) {
		if (!vmx->vpid)
			vmx_invept(caps & VMX_EPT_EXTENT_CONTEXT_BIT ?
				   VMX_EPT_EXTENT_CONTEXT : VMX_EPT_EXTENT_GLOBAL,
				   eptp);
		else if (caps & (VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT << 32))
			vmx_invvpid(VMX_VPID_EXTENT_SINGLE_CONTEXT, vmx->vpid);
		else
			vmx_invvpid(VMX_VPID_EXTENT_ALL_CONTEXT, 0);
		vmx->need_invvpid = false;
	}
}

/* Write @guest into @msr if the host has another value there. */
static void vmx_switch_msr(u32 msr, u64 *host, u64 guest)
{
	rdmsrl(msr, *host);
	if (*host != guest)
		wrmsrl(msr, guest);
}

/*
 * Host state VM exit does not restore, or restores differently (selectors,
 * descriptor-table limits, MSRs without a VMCS field), saved before the
 * entry; the host fields that may have changed since the last entry.
 */
static void vmx_save_host(struct vmmu_vmx_vcpu *vmx)
{
	struct vmmu_vmx_host *h = &vmx->host;
	u64 gs_base;

	savesegment(ds, h->ds_sel);
	savesegment(es, h->es_sel);
	savesegment(fs, h->fs_sel);
	savesegment(gs, h->gs_sel);
	rdmsrl(MSR_FS_BASE, h->fs_base);
	rdmsrl(MSR_GS_BASE, gs_base);
	rdmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	store_idt(&h->idt);
	vmcs_write(HOST_CR3, __read_cr3());
	vmcs_write(HOST_CR4, cr4_read_shadow());
	vmcs_write(HOST_FS_BASE, h->fs_base);
	vmcs_write(HOST_GS_BASE, gs_base);

	vmx_switch_msr(MSR_KERNEL_GS_BASE, &h->kernel_gs_base,
		       vmx->kernel_gs_base);
	vmx_switch_msr(MSR_STAR, &h->star, vmx->star);
	vmx_switch_msr(MSR_LSTAR, &h->lstar, vmx->lstar);
	vmx_switch_msr(MSR_CSTAR, &h->cstar, vmx->cstar);
	vmx_switch_msr(MSR_SYSCALL_MASK, &h->sfmask, vmx->sfmask);
}

static void vmx_restore_msr(u32 msr, u64 host, u64 guest)
{
	if (host != guest)
		wrmsrl(msr, host);
}

/* Back to the host's state after a VM exit; interrupts are off. */
static void vmx_restore_host(struct vmmu_vmx_vcpu *vmx)
{
	struct vmmu_vmx_host *h = &vmx->host;

	/* SWAPGS in the guest changes it without an exit. */
	rdmsrl(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);
	wrmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	vmx_restore_msr(MSR_STAR, h->star, vmx->star);
	vmx_restore_msr(MSR_LSTAR, h->lstar, vmx->lstar);
	vmx_restore_msr(MSR_CSTAR, h->cstar, vmx->cstar);
	vmx_restore_msr(MSR_SYSCALL_MASK, h->sfmask, vmx->sfmask);

	/* VM exit loaded null DS, ES, FS and GS selectors. */
	if (h->ds_sel)
		loadsegment(ds, h->ds_sel);
	if (h->es_sel)
		loadsegment(es, h->es_sel);
	if (h->fs_sel) {
		loadsegment(fs, h->fs_sel);
		wrmsrl(MSR_FS_BASE, h->fs_base);
	}
	if (h->gs_sel) {
		/* Loads the user GS base (MSR_KERNEL_GS_BASE here) too. */
		load_gs_index(h->gs_sel);
		wrmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	}
	/* VM exit set the GDT and IDT limits to 0xffff, the TSS's to 0x67. */
	load_fixmap_gdt(raw_smp_processor_id());
	if (h->idt.size != 0xffff)
		native_load_idt(&h->idt);
	invalidate_tss_limit();
	/* ... and cleared IA32_DEBUGCTL and DR7. */
	if (h->debugctl)
		wrmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
}

/**
 * vmmu_vmx_handle_nmi() - a host NMI made the guest exit: run the host's
 *	handler now
 * @vcpu: the vCPU, just out of the guest; interrupts are off
 */
void vmmu_vmx_handle_nmi(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 info;

	if ((u16)vmx->exit_reason != EXIT_REASON_EXCEPTION_NMI)
		return;
	info = vmcs_read(VM_EXIT_INTR_INFO);
	if ((info & (INTR_INFO_VALID_MASK | INTR_INFO_INTR_TYPE_MASK)) ==
	    (INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR))
		asm volatile("int $2" ::: "memory");
}

/**
 * vmmu_vmx_enter_guest() - VMLAUNCH or VMRESUME and back
 * @vcpu: the vCPU; interrupts are off, it is in guest mode
 */
void vmmu_vmx_enter_guest(struct vmmu_vcpu *vcpu)
{
	struct vmmu_vmx_vcpu *vmx = to_vmx(vcpu);

	vmx_save_host(vmx);
	vmx_flush(vcpu);
	vmcs_write(VMX_PREEMPTION_TIMER_VALUE,
		   div_u64((u64)tsc_khz * (VMMU_VMX_RUN_NS / 1000), 1000) >>
		   vmmu_vmx_caps.timer_rate);
	if (native_read_cr2() != vmx->cr2)
		native_write_cr2(vmx->cr2);

	if (vmmu_vmx_vmenter(vmx->regs, vmx->launched)) {
		vmx->vmfail = vmcs_read(VM_INSTRUCTION_ERROR);
		vmx->exit_reason = 0;
	} else {
		vmx->vmfail = 0;
		vmx->exit_reason = vmcs_read(VM_EXIT_REASON);
		if (!(vmx->exit_reason & VMMU_VMX_ENTRY_FAILED))
			vmx->launched = true;
	}
	vmx->exit_cpu = smp_processor_id();

	vmx->cr2 = native_read_cr2();
	vmx_restore_host(vmx);
}

/**
 * vmmu_vmx_cpu_ready() - is VMX on here, with the vCPU's VMCS current?
 * @vcpu: the vCPU, loaded; interrupts are off
 *
 * Return: true unless this CPU came online without VMX or the VMCS is
 * active elsewhere (cannot happen: the hotplug callback turns VMX on
 * first, and loading the vCPU made its VMCS current here).
 */
bool vmmu_vmx_cpu_ready(struct vmmu_vcpu *vcpu)
{
	return this_cpu_read(vmmu_vmx_cpu.enabled) &&
	       to_vmx(vcpu)->loaded_cpu == smp_processor_id();
}
