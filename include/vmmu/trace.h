/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmmu's tracepoints: the "vmmu" system in tracefs (events/vmmu/).
 *
 * Cheap when off (a static branch each); perf trace -e 'vmmu:*' and
 * trace-cmd record -e vmmu use them.  Their text lines are "name value"
 * pairs that tests parse (Documentation/admin.rst, "Traces").
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vmmu

#if !defined(_VMMU_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VMMU_TRACE_H

#include <linux/tracepoint.h>

/* vmmu_page_fault's result: VMMU_RET_* (include/vmmu/tdp_mmu.h) or errno. */
#define vmmu_trace_fault_result(r)					\
	__print_symbolic(r, { 0, "fixed" }, { 1, "retry" },		\
			 { 2, "mmio" }, { -ENOMEM, "enomem" },		\
			 { -EFAULT, "efault" }, { -EHWPOISON, "hwpoison" },\
			 { -EINTR, "eintr" })

/*
 * A guest-physical fault through vmmu_page_fault(): the vCPU, the address,
 * the fault's error code (VMMU_PFERR_*), what became of it and the level of
 * the leaf it mapped (1: 4 KiB; 0 when it mapped none).
 */
TRACE_EVENT(vmmu_page_fault,
	    TP_PROTO(int vcpu_id, u64 gpa, u32 error_code, int result,
		     int level),
	    TP_ARGS(vcpu_id, gpa, error_code, result, level),
	    TP_STRUCT__entry(__field(int, vcpu_id)
			     __field(u64, gpa)
			     __field(u32, error_code)
			     __field(int, result)
			     __field(int, level)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->gpa = gpa;
			   __entry->error_code = error_code;
			   __entry->result = result;
			   __entry->level = level;),
	    TP_printk("vcpu %d gpa 0x%llx error 0x%x result %s level %d",
		      __entry->vcpu_id, __entry->gpa, __entry->error_code,
		      vmmu_trace_fault_result(__entry->result),
		      __entry->level)
);

/*
 * A memslot change, once published: what it was (VMMU_MR_*), the slot, and
 * the new slot's range, flags and host address (the old slot's on delete).
 */
TRACE_EVENT(vmmu_memslot,
	    TP_PROTO(int kind, u32 slot, u64 base_gfn, u64 npages, u32 flags,
		     u64 hva),
	    TP_ARGS(kind, slot, base_gfn, npages, flags, hva),
	    TP_STRUCT__entry(__field(int, kind)
			     __field(u32, slot)
			     __field(u64, base_gfn)
			     __field(u64, npages)
			     __field(u32, flags)
			     __field(u64, hva)),
	    TP_fast_assign(__entry->kind = kind;
			   __entry->slot = slot;
			   __entry->base_gfn = base_gfn;
			   __entry->npages = npages;
			   __entry->flags = flags;
			   __entry->hva = hva;),
	    TP_printk("change %s slot %u gfn 0x%llx pages %llu flags 0x%x hva 0x%llx",
		      __print_symbolic(__entry->kind, { 1, "create" },
				       { 2, "delete" }, { 3, "move" },
				       { 4, "flags" }),
		      __entry->slot, __entry->base_gfn, __entry->npages,
		      __entry->flags, __entry->hva)
);

/*
 * An mmu_notifier invalidation of a host range that a memslot maps: at its
 * start (in_progress counts it now) and at its end (the sequence moved on).
 */
DECLARE_EVENT_CLASS(vmmu_invalidate,
		    TP_PROTO(unsigned long start, unsigned long end,
			     unsigned long seq, long in_progress),
		    TP_ARGS(start, end, seq, in_progress),
		    TP_STRUCT__entry(__field(unsigned long, start)
				     __field(unsigned long, end)
				     __field(unsigned long, seq)
				     __field(long, in_progress)),
		    TP_fast_assign(__entry->start = start;
				   __entry->end = end;
				   __entry->seq = seq;
				   __entry->in_progress = in_progress;),
		    TP_printk("hva 0x%lx end 0x%lx seq %lu in_progress %ld",
			      __entry->start, __entry->end, __entry->seq,
			      __entry->in_progress)
);

DEFINE_EVENT(vmmu_invalidate, vmmu_invalidate_start,
	     TP_PROTO(unsigned long start, unsigned long end,
		      unsigned long seq, long in_progress),
	     TP_ARGS(start, end, seq, in_progress)
);

DEFINE_EVENT(vmmu_invalidate, vmmu_invalidate_end,
	     TP_PROTO(unsigned long start, unsigned long end,
		      unsigned long seq, long in_progress),
	     TP_ARGS(start, end, seq, in_progress)
);

/* vmmu_flush_remote_tlbs(): every vCPU of the VM flushes; the VM's count. */
TRACE_EVENT(vmmu_remote_tlb_flush,
	    TP_PROTO(u64 count),
	    TP_ARGS(count),
	    TP_STRUCT__entry(__field(u64, count)),
	    TP_fast_assign(__entry->count = count;),
	    TP_printk("count %llu", __entry->count)
);

/*
 * A hardware vCPU's KVM_RUN returning to userspace: kvm_run's exit_reason
 * (KVM_EXIT_*) and the guest's RIP.
 */
TRACE_EVENT(vmmu_userspace_exit,
	    TP_PROTO(int vcpu_id, u32 reason, u64 rip),
	    TP_ARGS(vcpu_id, reason, rip),
	    TP_STRUCT__entry(__field(int, vcpu_id)
			     __field(u32, reason)
			     __field(u64, rip)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->reason = reason;
			   __entry->rip = rip;),
	    TP_printk("vcpu %d reason %u rip 0x%llx", __entry->vcpu_id,
		      __entry->reason, __entry->rip)
);

#endif /* _VMMU_TRACE_H */

/* define_trace.h includes this file again, found through -I$(src)/include. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH vmmu
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
