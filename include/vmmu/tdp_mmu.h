/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The TDP MMU: roots, mapping and zapping.
 *
 * Roots are reference counted.  A valid root is on vm->valid_roots, which
 * holds one reference; each vCPU using it holds one more.  Invalidating all
 * roots (write lock) takes every valid root off that list and puts it on
 * vm->invalid_roots, so no new reference can be taken; the invalidator then
 * zaps the roots under the read lock and drops the list's references, and a
 * root is freed when its last user drops it.  Zaps on behalf of the host
 * (mmu_notifier) walk both lists: a vCPU may run on an invalid root until it
 * loads a new one.
 */
#ifndef _VMMU_TDP_MMU_H
#define _VMMU_TDP_MMU_H

#include <linux/kvm_types.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>

struct page;
struct vmmu_memslot;
struct vmmu_vm;
struct vmmu_vcpu;

/**
 * struct vmmu_mmu_page - one page-table page
 * @spt: the table (a kernel page; page->private points back here)
 * @gfn: first gfn the table maps
 * @level: level of the table's entries
 * @root_refs: roots only: references (list + users)
 * @root_invalid: roots only: on the invalid list; set under mmu_lock (write)
 * @valid_link: roots only: entry on vm->valid_roots
 * @invalid_link: roots only: entry on vm->invalid_roots
 * @free_link: entry on a zap's list of tables to free after the flush
 * @nx_link: entry on vm->nx_tables (empty if not there); under
 *	vm->tdp_mmu_pages_lock
 * @nx_table: the table exists only because an instruction fetch could not
 *	use a huge leaf; set before the table is linked
 * @rcu: the table is freed in an RCU callback
 */
struct vmmu_mmu_page {
	u64 *spt;
	gfn_t gfn;
	int level;
	refcount_t root_refs;
	bool root_invalid;
	struct list_head valid_link;
	struct list_head invalid_link;
	struct list_head free_link;
	struct list_head nx_link;
	bool nx_table;
	struct rcu_head rcu;
};

/* Results of page faults, besides negative errnos. */
#define VMMU_RET_FIXED	0	/* the access can be retried and will hit */
#define VMMU_RET_RETRY	1	/* nothing installed; fault again */
#define VMMU_RET_MMIO	2	/* no memory at the address */

/**
 * struct vmmu_fault - a page fault being resolved
 * @gfn: faulting guest frame
 * @pfn: host frame to map: the 4 KiB page at @gfn's hva
 * @goal_level: the largest leaf that may map @gfn (VMMU_PG_LEVEL_*): the
 *	host maps @pfn's whole aligned range of that size, and the memslot
 *	and the format allow it.  The leaf maps @pfn rounded down to it.
 * @req_level: @goal_level but for the iTLB-multihit workaround, which
 *	makes an instruction fetch map 4 KiB: tables linked at levels up to
 *	it exist only because of the workaround
 * @huge_nx: leaves above 4 KiB are made non-executable (the workaround)
 * @writable: map it writable (GUP gave the page with write access)
 * @exec: map it executable
 */
struct vmmu_fault {
	gfn_t gfn;
	kvm_pfn_t pfn;
	int goal_level;
	int req_level;
	bool huge_nx;
	bool writable;
	bool exec;
};

void vmmu_tdp_mmu_init_vm(struct vmmu_vm *vm);
void vmmu_tdp_mmu_destroy_vm(struct vmmu_vm *vm);
int vmmu_tdp_mmu_load_root(struct vmmu_vcpu *vcpu);
void vmmu_tdp_mmu_put_root(struct vmmu_vm *vm, struct vmmu_mmu_page *root);
int vmmu_tdp_mmu_map(struct vmmu_vcpu *vcpu, struct vmmu_fault *fault);
void vmmu_tdp_mmu_zap_gfn_range(struct vmmu_vm *vm, gfn_t start, gfn_t end,
				bool can_yield);
void vmmu_tdp_mmu_zap_all(struct vmmu_vm *vm);
int vmmu_tdp_mmu_split_range(struct vmmu_vm *vm, gfn_t start, gfn_t end);
void vmmu_tdp_mmu_recover_huge(struct vmmu_vm *vm,
			       const struct vmmu_memslot *slot);
void vmmu_tdp_mmu_recover_nx(struct vmmu_vm *vm, unsigned int ratio);
unsigned long vmmu_tdp_mmu_prefetch(struct vmmu_vcpu *vcpu, gfn_t start,
				    unsigned int nr, struct page **pages,
				    unsigned long writable);
unsigned long vmmu_tdp_mmu_mapped_mask(struct vmmu_vcpu *vcpu, gfn_t start,
				       unsigned int nr);
bool vmmu_tdp_mmu_age_gfn_range(struct vmmu_vm *vm, gfn_t start, gfn_t end,
				bool clear);
void vmmu_tdp_mmu_invalidate_all_roots(struct vmmu_vm *vm);
void vmmu_tdp_mmu_wrprot_range(struct vmmu_vm *vm, gfn_t start, gfn_t end);
bool vmmu_tdp_mmu_wrprot_mask(struct vmmu_vm *vm, gfn_t base,
			      unsigned long mask);
bool vmmu_tdp_mmu_fast_unprotect(struct vmmu_vcpu *vcpu, gfn_t gfn);
int vmmu_tdp_mmu_module_init(void);
void vmmu_tdp_mmu_module_exit(void);
struct kmem_cache *vmmu_tdp_mmu_header_cache(void);
int vmmu_tdp_mmu_lookup(struct vmmu_vm *vm, struct vmmu_mmu_page *root,
			gfn_t gfn, u64 *spte);

#endif /* _VMMU_TDP_MMU_H */
